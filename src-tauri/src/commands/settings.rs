//! Settings: notifications, the media cache's size and "clear cache".

use super::State;
use crate::error::{CmdResult, CommandError};
use crate::settings::{Settings, MAX_CACHE_MB, MIN_CACHE_MB};

#[tauri::command]
#[specta::specta]
pub async fn settings(state: State<'_>) -> CmdResult<Settings> {
    Ok(state.settings())
}

#[tauri::command]
#[specta::specta]
pub async fn save_settings(state: State<'_>, settings: Settings) -> CmdResult<Settings> {
    if !(MIN_CACHE_MB..=MAX_CACHE_MB).contains(&settings.media_cache_mb) {
        return Err(CommandError {
            code: crate::error::ErrorKind::Invalid,
            message: format!("The media cache must be between {MIN_CACHE_MB} MB and {MAX_CACHE_MB} MB."),
            field: Some("media_cache_mb".into()),
            api_code: None,
        });
    }
    state
        .set_settings(settings.clone())
        .map_err(|e| CommandError::local(format!("Settings could not be saved: {e}")))?;
    Ok(settings)
}

/// Bytes the media cache holds.
#[tauri::command]
#[specta::specta]
pub async fn media_cache_usage(state: State<'_>) -> CmdResult<f64> {
    let mirror = state.client.read().await.mirror()?;
    Ok(resonance_client::media::usage(&mirror)? as f64)
}

#[tauri::command]
#[specta::specta]
pub async fn clear_media_cache(state: State<'_>) -> CmdResult<()> {
    Ok(state.client.read().await.clear_media_cache()?)
}

/// The UI has drawn its first screen (for the start-up measurement in `cargo xtask bench`).
#[tauri::command]
#[specta::specta]
pub async fn ui_ready() -> CmdResult<()> {
    if let Some(path) = std::env::var_os("RESONANCE_READY_FILE") {
        let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        std::fs::write(path, at.to_string()).map_err(|e| CommandError::local(e.to_string()))?;
    }
    Ok(())
}
