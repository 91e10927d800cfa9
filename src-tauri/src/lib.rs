//! Resonance Desktop: a thin Tauri 2 shell. Commands and events call into `resonance-client`;
//! the UI's TypeScript bindings (`ui/src/lib/bindings.ts`) are generated from them by
//! tauri-specta, and a test fails when the committed file is stale.

pub mod commands;
pub mod error;
pub mod events;
pub mod media_server;
pub mod menu;
pub mod notifier;
pub mod settings;
pub mod startup;
pub mod state;
pub mod tray;
pub mod webkit_env;

use std::sync::Arc;

use resonance_api::model::{AspectRatio, Resolution};
use tauri::Manager;
use tauri_specta::{collect_commands, collect_events, Builder};

use crate::state::AppState;

/// Writes the window's size and position half a second after they stop changing. The
/// window-state plugin writes them only at a clean exit; this way a crash or a kill keeps them.
fn save_window_state_soon(app: &tauri::AppHandle) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use tauri_plugin_window_state::{AppHandleExt, StateFlags};
    static CHANGES: AtomicU64 = AtomicU64::new(0);
    let change = CHANGES.fetch_add(1, Ordering::SeqCst) + 1;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        if CHANGES.load(Ordering::SeqCst) == change {
            if let Err(e) = app.save_window_state(StateFlags::default()) {
                tracing::warn!(error = %e, "could not save the window's size and position");
            }
        }
    });
}

/// Where the generated bindings live, relative to this crate.
pub const BINDINGS: &str = "../ui/src/lib/bindings.ts";

/// The typed IPC surface: every command and event the UI may use.
pub fn specta_builder() -> Builder<tauri::Wry> {
    Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            commands::session::session,
            commands::session::sign_in,
            commands::session::sign_up,
            commands::session::sign_up_problems,
            commands::session::invitation,
            commands::session::sign_out,
            commands::projects::project_page,
            commands::projects::project,
            commands::projects::create_project,
            commands::projects::edit_project,
            commands::projects::delete_project,
            commands::drafts::save_draft,
            commands::drafts::drafts,
            commands::drafts::draft,
            commands::drafts::discard_draft,
            commands::drafts::start_drafts,
            commands::drafts::sample_draft,
            commands::projects::sync_status,
            commands::projects::sync_now,
            commands::audio::preview_audio,
            commands::audio::preview_tempo,
            commands::look::read_prompt,
            commands::look::look_preview_url,
            commands::look::project_track,
            commands::uploads::start_upload,
            commands::uploads::pause_upload,
            commands::uploads::resume_upload,
            commands::uploads::cancel_upload,
            commands::uploads::uploads,
            commands::footage::classify_files,
            commands::footage::add_footage,
            commands::footage::footage,
            commands::footage::refresh_footage,
            commands::footage::footage_poster,
            commands::footage::change_footage,
            commands::footage::remove_footage,
            commands::generations::generate,
            commands::generations::media,
            commands::generations::mark_seen,
            commands::generations::reveal_video,
            commands::generations::export_video,
            commands::generations::share_links,
            commands::generations::create_share_link,
            commands::generations::revoke_share_link,
            commands::account::account,
            commands::account::activity,
            commands::account::invite_member,
            commands::account::change_role,
            commands::account::remove_member,
            commands::account::upgrade,
            commands::account::manage_billing,
            commands::settings::settings,
            commands::settings::save_settings,
            commands::settings::media_cache_usage,
            commands::settings::clear_media_cache,
            commands::settings::ui_ready,
            commands::settings::diagnostics,
            commands::links::launch_link,
        ])
        // The type of a project's settings, for the UI's copy of the defaults (in CATALOG).
        .typ::<resonance_api::projects::ProjectDefaults>()
        .typ::<resonance_api::model::Capabilities>()
        .typ::<resonance_api::model::StatusLook>()
        .events(collect_events![
            events::SyncChanged,
            events::MirrorChanged,
            events::RenderProgress,
            events::UploadProgress,
            events::ExportProgress,
            events::WaveformProgress,
            events::Navigate,
            events::SignedOut,
            events::LinkOpened,
            events::MenuCommand,
        ])
        // One constant, since the exporter writes several in no fixed order: the tempo range the
        // server enforces (the editor checks it as the creator types), the export presets with
        // what a creator is told of each, a share link's lifetimes in days, the shapes with
        // what each is for and its frame size at every resolution, a new project's defaults, and
        // what each role may do (the UI branches on these, never on a role's name), and how every
        // status reads.
        .constant(
            "CATALOG",
            (
                (resonance_api::projects::TEMPO_MIN_BPM, resonance_api::projects::TEMPO_MAX_BPM),
                resonance_client::export::Preset::ALL.iter().map(|p| (*p, p.describe())).collect::<Vec<_>>(),
                resonance_api::sharing::ShareLifetime::ALL.iter().map(|l| l.days()).collect::<Vec<_>>(),
                shapes(),
                resonance_api::projects::PROJECT_DEFAULTS,
                resonance_api::model::Role::ALL.map(resonance_api::model::Role::capabilities),
                status_looks(),
            ),
        )
}

/// How every status (a project's, a generation's, an activity entry's) reads, by its spelling.
fn status_looks() -> Vec<(&'static str, resonance_api::model::StatusLook)> {
    use resonance_api::model::{GenerationStatus, LogStatus, ProjectStatus};
    let mut all: Vec<_> = ProjectStatus::ALL.iter().map(|s| (s.as_str(), s.look())).collect();
    all.extend(GenerationStatus::ALL.iter().map(|s| (s.as_str(), s.look())));
    all.extend(LogStatus::ALL.iter().map(|s| (s.as_str(), s.look())));
    all.sort_by_key(|(status, _)| *status);
    all.dedup_by_key(|(status, _)| *status);
    all
}

/// Every shape, what it is for, and its (width, height) at each resolution.
type Shape = (AspectRatio, &'static str, Vec<(Resolution, (u32, u32))>);

fn shapes() -> Vec<Shape> {
    AspectRatio::ALL
        .iter()
        .map(|a| (*a, a.describe(), Resolution::ALL.iter().map(|r| (*r, r.dimensions_for(*a))).collect()))
        .collect()
}

/// The bindings as they would be written now.
pub fn render_bindings() -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("resonance-bindings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("bindings.ts");
    specta_builder()
        .export(
            specta_typescript::Typescript::default().bigint(specta_typescript::BigIntExportBehavior::Number).header(
                "// Generated by tauri-specta from src-tauri (cargo xtask bindings). Do not edit.\n// @ts-nocheck",
            ),
            &path,
        )
        .map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(text)
}

/// Builds and runs the app (blocks until it quits).
pub fn run() {
    let builder = specta_builder();
    let app = tauri::Builder::default()
        // First: a second launch hands over to this one and quits (a `resonance://` link it was
        // started with goes on to the deep-link plugin, then to `commands::links::opened`).
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| notifier::focus_main(app)))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(
            tauri_plugin_log::Builder::new()
                .level(log::LevelFilter::Info)
                .level_for("tao", log::LevelFilter::Warn)
                .level_for("keyring", log::LevelFilter::Warn)
                .rotation_strategy(tauri_plugin_log::RotationStrategy::KeepSome(5))
                .max_file_size(5_000_000)
                .targets([
                    tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::Stderr),
                    tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::LogDir { file_name: None }),
                ])
                .build(),
        )
        .plugin(tauri_plugin_window_state::Builder::new().build())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        // The menus exist before the window, so it is laid out with its menu bar from the start.
        .menu(|app| {
            startup::mark("runtime");
            let built = menu::build(app);
            startup::mark("menus");
            built
        })
        .on_menu_event(|app, event| menu::chosen(app, event.id().as_ref()))
        .invoke_handler(builder.invoke_handler())
        .on_window_event(|window, event| match event {
            // Closed with "Keep running in the background" on: hidden, and the work goes on.
            tauri::WindowEvent::CloseRequested { api, .. } => {
                let keep = window
                    .try_state::<Arc<AppState>>()
                    .is_some_and(|s| s.settings().keep_running && s.tray.load(std::sync::atomic::Ordering::SeqCst));
                if tray::on_close(keep) == tray::OnClose::Hide {
                    api.prevent_close();
                    let _ = window.hide();
                    tracing::info!("the window was closed; running in the background");
                    let tell = window.try_state::<Arc<AppState>>().is_some_and(|s| s.settings().notifications);
                    if tray::hidden_first_time() && tell {
                        notifier::running_in_background();
                    }
                }
            }
            // Back from the browser (Stripe Checkout or the Billing Portal): pull at once, so
            // the plan shown is Stripe's latest.
            tauri::WindowEvent::Focused(true) => {
                if let Some(state) = window.try_state::<Arc<AppState>>() {
                    state.sync_now();
                }
            }
            tauri::WindowEvent::Resized(_) | tauri::WindowEvent::Moved(_) => {
                save_window_state_soon(window.app_handle())
            }
            _ => {}
        })
        .setup(move |app| {
            startup::mark("setup");
            builder.mount_events(app);
            let media = tauri::async_runtime::block_on(media_server::MediaServer::start())?;
            let data = resonance_client::DataDir::resolve(std::env::var_os("RESONANCE_DATA_DIR").map(Into::into))?;
            let state = Arc::new(AppState::open(data, media, app.handle())?);
            startup::mark("mirror opened");
            app.manage(state.clone());
            {
                use tauri_plugin_deep_link::DeepLinkExt;
                // Started by a link: the UI asks for it once it is drawn (`launch_link`).
                if let Ok(Some(urls)) = app.deep_link().get_current() {
                    *state::lock(&state.launch_link) = urls.first().map(|u| u.to_string());
                }
                let handle = app.handle().clone();
                app.deep_link().on_open_url(move |event| {
                    for url in event.urls() {
                        commands::links::opened(&handle, url.to_string());
                    }
                });
            }
            match tray::install(app) {
                Ok(()) => state.tray.store(true, std::sync::atomic::Ordering::SeqCst),
                // No tray: the window is the only way back, so closing it quits.
                Err(e) => tracing::warn!(error = %e, "no tray icon; closing the window will quit"),
            }
            startup::mark("tray");
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move { state.start_background(&handle).await });
            startup::mark("setup done");
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|_, _| {}),
        Err(e) => {
            eprintln!("Resonance could not start: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_typescript_bindings_match_the_rust_commands() {
        let fresh = super::render_bindings().unwrap_or_else(|e| panic!("bindings cannot be generated: {e}"));
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(super::BINDINGS);
        if std::env::var_os("RESONANCE_UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/src/lib/bindings.ts is stale: run `cargo xtask bindings` and commit the result"
        );
    }
}
