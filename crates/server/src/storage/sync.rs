//! The change feed. A page is one statement (so one snapshot) whose rows arrive in Postgres'
//! binary format and are written straight to JSON here: rendering JSON inside Postgres
//! (row_to_json) costs more than twice what COPY does, this path stays close to it. Invariant:
//! only entries of transactions below the snapshot's xmin are handed out, in (txid, seq) order,
//! so a transaction that commits late can never land behind a cursor (see migration 0004).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;
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
    /// The JSON array of changes (UTF-8).
    pub changes_json: Vec<u8>,
    pub count: usize,
    pub next: Cursor,
}

pub async fn state(tx: &mut Tx) -> Result<(Uuid, u64)> {
    let (epoch, horizon): (Uuid, String) =
        sqlx::query_as("SELECT epoch, horizon::text FROM sync.state").fetch_one(&mut **tx).await?;
    Ok((epoch, horizon.parse().unwrap_or(u64::MAX)))
}

/// How a column travels: Postgres sends it in binary, and it is written to JSON as this kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Uuid,
    /// Any integer column, sent as int8.
    Int,
    /// A DECIMAL column, sent as float8 (the wire's f64).
    Float,
    Time,
    Json,
}

/// Every column of each synced table, in the schema's order. A test compares these with
/// information_schema, so a column added to a table cannot silently miss the wire.
pub const COLUMNS: [(&str, &[(&str, Kind)]); 5] = {
    use Kind::*;
    [
        (
            "organizations",
            &[
                ("id", Uuid),
                ("name", Text),
                ("slug", Text),
                ("stripe_customer_id", Text),
                ("stripe_subscription_id", Text),
                ("subscription_status", Text),
                ("subscription_plan", Text),
                ("trial_ends_at", Time),
                ("generations_this_month", Int),
                ("generations_limit", Int),
                ("settings", Json),
                ("created_at", Time),
                ("updated_at", Time),
            ],
        ),
        (
            "users",
            &[
                ("id", Uuid),
                ("organization_id", Uuid),
                ("email", Text),
                ("name", Text),
                ("role", Text),
                ("created_at", Time),
            ],
        ),
        (
            "projects",
            &[
                ("id", Uuid),
                ("organization_id", Uuid),
                ("user_id", Uuid),
                ("name", Text),
                ("description", Text),
                ("prompt", Text),
                ("audio_path", Text),
                ("audio_duration", Float),
                ("resolution", Text),
                ("style_preference", Text),
                ("footage_visibility", Float),
                ("effect_intensity", Float),
                ("status", Text),
                ("created_at", Time),
                ("updated_at", Time),
            ],
        ),
        (
            "generations",
            &[
                ("id", Uuid),
                ("project_id", Uuid),
                ("organization_id", Uuid),
                ("user_id", Uuid),
                ("seed", Text),
                ("generation_number", Int),
                ("audio_analysis", Json),
                ("visual_plan", Json),
                ("video_url", Text),
                ("thumbnail_url", Text),
                ("duration", Float),
                ("file_size", Int),
                ("render_time_seconds", Int),
                ("status", Text),
                ("error_message", Text),
                ("created_at", Time),
                ("completed_at", Time),
            ],
        ),
        (
            "system_logs",
            &[
                ("id", Uuid),
                ("organization_id", Uuid),
                ("user_id", Uuid),
                ("project_id", Uuid),
                ("generation_id", Uuid),
                ("action_type", Text),
                ("status", Text),
                ("severity", Text),
                ("message", Text),
                ("details", Json),
                ("error_message", Text),
                ("created_at", Time),
            ],
        ),
    ]
};

/// Columns before the tables' own: table_name, row_id, txid, seq, deleted.
const PAGE_COLUMNS: usize = 5;

/// One statement, so the page and its rows come from one snapshot. Each change looks up its row
/// by primary key in its own table only (the other lateral joins are cut by a one-time filter).
fn page_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let mut select = String::from("page.table_name, page.row_id, page.txid::text, page.seq, page.deleted");
        let mut joins = String::new();
        for (i, (table, columns)) in COLUMNS.iter().enumerate() {
            let inner: Vec<String> = columns
                .iter()
                .map(|(c, kind)| match kind {
                    Kind::Int => format!("a.{c}::int8 AS {c}"),
                    Kind::Float => format!("a.{c}::float8 AS {c}"),
                    _ => format!("a.{c}"),
                })
                .collect();
            for (c, _) in columns.iter() {
                select.push_str(&format!(", t{i}.{c}"));
            }
            joins.push_str(&format!(
                "\nLEFT JOIN LATERAL (SELECT {} FROM {table} a WHERE page.table_name = '{table}' AND NOT page.deleted \
                 AND a.id = page.row_id) t{i} ON true",
                inner.join(", ")
            ));
        }
        format!(
            "WITH page AS MATERIALIZED (\n\
               SELECT v.table_name, v.row_id, v.txid, v.seq, v.deleted FROM sync.row_versions v\n\
               WHERE v.organization_id = $1 AND (v.txid, v.seq) > ($2::text::xid8, $3::bigint)\n\
                 AND v.txid < pg_snapshot_xmin(pg_current_snapshot())\n\
               ORDER BY v.txid, v.seq LIMIT $4)\n\
             SELECT {select} FROM page{joins}"
        )
    })
}

fn write_str(out: &mut Vec<u8>, s: &str) -> Result<()> {
    serde_json::to_writer(&mut *out, s)?;
    Ok(())
}

/// Writes the value of column `index` of `row` as JSON.
fn write_value(out: &mut Vec<u8>, row: &PgRow, index: usize, kind: Kind) -> Result<()> {
    match kind {
        Kind::Text => match row.try_get::<Option<&str>, _>(index)? {
            Some(s) => write_str(out, s)?,
            None => out.extend_from_slice(b"null"),
        },
        Kind::Uuid => match row.try_get::<Option<Uuid>, _>(index)? {
            Some(u) => {
                out.push(b'"');
                out.extend_from_slice(u.hyphenated().encode_lower(&mut Uuid::encode_buffer()).as_bytes());
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        },
        Kind::Int => match row.try_get::<Option<i64>, _>(index)? {
            Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
            None => out.extend_from_slice(b"null"),
        },
        Kind::Float => match row.try_get::<Option<f64>, _>(index)? {
            Some(f) => serde_json::to_writer(&mut *out, &f)?,
            None => out.extend_from_slice(b"null"),
        },
        Kind::Time => match row.try_get::<Option<DateTime<Utc>>, _>(index)? {
            Some(t) => {
                out.push(b'"');
                out.extend_from_slice(t.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes());
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        },
        Kind::Json => match row.try_get::<Option<sqlx::types::JsonValue>, _>(index)? {
            Some(v) => serde_json::to_writer(&mut *out, &v)?,
            None => out.extend_from_slice(b"null"),
        },
    }
    Ok(())
}

/// Renders one change: `{"table":…,"op":…,"id":…,"row":{…}}`, or a tombstone without `row`.
fn write_change(out: &mut Vec<u8>, row: &PgRow) -> Result<()> {
    let table: &str = row.try_get(0)?;
    let id: Uuid = row.try_get(1)?;
    let mut offset = PAGE_COLUMNS;
    let mut columns: &[(&str, Kind)] = &[];
    for (name, cols) in COLUMNS.iter() {
        if *name == table {
            columns = cols;
            break;
        }
        offset += cols.len();
    }
    // A row that is gone (or a tombstone) has a NULL id in its lateral join.
    let present = !columns.is_empty() && row.try_get::<Option<Uuid>, _>(offset)?.is_some();
    out.extend_from_slice(b"{\"table\":");
    write_str(out, table)?;
    out.extend_from_slice(if present { b",\"op\":\"upsert\",\"id\":\"" } else { b",\"op\":\"delete\",\"id\":\"" });
    out.extend_from_slice(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()).as_bytes());
    out.push(b'"');
    if present {
        out.extend_from_slice(b",\"row\":{");
        for (i, (name, kind)) in columns.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            write_value(out, row, offset + i, *kind)?;
        }
        out.push(b'}');
    }
    out.push(b'}');
    Ok(())
}

pub async fn page(tx: &mut Tx, caller: &Caller, from: Cursor, limit: u32) -> Result<Page> {
    let mut rows = sqlx::query(page_sql())
        .bind(caller.organization_id)
        .bind(from.txid.to_string())
        .bind(from.seq)
        .bind(i64::from(limit))
        .fetch_all(&mut **tx)
        .await?;
    // The page arrives in order in practice; sorting here (cheaper than in Postgres, where the
    // planner cannot see that the joins keep the CTE's order) makes it a guarantee.
    let mut keys = Vec::with_capacity(rows.len());
    for row in &rows {
        let txid: &str = row.try_get(2)?;
        keys.push((txid.parse::<u64>().unwrap_or(u64::MAX), row.try_get::<i64, _>(3)?));
    }
    if !keys.is_sorted() {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| keys[i]);
        let mut slots: Vec<Option<PgRow>> = rows.into_iter().map(Some).collect();
        rows = order.into_iter().filter_map(|i| slots[i].take()).collect();
        keys.sort();
    }
    let mut out = Vec::with_capacity(rows.len() * 512 + 2);
    out.push(b'[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_change(&mut out, row)?;
    }
    out.push(b']');
    let next = match keys.last() {
        Some(&(txid, seq)) => Cursor { txid, seq, ..from },
        None => from,
    };
    Ok(Page { changes_json: out, count: rows.len(), next })
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
        for bad in [
            "",
            "djE",
            &URL_SAFE_NO_PAD.encode("v2.x.1.1"),
            &URL_SAFE_NO_PAD.encode("v1.00000000000000000000000000000000.1.-1.0"),
            &URL_SAFE_NO_PAD.encode("v1.00000000000000000000000000000000.1.1"),
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
