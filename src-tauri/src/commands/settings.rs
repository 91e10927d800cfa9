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

/// The UI has drawn its first list, with the steps of its own start: the whole start is logged,
/// and written as JSON to `RESONANCE_READY_FILE` for `cargo xtask bench`.
#[tauri::command]
#[specta::specta]
pub async fn ui_ready(marks: Vec<crate::startup::StartMark>) -> CmdResult<()> {
    // One start per run: a page reloaded later (or a second report) is not a start.
    static REPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if REPORTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return Ok(());
    }
    let timeline = crate::startup::timeline(marks);
    tracing::info!("started in {}", crate::startup::describe(&timeline));
    if let Some(path) = std::env::var_os("RESONANCE_READY_FILE") {
        let json = serde_json::to_vec(&timeline).map_err(|e| CommandError::local(e.to_string()))?;
        // Whole or not at all: the bench reads it as soon as it exists.
        let path = std::path::PathBuf::from(path);
        let partial = path.with_extension("partial");
        std::fs::write(&partial, json)
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| CommandError::local(e.to_string()))?;
    }
    Ok(())
}

/// The diagnostics report, and whether it is on the clipboard.
#[derive(Debug, Clone, serde::Serialize, specta::Type)]
pub struct Diagnostics {
    pub report: String,
    pub copied: bool,
}

/// The diagnostics report for support, put on the clipboard: versions, sync, uploads, mirror,
/// cache and the last log lines, with every secret removed.
#[tauri::command]
#[specta::specta]
pub async fn diagnostics(app: tauri::AppHandle, state: State<'_>) -> CmdResult<Diagnostics> {
    use tauri::Manager;
    use tauri_plugin_clipboard_manager::ClipboardExt;
    let env = resonance_client::diagnostics::Environment {
        app: format!("Resonance Desktop {}", app.package_info().version),
        os: os_description(),
        webview: webview_description(),
        log_lines: app.path().app_log_dir().map(|dir| last_log_lines(&dir)).unwrap_or_default(),
    };
    let report = resonance_client::diagnostics::report(&*state.client.read().await, &env).await;
    let copied = match app.clipboard().write_text(report.clone()) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "the diagnostics could not be put on the clipboard");
            false
        }
    };
    Ok(Diagnostics { report, copied })
}

fn os_description() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned())))
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|k| k.trim().to_owned()).unwrap_or_default();
    format!("{pretty}, kernel {kernel}, {}", std::env::consts::ARCH).replace(", kernel ,", ",")
}

/// WebKitGTK as loaded by this process: its library, and its package's version where the
/// system's package manager can tell.
fn webview_description() -> String {
    let library = std::fs::read_to_string("/proc/self/maps")
        .ok()
        .and_then(|maps| {
            maps.lines()
                .filter_map(|l| l.split_whitespace().last())
                .find(|p| p.contains("libwebkit2gtk"))
                .map(|p| p.rsplit('/').next().unwrap_or(p).to_owned())
        })
        .unwrap_or_else(|| "not loaded".into());
    let asked = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success() && !o.stdout.is_empty())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let version = asked("dpkg-query", &["-W", "-f=${Version}", "libwebkit2gtk-4.1-0"])
        .or_else(|| asked("rpm", &["-q", "--qf", "%{VERSION}", "webkit2gtk4.1"]))
        .unwrap_or_else(|| "version unknown".into());
    format!("WebKitGTK {version} ({library})")
}

/// The newest log file's last lines.
fn last_log_lines(dir: &std::path::Path) -> Vec<String> {
    let newest = std::fs::read_dir(dir).ok().and_then(|entries| {
        entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
            .map(|e| e.path())
    });
    let Some(text) = newest.and_then(|p| std::fs::read(p).ok()) else { return Vec::new() };
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(resonance_client::diagnostics::LOG_LINES);
    lines[from..].iter().map(|l| (*l).to_owned()).collect()
}
