//! Storage functions: one module per table group. Invariant: every function takes the request's
//! transaction and the caller's identity explicitly; nothing resolves the tenant from global
//! state, and row-level security in Postgres stays the final word on what is visible.

pub mod accounts;
pub mod billing;
pub mod demo;
pub mod footage;
pub mod generations;
pub mod idempotency;
pub mod logs;
pub mod members;
pub mod projects;
pub mod share_links;
pub mod sync;
pub mod uploads;

use serde::de::DeserializeOwned;
use sqlx::types::Json;

use crate::db::Tx;
use crate::error::Result;

/// Runs a query that selects one `to_jsonb(row)` column and decodes it into a wire type.
pub(crate) async fn fetch_one_json<T: DeserializeOwned + Send + Unpin + 'static>(
    tx: &mut Tx,
    query: sqlx::query::QueryScalar<'_, sqlx::Postgres, Json<T>, sqlx::postgres::PgArguments>,
) -> Result<Option<T>> {
    Ok(query.fetch_optional(&mut **tx).await?.map(|j| j.0))
}

pub(crate) async fn fetch_all_json<T: DeserializeOwned + Send + Unpin + 'static>(
    tx: &mut Tx,
    query: sqlx::query::QueryScalar<'_, sqlx::Postgres, Json<T>, sqlx::postgres::PgArguments>,
) -> Result<Vec<T>> {
    Ok(query.fetch_all(&mut **tx).await?.into_iter().map(|j| j.0).collect())
}
