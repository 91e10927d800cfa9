//! The desktop's `Notifier`: an OS notification (freedesktop D-Bus on Linux) per finished render.
//! Clicking it brings the window forward on that generation. The notification plugin's desktop
//! API cannot report clicks, so the notification itself is sent with notify-rust (which the
//! plugin uses underneath) and its default action is awaited on a thread of its own.

use resonance_client::watcher::{Notification, Notifier};
use tauri::{AppHandle, Manager};
use tauri_specta::Event;

use crate::events::Navigate;

pub struct DesktopNotifier {
    pub app: AppHandle,
    /// Whether the creator wants notifications now (Settings can turn them off at any time).
    pub wanted: Box<dyn Fn() -> bool + Send + Sync>,
}

/// Brings the main window forward (shown, unminimized, focused).
pub fn focus_main(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Says, once, that closing the window did not quit: the work goes on and the tray brings it back.
pub fn running_in_background() {
    std::thread::spawn(|| {
        let shown = notify_rust::Notification::new()
            .appname("Resonance")
            .summary("Resonance is still running")
            .body("Uploads go on and you will hear when a render is ready. Open or quit it from its tray icon.")
            .icon("dev.resonance.desktop")
            .show();
        if let Err(e) = shown {
            tracing::warn!(error = %e, "the OS notification could not be shown");
        }
    });
}

impl Notifier for DesktopNotifier {
    fn notify(&self, n: &Notification) {
        if !(self.wanted)() {
            tracing::info!(generation = %n.generation_id, "render finished; notifications are off");
            return;
        }
        let body = if n.completed {
            "Click to watch it.".to_owned()
        } else {
            n.error.clone().unwrap_or_else(|| "The render failed.".into())
        };
        let mut notification = notify_rust::Notification::new();
        notification
            .appname("Resonance")
            .summary(&n.title())
            .body(&body)
            .icon("dev.resonance.desktop")
            .action("default", "Open");
        #[cfg(all(unix, not(target_os = "macos")))]
        notification.hint(notify_rust::Hint::DesktopEntry("Resonance".into()));
        let (app, project, generation) = (self.app.clone(), n.project_id, n.generation_id);
        match notification.show() {
            Ok(handle) => {
                #[cfg(all(unix, not(target_os = "macos")))]
                std::thread::spawn(move || {
                    handle.wait_for_action(|action| {
                        if action == "default" {
                            focus_main(&app);
                            if let Some(project_id) = project {
                                let _ = Navigate { project_id, generation_id: Some(generation) }.emit(&app);
                            }
                        }
                    });
                });
                #[cfg(not(all(unix, not(target_os = "macos"))))]
                drop((handle, app, project, generation));
            }
            Err(e) => tracing::warn!(error = %e, "the OS notification could not be shown"),
        }
    }
}
