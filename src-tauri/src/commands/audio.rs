//! Previewing a dropped or picked audio file at once, on this machine: waveform (progressively),
//! beat grid, tempo, duration, and a playable copy for the player.

use std::path::PathBuf;

use resonance_client::look::TempoGrid;
use resonance_client::preview::Preview;
use serde::Serialize;
use tauri::AppHandle;
use tauri_specta::Event;

use super::State;
use crate::error::{CmdResult, CommandError};
use crate::events::WaveformProgress;

/// A previewed track and where the player finds its playable copy.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AudioPreview {
    #[serde(flatten)]
    pub preview: Preview,
    pub playback_url: String,
}

/// Decodes `path` once; `WaveformProgress` events tagged `request` draw the waveform as it
/// decodes. The answer's `playback_url` plays the track (any source format) with seeking.
#[tauri::command]
#[specta::specta]
pub async fn preview_audio(app: AppHandle, state: State<'_>, path: String, request: String) -> CmdResult<AudioPreview> {
    let source = PathBuf::from(path);
    let data_root = state.data_root.clone();
    let emitter = app;
    let preview = tokio::task::spawn_blocking(move || {
        resonance_client::preview::preview(&source, &data_root, |waveform| {
            let _ = WaveformProgress { request: request.clone(), waveform: waveform.clone() }.emit(&emitter);
        })
    })
    .await
    .map_err(|e| CommandError::local(format!("the preview stopped: {e}")))??;
    state.media.looks.remember(&preview.track, preview.analysis.clone(), preview.envelopes.clone());
    let playback_url = state.media.url_for(&preview.playback);
    Ok(AudioPreview { preview, playback_url })
}

/// A previewed track's beat grid at the creator's tempo (`null`: the detected one), read as the
/// render worker will read it; the answer's `track` is what the look preview then draws.
#[tauri::command]
#[specta::specta]
pub async fn preview_tempo(state: State<'_>, track: String, tempo_bpm: Option<f64>) -> CmdResult<TempoGrid> {
    let looks = state.media.looks.clone();
    Ok(tokio::task::spawn_blocking(move || looks.retempo(&track, tempo_bpm))
        .await
        .map_err(|e| CommandError::local(format!("the tempo could not be applied: {e}")))??)
}
