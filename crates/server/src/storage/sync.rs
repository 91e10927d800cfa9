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

/// Where a pull stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The initial pull: scanning table `table` (an index into [`COLUMNS`]) by key, after `after`.
    /// `start` is the snapshot xmin when the scan began: every change below it had finished, so
    /// the scan sees it; every change from it on comes from the log afterwards.
    Scan { start: u64, table: usize, after: Option<Uuid> },
    /// Following the change log after the entry (txid, seq).
    Log { txid: u64, seq: i64 },
}

/// A position in the feed of the database with this epoch, issued when tombstones up to
/// `horizon` had been pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub epoch: Uuid,
    pub horizon: u64,
    pub position: Position,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let text = match self.position {
            Position::Log { txid, seq } => format!("v2.{}.{}.L.{txid}.{seq}", self.epoch.simple(), self.horizon),
            Position::Scan { start, table, after } => {
                let after = after.map(|u| u.simple().to_string()).unwrap_or_else(|| "-".into());
                format!("v2.{}.{}.S.{start}.{table}.{after}", self.epoch.simple(), self.horizon)
            }
        };
        URL_SAFE_NO_PAD.encode(text)
    }

    /// `None` for anything that is not a cursor this server wrote.
    pub fn decode(s: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(s.trim()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let parts: Vec<&str> = text.split('.').collect();
        let (epoch, horizon) = match parts.as_slice() {
            ["v2", epoch, horizon, ..] => (Uuid::try_parse(epoch).ok()?, horizon.parse().ok()?),
            _ => return None,
        };
        let position = match parts.as_slice() {
            [_, _, _, "L", txid, seq] => {
                let seq: i64 = seq.parse().ok()?;
                (seq >= 0).then_some(Position::Log { txid: txid.parse().ok()?, seq })?
            }
            [_, _, _, "S", start, table, after] => {
                let table: usize = table.parse().ok()?;
                let after = if *after == "-" { None } else { Some(Uuid::try_parse(after).ok()?) };
                (table < COLUMNS.len()).then_some(Position::Scan { start: start.parse().ok()?, table, after })?
            }
            _ => return None,
        };
        Some(Self { epoch, horizon, position })
    }

    /// The log position this cursor has delivered everything up to: tombstones after it must
    /// still exist for the pull to be complete.
    fn log_txid(&self) -> u64 {
        match self.position {
            Position::Log { txid, .. } => txid,
            Position::Scan { start, .. } => start.saturating_sub(1),
        }
    }
}

/// Where a request's cursor leads.
#[derive(Debug, PartialEq, Eq)]
pub enum Resume {
    /// No cursor: an initial pull, starting with the table scan.
    Start {
        epoch: Uuid,
        horizon: u64,
    },
    From(Cursor),
    /// Discard and pull again from no cursor.
    Reset,
}

/// Pure decision. A cursor from another database epoch, or unreadable, resets. So does one
/// behind tombstones pruned since it was issued: the client may hold rows whose deletion it can
/// no longer learn. Tombstones pruned before the cursor was issued do not matter: the client
/// started its pull after them, so never held those rows. The resumed cursor moves to the
/// current horizon.
pub fn resume(cursor: Option<&str>, epoch: Uuid, horizon: u64) -> Resume {
    match cursor {
        None | Some("") => Resume::Start { epoch, horizon },
        Some(text) => match Cursor::decode(text) {
            Some(c) if c.epoch == epoch && (c.horizon >= horizon || c.log_txid() >= horizon) => {
                Resume::From(Cursor { horizon, ..c })
            }
            _ => Resume::Reset,
        },
    }
}

pub struct Page {
    pub next: Cursor,
    /// More is ready now: ask again at once.
    pub has_more: bool,
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
pub const COLUMNS: [(&str, &[(&str, Kind)]); 6] = {
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
                ("tempo_bpm", Float),
                ("aspect", Text),
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
                ("trim_start", Float),
                ("trim_end", Float),
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
        // Last: a scan cursor holds a table's index.
        (
            "footage",
            &[
                ("id", Uuid),
                ("organization_id", Uuid),
                ("project_id", Uuid),
                ("user_id", Uuid),
                ("kind", Text),
                ("filename", Text),
                ("object_key", Text),
                ("poster_key", Text),
                ("sha256", Text),
                ("size", Int),
                ("duration", Float),
                ("width", Int),
                ("height", Int),
                ("codec", Text),
                ("position", Int),
                ("in_point", Float),
                ("out_point", Float),
                ("created_at", Time),
                ("updated_at", Time),
            ],
        ),
    ]
};

/// The columns of table alias `a`, cast to what [`write_value`] reads, keeping their names.
fn projection(columns: &[(&str, Kind)]) -> String {
    let cols: Vec<String> = columns
        .iter()
        .map(|(c, kind)| match kind {
            Kind::Int => format!("a.{c}::int8 AS {c}"),
            Kind::Float => format!("a.{c}::float8 AS {c}"),
            _ => format!("a.{c}"),
        })
        .collect();
    cols.join(", ")
}

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
            for (c, _) in columns.iter() {
                select.push_str(&format!(", t{i}.{c}"));
            }
            joins.push_str(&format!(
                "\nLEFT JOIN LATERAL (SELECT {} FROM {table} a WHERE page.table_name = '{table}' AND NOT page.deleted \
                 AND a.id = page.row_id) t{i} ON true",
                projection(columns)
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

/// `"2026-11-25T14:41:41.123456Z"` (RFC 3339, UTC, microseconds: Postgres' precision), written
/// without the allocation chrono's formatter makes; years outside 0..=9999 fall back to it.
fn write_time(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    if !(0..=9999).contains(&year) {
        out.push(b'"');
        out.extend_from_slice(t.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes());
        out.push(b'"');
        return;
    }
    let digits = |out: &mut Vec<u8>, mut n: u32, width: usize| {
        let start = out.len();
        for _ in 0..width {
            out.push(b'0' + (n % 10) as u8);
            n /= 10;
        }
        out[start..].reverse();
    };
    out.push(b'"');
    digits(out, year.unsigned_abs(), 4);
    out.push(b'-');
    digits(out, t.month(), 2);
    out.push(b'-');
    digits(out, t.day(), 2);
    out.push(b'T');
    digits(out, t.hour(), 2);
    out.push(b':');
    digits(out, t.minute(), 2);
    out.push(b':');
    // A leap second arrives as nanosecond >= 1e9; chrono's own formatter knows what to do.
    let nanos = t.nanosecond();
    digits(out, t.second() + nanos / 1_000_000_000, 2);
    out.push(b'.');
    digits(out, (nanos % 1_000_000_000) / 1000, 6);
    out.extend_from_slice(b"Z\"");
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
            Some(n) => serde_json::to_writer(&mut *out, &n)?,
            None => out.extend_from_slice(b"null"),
        },
        Kind::Float => match row.try_get::<Option<f64>, _>(index)? {
            Some(f) => serde_json::to_writer(&mut *out, &f)?,
            None => out.extend_from_slice(b"null"),
        },
        Kind::Time => match row.try_get::<Option<DateTime<Utc>>, _>(index)? {
            Some(t) => write_time(out, &t),
            None => out.extend_from_slice(b"null"),
        },
        Kind::Json => match row.try_get::<Option<sqlx::types::JsonValue>, _>(index)? {
            Some(v) => serde_json::to_writer(&mut *out, &v)?,
            None => out.extend_from_slice(b"null"),
        },
    }
    Ok(())
}

fn columns_of(table: &str) -> &'static [(&'static str, Kind)] {
    COLUMNS.iter().find(|(name, _)| *name == table).map(|(_, c)| *c).unwrap_or(&[])
}

fn write_id(out: &mut Vec<u8>, id: Uuid) {
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()).as_bytes());
    out.push(b'"');
}

fn write_tombstone(out: &mut Vec<u8>, table: &str, id: Uuid) -> Result<()> {
    out.extend_from_slice(b"{\"table\":");
    write_str(out, table)?;
    out.extend_from_slice(b",\"op\":\"delete\",\"id\":");
    write_id(out, id);
    out.push(b'}');
    Ok(())
}

/// `{"table":…,"op":"upsert","id":…,"row":{…}}` from the table's columns starting at `offset`.
fn write_upsert(out: &mut Vec<u8>, table: &str, id: Uuid, row: &PgRow, offset: usize) -> Result<()> {
    out.extend_from_slice(b"{\"table\":");
    write_str(out, table)?;
    out.extend_from_slice(b",\"op\":\"upsert\",\"id\":");
    write_id(out, id);
    out.extend_from_slice(b",\"row\":{");
    for (i, (name, kind)) in columns_of(table).iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        write_value(out, row, offset + i, *kind)?;
    }
    out.extend_from_slice(b"}}");
    Ok(())
}

/// A log row: an upsert if its table's lateral join found the row, else a tombstone.
fn write_change(out: &mut Vec<u8>, row: &PgRow) -> Result<()> {
    let table: &str = row.try_get(0)?;
    let id: Uuid = row.try_get(1)?;
    let mut offset = PAGE_COLUMNS;
    for (name, cols) in COLUMNS.iter() {
        if *name == table {
            break;
        }
        offset += cols.len();
    }
    // A row that is gone (or a tombstone) has a NULL id in its lateral join.
    if !columns_of(table).is_empty() && row.try_get::<Option<Uuid>, _>(offset)?.is_some() {
        write_upsert(out, table, id, row, offset)
    } else {
        write_tombstone(out, table, id)
    }
}

/// The scan of one table, in key order: `first` includes `$2` itself (the start), else after it.
fn scan_sql(table: usize, first: bool) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        let mut v = Vec::new();
        for (name, columns) in COLUMNS.iter() {
            let org = if *name == "organizations" { "id" } else { "organization_id" };
            for op in [">=", ">"] {
                v.push(format!(
                    "SELECT {} FROM {name} a WHERE a.{org} = $1 AND a.id {op} $2 ORDER BY a.id LIMIT $3",
                    projection(columns)
                ));
            }
        }
        v
    });
    all.get(table * 2 + usize::from(!first)).map(String::as_str).unwrap_or("SELECT 1 WHERE false")
}

/// The initial pull: rows of each table in key order, as upserts, `limit` at most.
async fn scan(tx: &mut Tx, caller: &Caller, cursor: Cursor, limit: u32, out: &mut Vec<u8>) -> Result<Page> {
    let Position::Scan { start, mut table, mut after } = cursor.position else {
        return Err(crate::error::Error::Invariant("scan() called with a log cursor".into()));
    };
    let mut remaining = i64::from(limit);
    let mut written = 0usize;
    while table < COLUMNS.len() && remaining > 0 {
        let name = COLUMNS[table].0;
        let rows = sqlx::query(scan_sql(table, after.is_none()))
            .bind(caller.organization_id)
            .bind(after.unwrap_or(Uuid::nil()))
            .bind(remaining)
            .fetch_all(&mut **tx)
            .await?;
        for row in &rows {
            if written > 0 {
                out.push(b',');
            }
            let id: Uuid = row.try_get(0)?;
            write_upsert(out, name, id, row, 0)?;
            written += 1;
            after = Some(id);
        }
        let got = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        remaining -= got;
        if remaining > 0 {
            // This table is done; the next starts from its first key.
            table += 1;
            after = None;
        }
    }
    let position = if table < COLUMNS.len() {
        Position::Scan { start, table, after }
    } else {
        // Everything from `start` on comes from the log.
        Position::Log { txid: start.saturating_sub(1), seq: i64::MAX }
    };
    Ok(Page { next: Cursor { position, ..cursor }, has_more: true })
}

/// Appends the page's changes to `out` as a JSON array and says where the pull goes next.
pub async fn page(tx: &mut Tx, caller: &Caller, resume: Resume, limit: u32, out: &mut Vec<u8>) -> Result<Page> {
    let cursor = match resume {
        Resume::From(c) => c,
        Resume::Start { epoch, horizon } => {
            let start: String =
                sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").fetch_one(&mut **tx).await?;
            let start = start.parse().unwrap_or(0);
            Cursor { epoch, horizon, position: Position::Scan { start, table: 0, after: None } }
        }
        Resume::Reset => return Err(crate::error::Error::Invariant("page() called for a reset".into())),
    };
    out.reserve(usize::try_from(limit).unwrap_or(0).min(10_000) * 512 + 2);
    out.push(b'[');
    let page = match cursor.position {
        Position::Scan { .. } => scan(tx, caller, cursor, limit, out).await?,
        Position::Log { txid, seq } => log(tx, caller, cursor, (txid, seq), limit, out).await?,
    };
    out.push(b']');
    Ok(page)
}

/// Changes after `from` in the log, in (txid, seq) order.
async fn log(
    tx: &mut Tx,
    caller: &Caller,
    cursor: Cursor,
    from: (u64, i64),
    limit: u32,
    out: &mut Vec<u8>,
) -> Result<Page> {
    let mut rows = sqlx::query(page_sql())
        .bind(caller.organization_id)
        .bind(from.0.to_string())
        .bind(from.1)
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
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_change(out, row)?;
    }
    let position = match keys.last() {
        Some(&(txid, seq)) => Position::Log { txid, seq },
        None => Position::Log { txid: from.0, seq: from.1 },
    };
    let has_more = rows.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
    Ok(Page { next: Cursor { position, ..cursor }, has_more })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        use chrono::TimeZone;
        for t in [
            Utc.with_ymd_and_hms(2026, 11, 25, 14, 41, 41).unwrap() + chrono::Duration::microseconds(123_456),
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap() + chrono::Duration::microseconds(999_999),
            Utc.with_ymd_and_hms(12000, 1, 1, 0, 0, 0).unwrap(),
        ] {
            let mut out = Vec::new();
            write_time(&mut out, &t);
            let expected = format!("\"{}\"", t.to_rfc3339_opts(SecondsFormat::Micros, true));
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn cursors_round_trip() {
        let epoch = Uuid::new_v4();
        for position in [
            Position::Log { txid: 9_000_000_123, seq: 42 },
            Position::Log { txid: 0, seq: i64::MAX },
            Position::Scan { start: 77, table: 3, after: Some(Uuid::new_v4()) },
            Position::Scan { start: 77, table: 0, after: None },
        ] {
            let c = Cursor { epoch, horizon: 5, position };
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
    }

    #[test]
    fn resume_decisions() {
        let epoch = Uuid::new_v4();
        let log = |txid, horizon| Cursor { epoch, horizon, position: Position::Log { txid, seq: 7 } };
        let scan =
            |start, horizon| Cursor { epoch, horizon, position: Position::Scan { start, table: 2, after: None } };
        let foreign = Cursor { epoch: Uuid::new_v4(), ..log(900, 0) }.encode();
        // (cursor, current horizon, expected)
        let cases: Vec<(Option<String>, u64, Resume)> = vec![
            (None, 0, Resume::Start { epoch, horizon: 0 }),
            (Some(String::new()), 500, Resume::Start { epoch, horizon: 500 }),
            // Ahead of everything pruned: continue, under the current horizon.
            (Some(log(900, 100).encode()), 500, Resume::From(log(900, 500))),
            (Some(log(500, 100).encode()), 500, Resume::From(log(500, 500))),
            // Behind tombstones pruned since it was issued: they may be deletes it never saw.
            (Some(log(499, 100).encode()), 500, Resume::Reset),
            // Behind the horizon, but issued after that pruning (a fresh pull in progress).
            (Some(log(3, 500).encode()), 500, Resume::From(log(3, 500))),
            // A scan needs the tombstones from its start on.
            (Some(scan(501, 100).encode()), 500, Resume::From(scan(501, 500))),
            (Some(scan(500, 100).encode()), 500, Resume::Reset),
            (Some(scan(10, 500).encode()), 500, Resume::From(scan(10, 500))),
            (Some(foreign), 0, Resume::Reset),
            (Some("garbage!".into()), 0, Resume::Reset),
        ];
        for (cursor, horizon, expected) in cases {
            assert_eq!(resume(cursor.as_deref(), epoch, horizon), expected, "cursor {cursor:?} horizon {horizon}");
        }
    }

    #[test]
    fn tampered_cursors_do_not_decode() {
        let e = "00000000000000000000000000000000";
        for bad in [
            String::new(),
            "djE".to_owned(),
            URL_SAFE_NO_PAD.encode(format!("v2.{e}.0.L.1.-1")),
            URL_SAFE_NO_PAD.encode(format!("v2.{e}.0.L.1")),
            // A table past the last.
            URL_SAFE_NO_PAD.encode(format!("v2.{e}.0.S.1.{}.-", COLUMNS.len())),
            URL_SAFE_NO_PAD.encode(format!("v2.{e}.0.S.1.0.not-a-uuid")),
            URL_SAFE_NO_PAD.encode(format!("v1.{e}.1.1.0")),
        ] {
            assert_eq!(Cursor::decode(&bad), None, "{bad}");
        }
    }
}
