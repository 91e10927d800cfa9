//! Starting generations, and the finished videos and thumbnails (from the media cache, offline
//! too).

use resonance_api::model::Generation;
use resonance_client::media::Kind;
use uuid::Uuid;

use super::State;
use crate::error::CmdResult;

/// Starts a generation (needs the server: it counts against the month's quota). `seed` repeats
/// an earlier render's look ("re-run with the same seed").
#[tauri::command]
#[specta::specta]
pub async fn generate(state: State<'_>, project: Uuid, seed: Option<String>) -> CmdResult<Generation> {
    let generation = state.client.read().await.start_generation(project, seed).await?;
    state.sync_now();
    Ok(generation)
}

/// Where the webview plays a finished generation's video or shows its thumbnail: the cached file
/// (fetched into the media cache first if needed), served on loopback.
#[tauri::command]
#[specta::specta]
pub async fn media(state: State<'_>, generation: Uuid, kind: Kind) -> CmdResult<String> {
    let path = state.client.read().await.media(generation, kind).await?;
    Ok(state.media.url_for(&path))
}

/// Shows a finished generation's video in the file manager (fetched into the cache first).
#[tauri::command]
#[specta::specta]
pub async fn reveal_video(app: tauri::AppHandle, state: State<'_>, generation: Uuid) -> CmdResult<()> {
    use tauri_plugin_opener::OpenerExt;
    let path = state.client.read().await.media(generation, Kind::Video).await?;
    app.opener()
        .reveal_item_in_dir(&path)
        .map_err(|e| crate::error::CommandError::local(format!("The file manager could not be opened: {e}")))
}

/// The user watched this generation finish in the app: no notification for it.
#[tauri::command]
#[specta::specta]
pub async fn mark_seen(state: State<'_>, generation: Uuid) -> CmdResult<()> {
    Ok(state.client.read().await.mark_generation_seen(generation)?)
}
