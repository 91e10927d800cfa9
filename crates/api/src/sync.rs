//! The change feed (`GET /v1/sync`): pages of upserts and tombstones for every row the caller may
//! see, in commit-safe order. Invariant: replaying every page from an empty state, in order,
//! yields exactly the caller's visible rows; a `reset` page means "discard and start over".

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::model::{Footage, Generation, Organization, Project, SystemLog, User};

/// Where a client's sync stands, as its UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    Idle,
    Syncing,
    Offline,
    Error,
    /// The server serves only newer apps: nothing is sent or pulled until this one is updated
    /// (`last_error` says how).
    UpdateRequired,
}

/// Response header carrying the page's `cursor`, so a client can ask for the next page before
/// it has decoded this one (pipelining a full pull).
pub const CURSOR_HEADER: &str = "resonance-sync-cursor";
/// Response header carrying the page's `has_more` (`true` / `false`).
pub const HAS_MORE_HEADER: &str = "resonance-sync-has-more";

pub const DEFAULT_PAGE_LIMIT: u32 = 1000;
pub const MAX_PAGE_LIMIT: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Organizations,
    Users,
    Projects,
    Generations,
    SystemLogs,
    Footage,
}

impl Table {
    pub const ALL: [Table; 6] =
        [Self::Organizations, Self::Users, Self::Projects, Self::Generations, Self::SystemLogs, Self::Footage];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organizations => "organizations",
            Self::Users => "users",
            Self::Projects => "projects",
            Self::Generations => "generations",
            Self::SystemLogs => "system_logs",
            Self::Footage => "footage",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Upsert,
    Delete,
}

/// One change: for `upsert`, `row` is the whole row as it is now, already decoded into its
/// table's type (in one pass: `table` comes first on the wire); for `delete`, `row` is absent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    pub table: Table,
    pub op: Op,
    pub id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<Row>,
}

/// A row of one of the synced tables.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Row {
    Organization(Organization),
    User(User),
    Project(Project),
    Generation(Generation),
    SystemLog(SystemLog),
    Footage(Footage),
}

/// Decodes an optional row as the given table's type.
struct RowOf(Table);

impl<'de> DeserializeSeed<'de> for RowOf {
    type Value = Option<Row>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Row>, D::Error> {
        Ok(match self.0 {
            Table::Organizations => Option::<Organization>::deserialize(d)?.map(Row::Organization),
            Table::Users => Option::<User>::deserialize(d)?.map(Row::User),
            Table::Projects => Option::<Project>::deserialize(d)?.map(Row::Project),
            Table::Generations => Option::<Generation>::deserialize(d)?.map(Row::Generation),
            Table::SystemLogs => Option::<SystemLog>::deserialize(d)?.map(Row::SystemLog),
            Table::Footage => Option::<Footage>::deserialize(d)?.map(Row::Footage),
        })
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Table,
    Op,
    Id,
    Row,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for Change {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ChangeVisitor;

        impl<'de> Visitor<'de> for ChangeVisitor {
            type Value = Change;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a change: {table, op, id, row?}")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Change, A::Error> {
                let (mut table, mut op, mut id, mut row) = (None, None, None, None);
                // A row that arrives before its table (not how the server writes it) is kept
                // as a value and decoded once the table is known.
                let mut early_row: Option<serde_json::Value> = None;
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::Table => table = Some(map.next_value::<Table>()?),
                        Field::Op => op = Some(map.next_value::<Op>()?),
                        Field::Id => id = Some(map.next_value::<Uuid>()?),
                        Field::Row => match table {
                            Some(t) => row = map.next_value_seed(RowOf(t))?,
                            None => early_row = map.next_value()?,
                        },
                        Field::Other => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                let table = table.ok_or_else(|| de::Error::missing_field("table"))?;
                if let Some(v) = early_row.filter(|v| !v.is_null()) {
                    row = RowOf(table).deserialize(v).map_err(de::Error::custom)?;
                }
                Ok(Change {
                    table,
                    op: op.ok_or_else(|| de::Error::missing_field("op"))?,
                    id: id.ok_or_else(|| de::Error::missing_field("id"))?,
                    row,
                })
            }
        }

        d.deserialize_map(ChangeVisitor)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncPage {
    /// True when the cursor is unknown or older than the server keeps tombstones: discard the
    /// mirror's server rows and pull again from no cursor. `changes` is then empty.
    #[serde(default)]
    pub reset: bool,
    pub changes: Vec<Change>,
    /// Pass as `cursor` to get what changed after this page. Opaque; absent only on `reset`.
    pub cursor: Option<String>,
    /// More changes are ready now: ask again at once.
    pub has_more: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct SyncQuery {
    /// The `cursor` of the previous page; absent for a full pull.
    pub cursor: Option<String>,
    /// Changes per page, 1 to 10000 (default 1000).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 10000))]
    pub limit: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tombstones_carry_no_row() {
        let c: Change = serde_json::from_str(
            r#"{"table":"generations","op":"delete","id":"2f1b3c59-4a4e-4a43-9d7e-2b0c6a1f5e11"}"#,
        )
        .unwrap();
        assert_eq!(c.op, Op::Delete);
        assert_eq!(c.row, None);
    }

    const USER_ROW: &str = r#"{"id":"2f1b3c59-4a4e-4a43-9d7e-2b0c6a1f5e11",
        "organization_id":"5b8e6f0c-6c43-4c41-a1b7-0d2c9e3b7a10","email":"a@example.com","name":null,
        "role":"admin","created_at":"2026-11-25T14:41:41.123456Z"}"#;

    #[test]
    fn upserts_decode_into_their_table_type_in_any_key_order() {
        let id = r#""id":"2f1b3c59-4a4e-4a43-9d7e-2b0c6a1f5e11""#;
        for text in [
            format!(r#"{{"table":"users","op":"upsert",{id},"row":{USER_ROW}}}"#),
            format!(r#"{{"row":{USER_ROW},"op":"upsert",{id},"table":"users","extra":1}}"#),
        ] {
            let c: Change = serde_json::from_str(&text).unwrap();
            match &c.row {
                Some(Row::User(u)) => assert_eq!(u.role, Some(crate::model::Role::Admin)),
                other => panic!("expected a user, got {other:?}"),
            }
            // Serializing gives the row's own fields back.
            let again: Change = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
            assert_eq!(again, c);
        }
        let wrong = format!(r#"{{"table":"projects","op":"upsert",{id},"row":{USER_ROW}}}"#);
        assert!(serde_json::from_str::<Change>(&wrong).is_err(), "a row must decode as its own table's type");
        let no_table = r#"{"op":"delete","id":"2f1b3c59-4a4e-4a43-9d7e-2b0c6a1f5e11"}"#;
        assert!(serde_json::from_str::<Change>(no_table).is_err());
    }

    #[test]
    fn table_names_match_postgres() {
        for t in Table::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::Value::String(t.as_str().into()));
        }
    }
}
