//! Starting generations, and the finished videos and thumbnails (from the media cache, offline
//! too).

use resonance_api::generations::NewGeneration;
use resonance_api::model::Generation;
use resonance_api::sharing::{ShareLifetime, ShareLink};
use resonance_client::export::Preset;
use resonance_client::media::Kind;
use uuid::Uuid;

use super::State;
use crate::error::CmdResult;
use crate::events::ExportProgress;

/// Starts a generation (needs the server: it counts against the month's quota). `request.seed`
/// repeats an earlier render's look ("re-run with the same seed"); `request.trim_start` and
/// `request.trim_end` render a part of the song.
#[tauri::command]
#[specta::specta]
pub async fn generate(state: State<'_>, project: Uuid, request: NewGeneration) -> CmdResult<Generation> {
    let generation = state.client.read().await.start_generation(project, &request).await?;
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

/// Asks where to save a finished video, then writes it there re-encoded with `preset` (on this
/// machine, from the media cache; `ExportProgress` events say how far it is). `name` is the
/// suggested file name, without extension. `None` when the save dialog was cancelled.
#[tauri::command]
#[specta::specta]
pub async fn export_video(
    app: tauri::AppHandle,
    state: State<'_>,
    generation: Uuid,
    preset: Preset,
    name: String,
) -> CmdResult<Option<String>> {
    use tauri_plugin_dialog::DialogExt;
    use tauri_specta::Event as _;
    let (chosen, choice) = tokio::sync::oneshot::channel();
    let extension = preset.extension();
    app.dialog()
        .file()
        .set_title(format!("Export: {}", preset.id()))
        .set_file_name(format!("{name}.{extension}"))
        .add_filter(extension.to_uppercase(), &[extension])
        .save_file(move |path| {
            let _ = chosen.send(path);
        });
    let Some(path) = choice.await.ok().flatten() else { return Ok(None) };
    let path = path
        .into_path()
        .map_err(|e| crate::error::CommandError::local(format!("That place cannot be written to: {e}")))?;
    // The client's lock is held only to find the video, not for the whole encode.
    let master = state.client.read().await.media(generation, Kind::Video).await?;
    let written = resonance_client::export::run(&master, preset, &path, |done| {
        let _ = ExportProgress { generation_id: generation, preset, done }.emit(&app);
    })
    .await?;
    Ok(Some(written.display().to_string()))
}

/// A generation's share links, newest first, with their state (needs the server).
#[tauri::command]
#[specta::specta]
pub async fn share_links(state: State<'_>, generation: Uuid) -> CmdResult<Vec<ShareLink>> {
    Ok(state.client.read().await.share_links(generation).await?)
}

/// Makes a link that plays this video without an account for 1, 7 or 30 days.
#[tauri::command]
#[specta::specta]
pub async fn create_share_link(state: State<'_>, generation: Uuid, days: u32) -> CmdResult<ShareLink> {
    let lifetime = ShareLifetime::try_from(days)
        .map_err(|e| crate::error::CommandError::local(format!("A share link lasts 1, 7 or 30 days: {e}")))?;
    Ok(state.client.read().await.create_share_link(generation, lifetime).await?)
}

/// Turns a share link off for good.
#[tauri::command]
#[specta::specta]
pub async fn revoke_share_link(state: State<'_>, link: Uuid) -> CmdResult<ShareLink> {
    Ok(state.client.read().await.revoke_share_link(link).await?)
}
