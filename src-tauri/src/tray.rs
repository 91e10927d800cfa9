//! The tray icon, so the app keeps working with its window closed: Open, Sync now, Pause (or
//! Resume) uploads, and Quit. Closing the window hides it while "Keep running in the background"
//! is on (the default); uploads, sync, the render watcher and notifications go on. Quit ends the
//! app: uploads left unfinished resume at the next start, as after any interruption.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

use crate::state::AppState;

/// Whether the tray's "Pause uploads" is in force (until "Resume uploads" or the next start).
static UPLOADS_PAUSED: AtomicBool = AtomicBool::new(false);

pub fn install(app: &tauri::App) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open Resonance", true, None::<&str>)?;
    let sync = MenuItem::with_id(app, "sync", "Sync now", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause uploads", true, None::<&str>)?;
    let quit_item = MenuItem::with_id(app, "quit", "Quit Resonance", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &sync, &pause, &PredefinedMenuItem::separator(app)?, &quit_item])?;
    let mut tray = TrayIconBuilder::with_id("main").menu(&menu).tooltip("Resonance");
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.on_menu_event(move |app, event| match event.id().as_ref() {
        "open" => crate::notifier::focus_main(app),
        "sync" => {
            if let Some(state) = app.try_state::<Arc<AppState>>() {
                state.sync_now();
            }
        }
        "pause" => {
            let paused = !UPLOADS_PAUSED.fetch_xor(true, Ordering::SeqCst);
            let _ = pause.set_text(if paused { "Resume uploads" } else { "Pause uploads" });
            let app = app.clone();
            tauri::async_runtime::spawn(async move { set_uploads_paused(&app, paused).await });
        }
        "quit" => quit(app),
        _ => {}
    })
    .build(app)?;
    Ok(())
}

/// Pauses every upload (each stays paused across restarts, as a pause in the window does), or
/// resumes every paused one.
async fn set_uploads_paused(app: &AppHandle, paused: bool) {
    let Some(state) = app.try_state::<Arc<AppState>>().map(|s| s.inner().clone()) else { return };
    if !paused {
        state.resume_uploads(true).await;
        return;
    }
    if let Err(e) = state.uploader.pause_all().await {
        tracing::warn!(error = %e, "cannot pause the uploads");
    }
}

/// Ends the app from the tray: background work stops first, then the process exits.
pub fn quit(app: &AppHandle) {
    if let Some(state) = app.try_state::<Arc<AppState>>() {
        state.shut_down();
    }
    tracing::info!("quit from the tray");
    app.exit(0);
}

/// What closing the window does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnClose {
    /// Hide it; the app goes on in the background.
    Hide,
    /// Let it close, which ends the app.
    Quit,
}

pub fn on_close(keep_running: bool) -> OnClose {
    if keep_running {
        OnClose::Hide
    } else {
        OnClose::Quit
    }
}

/// Said once per run, the first time the window is hidden, so closing it does not look like a
/// crash or like quitting.
pub fn hidden_first_time() -> bool {
    static SAID: AtomicBool = AtomicBool::new(false);
    !SAID.swap(true, Ordering::SeqCst)
}
