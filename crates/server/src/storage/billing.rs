//! Applying verified Stripe events to organizations, in a transaction working as
//! `resonance_billing` (`Db::begin_billing`). Invariants:
//! - each event id is processed once: its row in `billing.stripe_events` is inserted first, so a
//!   concurrent redelivery waits for this transaction and then finds it;
//! - the subscription's state only moves forward: an event older (by Stripe's `created`) than the
//!   newest one applied, or about a subscription Stripe deleted, is recorded as `stale`;
//! - the usage count is reset only by `billing.start_period`, once per period.

use chrono::{DateTime, Utc};
use resonance_api::model::{LogStatus, SubscriptionStatus};
use resonance_api::plans::FREE;
use serde_json::json;
use uuid::Uuid;

use crate::billing::event::{Action, Event, Mapped, Period, Refs, SubscriptionState};
use crate::config::PriceMap;
use crate::db::Tx;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Older than what was already applied, or about an ended subscription.
    Stale,
    /// Not about any organization here, or nothing to do.
    Ignored,
    /// This event id was processed before.
    Replay,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Stale => "stale",
            Self::Ignored => "ignored",
            Self::Replay => "replay",
        }
    }
}

/// The organization as billing sees it, locked for this transaction.
struct Current {
    id: Uuid,
    status: Option<String>,
    plan: Option<String>,
    subscription: Option<String>,
    state_event_at: Option<DateTime<Utc>>,
}

pub async fn apply(tx: &mut Tx, event: &Event, prices: &PriceMap) -> Result<(Outcome, Option<Uuid>)> {
    let first: Option<String> = sqlx::query_scalar(
        "INSERT INTO billing.stripe_events (id, type, created, outcome) VALUES ($1, $2, $3, 'ignored') \
         ON CONFLICT (id) DO NOTHING RETURNING id",
    )
    .bind(&event.id)
    .bind(&event.kind)
    .bind(event.created)
    .fetch_optional(&mut **tx)
    .await?;
    if first.is_none() {
        return Ok((Outcome::Replay, None));
    }
    let outcome = match event.action.refs() {
        None => (Outcome::Ignored, None),
        Some(refs) => match lock_org(tx, refs).await? {
            None => (Outcome::Ignored, None),
            Some(org) => {
                let id = org.id;
                let outcome = match &event.action {
                    Action::Ignore => Outcome::Ignored,
                    Action::Link { refs } => link(tx, org, refs).await?,
                    Action::Subscription(s) => subscription(tx, org, s, event.created, prices).await?,
                    Action::SubscriptionEnded { refs } => ended(tx, org, refs, event.created).await?,
                    Action::InvoicePaid { refs, period } => {
                        invoice(tx, org, refs, event.created, Some(*period)).await?
                    }
                    Action::InvoiceFailed { refs } => invoice(tx, org, refs, event.created, None).await?,
                };
                (outcome, Some(id))
            }
        },
    };
    sqlx::query("UPDATE billing.stripe_events SET outcome = $2, organization_id = $3 WHERE id = $1")
        .bind(&event.id)
        .bind(outcome.0.as_str())
        .bind(outcome.1)
        .execute(&mut **tx)
        .await?;
    Ok(outcome)
}

/// Finds and locks the organization an event is about (None: it is about none of ours).
async fn lock_org(tx: &mut Tx, refs: &Refs) -> Result<Option<Current>> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM (\
           SELECT o.id, 1 AS rank FROM organizations o WHERE o.id = $1 \
           UNION ALL SELECT o.id, 2 FROM organizations o WHERE $2::text IS NOT NULL AND o.stripe_subscription_id = $2 \
           UNION ALL SELECT o.id, 3 FROM organizations o WHERE $3::text IS NOT NULL AND o.stripe_customer_id = $3 \
         ) found ORDER BY rank LIMIT 1",
    )
    .bind(refs.organization)
    .bind(&refs.subscription)
    .bind(&refs.customer)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(id) = id else {
        tracing::warn!(customer = ?refs.customer, subscription = ?refs.subscription,
            "a Stripe event names no organization of this server; ignored");
        return Ok(None);
    };
    let (status, plan, subscription): (Option<String>, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT subscription_status, subscription_plan, stripe_subscription_id FROM organizations \
         WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    let state_event_at: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT state_event_at FROM billing.accounts WHERE organization_id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .flatten();
    Ok(Some(Current { id, status, plan, subscription, state_event_at }))
}

async fn is_ended(tx: &mut Tx, subscription: Option<&str>) -> Result<bool> {
    let Some(s) = subscription else { return Ok(false) };
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM billing.ended_subscriptions WHERE subscription_id = $1)")
        .bind(s)
        .fetch_one(&mut **tx)
        .await?)
}

fn is_newer(created: DateTime<Utc>, applied: Option<DateTime<Utc>>) -> bool {
    applied.is_none_or(|a| created >= a)
}

/// Checkout finished: remember the customer, and the subscription unless a live one is there.
async fn link(tx: &mut Tx, org: Current, refs: &Refs) -> Result<Outcome> {
    let keep_current = match org.subscription.as_deref() {
        Some(current) => Some(current) != refs.subscription.as_deref() && !is_ended(tx, Some(current)).await?,
        None => false,
    };
    if is_ended(tx, refs.subscription.as_deref()).await? {
        return Ok(Outcome::Stale);
    }
    sqlx::query(
        "UPDATE organizations SET stripe_customer_id = coalesce($2, stripe_customer_id), \
         stripe_subscription_id = CASE WHEN $4 THEN stripe_subscription_id ELSE coalesce($3, stripe_subscription_id) END \
         WHERE id = $1",
    )
    .bind(org.id)
    .bind(&refs.customer)
    .bind(&refs.subscription)
    .bind(keep_current)
    .execute(&mut **tx)
    .await?;
    Ok(Outcome::Applied)
}

async fn subscription(
    tx: &mut Tx,
    org: Current,
    s: &SubscriptionState,
    created: DateTime<Utc>,
    prices: &PriceMap,
) -> Result<Outcome> {
    if is_ended(tx, s.refs.subscription.as_deref()).await? || !is_newer(created, org.state_event_at) {
        return Ok(Outcome::Stale);
    }
    let status = match s.status {
        Mapped::NotStarted => return Ok(Outcome::Ignored),
        Mapped::Status(SubscriptionStatus::Canceled) => return end(tx, org, &s.refs, created).await,
        Mapped::Status(status) => status,
    };
    let price = s.price.as_deref().ok_or_else(|| Error::Invariant("a subscription event without a price".into()))?;
    let plan = prices.plan_for(price).ok_or_else(|| {
        Error::Invariant(format!("Stripe price {price} is not in RESONANCE_STRIPE_PRICES; the event will be retried"))
    })?;
    let trial_end = if status == SubscriptionStatus::Trialing { s.trial_end } else { None };
    sqlx::query(
        "UPDATE organizations SET subscription_status = $2, subscription_plan = $3, generations_limit = $4, \
         stripe_subscription_id = coalesce($5, stripe_subscription_id), \
         stripe_customer_id = coalesce($6, stripe_customer_id), trial_ends_at = coalesce($7, trial_ends_at) \
         WHERE id = $1",
    )
    .bind(org.id)
    .bind(status.as_str())
    .bind(plan.id)
    .bind(plan.monthly_generations)
    .bind(&s.refs.subscription)
    .bind(&s.refs.customer)
    .bind(trial_end)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE billing.accounts SET state_event_at = $2, price_id = $3, cancel_at_period_end = $4 \
         WHERE organization_id = $1",
    )
    .bind(org.id)
    .bind(created)
    .bind(price)
    .bind(s.cancel_at_period_end)
    .execute(&mut **tx)
    .await?;
    if let Some(period) = s.period {
        start_period(tx, org.id, period).await?;
    }
    if org.status.as_deref() != Some(status.as_str()) || org.plan.as_deref() != Some(plan.id) {
        let message = match status {
            SubscriptionStatus::Active => {
                format!("Subscription active: {} plan, {} generations a month", plan.name, plan.monthly_generations)
            }
            SubscriptionStatus::Trialing => format!("Trial of the {} plan started", plan.name),
            SubscriptionStatus::PastDue => "A payment is overdue: generating is paused until it is paid".to_owned(),
            SubscriptionStatus::Unpaid => "The subscription is unpaid: generating is paused".to_owned(),
            SubscriptionStatus::Canceled => "The subscription was canceled".to_owned(),
        };
        let outcome = if matches!(status, SubscriptionStatus::Active | SubscriptionStatus::Trialing) {
            LogStatus::Success
        } else {
            LogStatus::Warning
        };
        log(tx, org.id, &message, outcome, json!({"status": status.as_str(), "plan": plan.id})).await?;
    }
    Ok(Outcome::Applied)
}

async fn ended(tx: &mut Tx, org: Current, refs: &Refs, created: DateTime<Utc>) -> Result<Outcome> {
    if is_ended(tx, refs.subscription.as_deref()).await? {
        return Ok(Outcome::Stale);
    }
    end(tx, org, refs, created).await
}

/// The subscription ended: back on the free plan's limit, counting by calendar month, and
/// nothing about this subscription changes the organization again.
async fn end(tx: &mut Tx, org: Current, refs: &Refs, created: DateTime<Utc>) -> Result<Outcome> {
    let Some(sub) = refs.subscription.as_deref() else {
        return Err(Error::Invariant("a subscription event without a subscription id".into()));
    };
    sqlx::query(
        "INSERT INTO billing.ended_subscriptions (subscription_id, organization_id, ended_at) VALUES ($1, $2, $3) \
         ON CONFLICT (subscription_id) DO NOTHING",
    )
    .bind(sub)
    .bind(org.id)
    .bind(created)
    .execute(&mut **tx)
    .await?;
    if org.subscription.as_deref() != Some(sub) {
        // An older subscription of an organization that has moved on, or one that never became
        // the organization's (a checkout whose first payment never went through): the
        // organization keeps what it has, a trial included.
        return Ok(Outcome::Stale);
    }
    sqlx::query(
        "UPDATE organizations SET subscription_status = 'canceled', subscription_plan = $2, generations_limit = $3, \
         stripe_subscription_id = $4, stripe_customer_id = coalesce($5, stripe_customer_id) WHERE id = $1",
    )
    .bind(org.id)
    .bind(FREE.id)
    .bind(FREE.monthly_generations)
    .bind(sub)
    .bind(&refs.customer)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE billing.accounts SET state_event_at = greatest(state_event_at, $2), price_id = NULL, \
         cancel_at_period_end = false WHERE organization_id = $1",
    )
    .bind(org.id)
    .bind(created)
    .execute(&mut **tx)
    .await?;
    sqlx::query("SELECT billing.use_calendar_months($1)").bind(org.id).execute(&mut **tx).await?;
    log(
        tx,
        org.id,
        "The subscription ended: generating needs a new subscription",
        LogStatus::Warning,
        json!({"status": SubscriptionStatus::Canceled.as_str(), "plan": FREE.id}),
    )
    .await?;
    Ok(Outcome::Applied)
}

/// `paid`: Some(period) for invoice.paid (None inside when the invoice names no period), None
/// for invoice.payment_failed.
async fn invoice(
    tx: &mut Tx,
    org: Current,
    refs: &Refs,
    created: DateTime<Utc>,
    paid: Option<Option<Period>>,
) -> Result<Outcome> {
    let Some(sub) = refs.subscription.as_deref() else {
        return Ok(Outcome::Ignored); // a one-off invoice: nothing to do with the plan
    };
    if is_ended(tx, Some(sub)).await? || org.subscription.as_deref().is_some_and(|current| current != sub) {
        return Ok(Outcome::Stale);
    }
    let mut outcome = Outcome::Stale;
    if let Some(Some(period)) = paid {
        // Periods only move forward inside start_period, whatever order invoices arrive in.
        start_period(tx, org.id, period).await?;
        outcome = Outcome::Applied;
    }
    if !is_newer(created, org.state_event_at) {
        return Ok(outcome);
    }
    use SubscriptionStatus::{Active, PastDue, Trialing, Unpaid};
    let (from, to, message, outcome): (&[SubscriptionStatus], _, _, _) = match paid {
        Some(_) => {
            (&[PastDue, Unpaid], Active, "Payment received: the subscription is active again", LogStatus::Success)
        }
        None => (&[Active, Trialing], PastDue, "A payment failed: the subscription is past due", LogStatus::Warning),
    };
    if org.status.as_deref().is_some_and(|s| from.iter().any(|f| f.as_str() == s)) {
        sqlx::query("UPDATE organizations SET subscription_status = $2, stripe_subscription_id = $3 WHERE id = $1")
            .bind(org.id)
            .bind(to.as_str())
            .bind(sub)
            .execute(&mut **tx)
            .await?;
        sqlx::query("UPDATE billing.accounts SET state_event_at = $2 WHERE organization_id = $1")
            .bind(org.id)
            .bind(created)
            .execute(&mut **tx)
            .await?;
        log(tx, org.id, message, outcome, json!({"status": to.as_str()})).await?;
    }
    Ok(Outcome::Applied)
}

async fn start_period(tx: &mut Tx, org: Uuid, period: Period) -> Result<bool> {
    Ok(sqlx::query_scalar("SELECT billing.start_period($1, $2, $3, 'stripe', 'stripe')")
        .bind(org)
        .bind(period.start)
        .bind(period.end)
        .fetch_one(&mut **tx)
        .await?)
}

async fn log(tx: &mut Tx, org: Uuid, message: &str, status: LogStatus, details: serde_json::Value) -> Result<()> {
    sqlx::query(
        "INSERT INTO system_logs (organization_id, action_type, status, severity, message, details) \
         VALUES ($1, 'billing.subscription', $2, $3, $4, $5)",
    )
    .bind(org)
    .bind(status.as_str())
    .bind(status.severity())
    .bind(message)
    .bind(sqlx::types::Json(details))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Organizations counting by calendar month whose month is over (at most `limit`).
pub async fn calendar_periods_due(db: &crate::db::Db, limit: i64) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT organization_id FROM billing.accounts WHERE period_source = 'calendar' AND period_end <= now() \
         ORDER BY period_end LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.pool())
    .await?)
}

/// Starts the new calendar month of one organization, if it is due; true when this call reset it.
pub async fn roll_calendar_month(tx: &mut Tx, org: Uuid) -> Result<bool> {
    Ok(sqlx::query_scalar("SELECT billing.roll_calendar_month($1, 'calendar')").bind(org).fetch_one(&mut **tx).await?)
}
