//! Idempotency keys: the first answer to a write, kept with the caller's key, so a retried write
//! is answered again instead of applied again. Invariant: the answer is recorded in the same
//! transaction as the write, so either both happen or neither does.

use axum::http::StatusCode;
use serde::Serialize;
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::Tx;
use crate::error::{Error, Result};

/// A stored answer: its status and JSON body (none for 204).
pub struct Answer {
    pub status: StatusCode,
    pub body: Option<serde_json::Value>,
}

/// The answer already given to this key, if any. Waits for a concurrent request with the same
/// key to finish first. The same key used for a different `request` is refused (422).
pub async fn replay(tx: &mut Tx, key: Uuid, request: &str) -> Result<Option<Answer>> {
    let row: Option<(i16, Option<Json<serde_json::Value>>)> =
        sqlx::query_as("SELECT status, body FROM auth_private.idempotent_replay($1, $2)")
            .bind(key)
            .bind(request)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((status, body)) = row else { return Ok(None) };
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| Error::Invariant(format!("stored idempotent status {status} is not an HTTP status")))?;
    Ok(Some(Answer { status, body: body.map(|b| b.0) }))
}

/// Records the answer to this key (in the write's transaction).
pub async fn record<T: Serialize>(
    tx: &mut Tx,
    key: Uuid,
    request: &str,
    status: StatusCode,
    body: Option<&T>,
) -> Result<()> {
    let body = body.map(serde_json::to_value).transpose()?;
    let status = i16::try_from(status.as_u16()).map_err(|_| Error::Invariant("HTTP status out of range".into()))?;
    sqlx::query("SELECT auth_private.idempotent_record($1, $2, $3, $4)")
        .bind(key)
        .bind(request)
        .bind(status)
        .bind(body.map(Json))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
