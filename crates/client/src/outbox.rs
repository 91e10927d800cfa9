//! The outbox: project writes made on this machine, kept in order until the server accepts
//! them. Invariants:
//! - the local change and its outbox entry are written in one transaction;
//! - entries are sent in order, each with its id as the Idempotency-Key, so a retry after a lost
//!   answer or a killed process is answered by the server, not applied twice;
//! - a transient failure (offline, 5xx) backs off exponentially with jitter and stops the drain,
//!   keeping the order; a refusal (403, 404, 409, 422) turns the entry into a conflict: the
//!   server's version is shown, the local one is kept in the entry until the user retries or
//!   discards it, and later entries for that project wait behind it;
//! - pulled rows are overlaid with the entries still pending, so the user always sees their own
//!   edits.

use chrono::{DateTime, Utc};
use reqwest::Method;
use resonance_api::model::{Project, ProjectStatus};
use resonance_api::projects::{NewProject, ProjectPatch, PROJECT_DEFAULTS};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use uuid::Uuid;

use crate::accounts::Account;
use crate::error::{ClientError, Result};
use crate::mirror::Mirror;
use crate::session::{read_json, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    CreateProject,
    EditProject,
    DeleteProject,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::CreateProject => "create_project",
            Self::EditProject => "edit_project",
            Self::DeleteProject => "delete_project",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::CreateProject, Self::EditProject, Self::DeleteProject].into_iter().find(|k| k.as_str() == s)
    }
}

/// One queued write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub seq: i64,
    pub id: Uuid,
    pub kind: Kind,
    pub project_id: Uuid,
    /// The request body: a `NewProject` or a `ProjectPatch` (none for a delete).
    pub payload: Option<serde_json::Value>,
    pub attempts: u32,
    pub conflict: bool,
    pub last_error: Option<String>,
    /// For a conflict: the server's version of the project when it refused (none if it has none).
    pub server_version: Option<serde_json::Value>,
}

/// An outbox row as stored.
struct RawEntry {
    seq: i64,
    id: String,
    kind: String,
    project_id: String,
    payload: Option<String>,
    attempts: u32,
    state: String,
    last_error: Option<String>,
    server_version: Option<String>,
}

const ENTRY_COLUMNS: &str = "seq, id, kind, project_id, payload, attempts, state, last_error, server_version";

fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok(RawEntry {
        seq: r.get(0)?,
        id: r.get(1)?,
        kind: r.get(2)?,
        project_id: r.get(3)?,
        payload: r.get(4)?,
        attempts: r.get(5)?,
        state: r.get(6)?,
        last_error: r.get(7)?,
        server_version: r.get(8)?,
    })
}

fn to_entry(raw: RawEntry) -> Result<Entry> {
    let seq = raw.seq;
    let bad = |what: &str| ClientError::Corrupt(format!("outbox entry {seq}: {what}"));
    Ok(Entry {
        seq,
        id: Uuid::parse_str(&raw.id).map_err(|_| bad("bad id"))?,
        kind: Kind::parse(&raw.kind).ok_or_else(|| bad("unknown kind"))?,
        project_id: Uuid::parse_str(&raw.project_id).map_err(|_| bad("bad project id"))?,
        payload: raw.payload.map(|p| serde_json::from_str(&p)).transpose()?,
        attempts: raw.attempts,
        conflict: raw.state == "conflict",
        last_error: raw.last_error,
        server_version: raw.server_version.map(|p| serde_json::from_str(&p)).transpose()?,
    })
}

/// Writes a project row as the user now sees it.
pub(crate) fn write_project(tx: &Transaction<'_>, p: &Project) -> Result<()> {
    crate::mirror::store(tx, resonance_api::sync::Table::Projects, p.id, p)
}

fn read_project(tx: &Transaction<'_>, id: Uuid) -> Result<Option<Project>> {
    let data: Option<String> =
        tx.query_row("SELECT data FROM projects WHERE id = ?1", params![id.to_string()], |r| r.get(0)).optional()?;
    Ok(data.map(|d| serde_json::from_str(&d)).transpose()?)
}

fn enqueue(tx: &Transaction<'_>, kind: Kind, project: Uuid, payload: Option<String>) -> Result<Uuid> {
    let id = Uuid::new_v4();
    tx.execute(
        "INSERT INTO outbox (id, kind, project_id, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id.to_string(), kind.as_str(), project.to_string(), payload, Utc::now().to_rfc3339()],
    )?;
    Ok(id)
}

/// Creates a project here and queues it for the server. The id is made here, so sending it
/// again can never create a second project.
pub fn create_project(mirror: &Mirror, account: &Account, mut new: NewProject) -> Result<Project> {
    new.validate()?;
    let id = *new.id.get_or_insert_with(Uuid::new_v4);
    let project = local_project(account, id, &new);
    let mut conn = mirror.lock();
    let tx = crate::mirror::write(&mut conn)?;
    if read_project(&tx, id)?.is_some() {
        return Err(ClientError::Invalid { field: "id".into(), message: format!("a project {id} already exists") });
    }
    write_project(&tx, &project)?;
    enqueue(&tx, Kind::CreateProject, id, Some(serde_json::to_string(&new)?))?;
    // The draft it was written in (same id) is done with, in the same transaction.
    crate::drafts::remove_in(&tx, id)?;
    tx.commit()?;
    Ok(project)
}

/// A new project as the server will make it (its defaults), before the server has it.
fn local_project(account: &Account, id: Uuid, new: &NewProject) -> Project {
    let now = Utc::now();
    let mut project = Project {
        id,
        organization_id: account.organization_id,
        user_id: account.user_id,
        name: String::new(),
        description: None,
        prompt: String::new(),
        audio_path: String::new(),
        audio_duration: None,
        resolution: Some(PROJECT_DEFAULTS.resolution),
        style_preference: Some(PROJECT_DEFAULTS.style_preference),
        footage_visibility: Some(PROJECT_DEFAULTS.footage_visibility),
        effect_intensity: Some(PROJECT_DEFAULTS.effect_intensity),
        tempo_bpm: None,
        aspect: Some(PROJECT_DEFAULTS.aspect),
        status: Some(ProjectStatus::Draft),
        created_at: Some(now),
        updated_at: Some(now),
    };
    ProjectPatch::from(new).apply_to(&mut project);
    project
}

/// Edits a project here and queues the edit.
pub fn edit_project(mirror: &Mirror, id: Uuid, patch: ProjectPatch) -> Result<Project> {
    patch.validate()?;
    if patch.is_empty() {
        return Err(ClientError::Invalid { field: "patch".into(), message: "nothing to change".into() });
    }
    let mut conn = mirror.lock();
    let tx = crate::mirror::write(&mut conn)?;
    let mut project =
        read_project(&tx, id)?.ok_or_else(|| ClientError::NotFound { what: "project", id: id.to_string() })?;
    patch.apply_to(&mut project);
    project.updated_at = Some(Utc::now());
    write_project(&tx, &project)?;
    enqueue(&tx, Kind::EditProject, id, Some(serde_json::to_string(&patch)?))?;
    tx.commit()?;
    Ok(project)
}

/// Deletes a project (and its generations) here and queues the delete.
pub fn delete_project(mirror: &Mirror, id: Uuid) -> Result<()> {
    let mut conn = mirror.lock();
    let tx = crate::mirror::write(&mut conn)?;
    if read_project(&tx, id)?.is_none() {
        return Err(ClientError::NotFound { what: "project", id: id.to_string() });
    }
    crate::mirror::delete_project(&tx, id)?;
    enqueue(&tx, Kind::DeleteProject, id, None)?;
    tx.commit()?;
    Ok(())
}

/// Entries of a project that still apply locally: pending ones before its first conflict.
fn live_entries(tx: &Transaction<'_>, project: Uuid) -> Result<Vec<Entry>> {
    let mut stmt =
        tx.prepare_cached(&format!("SELECT {ENTRY_COLUMNS} FROM outbox WHERE project_id = ?1 ORDER BY seq"))?;
    let rows = stmt.query_map(params![project.to_string()], entry_from_row)?;
    let mut out = Vec::new();
    for row in rows {
        let entry = to_entry(row?)?;
        if entry.conflict {
            break;
        }
        out.push(entry);
    }
    Ok(out)
}

/// Lays the still-pending local changes of these projects over what was just written for them.
pub(crate) fn overlay(tx: &Transaction<'_>, projects: &[Uuid]) -> Result<()> {
    // A pulled page touches up to thousands of projects, and the outbox is usually empty: look
    // only at the projects that have entries.
    let queued: std::collections::HashSet<String> = {
        let mut stmt = tx.prepare_cached("SELECT DISTINCT project_id FROM outbox")?;
        let ids = stmt.query_map([], |r| r.get::<_, String>(0))?;
        ids.collect::<rusqlite::Result<_>>()?
    };
    if queued.is_empty() {
        return Ok(());
    }
    for &id in projects.iter().filter(|id| queued.contains(&id.to_string())) {
        let entries = live_entries(tx, id)?;
        if entries.is_empty() {
            continue;
        }
        let mut row = read_project(tx, id)?;
        for entry in &entries {
            match (entry.kind, &entry.payload) {
                (Kind::CreateProject, Some(p)) => {
                    if let (Some(row), Ok(new)) = (row.as_mut(), serde_json::from_value::<NewProject>(p.clone())) {
                        ProjectPatch::from(&new).apply_to(row);
                    }
                }
                (Kind::EditProject, Some(p)) => {
                    if let (Some(row), Ok(patch)) = (row.as_mut(), serde_json::from_value::<ProjectPatch>(p.clone())) {
                        patch.apply_to(row);
                    }
                }
                (Kind::DeleteProject, _) => row = None,
                _ => {}
            }
        }
        match row {
            Some(p) => write_project(tx, &p)?,
            None => crate::mirror::delete_project(tx, id)?,
        }
    }
    Ok(())
}

/// The next entry to send: the oldest pending one not waiting behind a conflict of its project.
fn next_entry(conn: &Connection) -> Result<Option<(Entry, Option<DateTime<Utc>>)>> {
    let row = conn
        .query_row(
            &format!(
                "SELECT {ENTRY_COLUMNS}, next_attempt_at FROM outbox o
                 WHERE state = 'pending'
                   AND NOT EXISTS (SELECT 1 FROM outbox c WHERE c.project_id = o.project_id AND c.state = 'conflict' AND c.seq < o.seq)
                 ORDER BY seq LIMIT 1"
            ),
            [],
            |r| Ok((entry_from_row(r)?, r.get::<_, Option<String>>(9)?)),
        )
        .optional()?;
    let Some((raw, next)) = row else { return Ok(None) };
    let next = next.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc));
    Ok(Some((to_entry(raw)?, next)))
}

/// What one drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DrainReport {
    pub sent: u32,
    pub conflicts: u32,
    /// Entries still queued (waiting for the network or for their backoff).
    pub waiting: u32,
    /// Set when the drain stopped on a failure it will retry later.
    pub stopped_by: Option<String>,
}

async fn send(session: &Session, entry: &Entry) -> Result<Option<Project>> {
    let key = Some(entry.id);
    let path = format!("/v1/projects/{}", entry.project_id);
    match entry.kind {
        Kind::CreateProject => {
            let resp = session.request(Method::POST, "/v1/projects", entry.payload.as_ref(), key).await?;
            Ok(Some(read_json(resp).await?))
        }
        Kind::EditProject => {
            let resp = session.request(Method::PATCH, &path, entry.payload.as_ref(), key).await?;
            Ok(Some(read_json(resp).await?))
        }
        Kind::DeleteProject => match session.request(Method::DELETE, &path, None, key).await {
            // Already gone is what a delete wants.
            Ok(_) | Err(ClientError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        },
    }
}

/// Sends queued entries in order until the queue is empty, a transient failure stops it, or
/// (unless `now_regardless` is set) the next entry's backoff has not elapsed.
pub async fn drain(session: &Session, mirror: &Mirror, now_regardless: bool) -> Result<DrainReport> {
    let mut report = DrainReport::default();
    loop {
        let Some((entry, not_before)) = next_entry(&mirror.lock())? else { break };
        if !now_regardless && not_before.is_some_and(|t| t > Utc::now()) {
            report.stopped_by = Some("waiting to retry".into());
            break;
        }
        match send(session, &entry).await {
            Ok(accepted) => {
                let mut conn = mirror.lock();
                let tx = crate::mirror::write(&mut conn)?;
                tx.execute("DELETE FROM outbox WHERE seq = ?1", params![entry.seq])?;
                if let Some(project) = accepted {
                    write_project(&tx, &project)?;
                    overlay(&tx, &[entry.project_id])?;
                }
                tx.commit()?;
                report.sent += 1;
            }
            Err(e) if e.waits_for_user() => return Err(e),
            Err(e @ ClientError::Refused { .. }) if !e.is_transient() => {
                // The server's version wins; the local one stays in the entry until resolved.
                let server: Option<Project> = match session.get(&format!("/v1/projects/{}", entry.project_id)).await {
                    Ok(p) => Some(p),
                    Err(ClientError::Refused { status: 404 | 403, .. }) => None,
                    Err(other) => return Err(other),
                };
                let mut conn = mirror.lock();
                let tx = crate::mirror::write(&mut conn)?;
                tx.execute(
                    "UPDATE outbox SET state = 'conflict', last_error = ?2, last_error_kind = ?3, server_version = ?4
                     WHERE seq = ?1",
                    params![
                        entry.seq,
                        e.to_string(),
                        e.kind().as_str(),
                        server.as_ref().map(serde_json::to_string).transpose()?
                    ],
                )?;
                match &server {
                    Some(p) => write_project(&tx, p)?,
                    None => crate::mirror::delete_project(&tx, entry.project_id)?,
                }
                tx.commit()?;
                tracing::warn!(entry = %entry.id, project = %entry.project_id, "the server refused a queued change; it is kept as a conflict");
                report.conflicts += 1;
            }
            Err(e) => {
                let attempts = entry.attempts + 1;
                let retry_at = Utc::now() + crate::http::backoff(attempts);
                mirror.lock().execute(
                    "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4, last_error_kind = ?5 WHERE seq = ?1",
                    params![entry.seq, attempts, retry_at.to_rfc3339(), e.to_string(), e.kind().as_str()],
                )?;
                report.stopped_by = Some(e.to_string());
                break;
            }
        }
    }
    report.waiting =
        mirror.lock().query_row("SELECT count(*) FROM outbox WHERE state = 'pending'", [], |r| r.get(0))?;
    Ok(report)
}

/// Every entry, oldest first (conflicts included).
pub fn entries(mirror: &Mirror) -> Result<Vec<Entry>> {
    let conn = mirror.lock();
    let mut stmt = conn.prepare_cached(&format!("SELECT {ENTRY_COLUMNS} FROM outbox ORDER BY seq"))?;
    let rows = stmt.query_map([], entry_from_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(to_entry(row?)?);
    }
    Ok(out)
}

fn conflict_entry(tx: &Transaction<'_>, id: Uuid) -> Result<Entry> {
    let raw = tx
        .query_row(
            &format!("SELECT {ENTRY_COLUMNS} FROM outbox WHERE id = ?1 AND state = 'conflict'"),
            params![id.to_string()],
            entry_from_row,
        )
        .optional()?
        .ok_or_else(|| ClientError::NotFound { what: "conflict", id: id.to_string() })?;
    to_entry(raw)
}

/// Resolves a conflict by dropping the local change: the server's version stays.
pub fn discard(mirror: &Mirror, id: Uuid) -> Result<()> {
    let mut conn = mirror.lock();
    let tx = crate::mirror::write(&mut conn)?;
    let entry = conflict_entry(&tx, id)?;
    tx.execute("DELETE FROM outbox WHERE seq = ?1", params![entry.seq])?;
    // Changes queued after it were waiting behind it: they apply again.
    overlay(&tx, &[entry.project_id])?;
    tx.commit()?;
    Ok(())
}

/// Resolves a conflict by sending the local change again, edited first if a patch is given. It
/// goes with a new key: the server refused the old one's request, and this is a new attempt.
pub fn retry(mirror: &Mirror, account: &Account, id: Uuid, edited: Option<ProjectPatch>) -> Result<()> {
    let mut conn = mirror.lock();
    let tx = crate::mirror::write(&mut conn)?;
    let entry = conflict_entry(&tx, id)?;
    let payload = match (entry.kind, edited) {
        (Kind::EditProject, Some(patch)) => {
            patch.validate()?;
            Some(serde_json::to_string(&patch)?)
        }
        (Kind::CreateProject, Some(patch)) => {
            let mut new: NewProject = serde_json::from_value(entry.payload.clone().unwrap_or_default())?;
            patch.apply_to_new(&mut new);
            new.validate()?;
            Some(serde_json::to_string(&new)?)
        }
        _ => entry.payload.as_ref().map(serde_json::to_string).transpose()?,
    };
    tx.execute(
        "UPDATE outbox SET id = ?2, payload = ?3, state = 'pending', attempts = 0, next_attempt_at = NULL,
           last_error = NULL, last_error_kind = NULL, server_version = NULL WHERE seq = ?1",
        params![entry.seq, Uuid::new_v4().to_string(), payload],
    )?;
    // A refused create left no row: the local version comes back while it is retried.
    if entry.kind == Kind::CreateProject && read_project(&tx, entry.project_id)?.is_none() {
        if let Some(p) = &payload {
            write_project(&tx, &local_project(account, entry.project_id, &serde_json::from_str(p)?))?;
        }
    }
    overlay(&tx, &[entry.project_id])?;
    tx.commit()?;
    Ok(())
}
