//! Live events (`GET /v1/events`, server-sent events): what changed in the caller's
//! organization, as it happens. Invariant: events say *that* something changed (and its new
//! status or progress); the rows themselves still come from `/v1/sync`, so a client that missed
//! events (a `gap`) loses nothing by syncing.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The SSE `event:` name of an event that says events were missed: sync to catch up.
pub const GAP: &str = "gap";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A generation was started or its status changed (`status`).
    Generation,
    /// A project's status changed (`status`: queued, analyzing, orchestrating, rendering, …).
    Project,
    /// A render moved on (`progress`, 0 to 1).
    Progress,
}

/// One event; its `id` is the SSE id to resume from (`Last-Event-ID`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Event {
    pub id: i64,
    pub organization_id: Uuid,
    pub kind: EventKind,
    /// The generation (generation and progress events) or the project (project events).
    pub subject_id: Uuid,
    pub project_id: Option<Uuid>,
    pub status: Option<String>,
    pub progress: Option<f32>,
}
