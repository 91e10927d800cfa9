//! A project's footage: files dropped or picked are told apart (track or footage), footage is
//! judged and uploaded like audio (with progress, pause, resume and cancel), and the list comes
//! from the mirror (offline too), with posters from the media cache.

use std::path::PathBuf;

use resonance_api::footage::{FootagePatch, UploadPurpose};
use resonance_api::model::Footage;
use resonance_client::footage::Offered;
use uuid::Uuid;

use super::State;
use crate::error::{CmdResult, CommandError};

/// A file dropped on a project, and what it is for.
#[derive(Debug, Clone, serde::Serialize, specta::Type)]
pub struct DroppedFile {
    pub path: String,
    pub purpose: UploadPurpose,
}

/// What each of `paths` is for: the project's track (audio) or its footage (a clip or a still).
#[tauri::command]
#[specta::specta]
pub async fn classify_files(paths: Vec<String>) -> CmdResult<Vec<DroppedFile>> {
    tokio::task::spawn_blocking(move || {
        paths
            .into_iter()
            .map(|path| {
                let purpose = resonance_client::footage::classify(std::path::Path::new(&path))?;
                Ok(DroppedFile { path, purpose })
            })
            .collect::<resonance_client::Result<Vec<_>>>()
    })
    .await
    .map_err(|e| CommandError::local(format!("reading the files stopped: {e}")))?
    .map_err(Into::into)
}

/// Judges each file (what is not footage is refused, naming why, and nothing is kept) and
/// starts uploading those that are new to the project, one after the other in the order given.
#[tauri::command]
#[specta::specta]
pub async fn add_footage(state: State<'_>, project: Uuid, paths: Vec<String>) -> CmdResult<Vec<Offered>> {
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    let offered = {
        let client = state.client.read().await;
        client.project(project)?;
        tokio::task::block_in_place(|| client.offer_footage(project, &paths))?
    };
    // The same bytes twice, or a file already on its way, are sent once.
    let mut queued: Vec<Uuid> = Vec::new();
    for o in &offered {
        if let Offered::Queued { upload } = o {
            if !queued.contains(&upload.id) && !state.uploader.in_flight(upload.id) {
                queued.push(upload.id);
            }
        }
    }
    state.uploader.start_in_order(queued, project);
    Ok(offered)
}

/// The project's footage in its order, from the mirror (offline too).
#[tauri::command]
#[specta::specta]
pub async fn footage(state: State<'_>, project: Uuid) -> CmdResult<Vec<Footage>> {
    Ok(state.client.read().await.footage(project)?)
}

/// The project's footage as the server has it now (an error offline: the mirror's list stands).
#[tauri::command]
#[specta::specta]
pub async fn refresh_footage(state: State<'_>, project: Uuid) -> CmdResult<Vec<Footage>> {
    Ok(state.client.read().await.refresh_footage(project).await?)
}

/// Where the webview shows an item's poster frame: the cached JPEG, served on loopback.
#[tauri::command]
#[specta::specta]
pub async fn footage_poster(state: State<'_>, id: Uuid) -> CmdResult<String> {
    let path = state.client.read().await.footage_poster(id).await?;
    Ok(state.media.url_for(&path))
}

/// Moves an item or sets the part of a clip it uses (online); the project's list after it.
#[tauri::command]
#[specta::specta]
pub async fn change_footage(state: State<'_>, id: Uuid, patch: FootagePatch) -> CmdResult<Vec<Footage>> {
    Ok(state.client.read().await.change_footage(id, &patch).await?)
}

/// Removes an item from its project (online).
#[tauri::command]
#[specta::specta]
pub async fn remove_footage(state: State<'_>, id: Uuid) -> CmdResult<()> {
    Ok(state.client.read().await.remove_footage(id).await?)
}
