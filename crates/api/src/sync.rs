//! The change feed (`GET /v1/sync`): pages of upserts and tombstones for every row the caller may
//! see, in commit-safe order. Invariant: replaying every page from an empty state, in order,
//! yields exactly the caller's visible rows; a `reset` page means "discard and start over".

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Generation, Organization, Project, SystemLog, User};

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
}

impl Table {
    pub const ALL: [Table; 5] = [Self::Organizations, Self::Users, Self::Projects, Self::Generations, Self::SystemLogs];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organizations => "organizations",
            Self::Users => "users",
            Self::Projects => "projects",
            Self::Generations => "generations",
            Self::SystemLogs => "system_logs",
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

/// One change: for `upsert`, `row` is the whole row as it is now; for `delete`, `row` is absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    pub table: Table,
    pub op: Op,
    pub id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub row: Option<serde_json::Value>,
}

/// A decoded upsert.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Organization(Organization),
    User(User),
    Project(Project),
    Generation(Generation),
    SystemLog(SystemLog),
}

impl Change {
    /// The typed row of an upsert (`None` for a tombstone).
    pub fn decode(&self) -> Result<Option<Row>, serde_json::Error> {
        let Some(v) = &self.row else { return Ok(None) };
        let v = v.clone();
        Ok(Some(match self.table {
            Table::Organizations => Row::Organization(serde_json::from_value(v)?),
            Table::Users => Row::User(serde_json::from_value(v)?),
            Table::Projects => Row::Project(serde_json::from_value(v)?),
            Table::Generations => Row::Generation(serde_json::from_value(v)?),
            Table::SystemLogs => Row::SystemLog(serde_json::from_value(v)?),
        }))
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
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct SyncQuery {
    /// The `cursor` of the previous page; absent for a full pull.
    pub cursor: Option<String>,
    /// Changes per page, 1 to 10000 (default 1000).
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
        assert_eq!(c.decode().unwrap(), None);
    }

    #[test]
    fn table_names_match_postgres() {
        for t in Table::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::Value::String(t.as_str().into()));
        }
    }
}
