//! `/v1/projects` and the generations read endpoints.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use resonance_api::generations::NewGeneration;
use resonance_api::model::{Generation, Project};
use resonance_api::projects::{NewProject, ProjectPatch};
use resonance_api::ErrorBody;
use serde::Deserialize;

use super::extract::{Authenticated, IdempotencyKey, KeyedBody, PathId, Query};
use super::AppState;
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::storage::{generations, idempotency, projects};
use object_store::ObjectStoreExt;

/// What an idempotent write does in its transaction: its answer's status, and body if any.
pub(super) type Write<'a, T> = futures_util::future::BoxFuture<'a, Result<(StatusCode, Option<T>)>>;

/// A write made at most once per idempotency key, in one transaction: a retry of `request` with
/// the same key gets the first answer; otherwise `write` runs and its answer is kept with the key.
pub(super) async fn once<T, W>(
    app: &AppState,
    claims: &crate::credentials::AccessClaims,
    key: Option<uuid::Uuid>,
    request: &str,
    write: W,
) -> Result<Response>
where
    T: serde::Serialize + Send,
    W: for<'a> FnOnce(&'a mut Tx, &'a crate::db::Caller) -> Write<'a, T>,
{
    let (mut tx, caller) = app.db.begin_for(claims).await?;
    if let Some(answer) = replay(&mut tx, key, request).await? {
        tx.commit().await?;
        return Ok(answer);
    }
    let (status, body) = write(&mut tx, &caller).await?;
    remember(&mut tx, key, request, status, body.as_ref()).await?;
    tx.commit().await?;
    Ok(match body {
        Some(body) => (status, Json(body)).into_response(),
        None => status.into_response(),
    })
}

/// The first answer to this key, if the write was already made.
async fn replay(tx: &mut Tx, key: Option<uuid::Uuid>, request: &str) -> Result<Option<Response>> {
    let Some(key) = key else { return Ok(None) };
    Ok(idempotency::replay(tx, key, request).await?.map(|answer| match answer.body {
        Some(body) => (answer.status, Json(body)).into_response(),
        None => answer.status.into_response(),
    }))
}

/// Keeps this answer for the key, in the write's transaction.
async fn remember<T: serde::Serialize>(
    tx: &mut Tx,
    key: Option<uuid::Uuid>,
    request: &str,
    status: StatusCode,
    body: Option<&T>,
) -> Result<()> {
    match key {
        Some(key) => idempotency::record(tx, key, request, status, body).await,
        None => Ok(()),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// At most this many, newest first (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Skip this many.
    #[param(minimum = 0)]
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

#[utoipa::path(get, path = "/v1/projects", operation_id = "list_projects", tag = "projects", security(("bearer" = [])), params(ListQuery),
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
#[utoipa::path(post, path = "/v1/projects", operation_id = "create_project", tag = "projects", security(("bearer" = [])), request_body = NewProject,
    params(("Idempotency-Key" = Option<uuid::Uuid>, Header, nullable = false, description = "A retry with the same key and body gets the first answer instead of writing twice; the key with another body answers 422 idempotency_key_reused")),
    responses((status = 201, body = Project), (status = 200, body = Project, description = "a retried create"),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    IdempotencyKey(key): IdempotencyKey,
    KeyedBody(new, digest): KeyedBody<NewProject>,
) -> Result<Response> {
    once(&app, &claims, key, &format!("POST /v1/projects sha256:{digest}"), |tx, caller| {
        Box::pin(async move {
            Ok(match projects::create(tx, caller, &new).await? {
                projects::Created::New(p) => (StatusCode::CREATED, Some(p)),
                projects::Created::Existing(p) => (StatusCode::OK, Some(p)),
            })
        })
    })
    .await
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
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<uuid::Uuid>, Header, nullable = false, description = "A retry with the same key and body gets the first answer instead of writing twice; the key with another body answers 422 idempotency_key_reused")), request_body = ProjectPatch,
    responses((status = 200, body = Project), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    IdempotencyKey(key): IdempotencyKey,
    PathId(id): PathId,
    KeyedBody(patch, digest): KeyedBody<ProjectPatch>,
) -> Result<Response> {
    once(&app, &claims, key, &format!("PATCH /v1/projects/{id} sha256:{digest}"), |tx, caller| {
        Box::pin(async move { Ok((StatusCode::OK, Some(projects::update(tx, caller, id, &patch).await?))) })
    })
    .await
}

/// Deletes a project and its generations (admin or above).
#[utoipa::path(delete, path = "/v1/projects/{id}", tag = "projects", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<uuid::Uuid>, Header, nullable = false, description = "A retry with the same key and body gets the first answer instead of writing twice; the key with another body answers 422 idempotency_key_reused")), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    IdempotencyKey(key): IdempotencyKey,
    PathId(id): PathId,
) -> Result<Response> {
    once(&app, &claims, key, &format!("DELETE /v1/projects/{id}"), |tx, caller| {
        Box::pin(async move {
            projects::delete(tx, caller, id).await?;
            Ok((StatusCode::NO_CONTENT, None::<()>))
        })
    })
    .await
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

/// Starts a generation of the project (developer or above) and queues its render. In one
/// transaction: the role, the subscription (`active`, or `trialing` before `trial_ends_at`), the
/// month's quota (counted only when below the limit), the next `generation_number`, a unique
/// `seed` (or the one given, to re-render). The `Idempotency-Key` header is required: a retry
/// returns the same generation and is not counted twice.
#[utoipa::path(post, path = "/v1/projects/{id}/generations", tag = "generations", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path),
           ("Idempotency-Key" = uuid::Uuid, Header, description = "Required: a retry with the same key returns the same generation")),
    request_body = NewGeneration,
    responses((status = 201, body = Generation),
              (status = 400, body = ErrorBody, description = "no Idempotency-Key"),
              (status = 402, body = ErrorBody, description = "subscription_inactive, trial_ended or quota_exceeded"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn start_generation(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    IdempotencyKey(key): IdempotencyKey,
    PathId(id): PathId,
    KeyedBody(new, digest): KeyedBody<NewGeneration>,
) -> Result<Response> {
    if key.is_none() {
        return Err(Error::bad_request(
            "Starting a generation needs an Idempotency-Key header (a UUID), so a retry is never charged twice.",
        ));
    }
    once(&app, &claims, key, &format!("POST /v1/projects/{id}/generations sha256:{digest}"), |tx, caller| {
        Box::pin(async move { Ok((StatusCode::CREATED, Some(generations::start(tx, caller, id, &new).await?))) })
    })
    .await
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

/// The rendered video of a completed generation (MP4), for members of its organization.
#[utoipa::path(get, path = "/v1/generations/{id}/video", tag = "generations", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, content_type = "video/mp4", description = "the MP4"),
              (status = 206, content_type = "video/mp4", description = "the part a `Range: bytes=` header asked for"),
              (status = 404, body = ErrorBody), (status = 416, description = "the range starts past the end")))]
pub async fn video(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    media(&app, &claims, id, "mp4", "video/mp4", &headers).await
}

/// The thumbnail of a completed generation (JPEG), for members of its organization.
#[utoipa::path(get, path = "/v1/generations/{id}/thumbnail", tag = "generations", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, content_type = "image/jpeg", description = "the JPEG"), (status = 404, body = ErrorBody)))]
pub async fn thumbnail(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    media(&app, &claims, id, "jpg", "image/jpeg", &headers).await
}

/// What a `Range` header asks of a file of `size` bytes: one `bytes=` range is served as 206;
/// anything else (no header, several ranges, another unit) gets the whole file.
#[derive(Debug, PartialEq)]
enum Wanted {
    Whole,
    Part(std::ops::Range<u64>),
    Unsatisfiable,
}

fn wanted(header: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Wanted::Whole };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((start, end)) = spec.split_once('-') else { return Wanted::Whole };
    let (start, end) = (start.trim(), end.trim());
    let range = match (start.parse::<u64>(), end.parse::<u64>()) {
        (Ok(a), Ok(b)) if a <= b => a..b.saturating_add(1).min(size),
        (Ok(a), Err(_)) if end.is_empty() => a..size,
        (Err(_), Ok(n)) if start.is_empty() && n > 0 => size.saturating_sub(n)..size,
        _ => return Wanted::Whole,
    };
    if range.start >= size {
        Wanted::Unsatisfiable
    } else {
        Wanted::Part(range)
    }
}

async fn media(
    app: &AppState,
    claims: &crate::credentials::AccessClaims,
    id: uuid::Uuid,
    ext: &str,
    content_type: &'static str,
    headers: &axum::http::HeaderMap,
) -> Result<Response> {
    let (mut tx, caller) = app.db.begin_for(claims).await?;
    let g = generations::get(&mut tx, &caller, id).await?;
    tx.commit().await?;
    let (Some(project), Some(resonance_api::model::GenerationStatus::Completed)) = (g.project_id, g.status) else {
        return Err(Error::not_found("This generation has not finished rendering."));
    };
    let key = object_store::path::Path::from(format!("{}/{project}/renders/{id}.{ext}", g.organization_id));
    serve_object(app, &key, content_type, headers).await
}

/// A stored file as the answer, with one byte range when the request asks for one (players
/// seek this way).
pub(super) async fn serve_object(
    app: &AppState,
    key: &object_store::path::Path,
    content_type: &'static str,
    headers: &axum::http::HeaderMap,
) -> Result<Response> {
    use axum::http::header;
    let missing = |e: object_store::Error| match e {
        object_store::Error::NotFound { .. } => Error::not_found("The rendered file is missing from storage."),
        other => Error::Storage(other),
    };
    let size = app.storage.head(key).await.map_err(missing)?.size;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, part) = match wanted(range, size) {
        Wanted::Whole => (StatusCode::OK, None),
        Wanted::Part(r) => (StatusCode::PARTIAL_CONTENT, Some(r)),
        Wanted::Unsatisfiable => {
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, [(header::CONTENT_RANGE, format!("bytes */{size}"))])
                .into_response())
        }
    };
    let options =
        object_store::GetOptions { range: part.clone().map(object_store::GetRange::Bounded), ..Default::default() };
    let stored = app.storage.get_opts(key, options).await.map_err(missing)?;
    let length = part.as_ref().map_or(size, |r| r.end - r.start);
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_LENGTH, length.to_string()),
            (header::ACCEPT_RANGES, "bytes".to_owned()),
        ],
        axum::body::Body::from_stream(stored.into_stream()),
    )
        .into_response();
    if let Some(r) = part {
        if let Ok(v) = axum::http::HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end - 1)) {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_players_send_them() {
        assert_eq!(wanted(None, 1000), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=0-99"), 1000), Wanted::Part(0..100));
        assert_eq!(wanted(Some("bytes=900-"), 1000), Wanted::Part(900..1000));
        assert_eq!(wanted(Some("bytes=-100"), 1000), Wanted::Part(900..1000));
        assert_eq!(wanted(Some("bytes=990-5000"), 1000), Wanted::Part(990..1000));
        assert_eq!(wanted(Some("bytes=1000-"), 1000), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-1,5-6"), 1000), Wanted::Whole);
        assert_eq!(wanted(Some("items=0-1"), 1000), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=9-3"), 1000), Wanted::Whole);
        // Extreme numbers answer, never overflow.
        assert_eq!(wanted(Some("bytes=0-18446744073709551615"), 1000), Wanted::Part(0..1000));
        assert_eq!(wanted(Some("bytes=18446744073709551615-18446744073709551615"), 1000), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-18446744073709551615"), 1000), Wanted::Part(0..1000));
        assert_eq!(wanted(Some("bytes=0-18446744073709551616"), 1000), Wanted::Whole);
    }
}
