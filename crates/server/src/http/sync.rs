//! `GET /v1/sync`, the change feed, and `GET /v1/health`.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use resonance_api::sync::{SyncPage, SyncQuery, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use resonance_api::ErrorBody;
use serde::Serialize;

use super::extract::{Authenticated, Query};
use super::AppState;
use crate::error::{Error, Result};
use crate::storage::sync::{self, Resume};

/// Every row of the five tables that the caller may see and that changed after `cursor`, as
/// upserts and tombstones, oldest change first. Never skips a row whose transaction commits late.
/// An unknown or expired cursor answers `reset: true`: discard and pull again without a cursor.
#[utoipa::path(get, path = "/v1/sync", tag = "sync", security(("bearer" = [])), params(SyncQuery),
    responses((status = 200, body = SyncPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn pull(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    Query(q): Query<SyncQuery>,
) -> Result<Response> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
        return Err(Error::bad_request(format!("limit must be between 1 and {MAX_PAGE_LIMIT}")));
    }
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let (epoch, horizon) = sync::state(&mut tx).await?;
    let from = match sync::resume(q.cursor.as_deref(), epoch, horizon) {
        Resume::From(c) => c,
        Resume::Reset => {
            tx.commit().await?;
            let page = SyncPage { reset: true, changes: Vec::new(), cursor: None, has_more: false };
            return Ok(Json(page).into_response());
        }
    };
    let page = sync::page(&mut tx, &caller, from, limit).await?;
    tx.commit().await?;
    // The changes are already JSON: splice them in rather than build and re-serialize values.
    let has_more = page.count >= usize::try_from(limit).unwrap_or(usize::MAX);
    let mut body = Vec::with_capacity(page.changes_json.len() + 128);
    body.extend_from_slice(b"{\"reset\":false,\"changes\":");
    body.extend_from_slice(&page.changes_json);
    body.extend_from_slice(format!(",\"cursor\":\"{}\",\"has_more\":{has_more}}}", page.next.encode()).as_bytes());
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the database does not answer.
    pub status: &'static str,
    pub database: &'static str,
    pub version: &'static str,
}

#[utoipa::path(get, path = "/v1/health", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(app): State<AppState>) -> (axum::http::StatusCode, Json<Health>) {
    let ok = sqlx::query("SELECT 1").execute(app.db.pool()).await.is_ok();
    let version = env!("CARGO_PKG_VERSION");
    if ok {
        (axum::http::StatusCode::OK, Json(Health { status: "ok", database: "ok", version }))
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(Health { status: "degraded", database: "unreachable", version }),
        )
    }
}
