//! Uploading a project's audio with progress, pause, resume and cancel. An upload waits for its
//! project to reach the server and for the network; it survives a restart of the app.

use std::sync::Arc;
use std::time::Duration;

use resonance_client::uploads::{Outcome, Upload};
use tauri::AppHandle;
use tauri_specta::Event;
use uuid::Uuid;

use super::State;
use crate::error::CmdResult;
use crate::events::UploadProgress;
use crate::state::AppState;

/// Records `path` (probed again here: what is not audio is refused) as `project`'s audio and
/// starts sending it.
#[tauri::command]
#[specta::specta]
pub async fn start_upload(app: AppHandle, state: State<'_>, project: Uuid, path: String) -> CmdResult<Upload> {
    let path = std::path::PathBuf::from(path);
    let upload = {
        let client = state.client.read().await;
        let probe_path = path.clone();
        let facts = tokio::task::spawn_blocking(move || resonance_client::uploads::probe(&probe_path))
            .await
            .map_err(|e| crate::error::CommandError::local(format!("the probe stopped: {e}")))??;
        client.record_upload(project, &path, &facts)?
    };
    spawn_upload(state.inner().clone(), app, upload.id, project);
    Ok(upload)
}

#[tauri::command]
#[specta::specta]
pub async fn pause_upload(app: AppHandle, state: State<'_>, id: Uuid) -> CmdResult<()> {
    pause(&app, &state, id).await
}

/// Pauses one upload (the command, and the tray's "Pause uploads" for each).
pub async fn pause(app: &AppHandle, state: &AppState, id: Uuid) -> CmdResult<()> {
    if let Some(pause) = state.uploads.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
        let _ = pause.send(true);
    }
    // One not being sent right now (waiting its turn, the project or the network) is paused
    // here and now, and stays paused across restarts; one being sent says so when it stops.
    let upload = state.client.read().await.mark_upload_paused(id)?;
    if upload.state == "paused" {
        emit(app, &upload, upload.offset, "paused", None);
    }
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn resume_upload(app: AppHandle, state: State<'_>, id: Uuid) -> CmdResult<()> {
    let upload = state.client.read().await.upload(id)?;
    spawn_upload(state.inner().clone(), app, id, upload.project_id);
    Ok(())
}

/// Whether `id` is being sent (or waits its turn) in this run of the app.
pub fn in_flight(state: &AppState, id: Uuid) -> bool {
    state.uploads.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&id)
}

/// Whether `paused` is still the switch of `id` (not canceled, not replaced by a newer run).
fn current(state: &AppState, id: Uuid, paused: &tokio::sync::watch::Receiver<bool>) -> bool {
    state.uploads.lock().unwrap_or_else(|p| p.into_inner()).get(&id).is_some_and(|s| s.subscribe().same_channel(paused))
}

#[tauri::command]
#[specta::specta]
pub async fn cancel_upload(app: AppHandle, state: State<'_>, id: Uuid) -> CmdResult<()> {
    if let Some(pause) = state.uploads.lock().unwrap_or_else(|p| p.into_inner()).remove(&id) {
        let _ = pause.send(true);
    }
    let client = state.client.read().await;
    let upload = client.upload(id)?;
    client.cancel_upload(id).await?;
    emit(&app, &upload, upload.offset, "canceled", None);
    Ok(())
}

/// The project's uploads not finished yet (to show their progress when the screen opens).
#[tauri::command]
#[specta::specta]
pub async fn uploads(state: State<'_>, project: Uuid) -> CmdResult<Vec<Upload>> {
    Ok(state.client.read().await.unfinished_uploads()?.into_iter().filter(|u| u.project_id == project).collect())
}

fn emit(app: &AppHandle, upload: &Upload, sent: u64, state: &str, error: Option<String>) {
    let _ = UploadProgress {
        upload_id: upload.id,
        project_id: upload.project_id,
        purpose: upload.purpose,
        file: upload.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        sha256: upload.sha256.clone(),
        sent: sent as f64,
        total: upload.size as f64,
        state: state.into(),
        error,
    }
    .emit(app);
}

/// The switch that pauses (or, removed, cancels) the upload `id`; a run it replaces stops.
fn register(state: &AppState, id: Uuid) -> tokio::sync::watch::Receiver<bool> {
    let (pause, paused) = tokio::sync::watch::channel(false);
    if let Some(previous) = state.uploads.lock().unwrap_or_else(|p| p.into_inner()).insert(id, pause) {
        let _ = previous.send(true); // one sender per upload
    }
    paused
}

/// Sends the upload in the background until it is done, paused, canceled or refused; while the
/// project is not on the server or the network is down, it waits and tries again.
pub fn spawn_upload(state: Arc<AppState>, app: AppHandle, id: Uuid, project: Uuid) {
    let paused = register(&state, id);
    tauri::async_runtime::spawn(drive(state, app, id, project, paused));
}

/// Sends `ids` one after the other, in that order (a project's footage is listed in the order
/// its uploads finish, so files dropped together keep the order they were dropped in). Each can
/// be paused or canceled before its turn: it is then skipped.
pub fn spawn_uploads_in_order(state: Arc<AppState>, app: AppHandle, ids: Vec<Uuid>, project: Uuid) {
    let switches: Vec<_> = ids.into_iter().map(|id| (id, register(&state, id))).collect();
    tauri::async_runtime::spawn(async move {
        for (id, paused) in switches {
            drive(state.clone(), app.clone(), id, project, paused).await;
        }
    });
}

async fn drive(
    state: Arc<AppState>,
    app: AppHandle,
    id: Uuid,
    project: Uuid,
    paused: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *paused.borrow() {
            // Paused or canceled before a byte of this run was sent: `pause_upload` and
            // `cancel_upload` said so.
            break;
        }
        let client = state.client.read().await;
        let upload = match client.upload(id) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "the upload is gone");
                break;
            }
        };
        let ready = match client.on_server(project) {
            Ok(true) => true,
            Ok(false) => {
                let _ = client.push_quietly().await;
                client.on_server(project).unwrap_or(false)
            }
            Err(_) => false,
        };
        if !ready {
            emit(&app, &upload, upload.offset, "waiting", Some("Waiting for the project to reach the server.".into()));
            drop(client);
            tokio::time::sleep(Duration::from_secs(3)).await;
            continue;
        }
        emit(&app, &upload, upload.offset, "sending", None);
        let outcome = client.run_upload(id, &paused, |p| emit(&app, &upload, p.sent, "sending", None)).await;
        match outcome {
            Ok(Outcome::Done) => {
                emit(&app, &upload, upload.size, "done", None);
                state.sync_now();
                break;
            }
            Ok(Outcome::Paused) => {
                // A cancel (or a newer run) stops a run too; only a pause says "paused".
                if current(&state, id, &paused) {
                    let sent = client.upload(id).map(|u| u.offset).unwrap_or(upload.offset);
                    emit(&app, &upload, sent, "paused", None);
                }
                break;
            }
            Ok(Outcome::Waiting) => {
                let sent = client.upload(id).map(|u| u.offset).unwrap_or(upload.offset);
                emit(
                    &app,
                    &upload,
                    sent,
                    "waiting",
                    Some("The server cannot be reached; the upload resumes when it can.".into()),
                );
            }
            Err(e) if e.is_transient() => {
                emit(&app, &upload, upload.offset, "waiting", Some(e.to_string()));
            }
            Err(e) if e.needs_update() => {
                // Kept, as offline: the server takes it from an updated app (or once it serves
                // this one again); asked rarely meanwhile.
                emit(&app, &upload, upload.offset, "waiting", Some(e.to_string()));
                drop(client);
                tokio::time::sleep(Duration::from_secs(60)).await;
                continue;
            }
            Err(e) => {
                emit(&app, &upload, upload.offset, "failed", Some(e.to_string()));
                break;
            }
        }
        drop(client);
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    // Only this run's switch: a newer run of the same upload keeps its own.
    if current(&state, id, &paused) {
        state.uploads.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }
}
