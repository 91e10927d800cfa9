//! Projects: list, read, create (idempotent on a client-made id), edit, delete. Invariant: the
//! role check here gives a clear 403; row-level security enforces the same matrix underneath.

use resonance_api::model::Project;
use resonance_api::projects::{NewProject, ProjectPatch};
use serde_json::json;
use uuid::Uuid;

use super::logs::{self, Entry};
use super::{fetch_all_json, fetch_one_json};
use crate::db::{Caller, Tx};
use crate::error::{Error, Result};

const NOT_FOUND: &str = "No such project in your organization.";

pub async fn list(tx: &mut Tx, _caller: &Caller, limit: i64, offset: i64) -> Result<Vec<Project>> {
    fetch_all_json(
        tx,
        sqlx::query_scalar(
            "SELECT to_jsonb(p) FROM projects p ORDER BY p.created_at DESC, p.id DESC LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset),
    )
    .await
}

pub async fn get(tx: &mut Tx, _caller: &Caller, id: Uuid) -> Result<Project> {
    fetch_one_json(tx, sqlx::query_scalar("SELECT to_jsonb(p) FROM projects p WHERE p.id = $1").bind(id))
        .await?
        .ok_or_else(|| Error::not_found(NOT_FOUND))
}

/// Whether the create was new (201) or a retry of an earlier one with the same id (200).
pub enum Created {
    New(Project),
    Existing(Project),
}

pub async fn create(tx: &mut Tx, caller: &Caller, new: &NewProject) -> Result<Created> {
    if !caller.role.can_edit_projects() {
        return Err(Error::forbidden("Viewers cannot create projects; ask an admin for the developer role."));
    }
    new.validate()?;
    let id = new.id.unwrap_or_else(Uuid::new_v4);
    let inserted = fetch_one_json::<Project>(
        tx,
        sqlx::query_scalar(
            "INSERT INTO projects (id, organization_id, user_id, name, description, prompt, audio_path, \
               audio_duration, resolution, style_preference, footage_visibility, effect_intensity, tempo_bpm, \
               aspect) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::float8::numeric, coalesce($9, '1080p'), \
               coalesce($10, 'organic'), coalesce($11::float8::numeric, 0.6), coalesce($12::float8::numeric, 0.5), \
               $13::float8::numeric, coalesce($14, '16:9')) \
             ON CONFLICT (id) DO NOTHING RETURNING to_jsonb(projects.*)",
        )
        .bind(id)
        .bind(caller.organization_id)
        .bind(caller.user_id)
        .bind(&new.name)
        .bind(new.description.as_deref().filter(|d| !d.is_empty()))
        .bind(&new.prompt)
        .bind(&new.audio_path)
        .bind(new.audio_duration)
        .bind(new.resolution.map(|r| r.as_str()))
        .bind(new.style_preference.map(|s| s.as_str()))
        .bind(new.footage_visibility)
        .bind(new.effect_intensity)
        .bind(new.tempo_bpm)
        .bind(new.aspect.map(|a| a.as_str())),
    )
    .await?;
    match inserted {
        Some(project) => {
            logs::append(
                tx,
                caller,
                Entry::success("project.create", format!("Created project \u{201c}{}\u{201d}", project.name))
                    .project(project.id),
            )
            .await?;
            Ok(Created::New(project))
        }
        // The id exists: a retry of our own create is answered with the project; an id taken
        // by someone we cannot see is a conflict (never revealing what it is).
        None => match fetch_one_json::<Project>(
            tx,
            sqlx::query_scalar("SELECT to_jsonb(p) FROM projects p WHERE p.id = $1").bind(id),
        )
        .await?
        {
            Some(existing) => Ok(Created::Existing(existing)),
            None => Err(Error::conflict("That project id is already in use; create with a new id.")),
        },
    }
}

pub async fn update(tx: &mut Tx, caller: &Caller, id: Uuid, patch: &ProjectPatch) -> Result<Project> {
    if !caller.role.can_edit_projects() {
        return Err(Error::forbidden("Viewers cannot edit projects; ask an admin for the developer role."));
    }
    patch.validate()?;
    if patch.is_empty() {
        return get(tx, caller, id).await;
    }
    let updated = fetch_one_json::<Project>(
        tx,
        sqlx::query_scalar(
            "UPDATE projects SET \
               name = coalesce($2, name), \
               description = CASE WHEN $3::text IS NULL THEN description WHEN $3 = '' THEN NULL ELSE $3 END, \
               prompt = coalesce($4, prompt), \
               audio_path = coalesce($5, audio_path), \
               audio_duration = coalesce($6::float8::numeric, audio_duration), \
               resolution = coalesce($7, resolution), \
               style_preference = coalesce($8, style_preference), \
               footage_visibility = coalesce($9::float8::numeric, footage_visibility), \
               effect_intensity = coalesce($10::float8::numeric, effect_intensity), \
               tempo_bpm = CASE WHEN $12 THEN $11::float8::numeric ELSE tempo_bpm END, \
               aspect = coalesce($13, aspect) \
             WHERE id = $1 RETURNING to_jsonb(projects.*)",
        )
        .bind(id)
        .bind(patch.name.as_deref())
        .bind(patch.description.as_deref())
        .bind(patch.prompt.as_deref())
        .bind(patch.audio_path.as_deref())
        .bind(patch.audio_duration)
        .bind(patch.resolution.map(|r| r.as_str()))
        .bind(patch.style_preference.map(|s| s.as_str()))
        .bind(patch.footage_visibility)
        .bind(patch.effect_intensity)
        // Set, cleared (`0`) or left: the patch says which (`ProjectPatch::tempo_after`).
        .bind(patch.tempo_after(None))
        .bind(patch.tempo_bpm.is_some())
        .bind(patch.aspect.map(|a| a.as_str())),
    )
    .await?
    .ok_or_else(|| Error::not_found(NOT_FOUND))?;
    let fields: Vec<String> = match serde_json::to_value(patch)? {
        serde_json::Value::Object(m) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    logs::append(
        tx,
        caller,
        Entry::success("project.update", format!("Edited project \u{201c}{}\u{201d}", updated.name))
            .project(id)
            .details(json!({ "fields": fields })),
    )
    .await?;
    Ok(updated)
}

pub async fn delete(tx: &mut Tx, caller: &Caller, id: Uuid) -> Result<()> {
    if !caller.role.can_delete_projects() {
        return Err(Error::forbidden("Only admins and owners can delete projects."));
    }
    let deleted: Option<(String, i64)> = sqlx::query_as(
        "WITH gone AS (DELETE FROM projects WHERE id = $1 RETURNING id, name) \
         SELECT g.name, (SELECT count(*) FROM generations WHERE project_id = $1) FROM gone g",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((name, generations)) = deleted else {
        return Err(Error::not_found(NOT_FOUND));
    };
    logs::append(
        tx,
        caller,
        Entry::success("project.delete", format!("Deleted project \u{201c}{name}\u{201d}"))
            .details(json!({ "project_id": id, "name": name, "generations_deleted": generations })),
    )
    .await
}
