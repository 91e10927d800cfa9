//! `/v1/uploads`: the tus 1.0 resumable upload protocol (core, creation, termination, checksum,
//! expiration). Invariants:
//! - a PATCH first claims the upload (the caller may upload, the upload is open at that offset,
//!   no other request is sending to it), so no byte is stored for a request that will be refused;
//! - every chunk is streamed into its own object (a few MB in memory at most) before the row's
//!   offset moves past it, under the row's lock, so the offset a client reads back is always
//!   backed by stored bytes; a chunk cut off mid-way is dropped whole, so a resumed upload
//!   re-sends at most that one chunk;
//! - the finished file is joined, hashed and judged before it is kept: as audio (decoded) for
//!   the project's track, as footage (probed, decoded, its poster drawn) for its footage; what it
//!   is not is refused and nothing of it is kept; bytes the organization already stored finish at
//!   once.

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use resonance_api::ErrorCode;
use sha2::Digest;
use uuid::Uuid;

use super::extract::{Authenticated, PathId};
use super::AppState;
use crate::credentials::AccessClaims;
use crate::error::{Error, Result};
use crate::media::{self, Judged};
use crate::storage::footage::{self, NewFootage};
use crate::storage::logs::{self, Entry};
use crate::storage::uploads::{self, NewUpload, Purpose, Upload};

const TUS_VERSION: &str = "1.0.0";
/// The largest single PATCH accepted: clients send chunks of a few MB.
pub const MAX_CHUNK_BYTES: usize = 64 << 20;

fn header(name: &'static str, value: impl ToString) -> (HeaderName, HeaderValue) {
    (HeaderName::from_static(name), HeaderValue::from_str(&value.to_string()).unwrap_or(HeaderValue::from_static("")))
}

/// Every tus answer, errors included, carries `Tus-Resumable`.
fn tus(result: Result<Response>) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    let headers = response.headers_mut();
    headers.insert(HeaderName::from_static("tus-resumable"), HeaderValue::from_static(TUS_VERSION));
    if response.status() == StatusCode::PRECONDITION_FAILED {
        response.headers_mut().insert(HeaderName::from_static("tus-version"), HeaderValue::from_static(TUS_VERSION));
    }
    response
}

fn require_tus(headers: &HeaderMap) -> Result<()> {
    match headers.get("tus-resumable").and_then(|v| v.to_str().ok()) {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(Error::refused(
            ErrorCode::TusVersionUnsupported,
            "This server speaks tus 1.0.0 (Tus-Resumable: 1.0.0).",
        )),
    }
}

fn number(headers: &HeaderMap, name: &str) -> Result<Option<u64>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| Error::bad_request(format!("{name} must be a non-negative integer."))),
    }
}

fn expires(upload: &Upload) -> String {
    httpdate::fmt_http_date(SystemTime::from(upload.expires_at))
}

/// Base64 as tus clients write it: padded, and a last symbol's unused bits need not be zero.
const LENIENT_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// `Upload-Metadata`: comma-separated `key base64value` pairs. A value is bytes in tus; one that
/// is not UTF-8 text is kept as `None` and refused only if this server reads that key.
fn metadata(headers: &HeaderMap) -> Result<Vec<(String, Option<String>)>> {
    let Some(raw) = headers.get("upload-metadata").and_then(|v| v.to_str().ok()) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let value = LENIENT_BASE64
            .decode(value.trim())
            .map_err(|_| Error::bad_request(format!("Upload-Metadata: the value of {key} is not base64.")))?;
        out.push((key.to_owned(), String::from_utf8(value).ok()));
    }
    Ok(out)
}

fn part_key(id: Uuid, offset: i64) -> ObjectPath {
    ObjectPath::from(format!("_uploads/{id}/{offset:020}-{}", Uuid::new_v4().simple()))
}

/// Where a finished audio file is kept: `<organization>/<project>/<sha256>.<ext>`.
fn object_key(upload: &Upload, sha256: &str, ext: &str) -> String {
    format!("{}/{}/{sha256}.{ext}", upload.organization_id, upload.project_id)
}

/// Where a footage item is kept: its own folder, `<organization>/<project>/footage/<id>/`,
/// holding `source.<ext>` and `poster.jpg` (deleting the item deletes the folder).
fn footage_keys(upload: &Upload, ext: &str) -> (String, String) {
    let folder = format!("{}/{}/footage/{}", upload.organization_id, upload.project_id, upload.id);
    (format!("{folder}/source.{ext}"), format!("{folder}/poster.jpg"))
}

fn extension(container: &str) -> &'static str {
    match container {
        "mp3" => "mp3",
        "mp4" => "m4a",
        "flac" => "flac",
        "wav" => "wav",
        "ogg" => "ogg",
        "webm" => "webm",
        "matroska" => "mka",
        "aiff" => "aiff",
        _ => "audio",
    }
}

/// Deletes whatever is stored under the upload's staging prefix (its chunks, and any orphan of a
/// chunk that lost a race).
async fn delete_parts(storage: &dyn ObjectStore, id: Uuid) {
    let prefix = ObjectPath::from(format!("_uploads/{id}"));
    let mut listing = storage.list(Some(&prefix));
    while let Some(Ok(meta)) = listing.next().await {
        if let Err(e) = storage.delete(&meta.location).await {
            tracing::warn!(error = %e, "could not delete an upload chunk; it will be retried with the upload's cleanup");
        }
    }
}

#[utoipa::path(options, path = "/v1/uploads", tag = "uploads",
    responses((status = 204, description = "tus capabilities", headers(
        ("Tus-Resumable" = String, description = "1.0.0"),
        ("Tus-Version" = String, description = "1.0.0"),
        ("Tus-Extension" = String, description = "creation,termination,checksum,expiration"),
        ("Tus-Max-Size" = u64, description = "the largest upload accepted, in bytes"),
        ("Tus-Checksum-Algorithm" = String, description = "sha1,sha256")))))]
pub async fn options(State(app): State<AppState>) -> Response {
    tus(Ok((
        StatusCode::NO_CONTENT,
        [
            header("tus-version", TUS_VERSION),
            header("tus-extension", "creation,termination,checksum,expiration"),
            header("tus-max-size", app.max_upload_bytes),
            header("tus-checksum-algorithm", "sha1,sha256"),
        ],
    )
        .into_response()))
}

/// Starts an upload (tus creation): `Upload-Length` and `Upload-Metadata` with `project_id`
/// (required), `filename`, `sha256` (the file's, hex; with it, bytes the organization already
/// stored finish at once) and `purpose` (`audio`, the default: the project's track; `footage`: a
/// clip or still added to its footage, within the plan's room).
#[utoipa::path(post, path = "/v1/uploads", operation_id = "create_upload", tag = "uploads", security(("bearer" = [])),
    params(
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Length" = u64, Header, description = "the file's size in bytes"),
        ("Upload-Metadata" = String, Header, description = "tus metadata: `project_id` (required), `filename`, `sha256` (hex; with it, bytes the organization already stored finish at once), `purpose` (`audio` by default, or `footage`)")),
    responses((status = 201, description = "the upload was created; with a `sha256` of bytes the organization already stored, it is complete at once (HEAD answers Upload-Offset = Upload-Length, and a PATCH at 0 is answered so without its bytes being kept)", headers(
            ("Location" = String, description = "the upload's URL"),
            ("Upload-Expires" = String, description = "when an unfinished upload is forgotten (RFC 9110 date)"),
            ("Tus-Resumable" = String, description = "1.0.0"))),
              (status = 400, body = resonance_api::ErrorBody), (status = 402, body = resonance_api::ErrorBody),
              (status = 403, body = resonance_api::ErrorBody),
              (status = 404, body = resonance_api::ErrorBody), (status = 412, body = resonance_api::ErrorBody),
              (status = 413, body = resonance_api::ErrorBody),
              (status = 422, body = resonance_api::ErrorBody, description = "Upload-Metadata has no project_id, names an unknown purpose, or a value this server reads is not UTF-8 text")))]
pub async fn create(State(app): State<AppState>, Authenticated(claims): Authenticated, headers: HeaderMap) -> Response {
    tus(create_inner(&app, &claims, &headers).await)
}

async fn create_inner(app: &AppState, claims: &AccessClaims, headers: &HeaderMap) -> Result<Response> {
    require_tus(headers)?;
    let length = number(headers, "upload-length")?.ok_or_else(|| {
        Error::bad_request("Upload-Length is required (uploads of unknown length are not supported).")
    })?;
    if length > app.max_upload_bytes {
        return Err(Error::refused(
            ErrorCode::PayloadTooLarge,
            format!("This server accepts files of at most {} bytes; this one has {length}.", app.max_upload_bytes),
        ));
    }
    let length = i64::try_from(length).map_err(|_| Error::bad_request("Upload-Length is too large."))?;
    let meta = metadata(headers)?;
    let get = |key: &'static str| -> Result<Option<&str>> {
        match meta.iter().find(|(k, _)| k == key) {
            None => Ok(None),
            Some((_, Some(text))) => Ok(Some(text.as_str())),
            Some((_, None)) => Err(Error::invalid(key, format!("Upload-Metadata: {key} must be UTF-8 text."))),
        }
    };
    let purpose = match get("purpose")? {
        None => Purpose::Audio,
        Some(text) => Purpose::parse(text)
            .ok_or_else(|| Error::invalid("purpose", "Upload-Metadata: purpose is audio (the default) or footage."))?,
    };
    let project_id = get("project_id")?.and_then(|p| Uuid::parse_str(p).ok()).ok_or_else(|| {
        Error::invalid(
            "project_id",
            format!("Upload-Metadata must name the project_id the {} is for.", purpose.as_str()),
        )
    })?;
    let declared = get("sha256")?.map(str::to_ascii_lowercase);
    let filename = get("filename")?;
    if filename.is_some_and(|f| f.chars().any(char::is_control)) {
        return Err(Error::invalid("filename", "Upload-Metadata: filename must not contain control characters."));
    }
    if declared.as_ref().is_some_and(|h| h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit())) {
        return Err(Error::invalid("sha256", "sha256 must be 64 hexadecimal digits."));
    }
    let raw_meta = headers.get("upload-metadata").and_then(|v| v.to_str().ok());
    let (mut tx, caller) = app.db.begin_for(claims).await?;
    let new =
        NewUpload { project_id, length, metadata: raw_meta, filename, declared_sha256: declared.as_deref(), purpose };
    let upload = uploads::create(&mut tx, &caller, &new).await?;
    let location = format!("/v1/uploads/{}", upload.id);
    if purpose == Purpose::Footage {
        let stored = match &declared {
            Some(sha) => footage::with_bytes(&mut tx, project_id, sha, length).await?,
            None => None,
        };
        match stored {
            // Already this project's: the upload is that item.
            Some(item) if item.project_id == project_id => {
                uploads::complete(&mut tx, upload.id, &item.object_key, &item.sha256, item.duration).await?;
            }
            Some(item) => {
                footage::room(&mut tx, 1, length).await?;
                adopt_footage(app, &mut tx, &caller, &upload, &item).await?;
            }
            None => {
                // Refused before a byte is sent when it cannot fit; checked again when it is kept.
                footage::room(&mut tx, 1, length).await?;
                tx.commit().await?;
                return Ok((
                    StatusCode::CREATED,
                    [header("location", location), header("upload-expires", expires(&upload))],
                )
                    .into_response());
            }
        }
        tx.commit().await?;
        return Ok((StatusCode::CREATED, [header("location", location)]).into_response());
    }
    // Bytes already stored for this organization: no need to send them again.
    if let Some(sha) = &declared {
        if let Some(stored) = uploads::find_stored(&mut tx, sha, length, Purpose::Audio).await? {
            let (Some(from), Some(duration)) = (&stored.object_key, stored.duration) else {
                return Err(Error::Invariant("a complete upload without its object".into()));
            };
            let ext = from.rsplit('.').next().unwrap_or("audio");
            let key = object_key(&upload, sha, ext);
            if *from != key {
                app.storage.copy(&ObjectPath::from(from.as_str()), &ObjectPath::from(key.as_str())).await?;
            }
            uploads::complete(&mut tx, upload.id, &key, sha, Some(duration)).await?;
            uploads::attach_to_project(&mut tx, project_id, &key, duration).await?;
            logs::append(
                &mut tx,
                &caller,
                Entry::success("upload.complete", "Attached audio already stored (same bytes)").project(project_id),
            )
            .await?;
            tx.commit().await?;
            // Answered as any creation (tus core has no Upload-Offset here: a stock client would
            // take it for creation-with-upload, which this server does not offer). A client that
            // asks (HEAD) learns it is complete; one that sends its bytes anyway (PATCH at 0) is
            // told the upload is complete without them being kept (`patch`).
            return Ok((StatusCode::CREATED, [header("location", location)]).into_response());
        }
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, [header("location", location), header("upload-expires", expires(&upload))])
        .into_response())
}

/// Footage another project of the organization already holds, copied into this upload's folder
/// and listed in its project with the same facts (a file is judged once).
async fn adopt_footage(
    app: &AppState,
    tx: &mut crate::db::Tx,
    caller: &crate::db::Caller,
    upload: &Upload,
    item: &resonance_api::model::Footage,
) -> Result<()> {
    let ext = item.object_key.rsplit('.').next().unwrap_or("bin");
    let (key, poster) = footage_keys(upload, ext);
    let listed = async {
        app.storage.copy(&ObjectPath::from(item.object_key.as_str()), &ObjectPath::from(key.as_str())).await?;
        app.storage.copy(&ObjectPath::from(item.poster_key.as_str()), &ObjectPath::from(poster.as_str())).await?;
        list_copy(tx, caller, upload, item, (&key, &poster), ext).await
    }
    .await;
    if listed.is_err() {
        // The transaction is rolled back with the error: its copies must not outlive it.
        for k in [&key, &poster] {
            delete_object(app.storage.as_ref(), &ObjectPath::from(k.as_str())).await;
        }
    }
    listed
}

/// The upload completed as a copy of `item`, listed with its facts.
async fn list_copy(
    tx: &mut crate::db::Tx,
    caller: &crate::db::Caller,
    upload: &Upload,
    item: &resonance_api::model::Footage,
    (key, poster): (&str, &str),
    ext: &str,
) -> Result<()> {
    uploads::complete(tx, upload.id, key, &item.sha256, item.duration).await?;
    let facts = resonance_api::footage::FootageFacts {
        kind: item.kind,
        duration: item.duration,
        width: u32::try_from(item.width).unwrap_or(0),
        height: u32::try_from(item.height).unwrap_or(0),
        codec: item.codec.clone(),
        extension: ext.to_owned(),
    };
    let new = NewFootage {
        id: upload.id,
        project_id: upload.project_id,
        filename: upload.filename.as_deref().or(item.filename.as_deref()),
        object_key: key,
        poster_key: poster,
        sha256: &item.sha256,
        size: item.size,
        facts: &facts,
    };
    footage::insert(tx, caller, &new).await?;
    Ok(())
}

/// The upload as it stands now, read in a transaction of its own (under the caller's RLS).
async fn read(app: &AppState, claims: &AccessClaims, id: Uuid) -> Result<Upload> {
    let (mut tx, _caller) = app.db.begin_for(claims).await?;
    let upload = uploads::get(&mut tx, id, false).await?;
    tx.commit().await?;
    Ok(upload)
}

/// Refuses requests on an upload that cannot take them.
fn check_open(upload: &Upload) -> Result<()> {
    match upload.state.as_str() {
        "terminated" => Err(Error::not_found("This upload was cancelled.")),
        "failed" => Err(match (upload.refusal.0, upload.error.as_deref()) {
            // Asked again, a refusal says what it said the first time.
            (Some(code), Some(message)) => Error::refused(code, format!("This upload was refused: {message}")),
            _ => Error::refused(ErrorCode::NotAudio, "This upload was refused: the file is not audio we can decode."),
        }),
        "receiving" if upload.expires_at <= chrono::Utc::now() => Err(Error::refused(
            ErrorCode::UploadExpired,
            "This upload expired before it was finished; start a new one.",
        )),
        _ => Ok(()),
    }
}

/// Where the upload stands (tus HEAD).
#[utoipa::path(head, path = "/v1/uploads/{id}", tag = "uploads", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses((status = 200, description = "where the upload stands", headers(
            ("Upload-Offset" = u64, description = "the bytes the server holds"),
            ("Upload-Length" = u64, description = "the file's size"),
            ("Upload-Expires" = String, description = "when an unfinished upload is forgotten"),
            ("Cache-Control" = String, description = "no-store"))),
        (status = 404, description = "no such upload (HEAD: no body)"), (status = 410, description = "the upload expired (HEAD: no body)")))]
pub async fn head(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
    headers: HeaderMap,
) -> Response {
    tus(head_inner(&app, &claims, id, &headers).await)
}

async fn head_inner(app: &AppState, claims: &AccessClaims, id: Uuid, headers: &HeaderMap) -> Result<Response> {
    require_tus(headers)?;
    let mut upload = read(app, claims, id).await?;
    check_open(&upload)?;
    if upload.state == "receiving" && upload.offset == upload.length {
        // Every byte arrived but the last request ended before the file was kept: finish now.
        finish(app, claims, id).await?;
        upload = read(app, claims, id).await?;
    }
    let mut response = (
        StatusCode::OK,
        [
            header("upload-offset", upload.offset),
            header("upload-length", upload.length),
            header("cache-control", "no-store"),
        ],
    )
        .into_response();
    if let Some(meta) = upload.metadata.as_deref().and_then(|m| HeaderValue::from_str(m).ok()) {
        response.headers_mut().insert(HeaderName::from_static("upload-metadata"), meta);
    }
    if upload.state == "receiving" {
        let (name, value) = header("upload-expires", expires(&upload));
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

/// Appends a chunk at `Upload-Offset` (tus PATCH), with an optional `Upload-Checksum`.
#[utoipa::path(patch, path = "/v1/uploads/{id}", tag = "uploads", security(("bearer" = [])),
    params(("id" = Uuid, Path),
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Offset" = u64, Header, description = "where these bytes start: the offset the server holds"),
        ("Upload-Checksum" = Option<String>, Header, nullable = false, description = "`sha1 <base64>` or `sha256 <base64>` of this chunk")),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses((status = 204, description = "the chunk was kept", headers(
            ("Upload-Offset" = u64, description = "the new offset"),
            ("Upload-Expires" = String, description = "when an unfinished upload is forgotten"))),
              (status = 409, body = resonance_api::ErrorBody, description = "Upload-Offset is not where the upload stands"),
              (status = 410, body = resonance_api::ErrorBody, description = "the upload expired"),
              (status = 413, body = resonance_api::ErrorBody, description = "the chunk goes past Upload-Length"),
              (status = 415, body = resonance_api::ErrorBody, description = "not `application/offset+octet-stream`"),
              (status = 402, body = resonance_api::ErrorBody, description = "finished footage does not fit in the plan (plan_limit)"),
              (status = 422, body = resonance_api::ErrorBody, description = "the finished file is not audio (not_audio), or not footage (not_footage)"),
              (status = 460, body = resonance_api::ErrorBody, description = "checksum mismatch")))]
pub async fn patch(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    tus(patch_inner(&app, &claims, id, &headers, body).await)
}

/// A chunk's headers: where it starts, and the checksum it must match, if any.
fn chunk_headers(headers: &HeaderMap) -> Result<(i64, Option<Checksum>)> {
    require_tus(headers)?;
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/offset+octet-stream") {
        return Err(Error::refused(ErrorCode::WrongContentType, "Send chunks as application/offset+octet-stream."));
    }
    let at = number(headers, "upload-offset")?.ok_or_else(|| Error::bad_request("Upload-Offset is required."))?;
    let at = i64::try_from(at).map_err(|_| Error::bad_request("Upload-Offset is too large."))?;
    // An empty header is no checksum, as its absence is.
    let checksum = match headers.get("upload-checksum").map(|v| v.to_str()) {
        None => None,
        Some(Ok(value)) if value.trim().is_empty() => None,
        Some(Ok(value)) => Some(Checksum::parse(value)?),
        Some(Err(_)) => {
            return Err(Error::bad_request("Upload-Checksum must be ASCII: an algorithm and a base64 digest."))
        }
    };
    Ok((at, checksum))
}

async fn patch_inner(
    app: &AppState,
    claims: &AccessClaims,
    id: Uuid,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response> {
    // A refused chunk's bytes are read and dropped, so the client reads the answer.
    let (at, checksum) = match chunk_headers(headers) {
        Ok(read) => read,
        Err(refusal) => {
            discard(body).await;
            return Err(refusal);
        }
    };
    // Who may write, and whether this request may write now, are settled before a byte is read.
    let holder = Uuid::new_v4();
    let upload = match claim(app, claims, id, at, holder).await {
        Ok(upload) => upload,
        Err(refusal) => {
            discard(body).await;
            // Bytes the organization already stored finished the upload at its creation: a
            // client that did not ask where it stands sends them from 0, and is told it is done
            // (only where the refusal was the offset's: a role or state refusal stands).
            if at == 0 && matches!(refusal, Error::Refused { code: ErrorCode::Conflict, .. }) {
                if let Ok(done) = read(app, claims, id).await {
                    if done.state == "complete" && done.offset == done.length {
                        return Ok((StatusCode::NO_CONTENT, [header("upload-offset", done.offset)]).into_response());
                    }
                }
            }
            return Err(refusal);
        }
    };
    let claimed = Claimed { app: app.clone(), claims: claims.clone(), id, holder, released: false };
    let room = usize::try_from(upload.length - upload.offset).unwrap_or(usize::MAX).min(MAX_CHUNK_BYTES);
    let key = part_key(id, at);
    let length = match receive(app, &claimed, &key, body, room, checksum).await {
        Ok(length) => length,
        Err(e) => {
            claimed.release().await;
            return Err(e);
        }
    };
    let (mut tx, _caller) = app.db.begin_for(claims).await?;
    let current = uploads::get(&mut tx, id, true).await?;
    if current.offset != at || current.state != "receiving" || current.patch_holder != Some(holder) {
        // The claim ran out and another request moved the upload meanwhile: this chunk is not
        // part of it.
        drop(tx);
        if length > 0 {
            delete_object(app.storage.as_ref(), &key).await;
        }
        claimed.release().await;
        return Err(Error::conflict(format!("The upload stands at byte {}; resume from there.", current.offset)));
    }
    let advanced = if length > 0 {
        uploads::advance(&mut tx, id, at + length, key.as_ref()).await?
    } else {
        uploads::release_patch(&mut tx, id, holder).await?;
        current
    };
    tx.commit().await?;
    claimed.done();
    if advanced.offset == advanced.length {
        finish(app, claims, id).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [header("upload-offset", advanced.offset), header("upload-expires", expires(&advanced))],
    )
        .into_response())
}

/// `Upload-Checksum: <algorithm> <base64 digest>`.
struct Checksum {
    hasher: ChunkHasher,
    expected: Vec<u8>,
}

enum ChunkHasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Checksum {
    fn parse(value: &str) -> Result<Self> {
        let (algorithm, expected) = value.split_once(' ').unwrap_or((value, ""));
        let (hasher, size) = match algorithm {
            "sha1" => (ChunkHasher::Sha1(sha1::Sha1::new()), 20),
            "sha256" => (ChunkHasher::Sha256(sha2::Sha256::new()), 32),
            _ => return Err(Error::bad_request("Upload-Checksum: the algorithms are sha1 and sha256.")),
        };
        let expected =
            LENIENT_BASE64.decode(expected.trim()).ok().filter(|digest| digest.len() == size).ok_or_else(|| {
                Error::bad_request(format!("Upload-Checksum: a {algorithm} digest is {size} bytes in base64."))
            })?;
        Ok(Self { hasher, expected })
    }

    fn update(&mut self, bytes: &[u8]) {
        match &mut self.hasher {
            ChunkHasher::Sha1(h) => h.update(bytes),
            ChunkHasher::Sha256(h) => h.update(bytes),
        }
    }

    fn matches(self) -> bool {
        let digest = match self.hasher {
            ChunkHasher::Sha1(h) => h.finalize().to_vec(),
            ChunkHasher::Sha256(h) => h.finalize().to_vec(),
        };
        digest == self.expected
    }
}

/// Reads and drops a refused request's body (at most a chunk's worth, for a few seconds), storing
/// nothing: a client that sends its body before reading the answer (most do; few use
/// `Expect: 100-continue`) then reads the refusal instead of a connection cut mid-send.
async fn discard(body: Body) {
    let mut stream = body.into_data_stream();
    let drained = async {
        let mut read = 0usize;
        while let Some(Ok(piece)) = stream.next().await {
            read += piece.len();
            if read > MAX_CHUNK_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), drained).await;
}

/// Claims the upload for this request: the caller may upload, the upload is open, stands at
/// `at`, and no other request is sending to it.
async fn claim(app: &AppState, claims: &AccessClaims, id: Uuid, at: i64, holder: Uuid) -> Result<Upload> {
    let (mut tx, caller) = app.db.begin_for(claims).await?;
    if !caller.role.can_edit_projects() {
        // Existence is no secret from a member who can read the organization's uploads anyway.
        let upload = uploads::get(&mut tx, id, false).await?;
        return Err(Error::forbidden(format!(
            "Viewers cannot upload {}; ask an admin for the developer role.",
            upload.purpose.0.as_str()
        )));
    }
    if let Some(upload) = uploads::claim(&mut tx, id, holder, at, uploads::PATCH_LEASE_SECONDS).await? {
        tx.commit().await?;
        return Ok(upload);
    }
    let upload = uploads::get(&mut tx, id, false).await?;
    check_open(&upload)?;
    if upload.offset != at {
        return Err(Error::conflict(format!("The upload stands at byte {}; resume from there.", upload.offset)));
    }
    Err(Error::conflict(
        "Another request is sending to this upload now; wait for it to end, then resume from its offset.",
    ))
}

/// This request's claim on an upload; released when the request ends without moving it (also
/// when the client goes away and the request is dropped).
struct Claimed {
    app: AppState,
    claims: AccessClaims,
    id: Uuid,
    holder: Uuid,
    released: bool,
}

impl Claimed {
    async fn renew(&self) -> Result<()> {
        let (mut tx, _caller) = self.app.db.begin_for(&self.claims).await?;
        uploads::renew_patch(&mut tx, self.id, self.holder).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release(mut self) {
        self.released = true;
        release(&self.app, &self.claims, self.id, self.holder).await;
    }

    /// The offset moved: the claim ended with it.
    fn done(mut self) {
        self.released = true;
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if !self.released {
            let (app, claims, id, holder) = (self.app.clone(), self.claims.clone(), self.id, self.holder);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { release(&app, &claims, id, holder).await });
            }
        }
    }
}

async fn release(app: &AppState, claims: &AccessClaims, id: Uuid, holder: Uuid) {
    let released = async {
        let (mut tx, _caller) = app.db.begin_for(claims).await?;
        uploads::release_patch(&mut tx, id, holder).await?;
        tx.commit().await?;
        Ok::<(), Error>(())
    };
    if let Err(e) = released.await {
        tracing::warn!(upload = %id, error = %e, "could not release an upload's claim; it runs out by itself");
    }
}

/// How often a streaming PATCH renews its claim.
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(20);

/// Streams the chunk into its own object, at most `room` bytes, checking `checksum`; returns its
/// length. A body cut off mid-way, too long or not matching its checksum stores nothing.
async fn receive(
    app: &AppState,
    claimed: &Claimed,
    key: &ObjectPath,
    body: Body,
    room: usize,
    mut checksum: Option<Checksum>,
) -> Result<i64> {
    let mut writer: Option<WriteMultipart> = None;
    let mut received = 0usize;
    let mut renewed = std::time::Instant::now();
    let mut stream = body.into_data_stream();
    let outcome: Result<()> = async {
        while let Some(piece) = stream.next().await {
            let piece =
                piece.map_err(|_| Error::bad_request("The chunk was cut off; send it again from the same offset."))?;
            if received + piece.len() > room {
                return Err(Error::refused(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "A chunk may hold at most {room} bytes here (the rest of the file, and at most {MAX_CHUNK_BYTES})."
                    ),
                ));
            }
            if piece.is_empty() {
                continue;
            }
            received += piece.len();
            if let Some(c) = checksum.as_mut() {
                c.update(&piece);
            }
            let w = match writer.as_mut() {
                Some(w) => w,
                None => writer.insert(WriteMultipart::new_with_chunk_size(
                    app.storage.put_multipart(key).await?,
                    PART_BYTES,
                )),
            };
            // At most two parts in flight: memory stays bounded whatever the chunk's size.
            w.wait_for_capacity(2).await?;
            w.write(&piece);
            if renewed.elapsed() >= RENEW_EVERY {
                claimed.renew().await?;
                renewed = std::time::Instant::now();
            }
        }
        if checksum.take().is_some_and(|c| !c.matches()) {
            return Err(Error::refused(
                ErrorCode::ChecksumMismatch,
                "The chunk does not match its Upload-Checksum; send it again.",
            ));
        }
        Ok(())
    }
    .await;
    match (outcome, writer) {
        (Ok(()), Some(w)) => {
            w.finish().await?;
        }
        (Ok(()), None) => {}
        (Err(e), Some(w)) => {
            if let Err(abort) = w.abort().await {
                tracing::warn!(error = %abort, "could not abort a cut-off chunk's object");
            }
            return Err(e);
        }
        (Err(e), None) => return Err(e),
    }
    i64::try_from(received).map_err(|_| Error::bad_request("The chunk is too large."))
}

/// The size of the parts a chunk is streamed to storage in.
const PART_BYTES: usize = 5 << 20;

async fn delete_object(storage: &dyn ObjectStore, key: &ObjectPath) {
    if let Err(e) = storage.delete(key).await {
        tracing::warn!(error = %e, "could not delete an upload chunk; the upload's cleanup will");
    }
}

/// Joins the chunks, hashes and decodes the file, keeps it under its final key and gives it to
/// the project. Once: the upload is claimed for the work (a second caller finds it held or
/// done), and no database connection or row lock is held while the file is joined and decoded,
/// so many large uploads finishing at once do not starve the pool.
async fn finish(app: &AppState, claims: &AccessClaims, id: Uuid) -> Result<()> {
    let holder = Uuid::new_v4();
    let (mut tx, _caller) = app.db.begin_for(claims).await?;
    let length = uploads::get(&mut tx, id, false).await?.length;
    let Some(upload) = uploads::claim(&mut tx, id, holder, length, uploads::FINISH_LEASE_SECONDS).await? else {
        // Finished, failed, or being finished by another request.
        return Ok(());
    };
    tx.commit().await?;
    let claimed = Claimed { app: app.clone(), claims: claims.clone(), id, holder, released: false };
    let temp = std::env::temp_dir().join(format!("resonance-upload-{id}-{holder}"));
    // A few at a time: decoding is CPU work, and the other requests need the cores too.
    let outcome = match app.finishing.acquire().await {
        Ok(_turn) => examine(app, &upload, &temp).await,
        Err(_) => Err(Error::Invariant("the finishing queue is closed".into())),
    };
    let _ = std::fs::remove_file(&temp);
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            claimed.release().await;
            return Err(e);
        }
    };
    let (mut tx, caller) = app.db.begin_for(claims).await?;
    let current = uploads::get(&mut tx, id, true).await?;
    if current.state != "receiving" || current.patch_holder != Some(holder) {
        // The claim ran out and another request finished it; its answer stands.
        return Ok(());
    }
    claimed.done();
    let mut unkept: Vec<String> = Vec::new();
    let refusal = match outcome {
        Examined::Audio { key, sha256, duration } => {
            uploads::complete(&mut tx, id, &key, &sha256, Some(duration)).await?;
            uploads::attach_to_project(&mut tx, upload.project_id, &key, duration).await?;
            let name = upload.filename.as_deref().unwrap_or("audio");
            let message = format!("Uploaded \u{201c}{name}\u{201d} ({duration:.1} s)");
            logs::append(&mut tx, &caller, Entry::success("upload.complete", message).project(upload.project_id))
                .await?;
            None
        }
        Examined::ChecksumMismatch(message) => {
            uploads::fail(&mut tx, id, &message, ErrorCode::ChecksumMismatch).await?;
            Some(Error::refused(ErrorCode::ChecksumMismatch, message))
        }
        Examined::NotAudio(message) => {
            uploads::fail(&mut tx, id, &message, ErrorCode::NotAudio).await?;
            logs::append(
                &mut tx,
                &caller,
                Entry::warning("upload.refused", message.clone()).project(upload.project_id),
            )
            .await?;
            Some(Error::refused(ErrorCode::NotAudio, message))
        }
        Examined::Footage { key, poster, sha256, facts } => {
            match keep_footage(&mut tx, &caller, &upload, &key, &poster, &sha256, &facts).await? {
                Kept::Listed => None,
                Kept::AlreadyListed => {
                    unkept = vec![key, poster];
                    None
                }
                Kept::NoRoom(refusal) => {
                    unkept = vec![key, poster];
                    let message = refusal.detail().message;
                    uploads::fail(&mut tx, id, &message, ErrorCode::PlanLimit).await?;
                    refuse_footage(&mut tx, &caller, &upload, &message).await?;
                    Some(refusal)
                }
            }
        }
        Examined::NotFootage(message) => {
            uploads::fail(&mut tx, id, &message, ErrorCode::NotFootage).await?;
            refuse_footage(&mut tx, &caller, &upload, &message).await?;
            Some(Error::refused(ErrorCode::NotFootage, message))
        }
    };
    tx.commit().await?;
    delete_parts(app.storage.as_ref(), id).await;
    for key in &unkept {
        delete_object(app.storage.as_ref(), &ObjectPath::from(key.as_str())).await;
    }
    refusal.map_or(Ok(()), Err)
}

/// How finished footage was kept.
enum Kept {
    Listed,
    /// The project already lists these bytes (two uploads of one file raced): the upload is that
    /// item, and the copy just stored is not needed.
    AlreadyListed,
    /// The plan's room ran out while the file was sent.
    NoRoom(Error),
}

/// Lists judged footage in its project, in the caller's transaction, unless it is there already
/// or does not fit (checked under the organization's lock, inside a savepoint so a refusal leaves
/// the transaction usable).
async fn keep_footage(
    tx: &mut crate::db::Tx,
    caller: &crate::db::Caller,
    upload: &Upload,
    key: &str,
    poster: &str,
    sha256: &str,
    facts: &resonance_api::footage::FootageFacts,
) -> Result<Kept> {
    if let Some(item) = footage::with_bytes(tx, upload.project_id, sha256, upload.length).await? {
        if item.project_id == upload.project_id {
            uploads::complete(tx, upload.id, &item.object_key, sha256, item.duration).await?;
            return Ok(Kept::AlreadyListed);
        }
    }
    sqlx::query("SAVEPOINT footage_room").execute(&mut **tx).await?;
    if let Err(e) = footage::room(tx, 1, upload.length).await {
        let detail = e.detail();
        if detail.code != ErrorCode::PlanLimit {
            return Err(e);
        }
        sqlx::query("ROLLBACK TO SAVEPOINT footage_room").execute(&mut **tx).await?;
        return Ok(Kept::NoRoom(Error::refused(ErrorCode::PlanLimit, detail.message)));
    }
    uploads::complete(tx, upload.id, key, sha256, facts.duration).await?;
    let new = NewFootage {
        id: upload.id,
        project_id: upload.project_id,
        filename: upload.filename.as_deref(),
        object_key: key,
        poster_key: poster,
        sha256,
        size: upload.length,
        facts,
    };
    footage::insert(tx, caller, &new).await?;
    Ok(Kept::Listed)
}

async fn refuse_footage(
    tx: &mut crate::db::Tx,
    caller: &crate::db::Caller,
    upload: &Upload,
    message: &str,
) -> Result<()> {
    let name = upload.filename.as_deref().unwrap_or("the file");
    logs::append(
        tx,
        caller,
        Entry::warning("footage.refused", format!("Refused \u{201c}{name}\u{201d} as footage: {message}"))
            .project(upload.project_id),
    )
    .await
}

/// What a whole upload turned out to be.
enum Examined {
    /// Audio, kept under its final key.
    Audio {
        key: String,
        sha256: String,
        duration: f64,
    },
    ChecksumMismatch(String),
    NotAudio(String),
    /// Footage, kept under its folder (the file and its poster).
    Footage {
        key: String,
        poster: String,
        sha256: String,
        facts: resonance_api::footage::FootageFacts,
    },
    NotFootage(String),
}

/// Joins the chunks into `temp`, checks the declared hash, decodes the file and, when it is
/// audio, stores it under its final key. Touches no database.
async fn examine(app: &AppState, upload: &Upload, temp: &std::path::Path) -> Result<Examined> {
    let sha256 = join_parts(app.storage.as_ref(), upload, temp).await?;
    if let Some(declared) = upload.declared_sha256.as_deref().filter(|d| *d != sha256) {
        return Ok(Examined::ChecksumMismatch(format!("The file's SHA-256 is {sha256}, not the declared {declared}.")));
    }
    if upload.purpose.0 == Purpose::Footage {
        let poster_file = temp.with_extension("poster.jpg");
        let judged = media::examine_footage(temp, &poster_file).await;
        let kept = match judged {
            Ok(Judged::Footage(facts)) => {
                let (key, poster) = footage_keys(upload, &facts.extension);
                let stored = async {
                    store_file(app.storage.as_ref(), temp, &key).await?;
                    store_file(app.storage.as_ref(), &poster_file, &poster).await
                }
                .await;
                stored.map(|()| Examined::Footage { key, poster, sha256, facts })
            }
            Ok(Judged::Refused(message)) => Ok(Examined::NotFootage(message)),
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_file(&poster_file);
        return kept;
    }
    let path = temp.to_owned();
    let probed = tokio::task::spawn_blocking(move || resonance_audio::probe(&path, &mut []))
        .await
        .map_err(|e| Error::Invariant(format!("the audio probe failed: {e}")))?;
    let facts = match probed {
        Ok(facts) => facts,
        Err(e) => {
            return Ok(Examined::NotAudio(format!("This file is not audio we can decode ({}: {}).", e.kind, e.message)))
        }
    };
    let key = object_key(upload, &sha256, extension(&facts.container));
    store_file(app.storage.as_ref(), temp, &key).await?;
    Ok(Examined::Audio { key, sha256, duration: facts.duration_seconds })
}

/// Writes the chunks in order into `temp` and returns the file's SHA-256 (hex).
async fn join_parts(storage: &dyn ObjectStore, upload: &Upload, temp: &std::path::Path) -> Result<String> {
    use tokio::io::AsyncWriteExt as _;
    // Async file writes: many uploads finishing at once must not hold the runtime's threads.
    let mut file = tokio::fs::File::create(temp).await?;
    let mut hasher = sha2::Sha256::new();
    for part in &upload.parts {
        let mut bytes = storage.get(&ObjectPath::from(part.as_str())).await?.into_stream();
        while let Some(piece) = bytes.next().await {
            let piece = piece?;
            hasher.update(&piece);
            file.write_all(&piece).await?;
        }
    }
    file.flush().await?;
    Ok(hex::encode(hasher.finalize()))
}

/// Copies the joined file into storage under `key`, a few parts in flight at a time.
async fn store_file(storage: &dyn ObjectStore, temp: &std::path::Path, key: &str) -> Result<()> {
    use tokio::io::AsyncReadExt as _;
    let upload = storage.put_multipart(&ObjectPath::from(key)).await?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut file = tokio::fs::File::open(temp).await?;
    let mut buf = vec![0u8; PART_BYTES];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        writer.wait_for_capacity(2).await?;
        writer.write(&buf[..n]);
    }
    writer.finish().await?;
    Ok(())
}

/// Cancels an upload (tus termination) and deletes what it stored.
#[utoipa::path(delete, path = "/v1/uploads/{id}", tag = "uploads", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses((status = 204, description = "the upload and its bytes are gone"), (status = 404, body = resonance_api::ErrorBody)))]
pub async fn terminate(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    PathId(id): PathId,
    headers: HeaderMap,
) -> Response {
    tus(terminate_inner(&app, &claims, id, &headers).await)
}

async fn terminate_inner(app: &AppState, claims: &AccessClaims, id: Uuid, headers: &HeaderMap) -> Result<Response> {
    require_tus(headers)?;
    let (mut tx, _caller) = app.db.begin_for(claims).await?;
    let upload = uploads::get(&mut tx, id, true).await?;
    if upload.state == "terminated" {
        return Err(Error::not_found("This upload was already cancelled."));
    }
    if upload.state == "receiving" {
        uploads::terminate(&mut tx, id).await?;
    }
    tx.commit().await?;
    delete_parts(app.storage.as_ref(), id).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Deletes the chunks of uploads that expired unfinished, and marks them so (maintenance; runs
/// as the connecting role, across organizations).
pub async fn forget_expired_uploads(db: &crate::db::Db, storage: &dyn ObjectStore) {
    let expired: Vec<Uuid> = match sqlx::query_scalar(
        "UPDATE uploads SET state = 'terminated', error = 'expired', updated_at = now() \
         WHERE state = 'receiving' AND expires_at < now() RETURNING id",
    )
    .fetch_all(db.pool())
    .await
    {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "could not look for expired uploads; will retry");
            return;
        }
    };
    for id in &expired {
        delete_parts(storage, *id).await;
    }
    if !expired.is_empty() {
        tracing::info!(count = expired.len(), "forgot expired uploads");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_pairs_are_decoded() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "upload-metadata",
            HeaderValue::from_static("filename bmlnaHQubXAz,project_id ,flag,cover /w==,z Zh=="),
        );
        let meta = metadata(&headers).unwrap();
        assert_eq!(meta[0], ("filename".to_owned(), Some("night.mp3".to_owned())));
        assert_eq!(meta[1], ("project_id".to_owned(), Some(String::new())));
        assert_eq!(meta[2], ("flag".to_owned(), Some(String::new())));
        assert_eq!(meta[3], ("cover".to_owned(), None), "bytes that are not text are kept as such");
        assert_eq!(meta[4], ("z".to_owned(), Some("f".to_owned())), "unused bits of the last symbol are ignored");
        headers.insert("upload-metadata", HeaderValue::from_static("filename ***"));
        assert!(metadata(&headers).is_err());
    }
}
