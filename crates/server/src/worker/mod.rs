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

mod footage;
pub mod queue;
pub mod render;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use uuid::Uuid;

use crate::db::Db;
pub use queue::Job;
pub use resonance_api::generations::RenderStage;

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

/// Why a render attempt failed. Its message is what the member reads on the generation; the
/// detail (server paths, storage internals) goes to the server's log only.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the database failed; the render will be retried")]
    Database(#[from] sqlx::Error),
    #[error("the generation was started without its inputs; start it again")]
    NoInputs,
    #[error("the project has no uploaded audio of its own: upload its track, then generate again")]
    NoAudio,
    #[error("the render server has no scratch space left")]
    Scratch(std::io::Error),
    #[error("the project's audio is missing from storage: upload its track again")]
    AudioMissing(object_store::Error),
    #[error("reading the project's audio from storage failed")]
    AudioUnreadable(object_store::Error),
    #[error("the audio cannot be analysed ({}: {})", .0.kind, .0.message)]
    Unanalysable(resonance_audio::AudioError),
    #[error("the generation cannot be rendered: {0}")]
    Trim(resonance_visuals::TrimError),
    #[error("the renderer crashed")]
    Crashed(String),
    #[error("the video could not be encoded")]
    Encode(render::EncodeError),
    #[error("the rendered file was lost before it was stored")]
    Lost(std::io::Error),
    #[error("storing the video failed; it will be retried")]
    Store(object_store::Error),
    #[error("the job was taken over by another worker after this one's lease ran out")]
    TakenOver,
}

impl RenderError {
    /// Whether another attempt can succeed: a project without audio or with audio that cannot
    /// be decoded fails at once instead of three times.
    pub fn retryable(&self) -> bool {
        !matches!(
            self,
            RenderError::NoInputs | RenderError::NoAudio | RenderError::Unanalysable(_) | RenderError::Trim(_)
        )
    }

    fn log_detail(&self) {
        let detail = match self {
            RenderError::Database(e) => e.to_string(),
            RenderError::Scratch(e) | RenderError::Lost(e) => e.to_string(),
            RenderError::AudioMissing(e) | RenderError::AudioUnreadable(e) | RenderError::Store(e) => e.to_string(),
            RenderError::Crashed(e) => e.clone(),
            RenderError::Encode(e) => e.to_string(),
            _ => return,
        };
        tracing::warn!(%detail, "{self}");
    }
}

/// Claims the oldest job that is queued or whose lease ran out.
pub async fn claim(db: &Db, settings: &WorkerSettings) -> Result<Option<Job>, sqlx::Error> {
    queue::claim(db, &settings.name, settings.lease).await
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
        let last = queue::last_error(db, &job).await?;
        let reason = format!(
            "The render failed {} times and was given up{}",
            job.max_attempts,
            last.map(|l| format!(": {l}")).unwrap_or_default()
        );
        queue::fail(db, &job, &reason).await?;
        return Ok(true);
    }
    tracing::info!(generation = %job.generation_id, attempt = job.attempts, "rendering");
    // Keep the lease while working.
    let keeper = {
        let (db, name, lease, job) = (db.clone(), settings.name.clone(), settings.lease, job.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let _ = queue::renew_lease(&db, &job, &name, lease).await;
            }
        })
    };
    let outcome = work(db, storage.as_ref(), &job, &settings.name).await;
    keeper.abort();
    let Err(error) = outcome else { return Ok(true) };
    error.log_detail();
    if queue::holder(db, &job).await?.as_deref() != Some(settings.name.as_str()) {
        tracing::warn!(generation = %job.generation_id, "another worker took this job over; leaving it to them");
        return Ok(true);
    }
    let reason = error.to_string();
    if !error.retryable() {
        queue::fail(db, &job, &reason).await?;
    } else if job.attempts < job.max_attempts {
        tracing::warn!(generation = %job.generation_id, %reason, "render attempt failed; it will be retried");
        queue::requeue(db, &job, &reason).await?;
    } else {
        let reason = format!("The render failed {} times and was given up: {reason}", job.attempts);
        queue::fail(db, &job, &reason).await?;
    }
    Ok(true)
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
    /// The creator's tempo, when set (absent from jobs queued before it existed).
    #[serde(default)]
    tempo_bpm: Option<f64>,
    /// The shape (absent from jobs queued before shapes existed: 16:9).
    #[serde(default)]
    aspect: resonance_api::model::AspectRatio,
    /// The part of the song to render, when the generation is a trim.
    #[serde(default)]
    trim_start: Option<f64>,
    #[serde(default)]
    trim_end: Option<f64>,
    /// The project's footage in its order, as it stood at Generate (absent from older jobs).
    #[serde(default)]
    footage: Vec<FootageInput>,
}

/// One footage item of a render's inputs.
#[derive(Debug, serde::Deserialize)]
struct FootageInput {
    id: Uuid,
    kind: resonance_api::footage::FootageKind,
    object_key: String,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    in_point: Option<f64>,
    #[serde(default)]
    out_point: Option<f64>,
}

/// Downloads the job's footage into `dir`: the items the plan may cut to, with their files. An
/// item removed since Generate (its file gone) is left out, so the render goes on with the rest;
/// a key outside the project is never read.
async fn fetch_footage(
    storage: &dyn ObjectStore,
    job: &Job,
    inputs: &[FootageInput],
    dir: &std::path::Path,
) -> Result<(Vec<resonance_visuals::FootageItem>, Vec<PathBuf>), RenderError> {
    let (mut items, mut paths) = (Vec::new(), Vec::new());
    for input in inputs {
        if !own_object(job, &input.object_key) {
            tracing::warn!(generation = %job.generation_id, "a footage item outside the project was left out");
            continue;
        }
        let ext = input.object_key.rsplit('.').next().filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric()));
        let path = dir.join(format!("footage-{}.{}", input.id, ext.unwrap_or("bin")));
        let mut stream = match storage.get(&ObjectPath::from(input.object_key.as_str())).await {
            Ok(found) => found.into_stream(),
            Err(object_store::Error::NotFound { .. }) => {
                tracing::info!(generation = %job.generation_id, item = %input.id, "a footage item was removed since Generate; rendering without it");
                continue;
            }
            Err(e) => return Err(RenderError::Store(e)),
        };
        {
            use std::io::Write as _;
            let mut file = std::fs::File::create(&path).map_err(RenderError::Scratch)?;
            while let Some(piece) = stream.next().await {
                file.write_all(&piece.map_err(RenderError::Store)?).map_err(RenderError::Scratch)?;
            }
        }
        items.push(resonance_visuals::FootageItem {
            id: input.id.to_string(),
            kind: input.kind,
            duration: input.duration,
            in_point: input.in_point,
            out_point: input.out_point,
        });
        paths.push(path);
    }
    Ok((items, paths))
}

/// Whether `key` is an object of this job's own project: the worker reads nothing else.
fn own_object(job: &Job, key: &str) -> bool {
    let prefix = format!("{}/{}/", job.organization_id, job.project_id);
    key.strip_prefix(&prefix).is_some_and(|rest| {
        !rest.is_empty() && rest.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
    })
}

/// A temporary directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn work(db: &Db, storage: &dyn ObjectStore, job: &Job, worker: &str) -> Result<(), RenderError> {
    let started = Instant::now();
    let (inputs, seed) = queue::inputs::<Inputs>(db, job).await?;
    let inputs = inputs.ok_or(RenderError::NoInputs)?;
    let Some(audio_key) = inputs.audio_key.as_deref().filter(|k| own_object(job, k)) else {
        return Err(RenderError::NoAudio);
    };
    let scratch = Scratch(std::env::temp_dir().join(format!("resonance-render-{}", job.generation_id)));
    std::fs::create_dir_all(&scratch.0).map_err(RenderError::Scratch)?;

    // Analyzing.
    queue::enter(db, job, RenderStage::Analyzing).await?;
    let ext = audio_key.rsplit('.').next().filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric())).unwrap_or("audio");
    let audio = scratch.0.join(format!("audio.{ext}"));
    let mut stream = storage.get(&ObjectPath::from(audio_key)).await.map_err(RenderError::AudioMissing)?.into_stream();
    {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&audio).map_err(RenderError::Scratch)?;
        while let Some(piece) = stream.next().await {
            file.write_all(&piece.map_err(RenderError::AudioUnreadable)?).map_err(RenderError::Scratch)?;
        }
    }
    let (path, tempo) = (audio.clone(), inputs.tempo_bpm);
    let mut analysis = tokio::task::spawn_blocking(move || resonance_audio::analyze_at(&path, tempo))
        .await
        .map_err(|e| RenderError::Crashed(e.to_string()))?
        .map_err(RenderError::Unanalysable)?;
    // Decoder warnings may name this server's scratch paths: they are for the desktop's own probe.
    analysis.facts.warnings.clear();
    let stored = serde_json::to_value(&analysis).map_err(|e| RenderError::Crashed(e.to_string()))?;
    queue::store_analysis(db, job, &stored).await?;

    // Orchestrating.
    queue::enter(db, job, RenderStage::Orchestrating).await?;
    let look = resonance_visuals::ProjectLook {
        prompt: inputs.prompt.clone(),
        style: inputs.style_preference,
        effect_intensity: inputs.effect_intensity,
        footage_visibility: inputs.footage_visibility,
    };
    let (items, footage_paths) = fetch_footage(storage, job, &inputs.footage, &scratch.0).await?;
    let mut plan = resonance_visuals::plan_with_footage(&analysis, &look, &items, &seed);
    if inputs.trim_start.is_some() || inputs.trim_end.is_some() {
        // The whole song's plan over the part: the trim's frames are the full render's.
        plan =
            plan.trimmed(inputs.trim_start.unwrap_or(0.0), inputs.trim_end, render::FPS).map_err(RenderError::Trim)?;
    }
    queue::store_plan(db, job, &plan).await?;

    // Rendering.
    queue::enter(db, job, RenderStage::Rendering).await?;
    let size = inputs.resolution.dimensions_for(inputs.aspect);
    let (video, thumbnail) = (scratch.0.join("video.mp4"), scratch.0.join("thumbnail.jpg"));
    let (v, t, a, p) = (video.clone(), thumbnail.clone(), audio.clone(), plan.clone());
    let (progress_tx, mut progress_rx) = tokio::sync::watch::channel(0.0f64);
    let rendering = tokio::task::spawn_blocking(move || {
        render::render(&p, &a, &v, &t, size, &footage_paths, |f| {
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
                    let _ = queue::progress(db, job, done).await;
                }
            }
        }
    };
    rendered.map_err(|e| RenderError::Crashed(e.to_string()))?.map_err(RenderError::Encode)?;

    // Stored, then completed.
    let base = format!("{}/{}/renders/{}", job.organization_id, job.project_id, job.generation_id);
    for (file, key) in [(&video, format!("{base}.mp4")), (&thumbnail, format!("{base}.jpg"))] {
        let bytes = std::fs::read(file).map_err(RenderError::Lost)?;
        storage.put(&ObjectPath::from(key), bytes.into()).await.map_err(RenderError::Store)?;
    }
    let finished = queue::Finished {
        duration: plan.length(),
        file_size: std::fs::metadata(&video).map(|m| m.len()).unwrap_or(0),
        render_seconds: started.elapsed().as_secs(),
    };
    if !queue::complete(db, job, worker, &finished).await? {
        // The lease ran out and another worker has the job now: its result will stand.
        return Err(RenderError::TakenOver);
    }
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
