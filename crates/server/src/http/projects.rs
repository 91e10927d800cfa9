//! `/v1/projects` and the generations read endpoints.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use resonance_api::model::{Generation, Project};
use resonance_api::projects::{NewProject, ProjectPatch};
use resonance_api::ErrorBody;
use serde::Deserialize;

use super::extract::{Authenticated, Body, PathId, Query};
use super::AppState;
use crate::error::{Error, Result};
use crate::storage::{generations, projects};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// At most this many, newest first (1 to 1000, default 100).
    pub limit: Option<i64>,
    /// Skip this many.
    pub offset: Option<i64>,
}

pub(super) fn page_bounds(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64)> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::bad_request("limit must be between 1 and 1000"));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(Error::bad_request("offset must not be negative"));
    }
    Ok((limit, offset))
}

#[utoipa::path(get, path = "/v1/projects", tag = "projects", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Vec<Project>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Project>>> {
    let (limit, offset) = page_bounds(q.limit, q.offset)?;
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let list = projects::list(&mut tx, &caller, limit, offset).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// Creates a project (developer or above). With a client-made `id`, a retry returns the same
/// project with 200 instead of creating another.
#[utoipa::path(post, path = "/v1/projects", tag = "projects", security(("bearer" = [])), request_body = NewProject,
    responses((status = 201, body = Project), (status = 200, body = Project, description = "a retried create"),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    Body(new): Body<NewProject>,
) -> Result<(StatusCode, Json<Project>)> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let created = projects::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok(match created {
        projects::Created::New(p) => (StatusCode::CREATED, Json(p)),
        projects::Created::Existing(p) => (StatusCode::OK, Json(p)),
    })
}

#[utoipa::path(get, path = "/v1/projects/{id}", tag = "projects", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)), responses((status = 200, body = Project), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
) -> Result<Json<Project>> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let p = projects::get(&mut tx, &caller, id).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// Edits a project (developer or above); absent fields are kept.
#[utoipa::path(patch, path = "/v1/projects/{id}", tag = "projects", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)), request_body = ProjectPatch,
    responses((status = 200, body = Project), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
    Body(patch): Body<ProjectPatch>,
) -> Result<Json<Project>> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let p = projects::update(&mut tx, &caller, id, &patch).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// Deletes a project and its generations (admin or above).
#[utoipa::path(delete, path = "/v1/projects/{id}", tag = "projects", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
) -> Result<StatusCode> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    projects::delete(&mut tx, &caller, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/projects/{id}/generations", tag = "generations", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)), responses((status = 200, body = Vec<Generation>), (status = 404, body = ErrorBody)))]
pub async fn generations_of(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
) -> Result<Json<Vec<Generation>>> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let list = generations::for_project(&mut tx, &caller, id).await?;
    tx.commit().await?;
    Ok(Json(list))
}

#[utoipa::path(get, path = "/v1/generations/{id}", tag = "generations", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)), responses((status = 200, body = Generation), (status = 404, body = ErrorBody)))]
pub async fn generation(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
) -> Result<Json<Generation>> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let g = generations::get(&mut tx, &caller, id).await?;
    tx.commit().await?;
    Ok(Json(g))
}
