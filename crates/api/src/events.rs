//! Live events (`GET /v1/events`, server-sent events): what changed in the caller's
//! organization, as it happens. Invariant: events say *that* something changed (and its new
//! status or progress); the rows themselves still come from `/v1/sync`, so a client that missed
//! events (a `gap`) loses nothing by syncing.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{GenerationStatus, ProjectStatus};

/// The SSE `event:` name of an event that says events were missed: sync to catch up.
pub const GAP: &str = "gap";

/// What an event is about: its SSE `event:` name, and the `kind` field of its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Generation,
    Project,
    Progress,
}

impl EventKind {
    /// The SSE `event:` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generation => "generation",
            Self::Project => "project",
            Self::Progress => "progress",
        }
    }
}

/// What changed; on the wire, `kind` names the variant and its field sits beside it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventChange {
    /// A generation was started, or its status changed.
    Generation { status: GenerationStatus },
    /// A project's status changed (queued, analyzing, orchestrating, rendering, …).
    Project { status: ProjectStatus },
    /// A render moved on: how much of it is done, from 0 to 1.
    Progress { progress: f32 },
}

impl EventChange {
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Generation { .. } => EventKind::Generation,
            Self::Project { .. } => EventKind::Project,
            Self::Progress { .. } => EventKind::Progress,
        }
    }
}

/// One event; its `id` is the SSE id to resume from (`Last-Event-ID`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Event {
    pub id: i64,
    pub organization_id: Uuid,
    /// The generation (generation and progress events) or the project (project events).
    pub subject_id: Uuid,
    pub project_id: Option<Uuid>,
    #[serde(flatten)]
    pub change: EventChange,
}

impl Event {
    pub fn kind(&self) -> EventKind {
        self.change.kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire keeps the fields it always had (`kind` beside `status` or `progress`), and the
    /// rows the database hands out, which carry every column, are read by their kind.
    #[test]
    fn an_event_reads_and_writes_its_change_beside_its_kind() {
        let subject = Uuid::nil();
        let event = Event {
            id: 7,
            organization_id: subject,
            subject_id: subject,
            project_id: None,
            change: EventChange::Generation { status: GenerationStatus::Processing },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "generation");
        assert_eq!(json["status"], "processing");
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);

        // A progress row: the job's state rides along in `status` and is not part of the change.
        let row = serde_json::json!({"id": 8, "organization_id": subject, "kind": "progress",
            "subject_id": subject, "project_id": null, "status": "running", "progress": 0.25,
            "created_at": "2026-12-04T00:00:00Z"});
        let read: Event = serde_json::from_value(row).unwrap();
        assert_eq!(read.change, EventChange::Progress { progress: 0.25 });
        assert_eq!(read.kind().as_str(), "progress");

        let project = serde_json::json!({"id": 9, "organization_id": subject, "kind": "project",
            "subject_id": subject, "project_id": subject, "status": "rendering", "progress": null});
        let read: Event = serde_json::from_value(project).unwrap();
        assert_eq!(read.change, EventChange::Project { status: ProjectStatus::Rendering });

        // A status that is not the kind's: refused, not guessed.
        let wrong = serde_json::json!({"id": 10, "organization_id": subject, "kind": "generation",
            "subject_id": subject, "project_id": null, "status": "rendering"});
        assert!(serde_json::from_value::<Event>(wrong).is_err());
    }
}
