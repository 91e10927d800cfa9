//! Reading generations. (Starting them, with quota and numbering, belongs to the render pipeline.)

use resonance_api::model::Generation;
use uuid::Uuid;

use super::{fetch_all_json, fetch_one_json};
use crate::db::{Caller, Tx};
use crate::error::{Error, Result};

pub async fn for_project(tx: &mut Tx, caller: &Caller, project_id: Uuid) -> Result<Vec<Generation>> {
    // 404 for a project the caller cannot see, rather than an empty list.
    super::projects::get(tx, caller, project_id).await?;
    fetch_all_json(
        tx,
        sqlx::query_scalar(
            "SELECT to_jsonb(g) FROM generations g WHERE g.project_id = $1 \
             ORDER BY g.generation_number DESC NULLS LAST, g.created_at DESC",
        )
        .bind(project_id),
    )
    .await
}

pub async fn get(tx: &mut Tx, _caller: &Caller, id: Uuid) -> Result<Generation> {
    fetch_one_json(tx, sqlx::query_scalar("SELECT to_jsonb(g) FROM generations g WHERE g.id = $1").bind(id))
        .await?
        .ok_or_else(|| Error::not_found("No such generation in your organization."))
}
