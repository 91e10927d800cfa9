//! `/v1/projects/{id}/footage` and `/v1/footage/{id}`: a project's clips and stills, listed in
//! order, arranged, trimmed, removed, and their files and posters served. Footage is added by
//! uploading it (`/v1/uploads` with `purpose` `footage`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use resonance_api::footage::FootagePatch;
use resonance_api::model::Footage;
use resonance_api::ErrorBody;

use super::extract::{Authenticated, IdempotencyKey, KeyedBody, PathId};
use super::projects::{once, serve_object};
use super::AppState;
use crate::error::Result;
use crate::storage::footage;

/// The project's footage, in its order.
#[utoipa::path(get, path = "/v1/projects/{id}/footage", operation_id = "list_footage", tag = "footage", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)), responses((status = 200, body = Vec<Footage>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(project): PathId,
) -> Result<Json<Vec<Footage>>> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let items = footage::list(&mut tx, &caller, project).await?;
    tx.commit().await?;
    Ok(Json(items))
}

/// Moves an item in its project's list and sets the part of a clip to use (developer or above);
/// absent fields are kept, `null` clears a point.
#[utoipa::path(patch, path = "/v1/footage/{id}", operation_id = "update_footage", tag = "footage", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<uuid::Uuid>, Header, nullable = false, description = "A retry with the same key and body gets the first answer instead of writing twice; the key with another body answers 422 idempotency_key_reused")),
    request_body = FootagePatch,
    responses((status = 200, body = Footage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    IdempotencyKey(key): IdempotencyKey,
    PathId(id): PathId,
    KeyedBody(change, digest): KeyedBody<FootagePatch>,
) -> Result<Response> {
    once(&app, &claims, key, &format!("PATCH /v1/footage/{id} sha256:{digest}"), |tx, caller| {
        Box::pin(async move { Ok((StatusCode::OK, Some(footage::patch(tx, caller, id, &change).await?))) })
    })
    .await
}

/// Removes an item from its project (developer or above); its files are deleted.
#[utoipa::path(delete, path = "/v1/footage/{id}", operation_id = "remove_footage", tag = "footage", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<uuid::Uuid>, Header, nullable = false, description = "A retry with the same key and body gets the first answer instead of writing twice; the key with another body answers 422 idempotency_key_reused")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    IdempotencyKey(key): IdempotencyKey,
    PathId(id): PathId,
) -> Result<Response> {
    once(&app, &claims, key, &format!("DELETE /v1/footage/{id}"), |tx, caller| {
        Box::pin(async move {
            footage::remove(tx, caller, id).await?;
            Ok((StatusCode::NO_CONTENT, None::<()>))
        })
    })
    .await
}

/// An item's poster frame (JPEG, at most 640 pixels wide).
#[utoipa::path(get, path = "/v1/footage/{id}/poster", operation_id = "footage_poster", tag = "footage", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, content_type = "image/jpeg", description = "the JPEG"), (status = 404, body = ErrorBody)))]
pub async fn poster(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    let item = read(&app, &claims, id).await?;
    serve_object(&app, &object_store::path::Path::from(item.poster_key.as_str()), "image/jpeg", &headers).await
}

/// An item's file as it was uploaded, with byte ranges.
#[utoipa::path(get, path = "/v1/footage/{id}/source", operation_id = "footage_source", tag = "footage", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, content_type = "application/octet-stream", description = "the clip or still"),
              (status = 206, description = "the range asked for"), (status = 404, body = ErrorBody)))]
pub async fn source(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    let item = read(&app, &claims, id).await?;
    let content_type = match item.object_key.rsplit('.').next() {
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        Some("mkv") => "video/x-matroska",
        Some("jpg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        _ => "application/octet-stream",
    };
    serve_object(&app, &object_store::path::Path::from(item.object_key.as_str()), content_type, &headers).await
}

async fn read(app: &AppState, claims: &crate::credentials::AccessClaims, id: uuid::Uuid) -> Result<Footage> {
    let (mut tx, _caller) = app.db.begin_for(claims).await?;
    let item = footage::get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(item)
}
