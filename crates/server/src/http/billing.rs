//! `/v1/billing`: Stripe's webhook, and the Checkout and Billing Portal sessions an owner opens.
//! Invariants: the webhook verifies the signature over the raw bytes before anything parses
//! them, and answers 2xx only once the event is durably recorded (so Stripe's redelivery covers
//! every failure); the session endpoints are for owners only and never log the session URL.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use resonance_api::model::{Role, SubscriptionStatus};
use resonance_api::plans::{has_live_subscription, BillingSession, CheckoutRequest, Plan, PLANS};
use resonance_api::{ErrorBody, ErrorCode};
use serde::Serialize;

use super::extract::{Authenticated, Body};
use super::AppState;
use crate::billing::signature::{self, SignatureError};
use crate::billing::stripe::StripeError;
use crate::billing::{event, NOT_CONFIGURED};
use crate::error::{Error, Result};
use crate::storage::{billing, members};

/// What the webhook answers Stripe.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookReceipt {
    pub received: bool,
    /// `applied`, `stale` (older than what was applied), `ignored` or `replay`.
    pub outcome: &'static str,
}

/// Stripe's webhook. Answers 400 to anything not signed with the endpoint secret within five
/// minutes, and 200 to every verified event, processed once per event id.
#[utoipa::path(post, path = "/v1/billing/stripe/webhook", tag = "billing",
    request_body(content = Object, description = "A Stripe event, signed in the Stripe-Signature header"),
    responses((status = 200, body = WebhookReceipt), (status = 400, body = ErrorBody), (status = 501, body = ErrorBody)))]
pub async fn webhook(State(app): State<AppState>, headers: HeaderMap, payload: Bytes) -> Result<Json<WebhookReceipt>> {
    let Some(secret) = app.billing.settings.webhook_secret.as_ref() else {
        tracing::warn!("a Stripe webhook arrived, but RESONANCE_STRIPE_WEBHOOK_SECRET is not set");
        return Err(Error::refused(ErrorCode::BillingNotConfigured, NOT_CONFIGURED));
    };
    let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let tolerance = i64::try_from(app.billing.settings.tolerance.as_secs()).unwrap_or(300);
    if let Err(e) =
        signature::verify(header, &payload, secret.expose().as_bytes(), chrono::Utc::now().timestamp(), tolerance)
    {
        tracing::warn!(reason = %e, "refused a webhook request that is not Stripe's");
        let message = match e {
            SignatureError::OutsideTolerance { .. } => "The Stripe signature's timestamp is too old or too new.",
            _ => "The Stripe-Signature header does not verify with this endpoint's secret.",
        };
        return Err(Error::bad_request(message));
    }
    let event = event::parse(&payload).map_err(|e| {
        tracing::error!(error = %e, "a verified Stripe event could not be read");
        Error::bad_request(format!("The event could not be read: {e}."))
    })?;
    let mut tx = app.db.begin_billing().await?;
    let (outcome, organization) = billing::apply(&mut tx, &event, &app.billing.settings.prices).await?;
    tx.commit().await?;
    tracing::info!(event = %event.id, kind = %event.kind, outcome = outcome.as_str(), organization = ?organization,
        "Stripe event");
    Ok(Json(WebhookReceipt { received: true, outcome: outcome.as_str() }))
}

/// Opens Stripe Checkout for a paid plan (owners only). The organization's plan changes when
/// Stripe's events arrive, not here.
#[utoipa::path(post, path = "/v1/billing/checkout", tag = "billing", security(("bearer" = [])),
    request_body = CheckoutRequest,
    responses((status = 200, body = BillingSession), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 501, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn checkout(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
    Body(request): Body<CheckoutRequest>,
) -> Result<Json<BillingSession>> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    owner_only(caller.role)?;
    let api = app.billing.api.as_ref().ok_or_else(not_configured)?;
    let plan = Plan::by_id(&request.plan).filter(|p| p.paid).ok_or_else(|| {
        let paid: Vec<&str> = PLANS.iter().filter(|p| p.paid).map(|p| p.id).collect();
        Error::invalid("plan", format!("must be one of {}", paid.join(", ")))
    })?;
    let price = app
        .billing
        .settings
        .prices
        .price_for(plan.id)
        .ok_or_else(|| Error::Invariant(format!("no Stripe price for {}", plan.id)))?;
    let me = members::me(&mut tx, &caller).await?;
    tx.commit().await?;
    let org = &me.organization;
    if has_live_subscription(org) {
        let current = Plan::of(org);
        return Err(Error::conflict(match org.subscription_status {
            Some(SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid) => {
                "A payment of the current subscription is overdue; use Manage billing to settle it.".to_owned()
            }
            _ => format!(
                "The organization already subscribes to the {} plan; use Manage billing to change plans.",
                current.name
            ),
        }));
    }
    let back = return_base(&app, &headers);
    let org_id = caller.organization_id.to_string();
    let mut form = vec![
        ("mode".into(), "subscription".into()),
        ("line_items[0][price]".into(), price.to_owned()),
        ("line_items[0][quantity]".into(), "1".into()),
        ("client_reference_id".into(), org_id.clone()),
        ("metadata[organization_id]".into(), org_id.clone()),
        ("subscription_data[metadata][organization_id]".into(), org_id),
        ("success_url".into(), format!("{back}?from=checkout")),
        ("cancel_url".into(), format!("{back}?from=checkout-canceled")),
    ];
    match &org.stripe_customer_id {
        Some(customer) => form.push(("customer".into(), customer.clone())),
        None => form.push(("customer_email".into(), me.user.email.clone())),
    }
    let url = api.checkout_session(&form).await.map_err(stripe_error)?;
    tracing::info!(organization = %caller.organization_id, plan = plan.id, "opened a Stripe Checkout session");
    Ok(Json(BillingSession { url }))
}

/// Opens Stripe's Billing Portal, where the owner changes plan, card or cancels (owners only).
#[utoipa::path(post, path = "/v1/billing/portal", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = BillingSession), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 501, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn portal(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Json<BillingSession>> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    owner_only(caller.role)?;
    let api = app.billing.api.as_ref().ok_or_else(not_configured)?;
    let org = members::organization(&mut tx, &caller).await?;
    tx.commit().await?;
    let Some(customer) = org.stripe_customer_id else {
        return Err(Error::conflict("There is no billing account yet: choose a plan with Upgrade first."));
    };
    let form = vec![
        ("customer".into(), customer),
        ("return_url".into(), format!("{}?from=portal", return_base(&app, &headers))),
    ];
    let url = api.portal_session(&form).await.map_err(stripe_error)?;
    tracing::info!(organization = %caller.organization_id, "opened a Stripe Billing Portal session");
    Ok(Json(BillingSession { url }))
}

/// Where Stripe sends the browser back: a page that hands the browser on to the app
/// (`resonance://billing/…`, which brings its window forward and syncs at once), with a link to
/// click where the browser asks first, and what to expect either way.
pub async fn returned(axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>) -> Response {
    use resonance_api::links::{AppLink, BillingReturn};
    let from = query
        .iter()
        .find(|(k, _)| k == "from")
        .and_then(|(_, v)| BillingReturn::parse(v))
        .unwrap_or(BillingReturn::Checkout);
    let (title, text) = match from {
        BillingReturn::Checkout => (
            "Back to Resonance",
            "Your plan in Resonance Desktop updates as soon as Stripe confirms the payment, usually within seconds.",
        ),
        BillingReturn::CheckoutCanceled => ("Nothing was charged", "You left the checkout; your plan is as it was."),
        BillingReturn::Portal => {
            ("Back to Resonance", "Any change you made shows in Resonance Desktop within seconds.")
        }
    };
    let link = super::pages::escape(&AppLink::Billing { from }.to_url());
    let body = format!(
        "<h1>{}</h1><p>{}</p><p><a href=\"{link}\" data-app-link>Open Resonance Desktop</a></p>\
         <p>If it does not open, close this tab and return to the app.</p>",
        super::pages::escape(title),
        super::pages::escape(text),
    );
    let mut page = super::pages::page(StatusCode::OK, title, &body, super::pages::STYLE);
    // Hands the browser on to the app at once (browsers ask before opening another program).
    if let Ok(refresh) = axum::http::HeaderValue::from_str(&format!("0;url={}", AppLink::Billing { from }.to_url())) {
        page.headers_mut().insert(axum::http::HeaderName::from_static("refresh"), refresh);
    }
    page
}

fn owner_only(role: Role) -> Result<()> {
    if role == Role::Owner {
        Ok(())
    } else {
        Err(Error::forbidden("Only owners manage billing."))
    }
}

fn not_configured() -> Error {
    Error::refused(ErrorCode::BillingNotConfigured, NOT_CONFIGURED)
}

fn stripe_error(e: StripeError) -> Error {
    tracing::warn!(error = %e, "a Stripe API call failed");
    let message = match e {
        StripeError::Unreachable(_) => "Stripe cannot be reached right now; try again in a minute.".to_owned(),
        StripeError::Refused { status: 401 | 403, .. } => {
            "Stripe refused this server's API key; the server's operator must check it.".to_owned()
        }
        StripeError::Refused { message, .. } => format!("Stripe refused to open the page: {message}"),
        StripeError::NoUrl => "Stripe answered without a page to open; try again.".to_owned(),
    };
    Error::refused(ErrorCode::BillingUnavailable, message)
}

/// The page Stripe returns the browser to.
fn return_base(app: &AppState, headers: &HeaderMap) -> String {
    format!("{}/v1/billing/return", super::public_base(app, headers))
}
