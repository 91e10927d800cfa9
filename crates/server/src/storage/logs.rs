//! The organization's activity log (`system_logs`). Invariant: every state-changing request
//! appends its entry inside its own transaction, so a change and its log line commit together.

use resonance_api::model::{LogStatus, SystemLog};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::fetch_all_json;
use crate::db::{Caller, Tx};
use crate::error::Result;

/// One entry to append; `project_id` / `generation_id` must exist (use `details` for deleted ones).
pub struct Entry<'a> {
    pub action_type: &'a str,
    pub status: LogStatus,
    pub message: String,
    pub project_id: Option<Uuid>,
    pub generation_id: Option<Uuid>,
    pub details: Value,
}

impl<'a> Entry<'a> {
    fn new(status: LogStatus, action_type: &'a str, message: impl Into<String>) -> Self {
        Self {
            action_type,
            status,
            message: message.into(),
            project_id: None,
            generation_id: None,
            details: Value::Null,
        }
    }

    /// Something the caller asked for was done.
    pub fn success(action_type: &'a str, message: impl Into<String>) -> Self {
        Self::new(LogStatus::Success, action_type, message)
    }

    /// Something was refused or done only in part, for a reason the caller can act on.
    pub fn warning(action_type: &'a str, message: impl Into<String>) -> Self {
        Self::new(LogStatus::Warning, action_type, message)
    }

    /// Something failed on our side.
    pub fn error(action_type: &'a str, message: impl Into<String>) -> Self {
        Self::new(LogStatus::Error, action_type, message)
    }

    pub fn project(mut self, id: Uuid) -> Self {
        self.project_id = Some(id);
        self
    }

    pub fn generation(mut self, id: Uuid) -> Self {
        self.generation_id = Some(id);
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

pub async fn append(tx: &mut Tx, caller: &Caller, entry: Entry<'_>) -> Result<()> {
    let (status, severity) = (entry.status.as_str(), entry.status.severity());
    let details = if entry.details.is_null() { None } else { Some(Json(entry.details)) };
    sqlx::query(
        "INSERT INTO system_logs (organization_id, user_id, project_id, generation_id, action_type, \
         status, severity, message, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(caller.organization_id)
    .bind(caller.user_id)
    .bind(entry.project_id)
    .bind(entry.generation_id)
    .bind(entry.action_type)
    .bind(status)
    .bind(severity)
    .bind(entry.message)
    .bind(details)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Newest first; `before` pages back by creation time.
pub async fn list(
    tx: &mut Tx,
    _caller: &Caller,
    before: Option<chrono::DateTime<chrono::Utc>>,
    limit: i64,
) -> Result<Vec<SystemLog>> {
    fetch_all_json(
        tx,
        sqlx::query_scalar(
            "SELECT to_jsonb(l) FROM system_logs l \
             WHERE ($1::timestamptz IS NULL OR l.created_at < $1) \
             ORDER BY l.created_at DESC, l.id DESC LIMIT $2",
        )
        .bind(before)
        .bind(limit),
    )
    .await
}
