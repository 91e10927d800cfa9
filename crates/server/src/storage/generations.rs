//! Starting and reading generations. Starting one is a single SQL function
//! (`auth_private.start_generation`): role, subscription, quota, numbering, seed, the row and its
//! render job, all in the caller's transaction, so a refusal changes nothing.

use resonance_api::generations::NewGeneration;
use resonance_api::model::Generation;
use uuid::Uuid;

use super::logs::{self, Entry};
use super::{fetch_all_json, fetch_one_json};
use crate::db::{Caller, Tx};
use crate::error::{Error, Result};

/// Starts a generation of `project` and queues its render.
pub async fn start(tx: &mut Tx, caller: &Caller, project: Uuid, new: &NewGeneration) -> Result<Generation> {
    new.validate()?;
    let seed = new.seed.as_deref().map(resonance_api::generations::render_seed);
    let made = fetch_one_json::<Generation>(
        tx,
        sqlx::query_scalar("SELECT to_jsonb(g) FROM auth_private.start_generation($1, $2, $3, $4) g")
            .bind(project)
            .bind(seed)
            .bind(new.trim_start)
            .bind(new.trim_end),
    )
    .await?
    .ok_or_else(|| Error::Invariant("start_generation returned no row".into()))?;
    logs::append(
        tx,
        caller,
        Entry::success(
            "generation.start",
            format!("Started generation #{} (seed {})", made.generation_number.unwrap_or(0), made.seed),
        )
        .project(project)
        .generation(made.id),
    )
    .await?;
    Ok(made)
}

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
