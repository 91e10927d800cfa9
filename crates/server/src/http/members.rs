//! `/v1/members`, `/v1/organization` and `/v1/system-logs`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use resonance_api::auth::{ChangeRole, Invitation, InviteMember};
use resonance_api::model::{Organization, SystemLog, User};
use resonance_api::ErrorBody;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::extract::{Authenticated, Body, PathId, Query};
use super::projects::page_bounds;
use super::AppState;
use crate::error::Result;
use crate::storage::{logs, members};

#[utoipa::path(get, path = "/v1/members", operation_id = "list_members", tag = "members", security(("bearer" = [])),
    responses((status = 200, body = Vec<User>), (status = 401, body = ErrorBody)))]
pub async fn list(State(app): State<AppState>, Authenticated(claims): Authenticated) -> Result<Json<Vec<User>>> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let list = members::list(&mut tx, &caller).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// Invites an e-mail with a role (admin or above; only owners invite owners). The one-time
/// `invite_token` the invitee signs up with goes to them by e-mail on a server that sends
/// e-mail; otherwise the answer carries it, for the inviter to hand over.
#[utoipa::path(post, path = "/v1/members", operation_id = "invite_member", tag = "members", security(("bearer" = [])), request_body = InviteMember,
    responses((status = 201, body = Invitation), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "the address is already a member's"), (status = 422, body = ErrorBody)))]
pub async fn invite(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    headers: axum::http::HeaderMap,
    Body(req): Body<InviteMember>,
) -> Result<(StatusCode, Json<Invitation>)> {
    let base = app.mail.is_configured().then(|| super::public_base(&app, &headers));
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let invitation = members::invite(&mut tx, &caller, &req, base.as_deref()).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

/// Changes a member's role (admin or above; only owners grant or revoke owner; one owner stays).
#[utoipa::path(patch, path = "/v1/members/{id}", tag = "members", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)), request_body = ChangeRole,
    responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn change_role(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
    Body(req): Body<ChangeRole>,
) -> Result<Json<User>> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let user = members::change_role(&mut tx, &caller, id, req.role).await?;
    tx.commit().await?;
    Ok(Json(user))
}

/// Removes a member: their access and sessions end; their history stays attributed to them.
#[utoipa::path(delete, path = "/v1/members/{id}", tag = "members", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
) -> Result<StatusCode> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    members::remove(&mut tx, &caller, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Renames the organization or replaces its settings (admin or above). Billing, plan, trial and
/// usage fields are refused for everyone: only verified billing events change them.
#[utoipa::path(patch, path = "/v1/organization", tag = "members", security(("bearer" = [])),
    request_body = resonance_api::model::OrganizationPatch,
    responses((status = 200, body = Organization), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_organization(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    Body(patch): Body<Map<String, Value>>,
) -> Result<Json<Organization>> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let org = members::update_organization(&mut tx, &caller, &patch).await?;
    tx.commit().await?;
    Ok(Json(org))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only entries created before this instant (for paging back).
    pub before: Option<DateTime<Utc>>,
    /// At most this many, newest first (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/system-logs", tag = "activity", security(("bearer" = [])), params(LogQuery),
    responses((status = 200, body = Vec<SystemLog>), (status = 401, body = ErrorBody)))]
pub async fn system_logs(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    Query(q): Query<LogQuery>,
) -> Result<Json<Vec<SystemLog>>> {
    let (limit, _) = page_bounds(q.limit, None)?;
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let list = logs::list(&mut tx, &caller, q.before, limit).await?;
    tx.commit().await?;
    Ok(Json(list))
}
