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
pub async fn pause_upload(state: State<'_>, id: Uuid) -> CmdResult<()> {
    if let Some(pause) = state.uploads.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
        let _ = pause.send(true);
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
        sent: sent as f64,
        total: upload.size as f64,
        state: state.into(),
        error,
    }
    .emit(app);
}

/// Sends the upload in the background until it is done, paused, canceled or refused; while the
/// project is not on the server or the network is down, it waits and tries again.
pub fn spawn_upload(state: Arc<AppState>, app: AppHandle, id: Uuid, project: Uuid) {
    let (pause, paused) = tokio::sync::watch::channel(false);
    if let Some(previous) = state.uploads.lock().unwrap_or_else(|p| p.into_inner()).insert(id, pause) {
        let _ = previous.send(true); // one sender per upload
    }
    tauri::async_runtime::spawn(async move {
        loop {
            if *paused.borrow() {
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
                emit(
                    &app,
                    &upload,
                    upload.offset,
                    "waiting",
                    Some("Waiting for the project to reach the server.".into()),
                );
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
                    let sent = client.upload(id).map(|u| u.offset).unwrap_or(upload.offset);
                    emit(&app, &upload, sent, "paused", None);
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
                Err(e) => {
                    emit(&app, &upload, upload.offset, "failed", Some(e.to_string()));
                    break;
                }
            }
            drop(client);
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        let mut map = state.uploads.lock().unwrap_or_else(|p| p.into_inner());
        // Only this run's switch: a newer run of the same upload keeps its own.
        if map.get(&id).is_some_and(|s| s.subscribe().same_channel(&paused)) {
            map.remove(&id);
        }
    });
}
