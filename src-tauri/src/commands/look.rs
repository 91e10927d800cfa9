//! The live look preview: how the prompt reads, and where the preview's frames are drawn.

use resonance_visuals::PromptReading;
use uuid::Uuid;

use super::State;
use crate::error::CmdResult;

/// What the engine takes from `prompt` (colours, motifs, light, moods, pace) and which words it
/// did not understand, as the creator types. Free and offline.
#[tauri::command]
#[specta::specta]
pub fn read_prompt(prompt: String) -> PromptReading {
    resonance_visuals::read_prompt(&prompt)
}

/// Where the webview fetches look preview frames: raw RGBA, drawn by the render engine from the
/// local analysis of a previewed track.
#[tauri::command]
#[specta::specta]
pub fn look_preview_url(state: State<'_>) -> String {
    state.media.look_url()
}

/// The file on this computer holding the project's audio, to preview its look on the project
/// screen: `None` when it was never sent from here or its file has gone.
#[tauri::command]
#[specta::specta]
pub async fn project_track(state: State<'_>, project: Uuid) -> CmdResult<Option<String>> {
    Ok(state.client.read().await.project_track(project)?.map(|p| p.display().to_string()))
}
