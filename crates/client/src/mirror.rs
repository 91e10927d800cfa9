//! The local mirror: one SQLite database per account holding what the server lets the user see,
//! and the client's own state (sync cursor, outbox, uploads, media cache, notifications).
//! Invariants:
//! - migrations from `migrations-local/` run in order at open, all in one transaction, tracked
//!   in `PRAGMA user_version`; a database from a newer version is refused, never damaged;
//! - a database that fails its integrity check at open is moved aside (kept, not deleted) and a
//!   fresh one is created, which the next sync fills from scratch (the full check runs when the
//!   file is small, was not closed cleanly, or was last checked a day ago; see
//!   `needs_full_check`);
//! - WAL, foreign keys on, and every change made by the app commits whole or not at all.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chrono::Utc;
use resonance_api::model::{Footage, Generation, Organization, Project, SystemLog, User};
use resonance_api::sync::Table;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::error::{ClientError, Result};

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

pub struct Mirror {
    conn: Mutex<Connection>,
    /// Held by a pull for its whole round (`sync::pull`): the engine's rounds and the watcher's
    /// catch-ups take turns, so two never apply pages or move the cursor at once.
    pulling: tokio::sync::Mutex<()>,
    path: PathBuf,
    /// Set when the file found at open was damaged and was replaced by an empty one.
    pub recovered_from: Option<PathBuf>,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror").field("path", &self.path).finish()
    }
}

/// A project as the user sees it here: the mirrored row with local edits applied, and whether
/// those edits are still on their way or were refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LocalProject {
    #[serde(flatten)]
    pub project: Project,
    /// Local changes not yet accepted by the server.
    pub pending_changes: u32,
    /// Why the server refused a local change, while that conflict is unresolved.
    pub conflict: Option<String>,
}

/// The query of [`Mirror::project_page`]: `?1` the search pattern, `?2` the limit, `?3` the offset.
fn project_page_sql(filter: &str) -> String {
    format!(
        "SELECT p.data,
                (SELECT count(*) FROM outbox o WHERE o.project_id = p.id AND o.state = 'pending'),
                (SELECT o.last_error FROM outbox o WHERE o.project_id = p.id AND o.state = 'conflict' ORDER BY o.seq LIMIT 1)
         FROM projects p
         {filter}
         ORDER BY p.updated_at DESC, p.id
         LIMIT ?2 OFFSET ?3"
    )
}

/// A page of the project list (see [`Mirror::project_page`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectPage {
    /// How many projects match, on every page.
    pub total: u32,
    /// The position of the first project of this page in the whole list.
    pub offset: u32,
    pub projects: Vec<LocalProject>,
}

/// Below this size the full check at open costs nothing worth saving, even read from disk
/// after a reboot. (A mirror of 10,000 projects, 8 MB, took 0.4 s to check from a cold
/// page cache: a third of the app's cold start; `cargo xtask bench`.)
const ALWAYS_CHECK_BELOW_BYTES: u64 = 1 << 20;
/// A full check at least this often, however the file was closed.
const FULL_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Whether the file deserves the full `quick_check` (which reads all of it: ~85 ms for 60 MB):
/// when it is small, when it was not closed cleanly (its WAL is still there: a crash, or
/// another process has it open), or when the last full check is a day old. Otherwise reading
/// the header and the schema catches a file that is not a database or was overwritten.
fn needs_full_check(path: &Path) -> bool {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    let checked = path.with_extension("checked");
    let stale = std::fs::metadata(&checked)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_none_or(|age| age > FULL_CHECK_EVERY);
    size < ALWAYS_CHECK_BELOW_BYTES || wal.exists() || stale
}

fn is_healthy(conn: &Connection, path: &Path) -> bool {
    if needs_full_check(path) {
        let ok =
            conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)).map(|s| s == "ok").unwrap_or(false);
        if ok {
            let _ = std::fs::write(path.with_extension("checked"), b"");
        }
        ok
    } else {
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0)).is_ok()
    }
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Ids are random UUIDs, so a full pull writes all over the tables' B-trees: a 32 MB page
    // cache (the default is 2 MB) keeps most of them in memory.
    conn.pragma_update(None, "cache_size", -32_000)?;
    Ok(())
}

/// Applies the migrations newer than the database's version, all in one transaction.
/// Starts a transaction that writes. It takes the write lock at once (waiting for another
/// process's writer up to the busy timeout): a deferred one that reads first and writes later
/// fails at once with "database is locked" when another process wrote in between.
pub(crate) fn write(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

pub fn migrate(conn: &mut Connection) -> Result<()> {
    migrate_to(conn, latest_version())
}

/// Migrates up to `target` (tests build old databases with it).
pub fn migrate_to(conn: &mut Connection, target: i64) -> Result<()> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = latest_version();
    if found > known {
        return Err(ClientError::MirrorTooNew { found, known });
    }
    if found >= target {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > found && m.0 <= target) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tracing::info!(migration = name, "migrated the local database");
    }
    tx.commit()?;
    Ok(())
}

impl Mirror {
    /// Waits for the pull under way, if any, and holds the turn until the guard is dropped.
    pub(crate) async fn pull_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.pulling.lock().await
    }

    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut recovered_from = None;
        let mut conn = Connection::open(path)?;
        if !is_healthy(&conn, path) {
            drop(conn);
            let aside = path.with_extension(format!("corrupt-{}.sqlite", chrono::Utc::now().format("%Y%m%dT%H%M%S")));
            std::fs::rename(path, &aside)?;
            for suffix in ["-wal", "-shm"] {
                let side = PathBuf::from(format!("{}{suffix}", path.display()));
                if side.exists() {
                    std::fs::rename(&side, PathBuf::from(format!("{}{suffix}", aside.display())))?;
                }
            }
            tracing::warn!(moved_to = %aside.display(), "the local database was damaged; it was moved aside and will be rebuilt from the server");
            recovered_from = Some(aside);
            conn = Connection::open(path)?;
        }
        configure(&conn)?;
        migrate(&mut conn)?;
        Ok(Self { conn: Mutex::new(conn), pulling: tokio::sync::Mutex::new(()), path: path.to_owned(), recovered_from })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for one unit of work of this crate's modules (each writes only the
    /// tables it owns; the synced tables are written here).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-applied change: SQLite rolls back
        // the open transaction when it is dropped. So a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every project matching `search` (name or prompt, case-insensitive), newest first.
    pub fn projects(&self, search: Option<&str>) -> Result<Vec<LocalProject>> {
        Ok(self.project_page(search, 0, None)?.projects)
    }

    /// Projects `offset..offset + limit` of those matching `search`, newest first, and how many
    /// match. Count and page are read under one lock, so they agree. The list's order has an
    /// index, so a page near the top reads only its own rows: the desktop's list opens without
    /// reading all 10,000.
    pub fn project_page(&self, search: Option<&str>, offset: u32, limit: Option<u32>) -> Result<ProjectPage> {
        let conn = self.lock();
        let pattern = search.map(|s| format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
        // Without a search the count reads only the smallest index, not every project's data.
        let (filter, total): (&str, u32) = match &pattern {
            Some(_) => {
                let filter = "WHERE p.name LIKE ?1 ESCAPE '\\' OR json_extract(p.data, '$.prompt') LIKE ?1 ESCAPE '\\'";
                let count = format!("SELECT count(*) FROM projects p {filter}");
                (filter, conn.prepare_cached(&count)?.query_row(params![pattern], |r| r.get(0))?)
            }
            // Always true; it names ?1, so the page query takes the same parameters either way.
            None => {
                ("WHERE ?1 IS NULL", conn.prepare_cached("SELECT count(*) FROM projects")?.query_row([], |r| r.get(0))?)
            }
        };
        let mut stmt = conn.prepare_cached(&project_page_sql(filter))?;
        // A negative LIMIT is SQLite's "no limit".
        let limit = limit.map_or(-1, i64::from);
        let rows = stmt.query_map(params![pattern, limit, offset], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?, r.get::<_, Option<String>>(2)?))
        })?;
        let mut projects = Vec::new();
        for row in rows {
            let (data, pending_changes, conflict) = row?;
            projects.push(LocalProject { project: serde_json::from_str(&data)?, pending_changes, conflict });
        }
        Ok(ProjectPage { total, offset, projects })
    }

    pub fn project(&self, id: Uuid) -> Result<Option<Project>> {
        self.one("SELECT data FROM projects WHERE id = ?1", id)
    }

    pub fn generations(&self, project: Uuid) -> Result<Vec<Generation>> {
        self.all(
            "SELECT data FROM generations WHERE project_id = ?1 ORDER BY generation_number DESC, id",
            params![project.to_string()],
        )
    }

    pub fn generation(&self, id: Uuid) -> Result<Option<Generation>> {
        self.one("SELECT data FROM generations WHERE id = ?1", id)
    }

    /// The project's footage, in its order.
    pub fn footage(&self, project: Uuid) -> Result<Vec<Footage>> {
        self.all("SELECT data FROM footage WHERE project_id = ?1 ORDER BY position, id", params![project.to_string()])
    }

    pub fn footage_item(&self, id: Uuid) -> Result<Option<Footage>> {
        self.one("SELECT data FROM footage WHERE id = ?1", id)
    }

    /// The members of the organization, by name.
    pub fn members(&self) -> Result<Vec<User>> {
        self.all("SELECT data FROM users ORDER BY lower(coalesce(json_extract(data, '$.name'), email)), id", [])
    }

    /// The newest `limit` entries of the activity log.
    pub fn activity(&self, limit: u32) -> Result<Vec<SystemLog>> {
        self.all("SELECT data FROM system_logs ORDER BY created_at DESC, id LIMIT ?1", params![limit])
    }

    pub fn organization(&self, id: Uuid) -> Result<Option<Organization>> {
        self.one("SELECT data FROM organizations WHERE id = ?1", id)
    }

    fn one<T: DeserializeOwned>(&self, sql: &str, id: Uuid) -> Result<Option<T>> {
        let conn = self.lock();
        let data: Option<String> = conn.query_row(sql, params![id.to_string()], |r| r.get(0)).optional()?;
        Ok(data.map(|d| serde_json::from_str(&d)).transpose()?)
    }

    fn all<T: DeserializeOwned>(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<T>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for data in rows {
            out.push(serde_json::from_str(&data?)?);
        }
        Ok(out)
    }
}

/// The columns the mirror indexes, whichever table the row is from.
#[derive(Deserialize)]
struct Indexed<'a> {
    organization_id: Option<Uuid>,
    project_id: Option<Uuid>,
    #[serde(borrow)]
    email: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    updated_at: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    created_at: Option<std::borrow::Cow<'a, str>>,
    generation_number: Option<i32>,
    #[serde(borrow)]
    status: Option<std::borrow::Cow<'a, str>>,
    position: Option<i64>,
}

/// Writes one row of a mirrored table (a pulled one, or one the server just returned) with
/// `mark`: the mirror is the only module that writes its tables.
pub(crate) fn upsert(tx: &Transaction<'_>, table: Table, id: Uuid, row: &RawValue, mark: i64) -> Result<()> {
    let id = id.to_string();
    let data = row.get();
    let k: Indexed<'_> = serde_json::from_str(data)?;
    let org = k.organization_id.map(|o| o.to_string());
    match table {
        Table::Organizations => tx
            .prepare_cached(
                "INSERT INTO organizations (id, data, mark) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data, mark = excluded.mark",
            )?
            .execute(params![id, data, mark])?,
        Table::Users => tx
            .prepare_cached(
                "INSERT INTO users (id, organization_id, email, data, mark) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id, email = excluded.email,
                   data = excluded.data, mark = excluded.mark",
            )?
            .execute(params![id, org, k.email.as_deref().unwrap_or_default(), data, mark])?,
        Table::Projects => tx
            .prepare_cached(
                "INSERT INTO projects (id, organization_id, name, updated_at, data, mark) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id, name = excluded.name,
                   updated_at = excluded.updated_at, data = excluded.data, mark = excluded.mark",
            )?
            .execute(params![id, org, k.name.as_deref().unwrap_or_default(), k.updated_at, data, mark])?,
        Table::Generations => tx
            .prepare_cached(
                "INSERT INTO generations (id, project_id, organization_id, generation_number, data, mark)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id,
                   organization_id = excluded.organization_id, generation_number = excluded.generation_number,
                   data = excluded.data, mark = excluded.mark",
            )?
            .execute(params![id, k.project_id.map(|p| p.to_string()), org, k.generation_number, data, mark])
            .and_then(|n| {
                // Seen unfinished on this machine: its end will be news (see `watcher`).
                if k
                    .status
                    .as_deref()
                    .and_then(|s| s.parse::<resonance_api::model::GenerationStatus>().ok())
                    .is_some_and(|s| s.is_unfinished())
                {
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO watched_generations (generation_id, seen_at)
                         SELECT ?1, ?2 WHERE ?1 NOT IN (SELECT generation_id FROM notified_generations)",
                    )?
                    .execute(params![id, Utc::now().to_rfc3339()])?;
                }
                Ok(n)
            })?,
        Table::SystemLogs => tx
            .prepare_cached(
                "INSERT INTO system_logs (id, organization_id, created_at, data, mark) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id,
                   created_at = excluded.created_at, data = excluded.data, mark = excluded.mark",
            )?
            .execute(params![id, org, k.created_at, data, mark])?,
        Table::Footage => tx
            .prepare_cached(
                "INSERT INTO footage (id, project_id, organization_id, position, data, mark) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id,
                   organization_id = excluded.organization_id, position = excluded.position,
                   data = excluded.data, mark = excluded.mark",
            )?
            .execute(params![id, k.project_id.map(|p| p.to_string()), org, k.position, data, mark])?,
    };
    Ok(())
}

/// Writes one row as the mirror keeps it (the same path as a pulled row), with the current mark.
pub(crate) fn store<T: Serialize>(tx: &Transaction<'_>, table: Table, id: Uuid, row: &T) -> Result<()> {
    let raw: Box<RawValue> = RawValue::from_string(serde_json::to_string(row)?)?;
    let mark: i64 = tx.query_row("SELECT mark FROM sync_state WHERE id = 1", [], |r| r.get(0))?;
    upsert(tx, table, id, &raw, mark)
}

/// Removes a project and its generations (a delete made here, or one the server confirmed).
pub(crate) fn delete_project(tx: &Transaction<'_>, id: Uuid) -> Result<()> {
    tx.execute("DELETE FROM generations WHERE project_id = ?1", params![id.to_string()])?;
    tx.execute("DELETE FROM projects WHERE id = ?1", params![id.to_string()])?;
    Ok(())
}

/// Replaces the mirror's footage list of `project` with `items`, as the server has it now.
pub(crate) fn replace_footage(mirror: &Mirror, project: Uuid, items: &[Footage]) -> Result<()> {
    let mut conn = mirror.lock();
    let tx = write(&mut conn)?;
    let keep: Vec<String> = items.iter().map(|f| f.id.to_string()).collect();
    let kept = serde_json::to_string(&keep)?;
    tx.execute(
        "DELETE FROM footage WHERE project_id = ?1 AND id NOT IN (SELECT value FROM json_each(?2))",
        params![project.to_string(), kept],
    )?;
    for item in items {
        store(&tx, Table::Footage, item.id, item)?;
    }
    tx.commit()?;
    Ok(())
}

/// Removes one footage item (the server removed it).
pub(crate) fn forget_footage(mirror: &Mirror, id: Uuid) -> Result<()> {
    mirror.lock().execute("DELETE FROM footage WHERE id = ?1", params![id.to_string()])?;
    Ok(())
}

/// Writes one generation the server just returned (the feed brings it again later, unchanged).
pub fn store_generation(mirror: &Mirror, generation: &Generation) -> Result<()> {
    let mut conn = mirror.lock();
    let tx = write(&mut conn)?;
    store(&tx, Table::Generations, generation.id, generation)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_file_is_moved_aside_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mirror.sqlite");
        std::fs::write(&path, b"this is not a database, it was overwritten by something else").unwrap();
        let mirror = Mirror::open(&path).unwrap();
        let aside = mirror.recovered_from.clone().expect("the damaged file must be kept aside");
        assert!(aside.exists());
        assert_eq!(mirror.projects(None).unwrap(), vec![]);
        let version: i64 = mirror.lock().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, latest_version());
        drop(mirror);
        assert!(Mirror::open(&path).unwrap().recovered_from.is_none(), "a healthy file opens as it is");
    }

    #[test]
    fn a_large_cleanly_closed_file_gets_the_quick_open_and_an_overwritten_one_is_still_caught() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mirror.sqlite");
        {
            let mirror = Mirror::open(&path).unwrap();
            let blob = vec![7u8; (ALWAYS_CHECK_BELOW_BYTES + (1 << 20)) as usize];
            mirror.lock().execute("INSERT INTO organizations (id, data) VALUES ('big', ?1)", params![blob]).unwrap();
        }
        assert!(!PathBuf::from(format!("{}-wal", path.display())).exists(), "closed cleanly");
        assert!(!needs_full_check(&path), "large, checked today, closed cleanly: the quick open");
        drop(Mirror::open(&path).unwrap());
        // A clean-looking file whose header was overwritten is still refused and set aside.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[..16].copy_from_slice(b"not sqlite at al");
        std::fs::write(&path, bytes).unwrap();
        let mirror = Mirror::open(&path).unwrap();
        assert!(mirror.recovered_from.is_some());
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mirror.sqlite");
        drop(Mirror::open(&path).unwrap());
        Connection::open(&path).unwrap().pragma_update(None, "user_version", latest_version() + 1).unwrap();
        let err = Mirror::open(&path).unwrap_err();
        assert!(matches!(err, ClientError::MirrorTooNew { .. }), "{err}");
        assert!(path.exists());
    }

    #[test]
    fn the_project_list_is_read_a_page_at_a_time_newest_first_with_the_count_of_matches() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = Mirror::open(&dir.path().join("mirror.sqlite")).unwrap();
        for i in 0..250u32 {
            let id = Uuid::new_v4();
            let (name, prompt) = (format!("Project {i:03}"), if i % 10 == 0 { "neon_rain 100%" } else { "dust" });
            let project = serde_json::json!({
                "id": id, "organization_id": Uuid::nil(), "user_id": Uuid::nil(),
                "name": name, "prompt": prompt, "audio_path": "a.mp3",
            });
            mirror
                .lock()
                .execute(
                    "INSERT INTO projects (id, organization_id, name, updated_at, data) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        id.to_string(),
                        Uuid::nil().to_string(),
                        name,
                        format!("2026-01-01T00:{:02}:{:02}Z", i / 60, i % 60),
                        project.to_string()
                    ],
                )
                .unwrap();
        }
        let names = |page: &ProjectPage| page.projects.iter().map(|p| p.project.name.clone()).collect::<Vec<_>>();

        let first = mirror.project_page(None, 0, Some(100)).unwrap();
        assert_eq!((first.total, first.offset, first.projects.len()), (250, 0, 100));
        assert_eq!(names(&first)[..2], ["Project 249", "Project 248"], "newest first");
        let last = mirror.project_page(None, 200, Some(100)).unwrap();
        assert_eq!((last.total, last.offset, last.projects.len()), (250, 200, 50));
        assert_eq!(names(&last).last().unwrap(), "Project 000");
        let beyond = mirror.project_page(None, 300, Some(100)).unwrap();
        assert_eq!((beyond.total, beyond.projects.len()), (250, 0));
        let all = mirror.projects(None).unwrap();
        assert_eq!(all.len(), 250);
        assert_eq!(all[200..], last.projects[..], "pages are slices of the whole list");

        // The search matches the prompt, with % and _ taken literally, and counts only matches.
        let found = mirror.project_page(Some("RAIN 100%"), 0, Some(10)).unwrap();
        assert_eq!((found.total, found.projects.len()), (25, 10));
        assert_eq!(names(&found)[0], "Project 240");
        assert_eq!(mirror.project_page(Some("rain_1"), 0, Some(10)).unwrap().total, 0, "_ is not a wildcard");
        assert_eq!(mirror.project_page(Some("Project 24"), 0, None).unwrap().total, 10);

        // The first page reads the list's index in order and stops: no sort of every project.
        let plan: Vec<String> = mirror
            .lock()
            .prepare(&format!("EXPLAIN QUERY PLAN {}", project_page_sql("WHERE ?1 IS NULL")))
            .unwrap()
            .query_map(params![Option::<String>::None, 100, 0], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert!(plan.iter().any(|step| step.contains("USING INDEX projects_by_update")), "{plan:?}");
        assert!(!plan.iter().any(|step| step.contains("TEMP B-TREE")), "{plan:?}");
    }

    #[test]
    fn a_mirror_made_by_the_first_migration_alone_is_upgraded_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mirror.sqlite");
        let id = Uuid::new_v4();
        {
            let mut conn = Connection::open(&path).unwrap();
            migrate_to(&mut conn, 1).unwrap();
            let project = serde_json::json!({
                "id": id, "organization_id": Uuid::nil(), "user_id": Uuid::nil(),
                "name": "From version 1", "prompt": "p", "audio_path": "a.mp3",
            });
            conn.execute(
                "INSERT INTO projects (id, organization_id, name, data) VALUES (?1, ?2, 'From version 1', ?3)",
                params![id.to_string(), Uuid::nil().to_string(), project.to_string()],
            )
            .unwrap();
            conn.execute("UPDATE sync_state SET cursor = 'kept-cursor' WHERE id = 1", []).unwrap();
            let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
            assert_eq!(v, 1);
            assert!(conn.prepare("SELECT * FROM outbox").is_err(), "version 1 has no outbox yet");
        }
        let mirror = Mirror::open(&path).unwrap();
        assert!(mirror.recovered_from.is_none());
        let conn = mirror.lock();
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, latest_version());
        let cursor: String = conn.query_row("SELECT cursor FROM sync_state", [], |r| r.get(0)).unwrap();
        assert_eq!(cursor, "kept-cursor");
        let queued: i64 = conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0)).unwrap();
        assert_eq!(queued, 0);
        drop(conn);
        let projects = mirror.projects(None).unwrap();
        assert_eq!(projects.len(), 1);
        assert_eq!((projects[0].project.id, projects[0].project.name.as_str()), (id, "From version 1"));
        assert!(mirror.footage(id).unwrap().is_empty(), "version 4 adds the footage table");
    }

    #[test]
    fn version_5_lets_the_media_cache_hold_posters_and_keeps_what_it_held() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("mirror.sqlite")).unwrap();
        migrate_to(&mut conn, 4).unwrap();
        let kept = "INSERT INTO media_cache (generation_id, kind, path, size, last_used_at) VALUES ('g', 'video', '/v.mp4', 7, 'now')";
        conn.execute(kept, []).unwrap();
        let poster = "INSERT INTO media_cache (generation_id, kind, path, size, last_used_at) VALUES ('f', 'poster', '/f.jpg', 3, 'now')";
        assert!(conn.execute(poster, []).is_err(), "version 4 knows no posters");
        migrate(&mut conn).unwrap();
        conn.execute(poster, []).unwrap();
        let rows: i64 = conn.query_row("SELECT sum(size) FROM media_cache", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 10, "the cached video is still indexed");
        let odd = "INSERT INTO media_cache (generation_id, kind, path, size, last_used_at) VALUES ('x', 'other', '/x', 1, 'now')";
        assert!(conn.execute(odd, []).is_err(), "the kinds are still checked");
    }

    #[test]
    fn a_failing_migration_leaves_the_database_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mirror.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        migrate_to(&mut conn, 1).unwrap();
        // Something in the way of migration 2: it fails, and nothing of it stays.
        conn.execute_batch("CREATE TABLE uploads (x INTEGER)").unwrap();
        assert!(migrate(&mut conn).is_err());
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, 1, "all or nothing");
        assert!(conn.prepare("SELECT * FROM outbox").is_err(), "no part of a failed migration remains");
    }

    /// The SHA-256 of every committed migration of the mirror. A new migration adds a line; a
    /// changed line means a committed migration was edited, which a mirror that applied it never
    /// runs again: write a new migration instead.
    const COMMITTED: [(i64, &str); 6] = [
        (1, "a95fa46a00b24119869d9b208cdc569d2bd67531b5213143a484757b0696469e"),
        (2, "d673a34d0b4f94114f163980f96a18946906078b5038d8c2bccd5150d1403ea5"),
        (3, "b69ef7c0ff5c8b185837c04a28bbf38e0bd647277cdc258bc511d6c2aa7acd68"),
        (4, "5486fefc860be76c24875b1a77ae868b38a6abb5b86c8d29e8e9e2c7fe72d4cc"),
        (5, "d55dbb1c93afc6c0f8f1b0d515f2163f164bd9eb58187a026b0ac91b823aee87"),
        (6, "e32b8ed3e3726c3829cc9d9d7c8b310a90bc73f5a2515c014c3a7fffbcdd38fd"),
    ];

    #[test]
    fn no_committed_migration_changes() {
        use sha2::Digest;
        for (version, checksum) in COMMITTED {
            let now = MIGRATIONS.iter().find(|m| m.0 == version).map(|m| hex::encode(sha2::Sha256::digest(m.2)));
            assert_eq!(now.as_deref(), Some(checksum), "mirror migration {version} changed after it was committed");
        }
        assert_eq!(MIGRATIONS.len(), COMMITTED.len(), "a new mirror migration: pin its checksum in COMMITTED");
    }

    #[test]
    fn migrations_are_numbered_and_wal_and_foreign_keys_are_on() {
        assert!(MIGRATIONS.len() >= 2);
        let dir = tempfile::tempdir().unwrap();
        let mirror = Mirror::open(&dir.path().join("m.sqlite")).unwrap();
        let conn = mirror.lock();
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        let fks: i64 = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
        assert_eq!((mode.as_str(), fks), ("wal", 1));
    }
}
