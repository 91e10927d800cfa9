//! The window's menus. Every shortcut is shown in its menu; those with Ctrl or Alt are the
//! menu's accelerators, and the UI maps the same keys (`ui/src/lib/shortcuts.ts`) for when the
//! menu does not see them. Playback's bare keys (Space, ←, →) are only named in the labels:
//! as accelerators they would take the space bar from every text field. A menu item that is a
//! UI command is handed to the UI as `MenuCommand`; Quit, Close window, the logs folder and
//! About are done here.

use std::sync::Arc;

use tauri::menu::{Menu, MenuItem, Submenu, SubmenuBuilder};
use tauri::{AppHandle, Manager, Wry};
use tauri_specta::Event;

use crate::events::MenuCommand;
use crate::state::AppState;

/// The menu items the UI carries out, with their labels and accelerators.
const UI_COMMANDS: &[(&str, &str, Option<&str>)] = &[
    ("new-project", "New project", Some("CmdOrCtrl+N")),
    ("import-audio", "Import audio…", Some("CmdOrCtrl+O")),
    ("export", "Export…", Some("CmdOrCtrl+E")),
    ("find", "Find projects", Some("CmdOrCtrl+F")),
    ("projects", "Projects", Some("CmdOrCtrl+1")),
    ("activity", "Activity", Some("CmdOrCtrl+2")),
    ("account", "Account and plan", Some("CmdOrCtrl+3")),
    ("settings", "Settings", Some("CmdOrCtrl+,")),
    ("back", "Back", Some("Alt+Left")),
    ("forward", "Forward", Some("Alt+Right")),
    ("play-pause", "Play or pause\u{2003}Space", None),
    ("seek-back", "Back 5 seconds\u{2003}\u{2190}", None),
    ("seek-forward", "Forward 5 seconds\u{2003}\u{2192}", None),
    ("undo", "Undo\u{2003}Ctrl+Z", None),
    ("redo", "Redo\u{2003}Ctrl+Shift+Z", None),
    ("cut", "Cut\u{2003}Ctrl+X", None),
    ("copy", "Copy\u{2003}Ctrl+C", None),
    ("paste", "Paste\u{2003}Ctrl+V", None),
    ("select-all", "Select all\u{2003}Ctrl+A", None),
    ("copy-diagnostics", "Copy diagnostics", None),
];

fn ui_item(app: &AppHandle, id: &str) -> tauri::Result<MenuItem<Wry>> {
    let (_, label, keys) = UI_COMMANDS.iter().find(|(i, _, _)| *i == id).copied().unwrap_or((id, id, None));
    MenuItem::with_id(app, id, label, true, keys)
}

fn submenu(app: &AppHandle, title: &str, ids: &[&str]) -> tauri::Result<Submenu<Wry>> {
    let mut builder = SubmenuBuilder::new(app, title);
    for id in ids {
        builder = if *id == "-" { builder.separator() } else { builder.item(&ui_item(app, id)?) };
    }
    builder.build()
}

pub fn build(app: &AppHandle) -> tauri::Result<Menu<Wry>> {
    let file = SubmenuBuilder::new(app, "File")
        .item(&ui_item(app, "new-project")?)
        .item(&ui_item(app, "import-audio")?)
        .item(&ui_item(app, "export")?)
        .separator()
        .item(&MenuItem::with_id(app, "close-window", "Close window", true, Some("CmdOrCtrl+W"))?)
        .item(&MenuItem::with_id(app, "app-quit", "Quit", true, Some("CmdOrCtrl+Q"))?)
        .build()?;
    let edit = submenu(app, "Edit", &["undo", "redo", "-", "cut", "copy", "paste", "select-all"])?;
    let view =
        submenu(app, "View", &["find", "-", "projects", "activity", "account", "settings", "-", "back", "forward"])?;
    let playback = submenu(app, "Playback", &["play-pause", "seek-back", "seek-forward"])?;
    let help = SubmenuBuilder::new(app, "Help")
        .item(&MenuItem::with_id(app, "open-logs", "Open logs folder", true, None::<&str>)?)
        .item(&ui_item(app, "copy-diagnostics")?)
        .separator()
        .item(&MenuItem::with_id(app, "about", "About Resonance", true, None::<&str>)?)
        .build()?;
    Menu::with_items(app, &[&file, &edit, &view, &playback, &help])
}

/// A menu item was chosen (or its accelerator pressed).
pub fn chosen(app: &AppHandle, id: &str) {
    match id {
        "app-quit" => crate::tray::quit(app),
        "close-window" => {
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.close(); // as the close button: hidden while the app keeps running
            }
        }
        "open-logs" => open_logs(app),
        "about" => about(app),
        id if UI_COMMANDS.iter().any(|(i, _, _)| *i == id) => {
            if let Err(e) = (MenuCommand { command: id.to_owned() }).emit(app) {
                tracing::warn!(error = %e, "the UI could not be told of a menu command");
            }
        }
        _ => {} // the tray's items, handled by the tray
    }
}

fn open_logs(app: &AppHandle) {
    match app.path().app_log_dir() {
        Ok(dir) => {
            let _ = std::fs::create_dir_all(&dir);
            if let Err(e) = crate::webkit_env::open(app, &dir.to_string_lossy()) {
                tracing::warn!(error = %e, "the logs folder could not be opened");
            }
        }
        Err(e) => tracing::warn!(error = %e, "this system has no logs folder"),
    }
}

fn about(app: &AppHandle) {
    use tauri_plugin_dialog::DialogExt;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let server = match app.try_state::<Arc<AppState>>() {
            Some(state) => match state.client.read().await.account() {
                Ok(account) => account.server.clone(),
                Err(_) => crate::commands::session::default_server(),
            },
            None => crate::commands::session::default_server(),
        };
        let text = format!(
            "Resonance Desktop {}\nServer: {server}\n\nAudio-reactive music videos from your tracks.",
            app.package_info().version
        );
        app.dialog().message(text).title("About Resonance").show(|_| {});
    });
}
