//! The render queue's SQL, all of it: claiming a job with `FOR UPDATE SKIP LOCKED` and a lease,
//! keeping the lease, moving a job and its generation and project between stages, retrying,
//! failing and completing, and the activity log. Invariant: every write that ends a job first
//! checks, in the same transaction, that this worker still holds the job's lease.

use std::time::Duration;

use resonance_api::generations::RenderStage;
use resonance_api::model::LogStatus;
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub generation_id: Uuid,
    pub organization_id: Uuid,
    pub project_id: Uuid,
    pub attempts: i32,
    pub max_attempts: i32,
}

/// Claims the oldest job that is queued or whose lease ran out.
pub async fn claim(db: &Db, worker: &str, lease: Duration) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as::<_, Job>(
        "UPDATE render.jobs j SET state = 'running', attempts = j.attempts + 1, leased_by = $1, \
           lease_expires_at = now() + make_interval(secs => $2) \
         WHERE j.generation_id = ( \
           SELECT generation_id FROM render.jobs \
           WHERE state = 'queued' OR (state = 'running' AND lease_expires_at < now()) \
           ORDER BY enqueued_at FOR UPDATE SKIP LOCKED LIMIT 1) \
         RETURNING j.generation_id, j.organization_id, j.project_id, j.attempts, j.max_attempts",
    )
    .bind(worker)
    .bind(lease.as_secs_f64())
    .fetch_optional(db.pool())
    .await
}

pub async fn renew_lease(db: &Db, job: &Job, worker: &str, lease: Duration) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE render.jobs SET lease_expires_at = now() + make_interval(secs => $3) \
         WHERE generation_id = $1 AND leased_by = $2 AND state = 'running'",
    )
    .bind(job.generation_id)
    .bind(worker)
    .bind(lease.as_secs_f64())
    .execute(db.pool())
    .await
    .map(|_| ())
}

pub async fn last_error(db: &Db, job: &Job) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT last_error FROM render.jobs WHERE generation_id = $1")
        .bind(job.generation_id)
        .fetch_one(db.pool())
        .await
}

pub async fn holder(db: &Db, job: &Job) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT leased_by FROM render.jobs WHERE generation_id = $1")
        .bind(job.generation_id)
        .fetch_one(db.pool())
        .await
}

/// The inputs recorded at Generate and the seed, as the render uses it.
pub async fn inputs<T: serde::de::DeserializeOwned + Send + Unpin + 'static>(
    db: &Db,
    job: &Job,
) -> Result<(Option<T>, String), sqlx::Error> {
    let (inputs, seed): (Option<Json<T>>, String) = sqlx::query_as(
        "SELECT j.inputs, render.render_seed(g.seed) FROM render.jobs j JOIN generations g ON g.id = j.generation_id \
         WHERE j.generation_id = $1",
    )
    .bind(job.generation_id)
    .fetch_one(db.pool())
    .await?;
    Ok((inputs.map(|j| j.0), seed))
}

pub async fn requeue(db: &Db, job: &Job, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE render.jobs SET state = 'queued', leased_by = NULL, lease_expires_at = NULL, last_error = $2 \
         WHERE generation_id = $1",
    )
    .bind(job.generation_id)
    .bind(reason)
    .execute(db.pool())
    .await?;
    log(db, job, "render.retry", LogStatus::Warning, &format!("Attempt {} failed: {reason}", job.attempts)).await
}

pub async fn fail(db: &Db, job: &Job, reason: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("UPDATE render.jobs SET state = 'failed', last_error = $2, leased_by = NULL WHERE generation_id = $1")
        .bind(job.generation_id)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE generations SET status = 'failed', error_message = $2 WHERE id = $1")
        .bind(job.generation_id)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE projects SET status = 'failed' WHERE id = $1").bind(job.project_id).execute(&mut *tx).await?;
    tx.commit().await?;
    log(db, job, "render.failed", LogStatus::Error, reason).await
}

pub async fn log(db: &Db, job: &Job, action: &str, status: LogStatus, message: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO system_logs (organization_id, project_id, generation_id, action_type, status, severity, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(job.organization_id)
    .bind(job.project_id)
    .bind(job.generation_id)
    .bind(action)
    .bind(status.as_str())
    .bind(status.severity())
    .bind(message)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Moves the project (and the generation, to `processing`) into `stage`, and logs it.
pub async fn enter(db: &Db, job: &Job, stage: RenderStage) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE projects SET status = $2 WHERE id = $1")
        .bind(job.project_id)
        .bind(stage.project_status().as_str())
        .execute(db.pool())
        .await?;
    sqlx::query("UPDATE generations SET status = 'processing' WHERE id = $1 AND status <> 'processing'")
        .bind(job.generation_id)
        .execute(db.pool())
        .await?;
    log(db, job, stage.action(), LogStatus::Started, stage.message()).await
}

pub async fn store_analysis(db: &Db, job: &Job, analysis: &serde_json::Value) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE generations SET audio_analysis = $2 WHERE id = $1")
        .bind(job.generation_id)
        .bind(Json(analysis))
        .execute(db.pool())
        .await
        .map(|_| ())
}

pub async fn store_plan(db: &Db, job: &Job, plan: &resonance_visuals::VisualPlan) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE generations SET visual_plan = $2 WHERE id = $1")
        .bind(job.generation_id)
        .bind(Json(plan))
        .execute(db.pool())
        .await
        .map(|_| ())
}

pub async fn progress(db: &Db, job: &Job, done: f64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE render.jobs SET progress = $2 WHERE generation_id = $1")
        .bind(job.generation_id)
        .bind(done)
        .execute(db.pool())
        .await
        .map(|_| ())
}

/// What a finished render records.
pub struct Finished {
    pub duration: f64,
    pub file_size: u64,
    pub render_seconds: u64,
}

/// Completes the job if this worker still holds it; `false` when another worker took it over.
pub async fn complete(db: &Db, job: &Job, worker: &str, done: &Finished) -> Result<bool, sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    let still_mine: Option<String> =
        sqlx::query_scalar("SELECT leased_by FROM render.jobs WHERE generation_id = $1 FOR UPDATE")
            .bind(job.generation_id)
            .fetch_one(&mut *tx)
            .await?;
    if still_mine.as_deref() != Some(worker) {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE generations SET status = 'completed', video_url = $2, thumbnail_url = $3, duration = $4::float8::numeric, \
           file_size = $5, render_time_seconds = $6, completed_at = now(), error_message = NULL WHERE id = $1",
    )
    .bind(job.generation_id)
    .bind(format!("/v1/generations/{}/video", job.generation_id))
    .bind(format!("/v1/generations/{}/thumbnail", job.generation_id))
    .bind(done.duration)
    .bind(i64::try_from(done.file_size).unwrap_or(i64::MAX))
    .bind(i32::try_from(done.render_seconds).unwrap_or(i32::MAX))
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE projects SET status = 'completed' WHERE id = $1")
        .bind(job.project_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE render.jobs SET state = 'done', progress = 1, leased_by = NULL WHERE generation_id = $1")
        .bind(job.generation_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    log(db, job, "render.completed", LogStatus::Success, &format!("Rendered in {} s", done.render_seconds)).await?;
    Ok(true)
}
