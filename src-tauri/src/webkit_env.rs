//! Settings the app gives WebKitGTK through the environment, set in `main` before any thread
//! exists, and the programs the app starts (the browser for a payment page, the file manager
//! for the logs folder), which run without them: they are this app's choices, not the
//! desktop's.

use std::sync::Mutex;

static OURS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// Sets `var` to `value` unless the environment already says something (an explicit setting
/// wins), and remembers that it was the app's. Call only before any thread exists.
pub fn set_unless_set(var: &'static str, value: &str) {
    if std::env::var_os(var).is_none() {
        std::env::set_var(var, value);
        crate::state::lock(&OURS).push(var);
    }
}

/// The variables `set_unless_set` set.
pub fn ours() -> Vec<&'static str> {
    crate::state::lock(&OURS).clone()
}

/// Opens `target`, a URL or a folder, with the desktop's program for it (`xdg-open`), without
/// the app's WebKit settings. Where `xdg-open` cannot be started, the opener plugin does it.
pub fn open(app: &tauri::AppHandle, target: &str) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        let mut command = std::process::Command::new("xdg-open");
        command.arg(target).stdin(std::process::Stdio::null());
        for var in ours() {
            command.env_remove(var);
        }
        match command.spawn() {
            Ok(mut child) => {
                // Reaped when it ends (xdg-open hands over to the program and returns).
                std::thread::spawn(move || child.wait());
                return Ok(());
            }
            Err(e) => tracing::warn!(error = %e, "xdg-open could not be started; the opener plugin opens it"),
        }
    }
    use tauri_plugin_opener::OpenerExt;
    let opened = if target.contains("://") {
        app.opener().open_url(target, None::<&str>)
    } else {
        app.opener().open_path(target, None::<&str>)
    };
    opened.map_err(|e| e.to_string())
}
