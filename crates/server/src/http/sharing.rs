//! Share links: members create, list and revoke them; anyone with one opens its page and plays
//! the video (byte ranges, so players seek), within a rate per client address. Invariant: a
//! token this server did not sign is answered like a link that never existed (404), an expired
//! or revoked one with 410, and a visitor learns nothing of the organization but the title.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use resonance_api::sharing::{NewShareLink, ShareLink, ShareLinkState};
use resonance_api::{ErrorBody, ErrorCode};

use super::extract::{Authenticated, Body, PathId};
use super::{pages, public_base, AppState};
use crate::error::{Error, Result};
use crate::storage::share_links::{self, Row, Shared};
use object_store::ObjectStoreExt;

fn wire(app: &AppState, headers: &HeaderMap, row: Row) -> ShareLink {
    ShareLink {
        url: format!("{}/v1/shared/{}", public_base(app, headers), app.keys.share_token(row.id)),
        state: row.state(chrono::Utc::now()),
        id: row.id,
        generation_id: row.generation_id,
        created_by: row.created_by,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    }
}

/// Makes a link that plays this finished video without an account, for 1, 7 or 30 days (admins,
/// and the member who started the generation).
#[utoipa::path(post, path = "/v1/generations/{id}/share-links", operation_id = "create_share_link", tag = "sharing",
    security(("bearer" = [])), params(("id" = uuid::Uuid, Path)), request_body = NewShareLink,
    responses((status = 201, body = ShareLink),
              (status = 403, body = ErrorBody, description = "not an admin, nor the generation's author"),
              (status = 409, body = ErrorBody, description = "the generation has not finished rendering")))]
pub async fn create(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(generation): PathId,
    headers: HeaderMap,
    Body(new): Body<NewShareLink>,
) -> Result<(StatusCode, Json<ShareLink>)> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let row = share_links::create(&mut tx, &caller, generation, new.days).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(wire(&app, &headers, row))))
}

/// A generation's share links, newest first, with their state.
#[utoipa::path(get, path = "/v1/generations/{id}/share-links", operation_id = "list_share_links", tag = "sharing",
    security(("bearer" = [])), params(("id" = uuid::Uuid, Path)), responses((status = 200, body = Vec<ShareLink>)))]
pub async fn list(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(generation): PathId,
    headers: HeaderMap,
) -> Result<Json<Vec<ShareLink>>> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let rows = share_links::list(&mut tx, &caller, generation).await?;
    tx.commit().await?;
    Ok(Json(rows.into_iter().map(|r| wire(&app, &headers, r)).collect()))
}

/// Turns a link off for good: its page and video answer 410 from now on.
#[utoipa::path(delete, path = "/v1/share-links/{id}", operation_id = "revoke_share_link", tag = "sharing",
    security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ShareLink), (status = 403, body = ErrorBody)))]
pub async fn revoke(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(link): PathId,
    headers: HeaderMap,
) -> Result<Json<ShareLink>> {
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let row = share_links::revoke(&mut tx, &caller, link).await?;
    tx.commit().await?;
    Ok(Json(wire(&app, &headers, row)))
}

/// Why a token plays nothing.
enum Refusal {
    /// Not a token of this server, or its video is gone.
    Unknown,
    Gone(ShareLinkState),
    Busy(u64),
}

/// The video a share token plays, if it plays one now.
async fn resolve(app: &AppState, client: SocketAddr, token: &str) -> Result<std::result::Result<Shared, Refusal>> {
    if let Err(after) = app.share_limiter.take(client.ip(), std::time::Instant::now()) {
        return Ok(Err(Refusal::Busy(after)));
    }
    let Some(link) = app.keys.share_link_of(token) else { return Ok(Err(Refusal::Unknown)) };
    let Some(shared) = share_links::shared(&app.db, link).await? else { return Ok(Err(Refusal::Unknown)) };
    match ShareLinkState::at(shared.expires_at, shared.revoked_at, chrono::Utc::now()) {
        ShareLinkState::Active if shared.completed && shared.project_id.is_some() => Ok(Ok(shared)),
        ShareLinkState::Active => Ok(Err(Refusal::Unknown)),
        gone => Ok(Err(Refusal::Gone(gone))),
    }
}

const PLAYER_STYLE: &str = "html,body{margin:0;height:100%;background:#000;color:#eee;font:15px system-ui,sans-serif}\
     body{display:flex;flex-direction:column}video{flex:1;min-height:0;width:100%;background:#000}\
     p{margin:0;padding:.6em 1em;display:flex;justify-content:space-between;gap:1em}a{color:#9cf}";

/// The page of a share link: the video in a plain HTML player, for anyone who has the link.
#[utoipa::path(get, path = "/v1/shared/{token}", operation_id = "shared_page", tag = "sharing",
    params(("token" = String, Path, description = "the link's token, as its URL carries it")),
    responses((status = 200, content_type = "text/html", description = "the player page"),
              (status = 404, content_type = "text/html", description = "no such link"),
              (status = 410, content_type = "text/html", description = "the link expired or was turned off"),
              (status = 429, content_type = "text/html", description = "too many requests from this address (Retry-After)")))]
pub async fn page(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
) -> Result<Response> {
    let resolved = match resolve(&app, client, &token).await? {
        // The page promises a video: it is there, or the link leads nowhere.
        Ok(shared) if app.storage.head(&render_key(&shared)).await.is_err() => Err(Refusal::Unknown),
        other => other,
    };
    Ok(match resolved {
        Ok(shared) => {
            let title = shared.title.unwrap_or_else(|| "A Resonance video".into());
            let video = format!("{}/video", pages::escape(&token));
            let body = format!(
                "<video src=\"{video}\" controls playsinline preload=\"metadata\"></video>\
                 <p><span>{}</span><a href=\"{video}\" download>Download</a></p>",
                pages::escape(&title)
            );
            pages::page(StatusCode::OK, &title, &body, PLAYER_STYLE)
        }
        Err(Refusal::Unknown) => pages::notice(
            StatusCode::NOT_FOUND,
            "No video here",
            "This link does not lead to a video. Check that it was copied whole.",
        ),
        Err(Refusal::Gone(state)) => pages::notice(StatusCode::GONE, "This link no longer plays", gone_text(state)),
        Err(Refusal::Busy(after)) => {
            let mut page = pages::notice(StatusCode::TOO_MANY_REQUESTS, "Too many requests", &too_often(after));
            if let Ok(v) = axum::http::HeaderValue::from_str(&after.to_string()) {
                page.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
            page
        }
    })
}

/// Where the worker stored the shared render.
fn render_key(shared: &Shared) -> object_store::path::Path {
    let project = shared.project_id.unwrap_or_default();
    object_store::path::Path::from(format!("{}/{project}/renders/{}.mp4", shared.organization_id, shared.generation_id))
}

fn too_often(after_seconds: u64) -> String {
    format!("This address asked for shared videos too often; try again in {after_seconds} s.")
}

fn gone_text(state: ShareLinkState) -> &'static str {
    match state {
        ShareLinkState::Revoked => "Whoever shared this video turned the link off. Ask them for a new one.",
        _ => "This link has expired. Ask whoever shared the video for a new one.",
    }
}

/// The video of a share link (MP4), with byte ranges.
#[utoipa::path(get, path = "/v1/shared/{token}/video", operation_id = "shared_video", tag = "sharing",
    params(("token" = String, Path, description = "the link's token, as its URL carries it")),
    responses((status = 200, content_type = "video/mp4", description = "the MP4"),
              (status = 206, content_type = "video/mp4", description = "the part a `Range: bytes=` header asked for"),
              (status = 404, body = ErrorBody), (status = 410, body = ErrorBody, description = "share_link_gone"),
              (status = 416, description = "the range starts past the end"),
              (status = 429, body = ErrorBody, description = "too many requests from this address (Retry-After)")))]
pub async fn video(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let shared = match resolve(&app, client, &token).await? {
        Ok(shared) => shared,
        Err(Refusal::Unknown) => return Err(Error::not_found("This link does not lead to a video.")),
        Err(Refusal::Gone(state)) => return Err(Error::refused(ErrorCode::ShareLinkGone, gone_text(state))),
        Err(Refusal::Busy(after_seconds)) => {
            return Err(Error::RetryLater {
                code: ErrorCode::TooManyAttempts,
                message: too_often(after_seconds),
                after_seconds,
            })
        }
    };
    let mut response = super::projects::serve_object(&app, &render_key(&shared), "video/mp4", &headers).await?;
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response.into_response())
}
