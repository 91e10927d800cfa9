//! Request extractors whose rejections speak the wire's error shape: a bearer token, a JSON body,
//! a UUID path segment and a query string. Invariant: no request reaches a handler with an
//! unverified token, and no malformed input gets axum's plain-text rejection.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use resonance_api::ErrorCode;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::AppState;
use crate::credentials::{AccessClaims, TokenError};
use crate::error::Error;

/// A verified access token from `Authorization: Bearer …`.
pub struct Authenticated(pub AccessClaims);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header =
            parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(|| {
                Error::refused(ErrorCode::Unauthenticated, "Sign in first: this needs an access token.")
            })?;
        let token = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).ok_or_else(|| {
            Error::refused(ErrorCode::Unauthenticated, "The Authorization header must be `Bearer <token>`.")
        })?;
        match state.keys.verify_access(token.trim()) {
            Ok(claims) => Ok(Self(claims)),
            Err(TokenError::Expired) => {
                Err(Error::refused(ErrorCode::TokenExpired, "The access token has expired; refresh it and retry."))
            }
            Err(TokenError::Invalid) => {
                Err(Error::refused(ErrorCode::Unauthenticated, "The access token is not valid."))
            }
        }
    }
}

/// A JSON body; unknown or mistyped fields answer 422 naming the field where serde can.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (value, _) = json_object(req, state).await?;
        Ok(Self(value))
    }
}

/// Reads a JSON object body as `T`, with what it says as a JSON value. Every request body of
/// this API is an object: serde would also fill a struct from an array (`[null, null]` as its
/// first two fields), which is refused here.
async fn json_object<T: DeserializeOwned, S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<(T, serde_json::Value), Error> {
    let json = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .is_some_and(|m| m == "application/json" || (m.starts_with("application/") && m.ends_with("+json")));
    if !json {
        return Err(Error::bad_request("Send the body as JSON with `Content-Type: application/json`."));
    }
    let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::refused(ErrorCode::PayloadTooLarge, "The request body is too large.")
        } else {
            Error::bad_request("The request body could not be read.")
        }
    })?;
    let said: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| Error::bad_request("The request body is not valid JSON."))?;
    if !said.is_object() {
        return Err(Error::Refused {
            code: ErrorCode::ValidationFailed,
            field: Some("body".into()),
            message: "The body must be a JSON object.".into(),
        });
    }
    let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes).map_err(|r| json_rejection(&r))?;
    Ok((value, said))
}

/// A JSON body and the digest of what it says (its objects' keys sorted, its whitespace dropped),
/// which an `Idempotency-Key` is bound to: the same key with another body is refused.
pub struct KeyedBody<T>(pub T, pub String);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for KeyedBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (value, said) = json_object(req, state).await?;
        let mut canonical = String::new();
        canonical_json(&said, &mut canonical);
        Ok(Self(value, hex::encode(Sha256::digest(canonical.as_bytes()))))
    }
}

/// `value` written with every object's keys in order, whatever order the client sent.
fn canonical_json(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(v, out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn json_rejection(rejection: &JsonRejection) -> Error {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            let text = std::error::Error::source(e).map(ToString::to_string).unwrap_or_else(|| e.body_text());
            let message = text.split(" at line ").next().unwrap_or(&text).to_owned();
            Error::Refused { code: ErrorCode::ValidationFailed, field: Some(field_of(&message)), message }
        }
        JsonRejection::JsonSyntaxError(_) => Error::bad_request("The request body is not valid JSON."),
        JsonRejection::MissingJsonContentType(_) => {
            Error::bad_request("Send the body as JSON with `Content-Type: application/json`.")
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Error::refused(ErrorCode::PayloadTooLarge, "The request body is too large.")
        }
        _ => Error::bad_request("The request body could not be read."),
    }
}

/// The field a serde error is about: its path prefix ("resolution: unknown variant …") or, at
/// the top level, the field it names ("missing field `prompt`").
fn field_of(message: &str) -> String {
    if let Some((path, _)) = message.split_once(": ") {
        if !path.is_empty() && path.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '[' | ']')) {
            return path.to_owned();
        }
    }
    match message.split_once("field `").and_then(|(_, rest)| rest.split_once('`')) {
        Some((field, _)) => field.to_owned(),
        None => "body".to_owned(),
    }
}

/// A UUID path segment; anything else is 404 (no such thing), not a parse error.
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<Uuid>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) => Ok(Self(id)),
            Err(PathRejection::FailedToDeserializePathParams(_)) => {
                Err(Error::not_found("Ids are UUIDs; there is nothing at that id."))
            }
            Err(_) => Err(Error::bad_request("The path could not be read.")),
        }
    }
}

pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(Error::bad_request(format!("The query string is not valid: {}", e.body_text())))
            }
            Err(_) => Err(Error::bad_request("The query string could not be read.")),
        }
    }
}

/// The optional `Idempotency-Key` header: a UUID the client chose for this write. A retry with
/// the same key gets the first answer again (see `storage::idempotency`).
pub struct IdempotencyKey(pub Option<Uuid>);

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(IDEMPOTENCY_KEY) else { return Ok(Self(None)) };
        value
            .to_str()
            .ok()
            .and_then(|v| Uuid::parse_str(v.trim()).ok())
            .map(|key| Self(Some(key)))
            .ok_or_else(|| Error::bad_request("The Idempotency-Key header must be a UUID."))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn serde_messages_name_their_field() {
        for (message, field) in [
            ("resolution: unknown variant `4k`, expected one of `720p`", "resolution"),
            ("missing field `prompt`", "prompt"),
            ("unknown field `status`, expected one of `id`, `name`", "status"),
            ("settings.theme: invalid type: integer `3`, expected a string", "settings.theme"),
            ("invalid type: integer `3`, expected a map", "body"),
        ] {
            assert_eq!(super::field_of(message), field, "{message}");
        }
    }
}
