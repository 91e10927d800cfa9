//! Drafts of new projects: kept in the mirror as the form is written, listed on the projects
//! screen, and started by dropping audio anywhere in the window.

use resonance_client::drafts::{Draft, StartedDrafts};
use uuid::Uuid;

use super::State;
use crate::error::{CmdResult, CommandError};

#[tauri::command]
#[specta::specta]
pub async fn save_draft(state: State<'_>, draft: Draft) -> CmdResult<Draft> {
    Ok(state.client.read().await.save_draft(draft)?)
}

#[tauri::command]
#[specta::specta]
pub async fn drafts(state: State<'_>) -> CmdResult<Vec<Draft>> {
    Ok(state.client.read().await.drafts()?)
}

#[tauri::command]
#[specta::specta]
pub async fn draft(state: State<'_>, id: Uuid) -> CmdResult<Draft> {
    Ok(state.client.read().await.draft(id)?)
}

#[tauri::command]
#[specta::specta]
pub async fn discard_draft(state: State<'_>, id: Uuid) -> CmdResult<bool> {
    Ok(state.client.read().await.discard_draft(id)?)
}

/// Files dropped outside the editor: one draft per track, footage with the first.
#[tauri::command]
#[specta::specta]
pub async fn start_drafts(state: State<'_>, paths: Vec<String>) -> CmdResult<StartedDrafts> {
    let paths: Vec<std::path::PathBuf> = paths.into_iter().map(Into::into).collect();
    let client = state.client.read().await;
    // Files of unknown kind are probed with ffprobe: off the async threads.
    tokio::task::block_in_place(|| client.start_drafts(&paths)).map_err(CommandError::from)
}

/// "Try a sample track": a draft of a new project from a track made by Resonance itself (CC0),
/// with a prompt and a look that suit it.
#[tauri::command]
#[specta::specta]
pub async fn sample_draft(state: State<'_>) -> CmdResult<Draft> {
    let client = state.client.read().await;
    // The track is synthesised and written the first time: off the async threads.
    tokio::task::block_in_place(|| client.sample_draft()).map_err(CommandError::from)
}
