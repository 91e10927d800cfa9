//! Sending uploads until they are done, for both shells: the desktop keeps them going in the
//! background (waiting for the project to reach the server and for the network, trying again),
//! the CLI sends one in the foreground, once. Both hear how each goes through an
//! [`UploadListener`], as [`Report`]s.
//!
//! Invariants:
//! - each upload has one current run: starting it again tells the older run to stop after its
//!   chunk, and the pause switch (one per upload, kept here) belongs to the newest;
//! - a run reports `Paused`, and the upload stays paused across restarts, only when its creator
//!   paused it; one stopped otherwise (signing out, a newer run) stays pending and resumes at the
//!   next start; one canceled is never written again and reports nothing more;
//! - the client is read, not held, while an upload waits between tries (for its project, the
//!   network or an update); a try holds it, and a stop ends the try's own waits at once, so
//!   signing out or in waits at most for the chunk in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{watch, RwLock};
use uuid::Uuid;

use crate::error::Result;
use crate::uploads::{Outcome, Upload, UploadPhase, UploadPurpose, UploadState};
use crate::Client;

/// How long an upload whose project is not on the server yet waits before it asks again.
const PROJECT_WAIT: Duration = Duration::from_secs(3);
/// How long an upload left for later (the network) waits before it tries again.
const RETRY_WAIT: Duration = Duration::from_secs(5);
/// How long an upload waits when the server wants a newer app.
const UPDATE_WAIT: Duration = Duration::from_secs(60);

/// One upload as its creator sees it now.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub upload: Upload,
    /// Bytes the server holds.
    pub sent: u64,
    pub phase: UploadPhase,
    /// Why it waits or failed, in words for its creator.
    pub message: Option<String>,
}

impl Report {
    /// A stored upload as it stands before anything happens to it in this run.
    pub fn of(upload: Upload) -> Self {
        Self { sent: upload.offset, phase: upload.state.phase(), message: upload.last_error.clone(), upload }
    }

    fn now(upload: &Upload, sent: u64, phase: UploadPhase, message: Option<String>) -> Self {
        Self { upload: upload.clone(), sent, phase, message }
    }
}

/// Hears how uploads go (the desktop's UI events, the CLI's progress line).
pub trait UploadListener: Send + Sync + 'static {
    fn report(&self, report: &Report);

    /// An upload reached the server: what it became (a project's track, a footage item) is
    /// there to fetch.
    fn finished(&self, _upload: &Upload) {}
}

/// How one try at sending an upload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Done,
    Paused,
    /// Left for later: the server cannot be reached (or failed) right now.
    Waiting,
}

/// One try at sending upload `id` with `client`, reported to `listener`: `Sending` with its
/// progress, then how it ended. A refusal is an error (and the upload is marked failed).
pub async fn send_once(
    client: &Client,
    id: Uuid,
    paused: &watch::Receiver<bool>,
    listener: &dyn UploadListener,
) -> Result<Ended> {
    let upload = client.upload(id)?;
    listener.report(&Report::now(&upload, upload.offset, UploadPhase::Sending, None));
    let outcome = client
        .run_upload(id, paused, |p| listener.report(&Report::now(&upload, p.sent, UploadPhase::Sending, None)))
        .await?;
    let sent = client.upload(id).map(|u| u.offset).unwrap_or(upload.offset);
    Ok(match outcome {
        Outcome::Done => {
            listener.report(&Report::now(&upload, upload.size, UploadPhase::Done, None));
            listener.finished(&upload);
            Ended::Done
        }
        Outcome::Paused => Ended::Paused,
        Outcome::Waiting => {
            let why = "The server cannot be reached; the upload resumes when it can.";
            listener.report(&Report::now(&upload, sent, UploadPhase::Waiting, Some(why.into())));
            Ended::Waiting
        }
    })
}

/// The desktop's uploads: each sent in the background until it is done, paused, canceled or
/// refused.
pub struct Uploader {
    client: Arc<RwLock<Client>>,
    listener: Arc<dyn UploadListener>,
    /// Pause switches of the uploads being sent (or waiting their turn), by upload id.
    switches: Mutex<HashMap<Uuid, watch::Sender<bool>>>,
}

impl Uploader {
    pub fn new(client: Arc<RwLock<Client>>, listener: Arc<dyn UploadListener>) -> Arc<Self> {
        Arc::new(Self { client, listener, switches: Mutex::new(HashMap::new()) })
    }

    fn switches(&self) -> MutexGuard<'_, HashMap<Uuid, watch::Sender<bool>>> {
        self.switches.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends `id` (of `project`) in the background.
    pub fn start(self: &Arc<Self>, id: Uuid, project: Uuid) {
        let paused = self.register(id);
        let me = self.clone();
        tokio::spawn(async move { me.drive(id, project, paused).await });
    }

    /// Sends `ids` one after the other, in that order (a project's footage is listed in the
    /// order its uploads finish, so files dropped together keep the order they were dropped
    /// in). Each can be paused or canceled before its turn: it is then skipped.
    pub fn start_in_order(self: &Arc<Self>, ids: Vec<Uuid>, project: Uuid) {
        let switches: Vec<_> = ids.into_iter().map(|id| (id, self.register(id))).collect();
        let me = self.clone();
        tokio::spawn(async move {
            // Each is shown waiting its turn from now on (unless paused or canceled meanwhile).
            for (id, paused) in &switches {
                if *paused.borrow() || !me.current(*id, paused) {
                    continue;
                }
                if let Ok(upload) = me.client.read().await.upload(*id) {
                    me.listener.report(&Report::of(upload));
                }
            }
            for (id, paused) in switches {
                me.drive(id, project, paused).await;
            }
        });
    }

    /// Sends the uploads left unfinished by an earlier run (or waiting for the network); with
    /// `paused`, those paused too. A project's footage goes one file after the other, oldest
    /// first (its list's order).
    pub async fn resume_unfinished(self: &Arc<Self>, paused: bool) -> Result<()> {
        let unfinished = self.client.read().await.unfinished_uploads()?;
        let mut footage: Vec<(Uuid, Vec<Uuid>)> = Vec::new();
        for upload in unfinished.into_iter().filter(|u| paused || u.state != UploadState::Paused) {
            if upload.purpose == UploadPurpose::Footage {
                match footage.iter_mut().find(|(p, _)| *p == upload.project_id) {
                    Some((_, ids)) => ids.push(upload.id),
                    None => footage.push((upload.project_id, vec![upload.id])),
                }
            } else {
                self.start(upload.id, upload.project_id);
            }
        }
        for (project, ids) in footage {
            self.start_in_order(ids, project);
        }
        Ok(())
    }

    /// Pauses `id`. One being sent stops after its chunk and says so; one not being sent now
    /// (waiting its turn, the project or the network) is paused here and now, and stays paused
    /// across restarts.
    pub async fn pause(&self, id: Uuid) -> Result<()> {
        if let Some(switch) = self.switches().get(&id) {
            let _ = switch.send(true);
        }
        let upload = self.client.read().await.mark_upload_paused(id)?;
        if upload.state == UploadState::Paused {
            self.listener.report(&Report::now(&upload, upload.offset, UploadPhase::Paused, None));
        }
        Ok(())
    }

    /// Pauses every upload not paused yet (the tray's "Pause uploads"); says how many.
    pub async fn pause_all(&self) -> Result<usize> {
        let unfinished = self.client.read().await.unfinished_uploads()?;
        let mut paused = 0;
        for upload in unfinished.into_iter().filter(|u| u.state != UploadState::Paused) {
            match self.pause(upload.id).await {
                Ok(()) => paused += 1,
                Err(e) => tracing::warn!(error = %e, "an upload could not be paused"),
            }
        }
        Ok(paused)
    }

    /// Cancels `id`: the server forgets what it received, and it will not resume.
    pub async fn cancel(&self, id: Uuid) -> Result<()> {
        if let Some(switch) = self.switches().remove(&id) {
            let _ = switch.send(true);
        }
        let client = self.client.read().await;
        let upload = client.upload(id)?;
        client.cancel_upload(id).await?;
        self.listener.report(&Report::now(&upload, upload.offset, UploadPhase::Canceled, None));
        Ok(())
    }

    /// Whether `id` is being sent (or waits its turn) in this run.
    pub fn in_flight(&self, id: Uuid) -> bool {
        self.switches().contains_key(&id)
    }

    /// Stops every run (signing out): each stops after its chunk and stays pending, to resume at
    /// the next start.
    pub fn stop_all(&self) {
        for (_, switch) in self.switches().drain() {
            let _ = switch.send(true);
        }
    }

    /// `project`'s uploads not finished yet, as they stand.
    pub async fn unfinished_of(&self, project: Uuid) -> Result<Vec<Report>> {
        let unfinished = self.client.read().await.unfinished_uploads()?;
        Ok(unfinished.into_iter().filter(|u| u.project_id == project).map(Report::of).collect())
    }

    /// The switch that pauses (or, removed, cancels) upload `id`; a run it replaces stops.
    fn register(&self, id: Uuid) -> watch::Receiver<bool> {
        let (switch, paused) = watch::channel(false);
        if let Some(previous) = self.switches().insert(id, switch) {
            let _ = previous.send(true);
        }
        paused
    }

    /// Whether `paused` is still the switch of `id` (not canceled, stopped or replaced by a
    /// newer run).
    fn current(&self, id: Uuid, paused: &watch::Receiver<bool>) -> bool {
        is_switch_of(&self.switches(), id, paused)
    }

    /// Forgets the switch of `id` if it is still `paused`'s (a newer run keeps its own); checked
    /// and removed under one lock.
    fn finish(&self, id: Uuid, paused: &watch::Receiver<bool>) {
        let mut switches = self.switches();
        if is_switch_of(&switches, id, paused) {
            switches.remove(&id);
        }
    }

    async fn drive(&self, id: Uuid, project: Uuid, paused: watch::Receiver<bool>) {
        loop {
            if *paused.borrow() {
                // Paused or canceled before a byte of this run was sent: `pause` and `cancel`
                // said so.
                break;
            }
            let wait = match self.try_once(id, project, &paused).await {
                Some(wait) => wait,
                None => break,
            };
            tokio::time::sleep(wait).await;
        }
        self.finish(id, &paused);
    }

    /// One try; `Some(wait)` to try again after `wait`, `None` when this run is over.
    async fn try_once(&self, id: Uuid, project: Uuid, paused: &watch::Receiver<bool>) -> Option<Duration> {
        let client = self.client.read().await;
        let upload = match client.upload(id) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "the upload is gone");
                return None;
            }
        };
        let report = |phase, message: Option<String>| {
            self.listener.report(&Report::now(&upload, upload.offset, phase, message));
        };
        if !on_server_now(&client, project).await {
            report(UploadPhase::Waiting, Some("Waiting for the project to reach the server.".into()));
            return Some(PROJECT_WAIT);
        }
        match send_once(&client, id, paused, self.listener.as_ref()).await {
            Ok(Ended::Done) => None,
            Ok(Ended::Paused) => {
                if self.current(id, paused) {
                    let sent = client.upload(id).map(|u| u.offset).unwrap_or(upload.offset);
                    self.listener.report(&Report::now(&upload, sent, UploadPhase::Paused, None));
                } else if let Err(e) = client.unpause_upload(id) {
                    // Stopped, not paused (a sign-out or a newer run; a cancel is final and
                    // left alone): it resumes at the next start.
                    tracing::warn!(error = %e, "a stopped upload could not be kept pending");
                }
                None
            }
            Ok(Ended::Waiting) => Some(RETRY_WAIT),
            Err(e) if e.is_transient() => {
                report(UploadPhase::Waiting, Some(e.to_string()));
                Some(RETRY_WAIT)
            }
            Err(e) if e.needs_update() => {
                // Kept, as offline: the server takes it from an updated app (or once it serves
                // this one again); asked rarely meanwhile.
                report(UploadPhase::Waiting, Some(e.to_string()));
                Some(UPDATE_WAIT)
            }
            Err(e) => {
                // A canceled upload's run ends in an error too (the server forgot it): the
                // cancel has said what happened.
                if self.current(id, paused) {
                    report(UploadPhase::Failed, Some(e.to_string()));
                }
                None
            }
        }
    }
}

/// Whether `paused` listens to the switch kept for `id`.
fn is_switch_of(switches: &HashMap<Uuid, watch::Sender<bool>>, id: Uuid, paused: &watch::Receiver<bool>) -> bool {
    switches.get(&id).is_some_and(|s| s.subscribe().same_channel(paused))
}

/// Whether `project` is on the server, after sending what waits in the outbox if it is not.
async fn on_server_now(client: &Client, project: Uuid) -> bool {
    match client.on_server(project) {
        Ok(true) => true,
        Ok(false) => {
            let _ = client.push_quietly().await;
            client.on_server(project).unwrap_or(false)
        }
        Err(_) => false,
    }
}
