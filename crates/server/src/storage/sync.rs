//! The change feed. A page is built entirely inside Postgres (rows to JSON in one statement) and
//! passed through as text, so a full pull costs little more than reading the rows. Invariant:
//! only entries of transactions below the snapshot's xmin are handed out, in (txid, seq) order,
//! so a transaction that commits late can never land behind a cursor (see migration 0004).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use uuid::Uuid;

use crate::db::{Caller, Tx};
use crate::error::Result;

/// A position in the feed: after the entry (txid, seq) of the database with this epoch, issued
/// when tombstones up to `horizon` had been pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub epoch: Uuid,
    pub txid: u64,
    pub seq: i64,
    pub horizon: u64,
}

impl Cursor {
    pub fn start(epoch: Uuid, horizon: u64) -> Self {
        Self { epoch, txid: 0, seq: 0, horizon }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1.{}.{}.{}.{}", self.epoch.simple(), self.txid, self.seq, self.horizon))
    }

    /// `None` for anything that is not a cursor this server wrote.
    pub fn decode(s: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(s.trim()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split('.');
        if parts.next()? != "v1" {
            return None;
        }
        let epoch = Uuid::try_parse(parts.next()?).ok()?;
        let txid = parts.next()?.parse().ok()?;
        let seq = parts.next()?.parse().ok()?;
        let horizon = parts.next()?.parse().ok()?;
        if parts.next().is_some() || seq < 0 {
            return None;
        }
        Some(Self { epoch, txid, seq, horizon })
    }
}

/// Where a request's cursor leads: on from a position, or back to the start (reset).
#[derive(Debug, PartialEq, Eq)]
pub enum Resume {
    From(Cursor),
    Reset,
}

/// Pure decision. A cursor from another database epoch, or unreadable, resets. So does one
/// behind tombstones pruned since it was issued: the client may hold rows whose deletion it can
/// no longer learn. Tombstones pruned before the cursor was issued do not matter: the client
/// started its pull after them, so never held those rows. The resumed cursor moves to the
/// current horizon.
pub fn resume(cursor: Option<&str>, epoch: Uuid, horizon: u64) -> Resume {
    match cursor {
        None | Some("") => Resume::From(Cursor::start(epoch, horizon)),
        Some(text) => match Cursor::decode(text) {
            Some(c) if c.epoch == epoch && (c.horizon >= horizon || c.txid >= horizon) => {
                Resume::From(Cursor { horizon, ..c })
            }
            _ => Resume::Reset,
        },
    }
}

pub struct Page {
    /// A JSON array of changes, rendered by Postgres.
    pub changes_json: String,
    pub count: i64,
    pub next: Cursor,
}

pub async fn state(tx: &mut Tx) -> Result<(Uuid, u64)> {
    let (epoch, horizon): (Uuid, String) = sqlx::query_as("SELECT epoch, horizon::text FROM sync.state")
        .fetch_one(&mut **tx)
        .await?;
    Ok((epoch, horizon.parse().unwrap_or(u64::MAX)))
}

const PAGE_SQL: &str = r#"
WITH page AS (
  SELECT v.table_name, v.row_id, v.txid, v.seq, v.deleted
  FROM sync.row_versions v
  WHERE v.organization_id = $1
    AND (v.txid, v.seq) > ($2::text::xid8, $3::bigint)
    AND v.txid < pg_snapshot_xmin(pg_current_snapshot())
  ORDER BY v.txid, v.seq
  LIMIT $4
), changes AS (
  SELECT page.txid, page.seq, page.table_name, page.row_id,
         coalesce(row_to_json(o), row_to_json(u), row_to_json(p), row_to_json(g), row_to_json(l)) AS row
  FROM page
  LEFT JOIN organizations o ON page.table_name = 'organizations' AND NOT page.deleted AND o.id = page.row_id
  LEFT JOIN users u ON page.table_name = 'users' AND NOT page.deleted AND u.id = page.row_id
  LEFT JOIN projects p ON page.table_name = 'projects' AND NOT page.deleted AND p.id = page.row_id
  LEFT JOIN generations g ON page.table_name = 'generations' AND NOT page.deleted AND g.id = page.row_id
  LEFT JOIN system_logs l ON page.table_name = 'system_logs' AND NOT page.deleted AND l.id = page.row_id
)
SELECT coalesce(json_agg(json_build_object(
         'table', table_name,
         'op', CASE WHEN row IS NULL THEN 'delete' ELSE 'upsert' END,
         'id', row_id,
         'row', row) ORDER BY txid, seq)::text, '[]'),
       count(*),
       (max(txid))::text,
       (array_agg(seq ORDER BY txid DESC, seq DESC))[1]
FROM changes
"#;

pub async fn page(tx: &mut Tx, caller: &Caller, from: Cursor, limit: u32) -> Result<Page> {
    let (changes_json, count, last_txid, last_seq): (String, i64, Option<String>, Option<i64>) =
        sqlx::query_as(PAGE_SQL)
            .bind(caller.organization_id)
            .bind(from.txid.to_string())
            .bind(from.seq)
            .bind(i64::from(limit))
            .fetch_one(&mut **tx)
            .await?;
    let next = match (last_txid.and_then(|t| t.parse().ok()), last_seq) {
        (Some(txid), Some(seq)) => Cursor { txid, seq, ..from },
        _ => from,
    };
    Ok(Page { changes_json, count, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let c = Cursor { epoch: Uuid::new_v4(), txid: 9_000_000_123, seq: 42, horizon: 77 };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
    }

    #[test]
    fn resume_decisions() {
        let epoch = Uuid::new_v4();
        let at = |txid, horizon| Cursor { epoch, txid, seq: 7, horizon };
        let foreign = Cursor { epoch: Uuid::new_v4(), txid: 900, seq: 1, horizon: 0 }.encode();
        // (cursor, current horizon, expected)
        let cases: Vec<(Option<String>, u64, Resume)> = vec![
            (None, 0, Resume::From(Cursor::start(epoch, 0))),
            (Some(String::new()), 500, Resume::From(Cursor::start(epoch, 500))),
            // Ahead of everything pruned: continue, under the current horizon.
            (Some(at(900, 100).encode()), 500, Resume::From(at(900, 500))),
            (Some(at(500, 100).encode()), 500, Resume::From(at(500, 500))),
            // Behind tombstones pruned since it was issued: they may be deletes it never saw.
            (Some(at(499, 100).encode()), 500, Resume::Reset),
            // Behind the horizon, but issued after that pruning (a fresh pull in progress).
            (Some(at(3, 500).encode()), 500, Resume::From(at(3, 500))),
            (Some(foreign), 0, Resume::Reset),
            (Some("garbage!".into()), 0, Resume::Reset),
        ];
        for (cursor, horizon, expected) in cases {
            assert_eq!(resume(cursor.as_deref(), epoch, horizon), expected, "cursor {cursor:?} horizon {horizon}");
        }
    }

    #[test]
    fn tampered_cursors_do_not_decode() {
        for bad in ["", "djE", &URL_SAFE_NO_PAD.encode("v2.x.1.1"), &URL_SAFE_NO_PAD.encode("v1.00000000000000000000000000000000.1.-1.0"),
            &URL_SAFE_NO_PAD.encode("v1.00000000000000000000000000000000.1.1")] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
