//! `GET /v1/sync`, the change feed, and `GET /v1/health`.

use axum::extract::State;
use axum::http::header::{HeaderName, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Json;
use resonance_api::sync::{SyncPage, SyncQuery, CURSOR_HEADER, DEFAULT_PAGE_LIMIT, HAS_MORE_HEADER, MAX_PAGE_LIMIT};
use resonance_api::version::Health;
use resonance_api::ErrorBody;

use super::extract::{Authenticated, Query};
use super::AppState;
use crate::error::{Error, Result};
use crate::storage::sync::{self, Resume};

/// Every row of the five tables that the caller may see and that changed after `cursor`, as
/// upserts and tombstones, oldest change first. Never skips a row whose transaction commits late.
/// An unknown or expired cursor answers `reset: true`: discard and pull again without a cursor.
/// The `Resonance-Sync-Cursor` and `Resonance-Sync-Has-More` headers repeat `cursor` and
/// `has_more`, so a client can request the next page while it decodes this one.
#[utoipa::path(get, path = "/v1/sync", tag = "sync", security(("bearer" = [])), params(SyncQuery),
    responses((status = 200, body = SyncPage, headers(
        ("resonance-sync-cursor" = String, description = "the page's cursor"),
        ("resonance-sync-has-more" = bool, description = "the page's has_more"))),
      (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
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
    let resume = sync::resume(q.cursor.as_deref(), epoch, horizon);
    if resume == Resume::Reset {
        tx.commit().await?;
        let page = SyncPage { reset: true, changes: Vec::new(), cursor: None, has_more: false };
        return Ok(Json(page).into_response());
    }
    // The changes are written as JSON straight into the response body.
    let mut body = Vec::new();
    body.extend_from_slice(b"{\"reset\":false,\"changes\":");
    let page = sync::page(&mut tx, &caller, resume, limit, &mut body).await?;
    tx.commit().await?;
    let cursor = page.next.encode();
    body.extend_from_slice(format!(",\"cursor\":\"{cursor}\",\"has_more\":{}}}", page.has_more).as_bytes());
    let has_more = if page.has_more { "true" } else { "false" };
    Ok((
        [
            (CONTENT_TYPE, "application/json"),
            (HeaderName::from_static(CURSOR_HEADER), cursor.as_str()),
            (HeaderName::from_static(HAS_MORE_HEADER), has_more),
        ],
        body,
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/health", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(app): State<AppState>) -> (axum::http::StatusCode, Json<Health>) {
    let ok = sqlx::query("SELECT 1").execute(app.db.pool()).await.is_ok();
    let health = |status: &str, database: &str| Health {
        status: status.to_owned(),
        database: database.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        min_client_version: app.clients.minimum.to_string(),
        client_download_url: app.clients.download_url.clone(),
    };
    if ok {
        (axum::http::StatusCode::OK, Json(health("ok", "ok")))
    } else {
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(health("degraded", "unreachable")))
    }
}
