//! The render worker: claims jobs from `render.jobs` with `FOR UPDATE SKIP LOCKED` and a lease,
//! so any number of workers on any number of machines share the queue, and a crashed worker's
//! job is claimed again once its lease runs out. Each job goes analyzing → orchestrating →
//! rendering → completed, reflected in `projects.status` and `generations.status`, each stage
//! logged in `system_logs`. A failing job is retried up to its `max_attempts`, then marked
//! `failed` with the reason. Invariant: a job is worked on by one worker at a time (the lease),
//! and the worker that finishes it is the one holding the lease.
//!
//! The worker works every organization's queue, so it cannot run under one organization's
//! claims; it runs as `resonance_worker` instead (`Db::connect_worker`), which may touch only the
//! queue, the render columns of generations, projects' status and the activity log.

pub mod plan;
pub mod render;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::Db;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Names this worker in leases and logs.
    pub name: String,
    pub lease: Duration,
    /// How long to wait when the queue is empty.
    pub idle_poll: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            name: format!("worker-{}", Uuid::new_v4().simple()),
            lease: Duration::from_secs(120),
            idle_poll: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub generation_id: Uuid,
    pub organization_id: Uuid,
    pub project_id: Uuid,
    pub attempts: i32,
    pub max_attempts: i32,
}

/// Claims the oldest job that is queued or whose lease ran out.
pub async fn claim(db: &Db, settings: &WorkerSettings) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as::<_, Job>(
        "UPDATE render.jobs j SET state = 'running', attempts = j.attempts + 1, leased_by = $1, \
           lease_expires_at = now() + make_interval(secs => $2) \
         WHERE j.generation_id = ( \
           SELECT generation_id FROM render.jobs \
           WHERE state = 'queued' OR (state = 'running' AND lease_expires_at < now()) \
           ORDER BY enqueued_at FOR UPDATE SKIP LOCKED LIMIT 1) \
         RETURNING j.generation_id, j.organization_id, j.project_id, j.attempts, j.max_attempts",
    )
    .bind(&settings.name)
    .bind(settings.lease.as_secs_f64())
    .fetch_optional(db.pool())
    .await
}

/// Works jobs until `shutdown` resolves.
pub async fn run(
    db: Db,
    storage: Arc<dyn ObjectStore>,
    settings: WorkerSettings,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let worked = tokio::select! {
            r = run_once(&db, &storage, &settings) => r,
            () = &mut shutdown => return,
        };
        match worked {
            Ok(true) => {}
            Ok(false) => {
                tokio::select! {
                    () = tokio::time::sleep(settings.idle_poll) => {}
                    () = &mut shutdown => return,
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "the worker cannot reach the queue; retrying");
                tokio::select! {
                    () = tokio::time::sleep(settings.idle_poll) => {}
                    () = &mut shutdown => return,
                }
            }
        }
    }
}

/// Claims and works one job; `false` when the queue had none.
pub async fn run_once(db: &Db, storage: &Arc<dyn ObjectStore>, settings: &WorkerSettings) -> Result<bool, sqlx::Error> {
    let Some(job) = claim(db, settings).await? else { return Ok(false) };
    if job.attempts > job.max_attempts {
        let last: Option<String> = sqlx::query_scalar("SELECT last_error FROM render.jobs WHERE generation_id = $1")
            .bind(job.generation_id)
            .fetch_one(db.pool())
            .await?;
        let reason = format!(
            "The render failed {} times and was given up{}",
            job.max_attempts,
            last.map(|l| format!(": {l}")).unwrap_or_default()
        );
        fail(db, &job, &reason).await?;
        return Ok(true);
    }
    tracing::info!(generation = %job.generation_id, attempt = job.attempts, "rendering");
    // Keep the lease while working.
    let keeper = {
        let (db, name, lease, id) = (db.clone(), settings.name.clone(), settings.lease, job.generation_id);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let _ = sqlx::query(
                    "UPDATE render.jobs SET lease_expires_at = now() + make_interval(secs => $3) \
                     WHERE generation_id = $1 AND leased_by = $2 AND state = 'running'",
                )
                .bind(id)
                .bind(&name)
                .bind(lease.as_secs_f64())
                .execute(db.pool())
                .await;
            }
        })
    };
    let outcome = work(db, storage.as_ref(), &job, &settings.name).await;
    keeper.abort();
    if outcome.is_err() {
        let holder: Option<String> = sqlx::query_scalar("SELECT leased_by FROM render.jobs WHERE generation_id = $1")
            .bind(job.generation_id)
            .fetch_one(db.pool())
            .await?;
        if holder.as_deref() != Some(settings.name.as_str()) {
            tracing::warn!(generation = %job.generation_id, "another worker took this job over; leaving it to them");
            return Ok(true);
        }
    }
    match outcome {
        Ok(()) => {}
        Err(reason) if job.attempts < job.max_attempts => {
            tracing::warn!(generation = %job.generation_id, %reason, "render attempt failed; it will be retried");
            sqlx::query(
                "UPDATE render.jobs SET state = 'queued', leased_by = NULL, lease_expires_at = NULL, last_error = $2 \
                 WHERE generation_id = $1",
            )
            .bind(job.generation_id)
            .bind(&reason)
            .execute(db.pool())
            .await?;
            log(db, &job, "render.retry", "warning", &format!("Attempt {} failed: {reason}", job.attempts)).await?;
        }
        Err(reason) => {
            let reason = format!("The render failed {} times and was given up: {reason}", job.attempts);
            fail(db, &job, &reason).await?;
        }
    }
    Ok(true)
}

async fn fail(db: &Db, job: &Job, reason: &str) -> Result<(), sqlx::Error> {
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
    log(db, job, "render.failed", "error", reason).await
}

async fn log(db: &Db, job: &Job, action: &str, status: &str, message: &str) -> Result<(), sqlx::Error> {
    let severity = match status {
        "error" => "error",
        "warning" => "warning",
        _ => "info",
    };
    sqlx::query(
        "INSERT INTO system_logs (organization_id, project_id, generation_id, action_type, status, severity, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(job.organization_id)
    .bind(job.project_id)
    .bind(job.generation_id)
    .bind(action)
    .bind(status)
    .bind(severity)
    .bind(message)
    .execute(db.pool())
    .await?;
    Ok(())
}

async fn stage(db: &Db, job: &Job, project_status: &str, message: &str) -> Result<(), String> {
    let step = async {
        sqlx::query("UPDATE projects SET status = $2 WHERE id = $1")
            .bind(job.project_id)
            .bind(project_status)
            .execute(db.pool())
            .await?;
        sqlx::query("UPDATE generations SET status = 'processing' WHERE id = $1 AND status <> 'processing'")
            .bind(job.generation_id)
            .execute(db.pool())
            .await?;
        log(db, job, &format!("render.{project_status}"), "started", message).await
    };
    step.await.map_err(|e| public("the database failed; the render will be retried", e))
}

/// What a render follows: the inputs checked when the generation was started
/// (`render.jobs.inputs`, written by `auth_private.start_generation`), never the project as it is
/// now, so an edit after Generate cannot change the render (or lift it above the plan).
#[derive(Debug, serde::Deserialize)]
struct Inputs {
    /// The project's stored audio: an object under `<organization>/<project>/`, or `None` when
    /// the project had no finished upload of its own when the generation was started.
    audio_key: Option<String>,
    prompt: String,
    resolution: resonance_api::model::Resolution,
    style_preference: resonance_api::model::StylePreference,
    footage_visibility: f64,
    effect_intensity: f64,
}

/// Whether `key` is an object of this job's own project: the worker reads nothing else.
fn own_object(job: &Job, key: &str) -> bool {
    let prefix = format!("{}/{}/", job.organization_id, job.project_id);
    key.strip_prefix(&prefix).is_some_and(|rest| {
        !rest.is_empty() && rest.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
    })
}

/// A reason shown to the member, with the detail (which may name server paths or storage
/// internals) kept in the server's log only.
fn public(reason: &str, detail: impl std::fmt::Display) -> String {
    tracing::warn!(%detail, "{reason}");
    reason.to_owned()
}

/// A temporary directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn work(db: &Db, storage: &dyn ObjectStore, job: &Job, worker: &str) -> Result<(), String> {
    let started = Instant::now();
    let db_err = |e: sqlx::Error| public("the database failed; the render will be retried", e);
    let (inputs, seed): (Option<Json<Inputs>>, String) = sqlx::query_as(
        "SELECT j.inputs, render.render_seed(g.seed) FROM render.jobs j JOIN generations g ON g.id = j.generation_id \
         WHERE j.generation_id = $1",
    )
    .bind(job.generation_id)
    .fetch_one(db.pool())
    .await
    .map_err(db_err)?;
    let inputs = inputs.ok_or("the generation was started without its inputs; start it again")?.0;
    let Some(audio_key) = inputs.audio_key.as_deref().filter(|k| own_object(job, k)) else {
        return Err("the project has no uploaded audio of its own: upload its track, then generate again".into());
    };
    let scratch = Scratch(std::env::temp_dir().join(format!("resonance-render-{}", job.generation_id)));
    std::fs::create_dir_all(&scratch.0).map_err(|e| public("the render server has no scratch space left", e))?;

    // Analyzing.
    stage(db, job, "analyzing", "Analyzing the audio").await?;
    let ext = audio_key.rsplit('.').next().filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric())).unwrap_or("audio");
    let audio = scratch.0.join(format!("audio.{ext}"));
    let no_space = |e: std::io::Error| public("the render server has no scratch space left", e);
    let mut stream = storage
        .get(&ObjectPath::from(audio_key))
        .await
        .map_err(|e| public("the project's audio is missing from storage: upload its track again", e))?
        .into_stream();
    {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&audio).map_err(no_space)?;
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(|e| public("reading the project's audio from storage failed", e))?;
            file.write_all(&piece).map_err(no_space)?;
        }
    }
    let path = audio.clone();
    let analysis = tokio::task::spawn_blocking(move || resonance_audio::analyze(&path))
        .await
        .map_err(|e| format!("the analysis crashed: {e}"))?
        .map_err(|e| format!("the audio cannot be analysed ({}: {})", e.kind, e.message))?;
    let mut stored_analysis = analysis.clone();
    if let Some(map) = stored_analysis.as_object_mut() {
        map.remove("warnings");
    }
    sqlx::query("UPDATE generations SET audio_analysis = $2 WHERE id = $1")
        .bind(job.generation_id)
        .bind(Json(&stored_analysis))
        .execute(db.pool())
        .await
        .map_err(db_err)?;

    // Orchestrating.
    stage(db, job, "orchestrating", "Planning the visuals").await?;
    let plan = plan::make(&plan::Inputs {
        seed: &seed,
        prompt: &inputs.prompt,
        style: inputs.style_preference.as_str(),
        effect_intensity: inputs.effect_intensity,
        footage_visibility: inputs.footage_visibility,
        analysis: &analysis,
    });
    sqlx::query("UPDATE generations SET visual_plan = $2 WHERE id = $1")
        .bind(job.generation_id)
        .bind(Json(&plan))
        .execute(db.pool())
        .await
        .map_err(db_err)?;

    // Rendering.
    stage(db, job, "rendering", "Rendering the video").await?;
    let size = inputs.resolution.dimensions();
    let (video, thumbnail) = (scratch.0.join("video.mp4"), scratch.0.join("thumbnail.jpg"));
    let (v, t, a, p) = (video.clone(), thumbnail.clone(), audio.clone(), plan.clone());
    let (progress_tx, mut progress_rx) = tokio::sync::watch::channel(0.0f64);
    let rendering = tokio::task::spawn_blocking(move || {
        render::render(&p, &a, &v, &t, size, |f| {
            let _ = progress_tx.send(f);
        })
    });
    tokio::pin!(rendering);
    let rendered = loop {
        tokio::select! {
            r = &mut rendering => break r,
            changed = progress_rx.changed() => {
                if changed.is_ok() {
                    let done = *progress_rx.borrow();
                    let _ = sqlx::query("UPDATE render.jobs SET progress = $2 WHERE generation_id = $1")
                        .bind(job.generation_id)
                        .bind(done)
                        .execute(db.pool())
                        .await;
                }
            }
        }
    };
    rendered
        .map_err(|e| public("the renderer crashed", e))?
        .map_err(|e| public("the video could not be encoded", e))?;

    // Stored, then completed.
    let base = format!("{}/{}/renders/{}", job.organization_id, job.project_id, job.generation_id);
    for (file, key) in [(&video, format!("{base}.mp4")), (&thumbnail, format!("{base}.jpg"))] {
        let bytes = std::fs::read(file).map_err(|e| public("the rendered file was lost before it was stored", e))?;
        storage
            .put(&ObjectPath::from(key), bytes.into())
            .await
            .map_err(|e| public("storing the video failed; it will be retried", e))?;
    }
    let file_size = std::fs::metadata(&video).map(|m| m.len()).unwrap_or(0);
    let mut tx = db.pool().begin().await.map_err(db_err)?;
    let still_mine: Option<String> =
        sqlx::query_scalar("SELECT leased_by FROM render.jobs WHERE generation_id = $1 FOR UPDATE")
            .bind(job.generation_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
    if still_mine.as_deref() != Some(worker) {
        // The lease ran out and another worker has the job now: its result will stand.
        return Err("the job was taken over by another worker after this one's lease ran out".into());
    }
    sqlx::query(
        "UPDATE generations SET status = 'completed', video_url = $2, thumbnail_url = $3, duration = $4::float8::numeric, \
           file_size = $5, render_time_seconds = $6, completed_at = now(), error_message = NULL WHERE id = $1",
    )
    .bind(job.generation_id)
    .bind(format!("/v1/generations/{}/video", job.generation_id))
    .bind(format!("/v1/generations/{}/thumbnail", job.generation_id))
    .bind(plan.duration)
    .bind(i64::try_from(file_size).unwrap_or(i64::MAX))
    .bind(i32::try_from(started.elapsed().as_secs()).unwrap_or(i32::MAX))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    sqlx::query("UPDATE projects SET status = 'completed' WHERE id = $1")
        .bind(job.project_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    sqlx::query("UPDATE render.jobs SET state = 'done', progress = 1, leased_by = NULL WHERE generation_id = $1")
        .bind(job.generation_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    log(db, job, "render.completed", "success", &format!("Rendered in {:.0} s", started.elapsed().as_secs_f64()))
        .await
        .map_err(db_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_reads_only_objects_of_the_jobs_own_project() {
        let job = Job {
            generation_id: Uuid::new_v4(),
            organization_id: Uuid::new_v4(),
            project_id: Uuid::new_v4(),
            attempts: 1,
            max_attempts: 3,
        };
        let (org, project) = (job.organization_id, job.project_id);
        let other = Uuid::new_v4();
        assert!(own_object(&job, &format!("{org}/{project}/abc.wav")));
        for key in [
            format!("{other}/{project}/abc.wav"),
            format!("{org}/{other}/abc.wav"),
            format!("/{org}/{project}/abc.wav"),
            format!("{org}/{project}/"),
            format!("{org}/{project}/../../{other}/x/abc.wav"),
            format!("{org}/{project}//abc.wav"),
            format!("_uploads/{project}/abc.wav"),
        ] {
            assert!(!own_object(&job, &key), "{key} is not the job's own object");
        }
    }
}
