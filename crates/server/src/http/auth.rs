//! `/v1/auth/*` and `/v1/me`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use resonance_api::auth::{Me, SignUpRequest, TokenRequest, TokenResponse};
use resonance_api::ErrorBody;

use super::extract::{Authenticated, Body};
use super::AppState;
use crate::error::{Error, Result};
use crate::storage::{accounts, members};

/// Creates an account and signs it in: a new organization (as its owner) or, with an invitation
/// token, membership of the inviting organization.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", request_body = SignUpRequest,
    responses((status = 201, body = TokenResponse), (status = 409, body = ErrorBody, description = "email_taken"),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "too_many_attempts (Retry-After)"),
              (status = 503, body = ErrorBody, description = "busy: try again after Retry-After")))]
pub async fn signup(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Body(req): Body<SignUpRequest>,
) -> Result<(StatusCode, Json<TokenResponse>)> {
    within_rate(&app, client)?;
    let response = accounts::sign_up(&app.db, &app.keys, &app.password_slots, app.session_policy, &req).await?;
    Ok((StatusCode::CREATED, Json(response)))
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
