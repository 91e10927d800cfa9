//! Events the app sends its UI (typed: the TypeScript listeners are generated from these).

use resonance_client::preview::Waveform;
use resonance_client::SyncStatus;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The sync indicator changed (idle, syncing, offline, error, pending changes), or a round ended
/// and the mirror may hold new rows.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct SyncChanged {
    pub status: SyncStatusView,
}

/// `SyncStatus` as the UI sees it.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct SyncStatusView {
    pub state: resonance_client::sync::SyncState,
    pub last_success_at: Option<String>,
    pub pending_changes: u32,
    pub conflicts: u32,
    pub last_error: Option<String>,
}

impl From<&SyncStatus> for SyncStatusView {
    fn from(s: &SyncStatus) -> Self {
        Self {
            state: s.state,
            last_success_at: s.last_success_at.clone(),
            pending_changes: s.pending_changes,
            conflicts: s.conflicts,
            last_error: s.last_error.clone(),
        }
    }
}

/// A pull wrote to the mirror under the UI (a sync round, an event from the server): reload what
/// is shown. Not sent for rounds that changed nothing.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct MirrorChanged {}

/// A render moved on: the server's generation and progress events (`kind` is `generation`, with
/// the generation's new `status`, or `progress`, with how much is done from 0 to 1).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct RenderProgress {
    pub generation_id: Uuid,
    pub project_id: Option<Uuid>,
    #[serde(flatten)]
    pub change: resonance_api::events::EventChange,
}

impl RenderProgress {
    /// The event, when it is about a render (a project's own status change is not).
    pub fn of(event: &resonance_api::events::Event) -> Option<Self> {
        use resonance_api::events::EventChange;
        match event.change {
            EventChange::Generation { .. } | EventChange::Progress { .. } => {
                Some(Self { generation_id: event.subject_id, project_id: event.project_id, change: event.change })
            }
            EventChange::Project { .. } => None,
        }
    }
}

/// An upload moved on.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct UploadProgress {
    pub upload_id: Uuid,
    pub project_id: Uuid,
    /// The project's track, or its footage.
    pub purpose: resonance_api::footage::UploadPurpose,
    /// The file's name (without its folder).
    pub file: String,
    /// The file's SHA-256 (hex): a finished footage upload becomes the item with these bytes.
    pub sha256: String,
    pub sent: f64,
    pub total: f64,
    pub state: resonance_api::uploads::UploadPhase,
    pub error: Option<String>,
}

impl From<&resonance_client::uploader::Report> for UploadProgress {
    fn from(r: &resonance_client::uploader::Report) -> Self {
        Self {
            upload_id: r.upload.id,
            project_id: r.upload.project_id,
            purpose: r.upload.purpose,
            file: r.upload.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            sha256: r.upload.sha256.clone(),
            sent: r.sent as f64,
            total: r.upload.size as f64,
            state: r.phase,
            error: r.message.clone(),
        }
    }
}

/// More of a previewed track's waveform is decoded.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct WaveformProgress {
    /// The preview request this belongs to.
    pub request: String,
    pub waveform: Waveform,
}

/// Show this generation (a notification was clicked).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct Navigate {
    pub project_id: Uuid,
    pub generation_id: Option<Uuid>,
}

/// The session ended: the UI goes back to sign-in.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct SignedOut {
    pub reason: String,
}

/// How far an export is, from 0 to 1.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct ExportProgress {
    pub generation_id: Uuid,
    pub preset: resonance_client::export::Preset,
    pub done: f64,
}

/// A `resonance://` link was opened (by a second launch, or the browser handing one over): what
/// to show. Sent after the window is brought forward.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct LinkOpened {
    pub action: resonance_client::links::LinkAction,
}

/// A menu item the UI carries out was chosen (`ui/src/lib/shortcuts.ts` names the commands).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct MenuCommand {
    pub command: String,
}
