//! Upload rows (`public.uploads`): where each tus upload stands. Invariant: `offset` only grows,
//! by exactly the chunk stored for it, under the row's lock; a finished upload names its object.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::{Caller, Tx};
use crate::error::{Error, Result};

/// How long an unfinished upload is kept after its last chunk.
pub const EXPIRES_AFTER_HOURS: i64 = 24;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Upload {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub project_id: Uuid,
    pub length: i64,
    pub offset: i64,
    pub parts: Vec<String>,
    pub metadata: Option<String>,
    pub filename: Option<String>,
    pub declared_sha256: Option<String>,
    #[sqlx(try_from = "String")]
    pub state: TransferState,
    pub object_key: Option<String>,
    pub sha256: Option<String>,
    pub duration: Option<f64>,
    pub expires_at: DateTime<Utc>,
    /// The PATCH request streaming into this upload now, while its lease lasts.
    pub patch_holder: Option<Uuid>,
    /// What the file is for: the project's track, or its footage.
    #[sqlx(try_from = "String")]
    pub purpose: PurposeText,
    /// Why a failed upload was refused, and what it was told.
    #[sqlx(try_from = "Option<String>")]
    pub refusal: Refusal,
    pub error: Option<String>,
}

/// `uploads.refusal`: an `ErrorCode` by its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal(pub Option<resonance_api::ErrorCode>);

impl TryFrom<Option<String>> for Refusal {
    type Error = serde_json::Error;
    fn try_from(text: Option<String>) -> std::result::Result<Self, serde_json::Error> {
        text.map(|t| serde_json::from_value(serde_json::Value::String(t))).transpose().map(Self)
    }
}

/// `uploads.purpose` as read from a row (a CHECK keeps it one of the two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurposeText(pub Purpose);

impl TryFrom<String> for PurposeText {
    type Error = String;
    fn try_from(text: String) -> std::result::Result<Self, String> {
        Purpose::parse(&text).map(Self).ok_or_else(|| format!("an upload's purpose is {text:?}"))
    }
}

/// What an upload is for: the project's track or its footage (`uploads.purpose`).
pub use resonance_api::footage::UploadPurpose as Purpose;
/// Where the server stands with an upload (`uploads.state`).
pub use resonance_api::uploads::TransferState;

/// The columns every query of this module returns, as a literal so queries stay static SQL.
macro_rules! columns {
    () => {
        "id, organization_id, project_id, length, \"offset\", parts, metadata, filename, \
                       declared_sha256, state, object_key, sha256, duration, expires_at, \
                       CASE WHEN patch_lease_until > now() THEN patch_holder END AS patch_holder, purpose, \
                       refusal, error"
    };
}

/// How long a PATCH holds its upload without a sign of life; renewed while its body streams, so
/// only a server that died mid-request leaves an upload held, and only this long.
pub const PATCH_LEASE_SECONDS: f64 = 60.0;

/// How long finishing an upload (joining, hashing, decoding, storing) may hold it before another
/// request may finish it instead: a server that died meanwhile delays the audio this long at most.
pub const FINISH_LEASE_SECONDS: f64 = 600.0;

pub struct NewUpload<'a> {
    pub project_id: Uuid,
    pub length: i64,
    pub metadata: Option<&'a str>,
    pub filename: Option<&'a str>,
    pub declared_sha256: Option<&'a str>,
    pub purpose: Purpose,
}

pub async fn create(tx: &mut Tx, caller: &Caller, new: &NewUpload<'_>) -> Result<Upload> {
    if !caller.role.can_edit_projects() {
        return Err(Error::forbidden(format!(
            "Viewers cannot upload {}; ask an admin for the developer role.",
            new.purpose.as_str()
        )));
    }
    // The project must be the caller's organization's (RLS answers "none" otherwise).
    super::projects::get(tx, caller, new.project_id).await?;
    Ok(sqlx::query_as::<_, Upload>(concat!("INSERT INTO uploads (organization_id, project_id, user_id, length, metadata, filename, declared_sha256, expires_at, purpose) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(hours => $8), $9) RETURNING ", columns!()))
    .bind(caller.organization_id)
    .bind(new.project_id)
    .bind(caller.user_id)
    .bind(new.length)
    .bind(new.metadata)
    .bind(new.filename)
    .bind(new.declared_sha256)
    .bind(EXPIRES_AFTER_HOURS as i32)
    .bind(new.purpose.as_str())
    .fetch_one(&mut **tx)
    .await?)
}

/// The upload, locked for this transaction when `lock` is set.
pub async fn get(tx: &mut Tx, id: Uuid, lock: bool) -> Result<Upload> {
    let sql = if lock {
        concat!("SELECT ", columns!(), " FROM uploads WHERE id = $1 FOR UPDATE")
    } else {
        concat!("SELECT ", columns!(), " FROM uploads WHERE id = $1")
    };
    sqlx::query_as::<_, Upload>(sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| Error::not_found("No such upload."))
}

/// Claims the upload for one request at `offset` (a PATCH there, or finishing at its length) for
/// `lease_seconds`, or `None` when it is not open there or another request holds it (the caller
/// reads the row to say which).
pub async fn claim(tx: &mut Tx, id: Uuid, holder: Uuid, offset: i64, lease_seconds: f64) -> Result<Option<Upload>> {
    Ok(sqlx::query_as::<_, Upload>(concat!(
        "UPDATE uploads SET patch_holder = $2, patch_lease_until = now() + make_interval(secs => $4) \
         WHERE id = $1 AND state = 'receiving' AND expires_at > now() AND \"offset\" = $3 \
           AND (patch_lease_until IS NULL OR patch_lease_until <= now()) RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(holder)
    .bind(offset)
    .bind(lease_seconds)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Keeps a PATCH's claim alive while its body streams.
pub async fn renew_patch(tx: &mut Tx, id: Uuid, holder: Uuid) -> Result<()> {
    sqlx::query(
        "UPDATE uploads SET patch_lease_until = now() + make_interval(secs => $3) WHERE id = $1 AND patch_holder = $2",
    )
    .bind(id)
    .bind(holder)
    .bind(PATCH_LEASE_SECONDS)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Lets the next request in (the one holding the upload ended without moving it on).
pub async fn release_patch(tx: &mut Tx, id: Uuid, holder: Uuid) -> Result<()> {
    sqlx::query("UPDATE uploads SET patch_holder = NULL, patch_lease_until = NULL WHERE id = $1 AND patch_holder = $2")
        .bind(id)
        .bind(holder)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A finished upload of these bytes for this purpose in the caller's organization, if there is one.
pub async fn find_stored(tx: &mut Tx, sha256: &str, length: i64, purpose: Purpose) -> Result<Option<Upload>> {
    Ok(sqlx::query_as::<_, Upload>(concat!(
        "SELECT ",
        columns!(),
        " FROM uploads WHERE sha256 = $1 AND length = $2 AND state = 'complete' AND purpose = $3 \
         ORDER BY created_at LIMIT 1"
    ))
    .bind(sha256)
    .bind(length)
    .bind(purpose.as_str())
    .fetch_optional(&mut **tx)
    .await?)
}

/// Records one more stored chunk (its object key) and moves the expiry.
pub async fn advance(tx: &mut Tx, id: Uuid, new_offset: i64, part: &str) -> Result<Upload> {
    Ok(sqlx::query_as::<_, Upload>(concat!("UPDATE uploads SET \"offset\" = $2, parts = array_append(parts, $4), updated_at = now(), \
           patch_holder = NULL, patch_lease_until = NULL, expires_at = now() + make_interval(hours => $3) WHERE id = $1 RETURNING ", columns!()))
    .bind(id)
    .bind(new_offset)
    .bind(EXPIRES_AFTER_HOURS as i32)
    .bind(part)
    .fetch_one(&mut **tx)
    .await?)
}

/// Marks the upload finished with its object (`duration`: seconds of audio or of a clip).
pub async fn complete(tx: &mut Tx, id: Uuid, object_key: &str, sha256: &str, duration: Option<f64>) -> Result<()> {
    sqlx::query(
        "UPDATE uploads SET state = 'complete', \"offset\" = length, object_key = $2, sha256 = $3, duration = $4, \
           updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(object_key)
    .bind(sha256)
    .bind(duration)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks the upload refused, with what it was told and why (`code`).
pub async fn fail(tx: &mut Tx, id: Uuid, error: &str, code: resonance_api::ErrorCode) -> Result<()> {
    let code = serde_json::to_value(code)?;
    sqlx::query("UPDATE uploads SET state = 'failed', error = $2, refusal = $3, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(error)
        .bind(code.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn terminate(tx: &mut Tx, id: Uuid) -> Result<()> {
    sqlx::query("UPDATE uploads SET state = 'terminated', updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Makes the stored audio the project's.
pub async fn attach_to_project(tx: &mut Tx, project: Uuid, object_key: &str, duration: f64) -> Result<()> {
    sqlx::query("UPDATE projects SET audio_path = $2, audio_duration = $3::float8::numeric WHERE id = $1")
        .bind(project)
        .bind(object_key)
        .bind(duration)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
