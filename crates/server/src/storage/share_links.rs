//! Share links (`share_links`): created and revoked by an admin or the generation's author, read
//! by the organization's members, and resolved for visitors without an account through
//! `auth_private.shared_video`. Invariant: every create and revoke writes its activity entry in
//! the same transaction.

use chrono::{DateTime, Utc};
use resonance_api::model::GenerationStatus;
use resonance_api::sharing::{ShareLifetime, ShareLinkState};
use serde_json::json;
use uuid::Uuid;

use super::logs::{self, Entry};
use crate::db::{Caller, Db, Tx};
use crate::error::{Error, Result};

/// A link as stored; the URL is made from its id by the HTTP layer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub id: Uuid,
    pub generation_id: Uuid,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Row {
    pub fn state(&self, now: DateTime<Utc>) -> ShareLinkState {
        ShareLinkState::at(self.expires_at, self.revoked_at, now)
    }
}

/// The columns every query of this module returns, as a literal so queries stay static SQL.
macro_rules! columns {
    () => {
        "id, generation_id, created_by, created_at, expires_at, revoked_at"
    };
}

/// The generation, if the caller may share it: 404 when it is not theirs to see, 409 before it
/// has finished, 403 for a viewer or a developer who did not start it.
async fn shareable(tx: &mut Tx, caller: &Caller, generation: Uuid) -> Result<resonance_api::model::Generation> {
    let g = super::generations::get(tx, caller, generation).await?;
    if g.status != Some(GenerationStatus::Completed) {
        return Err(Error::conflict("This generation has not finished rendering; share it once it has."));
    }
    let allowed: bool =
        sqlx::query_scalar("SELECT auth_private.may_share($1)").bind(generation).fetch_one(&mut **tx).await?;
    if !allowed {
        return Err(Error::forbidden("Only admins and the person who started this generation share it."));
    }
    Ok(g)
}

pub async fn create(tx: &mut Tx, caller: &Caller, generation: Uuid, lifetime: ShareLifetime) -> Result<Row> {
    let g = shareable(tx, caller, generation).await?;
    let row: Row = sqlx::query_as(concat!(
        "INSERT INTO share_links (organization_id, generation_id, created_by, expires_at) \
         VALUES ($1, $2, auth.uid(), now() + make_interval(days => $3)) RETURNING ",
        columns!()
    ))
    .bind(caller.organization_id)
    .bind(generation)
    .bind(i32::try_from(lifetime.days()).unwrap_or(1))
    .fetch_one(&mut **tx)
    .await?;
    let mut entry = Entry::success(
        "share_link.create",
        format!("Shared generation #{} for {} days", g.generation_number.unwrap_or(0), lifetime.days()),
    )
    .generation(generation)
    .details(json!({ "share_link_id": row.id, "expires_at": row.expires_at }));
    if let Some(project) = g.project_id {
        entry = entry.project(project);
    }
    logs::append(tx, caller, entry).await?;
    Ok(row)
}

/// A generation's links, newest first (404 for a generation the caller cannot see).
pub async fn list(tx: &mut Tx, caller: &Caller, generation: Uuid) -> Result<Vec<Row>> {
    super::generations::get(tx, caller, generation).await?;
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM share_links WHERE generation_id = $1 ORDER BY created_at DESC, id"
    ))
    .bind(generation)
    .fetch_all(&mut **tx)
    .await?)
}

/// Turns a link off for good. Revoking a revoked link changes nothing and answers as the first
/// time did (to those who may revoke it).
pub async fn revoke(tx: &mut Tx, caller: &Caller, link: Uuid) -> Result<Row> {
    let found: Option<Row> = sqlx::query_as(concat!("SELECT ", columns!(), " FROM share_links WHERE id = $1"))
        .bind(link)
        .fetch_optional(&mut **tx)
        .await?;
    let found = found.ok_or_else(|| Error::not_found("No such share link in your organization."))?;
    let allowed: bool =
        sqlx::query_scalar("SELECT auth_private.may_share($1)").bind(found.generation_id).fetch_one(&mut **tx).await?;
    if !allowed {
        return Err(Error::forbidden("Only admins and the person who started this generation turn its links off."));
    }
    // Only a live link is turned off: of two revokes at once, one writes and logs.
    let revoked: Option<Row> = sqlx::query_as(concat!(
        "UPDATE share_links SET revoked_at = now(), revoked_by = auth.uid() \
         WHERE id = $1 AND revoked_at IS NULL RETURNING ",
        columns!()
    ))
    .bind(link)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = revoked else {
        let again: Option<Row> = sqlx::query_as(concat!("SELECT ", columns!(), " FROM share_links WHERE id = $1"))
            .bind(link)
            .fetch_optional(&mut **tx)
            .await?;
        return again.ok_or_else(|| Error::not_found("No such share link in your organization."));
    };
    logs::append(
        tx,
        caller,
        Entry::success("share_link.revoke", "Turned a share link off")
            .generation(row.generation_id)
            .details(json!({ "share_link_id": row.id })),
    )
    .await?;
    Ok(row)
}

/// What a share link plays, for a visitor without an account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Shared {
    pub organization_id: Uuid,
    pub project_id: Option<Uuid>,
    pub generation_id: Uuid,
    pub title: Option<String>,
    pub completed: bool,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn shared(db: &Db, link: Uuid) -> Result<Option<Shared>> {
    let mut tx = db.begin_public().await?;
    let found =
        sqlx::query_as("SELECT * FROM auth_private.shared_video($1)").bind(link).fetch_optional(&mut *tx).await?;
    tx.commit().await?;
    Ok(found)
}
