//! Uploading a project's audio with progress, pause, resume and cancel: translated to
//! `resonance_client::uploader`, which keeps each upload going (waiting for its project to reach
//! the server and for the network) and reports through the app's `UploadProgress` events.

use uuid::Uuid;

use super::State;
use crate::error::CmdResult;
use crate::events::UploadProgress;
use resonance_client::uploads::Upload;

/// Records `path` (probed again here: what is not audio is refused) as `project`'s audio and
/// starts sending it.
#[tauri::command]
#[specta::specta]
pub async fn start_upload(state: State<'_>, project: Uuid, path: String) -> CmdResult<Upload> {
    let path = std::path::PathBuf::from(path);
    let upload = {
        let client = state.client.read().await;
        let probe_path = path.clone();
        let facts = tokio::task::spawn_blocking(move || resonance_client::uploads::probe(&probe_path))
            .await
            .map_err(|e| crate::error::CommandError::local(format!("the probe stopped: {e}")))??;
        client.record_upload(project, &path, &facts)?
    };
    state.uploader.start(upload.id, project);
    Ok(upload)
}

#[tauri::command]
#[specta::specta]
pub async fn pause_upload(state: State<'_>, id: Uuid) -> CmdResult<()> {
    Ok(state.uploader.pause(id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn resume_upload(state: State<'_>, id: Uuid) -> CmdResult<()> {
    let upload = state.client.read().await.upload(id)?;
    state.uploader.start(id, upload.project_id);
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn cancel_upload(state: State<'_>, id: Uuid) -> CmdResult<()> {
    Ok(state.uploader.cancel(id).await?)
}

/// The project's uploads not finished yet, as their progress events would show them (to show
/// them when the screen opens).
#[tauri::command]
#[specta::specta]
pub async fn uploads(state: State<'_>, project: Uuid) -> CmdResult<Vec<UploadProgress>> {
    Ok(state.uploader.unfinished_of(project).await?.iter().map(UploadProgress::from).collect())
}
