//! Pulling the change feed (`GET /v1/sync`) into the mirror. Invariants:
//! - each page is applied in one SQLite transaction together with the cursor after it, so a
//!   killed process resumes exactly where the last committed page left off;
//! - tombstones delete; local changes still in the outbox are laid back over what a page wrote;
//! - on `reset` the mirror is rebuilt without emptying it first: the pull rewrites every row with
//!   a new mark, and only when it completes are the rows it did not see swept away.

use std::sync::Arc;

use chrono::Utc;
use reqwest::Method;
use resonance_api::sync::{Op, Table, CURSOR_HEADER, HAS_MORE_HEADER, MAX_PAGE_LIMIT};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::error::{ClientError, ErrorKind, Result};
use crate::mirror::Mirror;
use crate::outbox;
use crate::session::Session;

/// Rows per page: large pages keep a full pull fast; each is still one short transaction.
pub const PAGE_LIMIT: u32 = 10_000;
const _: () = assert!(PAGE_LIMIT <= MAX_PAGE_LIMIT);

pub use resonance_api::sync::SyncState;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SyncStatus {
    pub state: SyncState,
    pub last_success_at: Option<String>,
    pub pending_changes: u32,
    pub conflicts: u32,
    pub last_error: Option<String>,
}

/// What one pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullReport {
    pub pages: u32,
    /// Rows written that changed (a row sent again as it was is not counted).
    pub upserts: u64,
    pub deletes: u64,
    /// The server asked for a rebuild (the cursor was too old or from another database).
    pub rebuilt: bool,
}

impl PullReport {
    /// The pull changed or removed rows (what is shown from the mirror may be stale); rows sent
    /// again as they were do not count.
    pub fn changed(&self) -> bool {
        self.upserts > 0 || self.deletes > 0 || self.rebuilt
    }
}

struct Cursor {
    cursor: Option<String>,
    mark: i64,
}

fn cursor(conn: &Connection) -> Result<Cursor> {
    Ok(conn.query_row("SELECT cursor, mark FROM sync_state WHERE id = 1", [], |r| {
        Ok(Cursor { cursor: r.get(0)?, mark: r.get(1)? })
    })?)
}

/// Starts a rebuild: forget the cursor, write with a new mark, sweep older marks at the end.
fn start_rebuild(conn: &mut Connection) -> Result<()> {
    conn.execute("UPDATE sync_state SET cursor = NULL, mark = mark + 1, rebuild_from = mark + 1 WHERE id = 1", [])?;
    Ok(())
}

/// Ends a rebuild: rows the full pull did not write are gone on the server. Projects with
/// local changes still queued stay (a project created offline is not on the server yet).
fn finish_rebuild(conn: &mut Connection) -> Result<()> {
    let tx = crate::mirror::write(conn)?;
    let from: Option<i64> = tx.query_row("SELECT rebuild_from FROM sync_state WHERE id = 1", [], |r| r.get(0))?;
    if let Some(from) = from {
        for table in Table::ALL {
            let keep_local =
                if table == Table::Projects { " AND id NOT IN (SELECT project_id FROM outbox)" } else { "" };
            tx.execute(&format!("DELETE FROM {} WHERE mark < ?1{keep_local}", table.as_str()), params![from])?;
        }
        tx.execute("UPDATE sync_state SET rebuild_from = NULL WHERE id = 1", [])?;
    }
    tx.commit()?;
    Ok(())
}

/// A page as it comes off the wire. Rows stay the server's JSON text: the mirror stores them as
/// they are (no decode and re-encode), and reads only the columns it indexes.
#[derive(Deserialize)]
pub struct RawPage<'a> {
    #[serde(default)]
    pub reset: bool,
    #[serde(borrow)]
    pub changes: Vec<RawChange<'a>>,
    pub cursor: Option<String>,
    pub has_more: bool,
}

#[derive(Deserialize)]
pub struct RawChange<'a> {
    /// `None` for a table this version does not know (a newer server's): such changes are
    /// skipped, so a new table never stops an older app's sync. The cursor moves past them, so
    /// a local migration that adds a mirrored table must also start a rebuild
    /// (`UPDATE sync_state SET cursor = NULL, …`) for the rows skipped before it (0004 needs
    /// none: no version before it skipped a table).
    #[serde(deserialize_with = "known_table")]
    pub table: Option<Table>,
    pub op: Op,
    pub id: Uuid,
    #[serde(borrow, default)]
    pub row: Option<&'a RawValue>,
}

fn known_table<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Table>, D::Error> {
    let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
    Ok(Table::ALL.into_iter().find(|t| t.as_str() == name))
}

/// Applies one page and the cursor after it, in one transaction.
pub fn apply_page(conn: &mut Connection, page: &RawPage<'_>) -> Result<(u64, u64)> {
    let Cursor { mark, .. } = cursor(conn)?;
    let tx = crate::mirror::write(conn)?;
    let (mut upserts, mut deletes) = (0u64, 0u64);
    let mut touched: Vec<Uuid> = Vec::new();
    for change in &page.changes {
        let Some(table) = change.table else { continue };
        match (change.op, change.row) {
            (Op::Upsert, Some(row)) => {
                // A row the feed sends again as it is (a late commit's window re-delivers
                // what a scan already gave) is written for its mark but is no change.
                let same: bool = tx
                    .prepare_cached(&format!("SELECT data = ?2 FROM {} WHERE id = ?1", table.as_str()))?
                    .query_row(params![change.id.to_string(), row.get()], |r| r.get(0))
                    .optional()?
                    .unwrap_or(false);
                crate::mirror::upsert(&tx, table, change.id, row, mark)?;
                if !same {
                    upserts += 1;
                }
            }
            (Op::Delete, _) => {
                tx.prepare_cached(&format!("DELETE FROM {} WHERE id = ?1", table.as_str()))?
                    .execute(params![change.id.to_string()])?;
                deletes += 1;
            }
            (Op::Upsert, None) => {
                return Err(ClientError::Server {
                    status: 200,
                    message: format!("an upsert of {} without its row", change.id),
                })
            }
        }
        if table == Table::Projects {
            touched.push(change.id);
        }
    }
    outbox::overlay(&tx, &touched)?;
    tx.execute(
        "UPDATE sync_state SET cursor = ?1, last_error = NULL, last_error_kind = NULL WHERE id = 1",
        params![page.cursor],
    )?;
    tx.commit()?;
    Ok((upserts, deletes))
}

fn record_outcome(mirror: &Mirror, error: Option<&ClientError>) -> Result<()> {
    let conn = mirror.lock();
    match error {
        None => conn.execute(
            "UPDATE sync_state SET last_success_at = ?1, last_error = NULL, last_error_kind = NULL WHERE id = 1",
            params![Utc::now().to_rfc3339()],
        )?,
        Some(e) => conn.execute(
            "UPDATE sync_state SET last_error = ?1, last_error_kind = ?2 WHERE id = 1",
            params![e.to_string(), e.kind().as_str()],
        )?,
    };
    Ok(())
}

/// The path of the page after `cursor`.
fn page_path(cursor: Option<&str>) -> String {
    match cursor {
        // Cursors are base64url; anything else is escaped rather than trusted.
        Some(c) => format!(
            "/v1/sync?limit={PAGE_LIMIT}&cursor={}",
            c.chars()
                .map(|ch| if ch.is_ascii_alphanumeric() || "-_.~".contains(ch) {
                    ch.to_string()
                } else {
                    format!("%{:02X}", ch as u32 & 0xFF)
                })
                .collect::<String>()
        ),
        None => format!("/v1/sync?limit={PAGE_LIMIT}"),
    }
}

type Fetch = tokio::task::JoinHandle<Result<reqwest::Response>>;

fn fetch(session: &Arc<Session>, cursor: Option<String>) -> Fetch {
    let session = session.clone();
    tokio::spawn(async move { session.request(Method::GET, &page_path(cursor.as_deref()), None, None).await })
}

async fn joined(f: Fetch) -> Result<reqwest::Response> {
    f.await.map_err(|e| ClientError::Internal(format!("a sync request failed: {e}")))?
}

/// Pulls until the feed has nothing more. The next page is requested (from the cursor in the
/// response headers) while this one is decoded and applied. One pull at a time per mirror: a
/// pull asked for during another (the watcher's during the engine's round) waits for it, then
/// starts from where it ended.
pub async fn pull(session: &Arc<Session>, mirror: &Arc<Mirror>) -> Result<PullReport> {
    let _turn = mirror.pull_turn().await;
    let result = pull_inner(session, mirror).await;
    record_outcome(mirror, result.as_ref().err())?;
    result
}

async fn pull_inner(session: &Arc<Session>, mirror: &Arc<Mirror>) -> Result<PullReport> {
    let mut report = PullReport::default();
    let start = cursor(&mirror.lock())?.cursor;
    let mut next = Some(fetch(session, start));
    while let Some(pending) = next.take() {
        let resp = joined(pending).await?;
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        if header(HAS_MORE_HEADER).as_deref() == Some("true") {
            next = Some(fetch(session, header(CURSOR_HEADER)));
        }
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| ClientError::Server { status, message: e.to_string() })?;
        let m = mirror.clone();
        // Decoded and applied off the async threads: one SQLite transaction per page.
        let applied = tokio::task::spawn_blocking(move || -> Result<Option<(u64, u64, bool)>> {
            let page: RawPage<'_> = serde_json::from_slice(&body)
                .map_err(|e| ClientError::Server { status, message: format!("a sync page could not be read: {e}") })?;
            if page.reset {
                return Ok(None);
            }
            let (upserts, deletes) = apply_page(&mut m.lock(), &page)?;
            Ok(Some((upserts, deletes, page.has_more)))
        })
        .await
        .map_err(|e| ClientError::Internal(format!("applying a page failed: {e}")))??;
        report.pages += 1;
        let Some((upserts, deletes, has_more)) = applied else {
            tracing::info!("the server asked for a full resync; rebuilding the mirror in place");
            if let Some(stale) = next.take() {
                stale.abort();
            }
            start_rebuild(&mut mirror.lock())?;
            report.rebuilt = true;
            next = Some(fetch(session, None));
            continue;
        };
        report.upserts += upserts;
        report.deletes += deletes;
        if !has_more {
            finish_rebuild(&mut mirror.lock())?;
            if let Some(stale) = next.take() {
                stale.abort();
            }
        }
    }
    Ok(report)
}

/// The status as stored (the live `syncing` state is the engine's to add).
pub fn status(mirror: &Mirror) -> Result<SyncStatus> {
    let conn = mirror.lock();
    let (last_success_at, last_error, kind): (Option<String>, Option<String>, Option<String>) =
        conn.query_row("SELECT last_success_at, last_error, last_error_kind FROM sync_state WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let (pending, conflicts): (u32, u32) = conn.query_row(
        "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'conflict') FROM outbox",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // The outbox's first waiting entry tells whether sending is failing too.
    let outbox_kind: Option<String> = conn
        .query_row("SELECT last_error_kind FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT 1", [], |r| r.get(0))
        .optional()?
        .flatten();
    // A kind this version does not know (written by a newer one) is an error like any other.
    let known = |k: Option<String>| k.map(|k| k.parse::<ErrorKind>().unwrap_or(ErrorKind::Internal));
    let state = match (known(kind), known(outbox_kind)) {
        (Some(ErrorKind::Offline), _) | (None, Some(ErrorKind::Offline)) => SyncState::Offline,
        (Some(ErrorKind::UpdateRequired), _) => SyncState::UpdateRequired,
        (Some(_), _) => SyncState::Error,
        _ => SyncState::Idle,
    };
    Ok(SyncStatus { state, last_success_at, pending_changes: pending, conflicts, last_error })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_passed_through_or_escaped() {
        assert_eq!(page_path(None), format!("/v1/sync?limit={PAGE_LIMIT}"));
        assert_eq!(page_path(Some("djI_abc-9")), format!("/v1/sync?limit={PAGE_LIMIT}&cursor=djI_abc-9"));
        assert!(page_path(Some("a&b=c")).ends_with("cursor=a%26b%3Dc"));
    }

    #[test]
    fn footage_is_mirrored_in_order_and_a_table_this_version_does_not_know_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = Mirror::open(&dir.path().join("mirror.sqlite")).unwrap();
        let (project, org) = (Uuid::new_v4(), Uuid::new_v4());
        let item = |id: Uuid, position: i32, name: &str| {
            serde_json::json!({"id": id, "organization_id": org, "project_id": project, "user_id": org,
                "kind": "video", "filename": name, "object_key": "k", "poster_key": "p", "sha256": "s",
                "size": 10, "duration": 2.0, "width": 320, "height": 240, "codec": "h264", "position": position,
                "in_point": null, "out_point": null, "created_at": null, "updated_at": null})
        };
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let text = serde_json::json!({"changes": [
            {"table": "footage", "op": "upsert", "id": b, "row": item(b, 1, "second")},
            {"table": "footage", "op": "upsert", "id": a, "row": item(a, 0, "first")},
            {"table": "playlists", "op": "upsert", "id": Uuid::new_v4(), "row": {"id": 1}},
        ], "cursor": "c1", "has_more": false})
        .to_string();
        let page: RawPage<'_> = serde_json::from_str(&text).unwrap();
        assert_eq!(apply_page(&mut mirror.lock(), &page).unwrap(), (2, 0));
        let names: Vec<_> = mirror.footage(project).unwrap().into_iter().filter_map(|f| f.filename).collect();
        assert_eq!(names, ["first", "second"]);
        let text = serde_json::json!({"changes": [{"table": "footage", "op": "delete", "id": a}],
            "cursor": "c2", "has_more": false})
        .to_string();
        let page: RawPage<'_> = serde_json::from_str(&text).unwrap();
        apply_page(&mut mirror.lock(), &page).unwrap();
        assert_eq!(mirror.footage(project).unwrap().len(), 1);
        assert!(mirror.footage_item(a).unwrap().is_none());
    }
}
