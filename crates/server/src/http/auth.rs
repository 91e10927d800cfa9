//! `/v1/auth/*` and `/v1/me`.

use std::net::SocketAddr;

use axum::extract::Query;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use resonance_api::auth::{
    InvitationLookup, InvitationPreview, Me, SignUpAccepted, SignUpRequest, TokenRequest, TokenResponse,
};
use resonance_api::ErrorBody;

use super::extract::{Authenticated, Body};
use super::AppState;
use crate::error::{Error, Result};
use crate::storage::{accounts, members};

/// Creates an account: a new organization (as its owner) or, with an invitation token,
/// membership of the inviting organization. Signed in at once (201), except a new organization
/// on a server that verifies e-mail (202): that answer is the same whether or not the address
/// already has an account, and the e-mail tells which.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", request_body = SignUpRequest,
    responses((status = 201, body = TokenResponse), (status = 202, body = SignUpAccepted),
              (status = 409, body = ErrorBody, description = "email_taken (invitations, or a server without e-mail)"),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "too_many_attempts (Retry-After)"),
              (status = 503, body = ErrorBody, description = "busy: try again after Retry-After")))]
pub async fn signup(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(req): Body<SignUpRequest>,
) -> Result<Response> {
    within_rate(&app, client)?;
    let base_url = super::public_base(&app, &headers);
    let verification = accounts::Verification { mail: &app.mail, base_url: &base_url };
    let signed_up =
        accounts::sign_up(&app.db, &app.keys, &app.password_slots, app.session_policy, &verification, &req).await?;
    Ok(match signed_up {
        accounts::SignedUp::Tokens(tokens) => (StatusCode::CREATED, Json(tokens)).into_response(),
        accounts::SignedUp::Accepted(accepted) => (StatusCode::ACCEPTED, Json(accepted)).into_response(),
    })
}

/// What an invitation code leads to (organization, address, role, inviter), for the invitee to
/// see before signing up with it. The code travels in the body, never in a URL that proxies log.
#[utoipa::path(post, path = "/v1/auth/invitation", tag = "auth", request_body = InvitationLookup,
    responses((status = 200, body = InvitationPreview),
              (status = 404, body = ErrorBody, description = "not_found: unknown, used or expired"),
              (status = 422, body = ErrorBody, description = "not an invitation code"),
              (status = 429, body = ErrorBody, description = "too_many_attempts (Retry-After)")))]
pub async fn invitation(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Body(req): Body<InvitationLookup>,
) -> Result<Json<InvitationPreview>> {
    within_rate(&app, client)?;
    Ok(Json(accounts::invitation_preview(&app.db, req.invite_token.reveal()).await?))
}

/// The link in a sign-up's e-mail: confirms the address, so the account may generate. Answers a
/// page for the browser: 404 for a link that no longer works (used, expired or never made), 400
/// for one cut before its token (only a failure of the database answers JSON, 500/503).
#[utoipa::path(get, path = "/v1/auth/verify", tag = "auth",
    params(("token" = String, Query, min_length = 1, description = "The token from the e-mail's link.")),
    responses((status = 200, content_type = "text/html", description = "confirmed"),
              (status = 400, content_type = "text/html", description = "the link has no token (cut short when copied)"),
              (status = 404, content_type = "text/html", description = "unknown, used or expired link")))]
pub async fn verify_email(State(app): State<AppState>, Query(query): Query<Vec<(String, String)>>) -> Result<Response> {
    // Read as pairs, which any query string is: a browser gets this page, never a parser's error.
    let token = query.into_iter().find(|(k, _)| k == "token").map(|(_, v)| v).unwrap_or_default();
    let (status, title, text) = if token.is_empty() {
        (
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            "Copy the whole link from the e-mail into your browser, or click it there.",
        )
    } else if accounts::verify_email(&app.db, &token).await? {
        (
            StatusCode::OK,
            "E-mail confirmed",
            "Your address is confirmed. Go back to Resonance Desktop and make a video.",
        )
    } else {
        (
            StatusCode::NOT_FOUND,
            "This link no longer works",
            "It was used already, or it is more than 7 days old. If your address is confirmed, just sign in.",
        )
    };
    Ok(super::pages::notice(status, title, text))
}

/// Signs in with a password, or exchanges a refresh token for a new pair (the old one is spent).
#[utoipa::path(post, path = "/v1/auth/token", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = TokenResponse),
              (status = 401, body = ErrorBody, description = "invalid_credentials or invalid_refresh_token"),
              (status = 429, body = ErrorBody, description = "too_many_attempts (Retry-After)"),
              (status = 503, body = ErrorBody, description = "busy: try again after Retry-After")))]
pub async fn token(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Body(req): Body<TokenRequest>,
) -> Result<Json<TokenResponse>> {
    within_rate(&app, client)?;
    let response = match req {
        TokenRequest::Password { email, password } => {
            let attempt = accounts::SignIn { email: &email, password: &password, client: client.ip() };
            accounts::sign_in(&app.db, &app.keys, &app.password_slots, app.session_policy, &attempt).await?
        }
        TokenRequest::RefreshToken { refresh_token } => {
            accounts::refresh(&app.db, &app.keys, app.session_policy, &refresh_token).await?
        }
    };
    Ok(Json(response))
}

/// The client's allowance on the endpoints anyone can call.
fn within_rate(app: &AppState, client: SocketAddr) -> Result<()> {
    app.auth_limiter.take(client.ip(), std::time::Instant::now()).map_err(|after_seconds| Error::RetryLater {
        code: resonance_api::ErrorCode::TooManyAttempts,
        message: format!("Too many sign-in requests from your address; try again in {after_seconds} s."),
        after_seconds,
    })
}

/// Ends the caller's session: its refresh token stops working and its access tokens are refused.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(State(app): State<AppState>, Authenticated(claims): Authenticated) -> Result<StatusCode> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    accounts::sign_out(&mut tx, &caller).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller, their role, and their organization's plan, subscription, trial and usage.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(State(app): State<AppState>, Authenticated(claims): Authenticated) -> Result<Json<Me>> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let me = members::me(&mut tx, &caller).await?;
    tx.commit().await?;
    Ok(Json(me))
}
