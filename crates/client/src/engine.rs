//! The sync engine the desktop runs in the background: it sends the outbox and pulls on start,
//! when the server becomes reachable again, every `interval`, and whenever told to, and it
//! publishes a status the UI shows, and a count of the rounds that changed the mirror (so a UI
//! reloads only then). Invariant: one round at a time; a request to sync during a
//! round is remembered and runs right after it, never lost and never run twice at once.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use resonance_api::version::Health;
use tokio::sync::{watch, Notify};

use crate::error::Result;
use crate::mirror::Mirror;
use crate::outbox;
use crate::session::Session;
use crate::sync::{self, SyncState, SyncStatus};

/// How often an offline engine asks the server whether it is back.
const RECONNECT_PROBE: Duration = Duration::from_secs(5);
/// How often an engine the server found too old asks whether it is served again.
const UPDATE_PROBE: Duration = Duration::from_secs(300);

/// Whether the server's health names a minimum app version this build meets.
async fn serves_this_app(session: &Session) -> bool {
    let Ok(resp) = session.http().send(Method::GET, "/v1/health", None, None, None).await else {
        return false;
    };
    // The version the server reads from this app's requests.
    let ours = resonance_api::version::client_version(crate::http::USER_AGENT);
    match (resp.json::<Health>().await, ours) {
        (Ok(health), Some(ours)) => health.serves(ours),
        _ => false,
    }
}

pub struct SyncEngine {
    tell: Arc<Notify>,
    status: watch::Receiver<SyncStatus>,
    changes: watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl SyncEngine {
    pub fn start(session: Arc<Session>, mirror: Arc<Mirror>, interval: Duration) -> Result<Self> {
        let tell = Arc::new(Notify::new());
        let (publish, status) = watch::channel(sync::status(&mirror)?);
        let (changed, changes) = watch::channel(0);
        let task = tokio::spawn(run(session, mirror, interval, tell.clone(), publish, changed));
        Ok(Self { tell, status, changes, task })
    }

    /// Asks for a round now (or right after the one running).
    pub fn sync_now(&self) {
        self.tell.notify_one();
    }

    /// The latest status; `changed()` on it wakes when a new one is published.
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.clone()
    }

    /// How many rounds sent changes or pulled rows; `changed()` on it wakes after each such round.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

async fn run(
    session: Arc<Session>,
    mirror: Arc<Mirror>,
    interval: Duration,
    tell: Arc<Notify>,
    publish: watch::Sender<SyncStatus>,
    changed: watch::Sender<u64>,
) {
    loop {
        publish.send_modify(|s| s.state = SyncState::Syncing);
        let outcome = match outbox::drain(&session, &mirror, false).await {
            Ok(drained) => sync::pull(&session, &mirror).await.map(|pulled| {
                if drained.sent > 0 || drained.conflicts > 0 || pulled.changed() {
                    changed.send_modify(|n| *n += 1);
                }
            }),
            Err(e) => Err(e),
        };
        let mut status = match sync::status(&mirror) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "the local database cannot be read; sync stops");
                return;
            }
        };
        if let Err(e) = &outcome {
            if e.needs_sign_in() {
                status.state = SyncState::Error;
                status.last_error = Some(e.to_string());
                let _ = publish.send(status);
                return; // nothing more to do until the user signs in again
            }
            if e.needs_update() {
                // Nothing works until the app is updated. Sync now tries anew, and so does the
                // engine once the server's health names a minimum this app meets (its operator
                // lowered it, or a rolling deploy reached an instance that serves it).
                status.state = SyncState::UpdateRequired;
                status.last_error = Some(e.to_string());
                let _ = publish.send(status);
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(UPDATE_PROBE) => {
                            if serves_this_app(&session).await {
                                break;
                            }
                        }
                        _ = tell.notified() => break,
                    }
                }
                continue;
            }
        }
        let offline = status.state == SyncState::Offline;
        let _ = publish.send(status);
        if offline {
            // Probe until the server answers (or the user asks), then go again at once.
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(RECONNECT_PROBE) => {
                        if session.http().send(Method::GET, "/v1/health", None, None, None).await.is_ok() {
                            tracing::info!("the server is reachable again; syncing");
                            break;
                        }
                    }
                    _ = tell.notified() => break,
                }
            }
        } else {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = tell.notified() => {}
            }
        }
    }
}
