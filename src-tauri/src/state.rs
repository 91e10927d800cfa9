//! What the app holds while it runs: the client (signed-in account, session, mirror), the
//! background work for the signed-in account (sync engine, render watcher), the uploads in flight
//! and the settings. Invariant: background work belongs to one account; signing out or in stops
//! it before anything of the next account starts.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use resonance_api::events::Event as ServerEvent;
use resonance_client::engine::SyncEngine;
use resonance_client::uploader::{Report, UploadListener, Uploader};
use resonance_client::uploads::Upload;
use resonance_client::watcher::Listener;
use resonance_client::{Client, DataDir};
use tauri::{AppHandle, Manager};
use tauri_specta::Event;
use tokio::sync::RwLock;

use crate::events::{MirrorChanged, RenderProgress, SignedOut, SyncChanged, UploadProgress};
use crate::notifier::DesktopNotifier;
use crate::settings::{self, Settings};

/// How often the engine pulls when nothing else asks it to.
const SYNC_INTERVAL: Duration = Duration::from_secs(60);

pub struct AppState {
    pub data_root: std::path::PathBuf,
    pub client: Arc<RwLock<Client>>,
    background: Mutex<Option<Background>>,
    /// The uploads being sent (or waiting), reported to the UI.
    pub uploader: Arc<Uploader>,
    settings: Mutex<Settings>,
    /// Where the webview plays audio and video from.
    pub media: crate::media_server::MediaServer,
    /// The `resonance://` link the app was started with, until the UI asks for it.
    pub launch_link: Mutex<Option<String>>,
    /// Whether the tray icon is there: without it a hidden window could not be brought back,
    /// so closing the window quits.
    pub tray: std::sync::atomic::AtomicBool,
}

struct Background {
    engine: SyncEngine,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AppState {
    pub fn open(
        data: DataDir,
        media: crate::media_server::MediaServer,
        app: &AppHandle,
    ) -> resonance_client::Result<Self> {
        let data_root = data.root().to_path_buf();
        let settings = settings::load(&data_root);
        resonance_client::media::set_cap_bytes(u64::from(settings.media_cache_mb) << 20);
        let client = Arc::new(RwLock::new(Client::open(data)?));
        let uploader = Uploader::new(client.clone(), Arc::new(UiUploads { app: app.clone() }));
        Ok(Self {
            client,
            data_root,
            background: Mutex::new(None),
            uploader,
            settings: Mutex::new(settings),
            media,
            launch_link: Mutex::new(None),
            tray: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    pub fn set_settings(&self, new: Settings) -> std::io::Result<()> {
        settings::save(&self.data_root, &new)?;
        resonance_client::media::set_cap_bytes(u64::from(new.media_cache_mb) << 20);
        *lock(&self.settings) = new;
        Ok(())
    }

    /// Asks the engine for a sync round now.
    pub fn sync_now(&self) {
        if let Some(b) = lock(&self.background).as_ref() {
            b.engine.sync_now();
        }
    }

    /// Stops the background work of whoever was signed in.
    pub fn stop_background(&self) {
        if let Some(b) = lock(&self.background).take() {
            for t in b.tasks {
                t.abort();
            }
            b.engine.stop();
        }
        self.uploader.stop_all();
    }

    /// Starts syncing and watching renders for the signed-in account (a no-op when signed out).
    pub async fn start_background(self: &Arc<Self>, app: &AppHandle) {
        self.stop_background();
        let (session, mirror) = {
            let client = self.client.read().await;
            match (client.session(), client.mirror()) {
                (Ok(s), Ok(m)) => (s, m),
                _ => return,
            }
        };
        let engine = match SyncEngine::start(session.clone(), mirror.clone(), SYNC_INTERVAL) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "the sync engine could not start");
                return;
            }
        };
        let mut status = engine.status();
        let app_for_status = app.clone();
        let status_task = tokio::spawn(async move {
            loop {
                let current = status.borrow_and_update().clone();
                let _ = SyncChanged { status: (&current).into() }.emit(&app_for_status);
                if status.changed().await.is_err() {
                    return;
                }
            }
        });
        let mut changes = engine.changes();
        let app_for_changes = app.clone();
        let changes_task = tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                let _ = MirrorChanged {}.emit(&app_for_changes);
            }
        });
        let settings = Arc::downgrade(self);
        let wanted = Box::new(move || settings.upgrade().is_some_and(|state| state.settings().notifications));
        let notifier = Arc::new(DesktopNotifier { app: app.clone(), wanted });
        let listener = Arc::new(UiListener { app: app.clone() });
        let app_for_watch = app.clone();
        let watch_task = tokio::spawn(async move {
            if let Err(e) = resonance_client::watcher::watch(session, mirror, notifier, listener).await {
                tracing::info!(error = %e, "render watcher stopped");
                if e.needs_sign_in() {
                    let _ = SignedOut { reason: e.to_string() }.emit(&app_for_watch);
                }
            }
        });
        *lock(&self.background) = Some(Background { engine, tasks: vec![status_task, changes_task, watch_task] });
        self.resume_uploads(false).await;
    }

    /// Ends the background work before the app quits, without pausing the uploads in flight:
    /// they resume at the next start, as after any interruption.
    pub fn shut_down(&self) {
        if let Some(b) = lock(&self.background).take() {
            for t in b.tasks {
                t.abort();
            }
            b.engine.stop();
        }
    }

    /// Sends the uploads left unfinished by an earlier run (or waiting for the network); with
    /// `paused`, those paused too (the tray's "Resume uploads").
    pub async fn resume_uploads(&self, paused: bool) {
        if let Err(e) = self.uploader.resume_unfinished(paused).await {
            tracing::warn!(error = %e, "cannot list unfinished uploads");
        }
    }
}

/// Forwards how uploads go to the UI, and asks for a sync when one reached the server (what it
/// became, the project's track or a footage item, is there to fetch).
struct UiUploads {
    app: AppHandle,
}

impl UploadListener for UiUploads {
    fn report(&self, report: &Report) {
        let _ = UploadProgress::from(report).emit(&self.app);
    }

    fn finished(&self, _upload: &Upload) {
        if let Some(state) = self.app.try_state::<Arc<AppState>>() {
            state.sync_now();
        }
    }
}

/// Forwards the server's events to the UI: live render progress, and "reload" once a catch-up
/// wrote what they announced to the mirror. (A session that ended stops the watcher, which signs the UI out.)
struct UiListener {
    app: AppHandle,
}

impl Listener for UiListener {
    fn event(&self, event: &ServerEvent) {
        if let Some(progress) = RenderProgress::of(event) {
            let _ = progress.emit(&self.app);
        }
    }

    fn mirror_changed(&self) {
        let _ = MirrorChanged {}.emit(&self.app);
    }
}
