//! `/v1/uploads`: the tus 1.0 resumable upload protocol (core, creation, termination, checksum,
//! expiration), translated to the uploads service (`crate::uploads`), which keeps the
//! invariants: headers in, the service's answer out as tus headers.

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::StreamExt;
use resonance_api::ErrorCode;
use uuid::Uuid;

use super::extract::{Authenticated, PathId};
use super::AppState;
use crate::credentials::AccessClaims;
use crate::error::{Error, Result};
use crate::storage::uploads::{NewUpload, Purpose, TransferState, Upload};
use crate::uploads::{Checksum, MAX_CHUNK_BYTES};

const TUS_VERSION: &str = "1.0.0";

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
            header("tus-max-size", app.uploads.max_bytes()),
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
    let length = app.uploads.accept_length(length)?;
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
    let new =
        NewUpload { project_id, length, metadata: raw_meta, filename, declared_sha256: declared.as_deref(), purpose };
    let created = app.uploads.create(claims, &new).await?;
    let location = header("location", format!("/v1/uploads/{}", created.upload.id));
    // A finished upload is answered as any creation (tus core has no Upload-Offset here: a stock
    // client would take it for creation-with-upload, which this server does not offer). A client
    // that asks (HEAD) learns it is complete; one that sends its bytes anyway (PATCH at 0) is
    // told the upload is complete without them being kept (`patch`).
    Ok(if created.finished {
        (StatusCode::CREATED, [location]).into_response()
    } else {
        (StatusCode::CREATED, [location, header("upload-expires", expires(&created.upload))]).into_response()
    })
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
    let upload = app.uploads.stand(claims, id).await?;
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
    if upload.state == TransferState::Receiving {
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
        Some(Ok(value)) => Some(checksum(value)?),
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
    let claimed = match app.uploads.claim(claims, id, at).await {
        Ok(claimed) => claimed,
        Err(refusal) => {
            discard(body).await;
            // Bytes the organization already stored finished the upload at its creation: a
            // client that did not ask where it stands sends them from 0, and is told it is done
            // (only where the refusal was the offset's: a role or state refusal stands).
            if at == 0 && matches!(refusal, Error::Refused { code: ErrorCode::Conflict, .. }) {
                if let Ok(done) = app.uploads.read(claims, id).await {
                    if done.state == TransferState::Complete && done.offset == done.length {
                        return Ok((StatusCode::NO_CONTENT, [header("upload-offset", done.offset)]).into_response());
                    }
                }
            }
            return Err(refusal);
        }
    };
    let advanced = app.uploads.append(claimed, body.into_data_stream(), checksum).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [header("upload-offset", advanced.offset), header("upload-expires", expires(&advanced))],
    )
        .into_response())
}

/// `Upload-Checksum: <algorithm> <base64 digest>`.
fn checksum(value: &str) -> Result<Checksum> {
    let (algorithm, expected) = value.split_once(' ').unwrap_or((value, ""));
    let size = Checksum::digest_len(algorithm)
        .ok_or_else(|| Error::bad_request("Upload-Checksum: the algorithms are sha1 and sha256."))?;
    LENIENT_BASE64
        .decode(expected.trim())
        .ok()
        .filter(|digest| digest.len() == size)
        .and_then(|digest| Checksum::new(algorithm, digest))
        .ok_or_else(|| Error::bad_request(format!("Upload-Checksum: a {algorithm} digest is {size} bytes in base64.")))
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
    app.uploads.terminate(claims, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
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
