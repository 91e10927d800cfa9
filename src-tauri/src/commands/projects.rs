//! Projects from the mirror (instant, offline too), and changes to them through the outbox.

use resonance_api::model::{AspectRatio, Generation, Organization, Project, Resolution, Role};
use resonance_api::plans::Plan;
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
    pub generate: GenerateAllowance,
}

/// Whether Generate may be pressed, and if not, why; and what is left of the month's quota.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct GenerateAllowance {
    pub allowed: bool,
    pub reason: Option<String>,
    pub used: Option<i32>,
    pub limit: Option<i32>,
}

/// Decides Generate from the role and the organization as the mirror has them. The server
/// decides for real (atomically, with the quota); this only spares a creator a refused click.
pub fn allowance(
    role: Role,
    org: Option<&Organization>,
    resolution: Option<Resolution>,
    aspect: AspectRatio,
    now: chrono::DateTime<chrono::Utc>,
) -> GenerateAllowance {
    use resonance_api::model::SubscriptionStatus as S;
    let used = org.and_then(|o| o.generations_this_month);
    let limit = org.and_then(|o| o.generations_limit);
    let refuse = |reason: &str| GenerateAllowance { allowed: false, reason: Some(reason.into()), used, limit };
    if role == Role::Viewer {
        return refuse("Viewers cannot start generations. Ask an admin for the developer role.");
    }
    if let Some(org) = org {
        match org.subscription_status {
            Some(S::PastDue | S::Unpaid) => {
                return refuse("The subscription's payment is overdue. The owner can fix it under Account & plan.")
            }
            Some(S::Canceled) => {
                return refuse("The subscription is canceled. The owner can renew it under Account & plan.")
            }
            Some(S::Trialing) if org.trial_ends_at.is_some_and(|t| t <= now) => {
                return refuse("The free trial has ended. The owner can choose a plan under Account & plan.")
            }
            _ => {}
        }
        let plan = Plan::of(org);
        if let Some(r) = resolution.filter(|r| !plan.allows(*r, aspect)) {
            let (w, h) = r.dimensions_for(aspect);
            return refuse(&format!(
                "The {} plan renders up to {} ({} pixels on the long edge), and this project is set to {} in {aspect} ({w}×{h}). Choose a lower resolution, or the owner can upgrade under Account & plan.",
                plan.name,
                plan.max_resolution.as_str(),
                plan.max_resolution.long_edge(AspectRatio::Landscape),
                r.as_str()
            ));
        }
        if let (Some(u), Some(l)) = (used, limit) {
            if u >= l {
                return refuse(&format!("This period's {l} generations are used. They renew with the next billing period, or upgrade the plan."));
            }
        }
    }
    GenerateAllowance { allowed: true, reason: None, used, limit }
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
    let generate = allowance(
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

#[cfg(test)]
mod tests {
    use super::*;
    use resonance_api::model::SubscriptionStatus;

    fn org(status: Option<SubscriptionStatus>, used: i32, limit: i32, trial_days: i64) -> Organization {
        Organization {
            id: Uuid::nil(),
            name: "Org".into(),
            slug: None,
            stripe_customer_id: None,
            stripe_subscription_id: None,
            subscription_status: status,
            subscription_plan: Some("free".into()),
            trial_ends_at: Some(chrono::Utc::now() + chrono::Duration::days(trial_days)),
            generations_this_month: Some(used),
            generations_limit: Some(limit),
            settings: None,
            created_at: None,
            updated_at: None,
        }
    }

    #[test]
    fn generate_is_refused_with_the_reason_a_creator_can_act_on() {
        let now = chrono::Utc::now();
        // role, subscription, used, limit, trial days left, the reason's gist (none: allowed)
        type Case = (Role, Option<SubscriptionStatus>, i32, i32, i64, Option<&'static str>);
        let cases: [Case; 7] = [
            (Role::Developer, Some(SubscriptionStatus::Active), 1, 3, 5, None),
            (Role::Viewer, Some(SubscriptionStatus::Active), 0, 3, 5, Some("Viewers")),
            (Role::Owner, Some(SubscriptionStatus::Active), 3, 3, 5, Some("generations are used")),
            (Role::Admin, Some(SubscriptionStatus::PastDue), 0, 3, 5, Some("overdue")),
            (Role::Admin, Some(SubscriptionStatus::Canceled), 0, 3, 5, Some("canceled")),
            (Role::Developer, Some(SubscriptionStatus::Trialing), 0, 3, -1, Some("trial has ended")),
            (Role::Developer, Some(SubscriptionStatus::Trialing), 2, 3, 3, None),
        ];
        for (role, status, used, limit, trial, want) in cases {
            let a = allowance(
                role,
                Some(&org(status, used, limit, trial)),
                Some(Resolution::R1080p),
                AspectRatio::Landscape,
                now,
            );
            assert_eq!(a.allowed, want.is_none(), "{role:?} {status:?} {used}/{limit}: {a:?}");
            if let Some(w) = want {
                assert!(a.reason.as_deref().is_some_and(|r| r.contains(w)), "reason for {role:?} {status:?}: {a:?}");
            }
            assert_eq!((a.used, a.limit), (Some(used), Some(limit)), "the quota is always shown");
        }
    }

    #[test]
    fn generate_is_refused_above_the_plans_resolution() {
        let now = chrono::Utc::now();
        let mut free = org(Some(SubscriptionStatus::Trialing), 0, 3, 5);
        use AspectRatio::*;
        let a = allowance(Role::Owner, Some(&free), Some(Resolution::R2160p), Landscape, now);
        assert!(
            !a.allowed && a.reason.as_deref().is_some_and(|r| r.contains("Free plan renders up to 1080p")),
            "{a:?}"
        );
        assert!(allowance(Role::Owner, Some(&free), Some(Resolution::R1080p), Landscape, now).allowed);
        // The long edge decides: a 1440p square is 1440 wide, a 1440p vertical 2560 high.
        assert!(allowance(Role::Owner, Some(&free), Some(Resolution::R1440p), Square, now).allowed);
        let tall = allowance(Role::Owner, Some(&free), Some(Resolution::R1440p), Vertical, now);
        assert!(!tall.allowed && tall.reason.as_deref().is_some_and(|r| r.contains("1440×2560")), "{tall:?}");
        free.subscription_plan = Some("studio".into());
        free.subscription_status = Some(SubscriptionStatus::Active);
        assert!(allowance(Role::Owner, Some(&free), Some(Resolution::R2160p), Landscape, now).allowed);
    }
}
