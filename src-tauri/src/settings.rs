//! The app's own preferences (notifications, media cache size), kept as JSON in the data
//! directory. Invariant: a missing or unreadable file means the defaults, never a failed start.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct Settings {
    /// An OS notification when a render finishes.
    pub notifications: bool,
    /// The media cache's size limit, in megabytes.
    pub media_cache_mb: u32,
    /// Closing the window hides it: uploads, sync, the render watcher and notifications go on,
    /// with the tray icon to come back or quit. Off: closing the window quits.
    pub keep_running: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self { notifications: true, media_cache_mb: 2048, keep_running: true }
    }
}

pub const MIN_CACHE_MB: u32 = 100;
pub const MAX_CACHE_MB: u32 = 100_000;

fn file(data_root: &Path) -> PathBuf {
    data_root.join("desktop-settings.json")
}

pub fn load(data_root: &Path) -> Settings {
    std::fs::read(file(data_root)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// Writes the settings atomically (a temporary file renamed over the old one).
pub fn save(data_root: &Path, settings: &Settings) -> std::io::Result<()> {
    let path = file(data_root);
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(settings).map_err(std::io::Error::other)?)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_a_restart_and_a_damaged_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load(dir.path()), Settings::default(), "no file: defaults");
        let changed = Settings { notifications: false, media_cache_mb: 500, keep_running: false };
        save(dir.path(), &changed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load(dir.path()), changed, "saved settings are read back");
        std::fs::write(file(dir.path()), b"{not json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load(dir.path()), Settings::default(), "a damaged file must not stop the app");
        // A file from before a setting existed keeps its values and takes the new one's default.
        std::fs::write(file(dir.path()), br#"{"notifications": false, "media_cache_mb": 300}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load(dir.path()), Settings { notifications: false, media_cache_mb: 300, keep_running: true });
    }
}
