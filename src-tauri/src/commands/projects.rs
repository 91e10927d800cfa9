//! Projects from the mirror (instant, offline too), and changes to them through the outbox.

use resonance_api::model::{Generation, Project};
use resonance_api::projects::{NewProject, ProjectPatch};
use resonance_client::LocalProject;
use serde::Serialize;
use uuid::Uuid;

use super::State;
use crate::error::CmdResult;
use crate::events::SyncStatusView;

/// A row of the project list: what the list shows, without the prompt and parameters.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ProjectRow {
    pub id: Uuid,
    pub name: String,
    pub status: Option<resonance_api::model::ProjectStatus>,
    pub updated_at: Option<String>,
    pub audio_duration: Option<f64>,
    pub resolution: Option<resonance_api::model::Resolution>,
    pub aspect: resonance_api::model::AspectRatio,
    pub pending_changes: u32,
    pub conflict: Option<String>,
}

impl From<LocalProject> for ProjectRow {
    fn from(p: LocalProject) -> Self {
        let LocalProject { project, pending_changes, conflict } = p;
        Self {
            id: project.id,
            name: project.name,
            status: project.status,
            updated_at: project.updated_at.map(|t| t.to_rfc3339()),
            audio_duration: project.audio_duration,
            resolution: project.resolution,
            aspect: project.aspect.unwrap_or(resonance_api::projects::PROJECT_DEFAULTS.aspect),
            pending_changes,
            conflict,
        }
    }
}

/// The most rows one page may ask for.
const MAX_PAGE: u32 = 1000;

/// A page of the project list.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ProjectPage {
    /// How many projects match the search.
    pub total: u32,
    /// The position of `rows[0]` in the list.
    pub offset: u32,
    pub rows: Vec<ProjectRow>,
}

/// A project with its generations and what the Generate button needs to know.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ProjectDetail {
    pub project: Project,
    pub generations: Vec<Generation>,
    pub pending_changes: u32,
    pub conflict: Option<String>,
    /// The project's create has reached the server (generations need that).
    pub on_server: bool,
    pub generate: resonance_api::generations::GenerateAllowance,
}

/// Rows `offset..offset + limit` of the project list, and how many projects match: the list
/// asks only for the rows it shows, so 10,000 projects are never all read, sent and held.
#[tauri::command]
#[specta::specta]
pub async fn project_page(state: State<'_>, search: Option<String>, offset: u32, limit: u32) -> CmdResult<ProjectPage> {
    let client = state.client.read().await;
    let search = search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let page = client.project_page(search, offset, limit.clamp(1, MAX_PAGE))?;
    Ok(ProjectPage {
        total: page.total,
        offset: page.offset,
        rows: page.projects.into_iter().map(ProjectRow::from).collect(),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn project(state: State<'_>, id: Uuid) -> CmdResult<ProjectDetail> {
    let client = state.client.read().await;
    let project = client.project(id)?;
    let mut generations = client.generations(id)?;
    // The gallery needs neither the analysis nor the plan; they are large.
    for g in &mut generations {
        g.audio_analysis = None;
        g.visual_plan = None;
    }
    let outbox = client.outbox()?;
    let pending_changes = outbox.iter().filter(|e| e.project_id == id && !e.conflict).count() as u32;
    let conflict = outbox
        .iter()
        .find(|e| e.project_id == id && e.conflict)
        .map(|e| e.last_error.clone().unwrap_or_else(|| "The server refused a change to this project.".into()));
    let role = client.account()?.role;
    let generate = resonance_api::generations::GenerateAllowance::decide(
        role,
        client.organization()?.as_ref(),
        project.resolution,
        project.aspect.unwrap_or(resonance_api::projects::PROJECT_DEFAULTS.aspect),
        chrono::Utc::now(),
    );
    Ok(ProjectDetail { project, generations, pending_changes, conflict, on_server: client.on_server(id)?, generate })
}

#[tauri::command]
#[specta::specta]
pub async fn create_project(state: State<'_>, project: NewProject) -> CmdResult<Project> {
    let created = state.client.read().await.create_project(project)?;
    state.sync_now();
    Ok(created)
}

#[tauri::command]
#[specta::specta]
pub async fn edit_project(state: State<'_>, id: Uuid, patch: ProjectPatch) -> CmdResult<Project> {
    let edited = state.client.read().await.edit_project(id, patch)?;
    state.sync_now();
    Ok(edited)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_project(state: State<'_>, id: Uuid) -> CmdResult<()> {
    state.client.read().await.delete_project(id)?;
    state.sync_now();
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn sync_status(state: State<'_>) -> CmdResult<SyncStatusView> {
    Ok((&state.client.read().await.status()?).into())
}

#[tauri::command]
#[specta::specta]
pub async fn sync_now(state: State<'_>) -> CmdResult<()> {
    state.sync_now();
    Ok(())
}
