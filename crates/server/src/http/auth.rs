//! `/v1/auth/*` and `/v1/me`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use resonance_api::auth::{Me, SignUpRequest, TokenRequest, TokenResponse};
use resonance_api::ErrorBody;

use super::extract::{Authenticated, Body};
use super::AppState;
use crate::error::Result;
use crate::storage::{accounts, members};

/// Creates an account and signs it in: a new organization (as its owner) or, with an invitation
/// token, membership of the inviting organization.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", request_body = SignUpRequest,
    responses((status = 201, body = TokenResponse), (status = 409, body = ErrorBody, description = "email_taken"),
              (status = 422, body = ErrorBody)))]
pub async fn signup(
    State(app): State<AppState>,
    Body(req): Body<SignUpRequest>,
) -> Result<(StatusCode, Json<TokenResponse>)> {
    let response = accounts::sign_up(&app.db, &app.keys, app.session_policy, &req).await?;
    Ok((StatusCode::CREATED, Json(response)))
}

/// Signs in with a password, or exchanges a refresh token for a new pair (the old one is spent).
#[utoipa::path(post, path = "/v1/auth/token", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = TokenResponse),
              (status = 401, body = ErrorBody, description = "invalid_credentials or invalid_refresh_token"),
              (status = 429, body = ErrorBody, description = "too_many_attempts")))]
pub async fn token(State(app): State<AppState>, Body(req): Body<TokenRequest>) -> Result<Json<TokenResponse>> {
    let response = match req {
        TokenRequest::Password { email, password } => {
            accounts::sign_in(&app.db, &app.keys, app.session_policy, &email, &password).await?
        }
        TokenRequest::RefreshToken { refresh_token } => {
            accounts::refresh(&app.db, &app.keys, app.session_policy, &refresh_token).await?
        }
    };
    Ok(Json(response))
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
