//! The rows of the five tenant tables as they travel on the wire (REST answers and the sync feed
//! alike). Field names are the Postgres column names; columns the schema allows to be NULL are
//! `Option`. Invariant: one struct per table, used by both the server and the client mirror.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A member's role in an organization, from least to most privileged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything in the organization.
    Viewer,
    /// Also creates and edits projects and starts generations.
    Developer,
    /// Also deletes projects and manages members.
    Admin,
    /// Also manages billing.
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Developer, Role::Admin, Role::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Developer => "developer",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn can_edit_projects(self) -> bool {
        self >= Self::Developer
    }
    pub fn can_start_generations(self) -> bool {
        self >= Self::Developer
    }
    pub fn can_delete_projects(self) -> bool {
        self >= Self::Admin
    }
    pub fn can_manage_members(self) -> bool {
        self >= Self::Admin
    }
    pub fn can_manage_billing(self) -> bool {
        self == Self::Owner
    }
    /// Whether this role shares a generation (with a link), one it started or not: admins share
    /// any, developers those they started (`auth_private.may_share` decides on the server).
    pub fn can_share(self, started_it: bool) -> bool {
        self >= Self::Admin || (started_it && self >= Self::Developer)
    }

    /// Everything this role may do, for a client to offer only what will be allowed.
    pub fn capabilities(self) -> Capabilities {
        Capabilities {
            role: self,
            edit_projects: self.can_edit_projects(),
            start_generations: self.can_start_generations(),
            delete_projects: self.can_delete_projects(),
            manage_members: self.can_manage_members(),
            manage_billing: self.can_manage_billing(),
            share_any_generation: self.can_share(false),
            share_own_generations: self.can_share(true),
            // The app offers the roles below owner in an invitation (ownership is not passed
            // by a code).
            invite_roles: if self.can_manage_members() {
                Self::ALL.into_iter().filter(|r| *r != Self::Owner).collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// What a role may do (`Role::capabilities`): the UI branches on these, not on role names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Capabilities {
    pub role: Role,
    /// Create and edit projects (and their footage).
    pub edit_projects: bool,
    pub start_generations: bool,
    pub delete_projects: bool,
    pub manage_members: bool,
    pub manage_billing: bool,
    pub share_any_generation: bool,
    /// Share the generations one started.
    pub share_own_generations: bool,
    /// The roles an invitation from this role may give.
    pub invite_roles: Vec<Role>,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
}

impl SubscriptionStatus {
    pub const ALL: [SubscriptionStatus; 5] =
        [Self::Trialing, Self::Active, Self::PastDue, Self::Canceled, Self::Unpaid];

    /// As it is stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
            Self::Unpaid => "unpaid",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub slug: Option<String>,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub subscription_status: Option<SubscriptionStatus>,
    pub subscription_plan: Option<String>,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub generations_this_month: Option<i32>,
    pub generations_limit: Option<i32>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: Option<serde_json::Value>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// What `PATCH /v1/organization` may change (admins and owners). Billing, plan, trial and usage
/// fields are not here: only verified billing events change them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrganizationPatch {
    /// Not blank, at most 120 characters, no control characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            nullable = false,
            max_length = 120,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(nullable = false, pattern = r"^[a-z0-9-]{3,48}$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// Replaces the settings object as a whole.
    #[cfg_attr(feature = "openapi", schema(nullable = false, value_type = Object))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A member of an organization (the `users` table; credentials live elsewhere and never travel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct User {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub role: Option<Role>,
    pub created_at: Option<DateTime<Utc>>,
}

/// Output resolution of a render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Resolution {
    #[serde(rename = "720p")]
    R720p,
    #[serde(rename = "1080p")]
    R1080p,
    #[serde(rename = "1440p")]
    R1440p,
    #[serde(rename = "2160p")]
    R2160p,
}

impl Resolution {
    pub const ALL: [Resolution; 4] = [Self::R720p, Self::R1080p, Self::R1440p, Self::R2160p];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::R720p => "720p",
            Self::R1080p => "1080p",
            Self::R1440p => "1440p",
            Self::R2160p => "2160p",
        }
    }

    /// 1 for the smallest, growing with the frame size.
    pub fn rank(self) -> u8 {
        match self {
            Self::R720p => 1,
            Self::R1080p => 2,
            Self::R1440p => 3,
            Self::R2160p => 4,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The frame's short edge, in pixels: what the name says (720p is 720 pixels).
    pub fn short_edge(self) -> u32 {
        match self {
            Self::R720p => 720,
            Self::R1080p => 1080,
            Self::R1440p => 1440,
            Self::R2160p => 2160,
        }
    }

    /// Frame size (width, height) for a 16:9 render.
    pub fn dimensions(self) -> (u32, u32) {
        self.dimensions_for(AspectRatio::Landscape)
    }

    /// Frame size (width, height) in `aspect`: the resolution names the short edge, so 1080p is
    /// 1920×1080 in 16:9, 1080×1920 in 9:16, 1080×1080 in 1:1 and 1080×1350 in 4:5.
    pub fn dimensions_for(self, aspect: AspectRatio) -> (u32, u32) {
        let short = self.short_edge();
        let long = self.long_edge(aspect);
        if aspect.is_portrait() {
            (short, long)
        } else {
            (long, short)
        }
    }

    /// The frame's long edge in `aspect`, the size a plan's limit is compared with (every edge
    /// here is a whole, even number of pixels).
    pub fn long_edge(self, aspect: AspectRatio) -> u32 {
        let (long, short) = aspect.edges();
        self.short_edge() * long / short
    }
}

/// The shape of a render. The resolution names its short edge; a plan's limit is its long edge.
/// - `16:9`: landscape, YouTube (the default);
/// - `9:16`: vertical, Shorts, Reels and TikTok;
/// - `1:1`: square, Instagram's feed;
/// - `4:5`: Instagram's tall portrait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum AspectRatio {
    #[default]
    #[serde(rename = "16:9")]
    Landscape,
    #[serde(rename = "9:16")]
    Vertical,
    #[serde(rename = "1:1")]
    Square,
    #[serde(rename = "4:5")]
    Portrait,
}

impl AspectRatio {
    pub const ALL: [AspectRatio; 4] = [Self::Landscape, Self::Vertical, Self::Square, Self::Portrait];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Landscape => "16:9",
            Self::Vertical => "9:16",
            Self::Square => "1:1",
            Self::Portrait => "4:5",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// (long, short): the ratio of the long edge to the short one.
    fn edges(self) -> (u32, u32) {
        match self {
            Self::Landscape | Self::Vertical => (16, 9),
            Self::Square => (1, 1),
            Self::Portrait => (5, 4),
        }
    }

    /// Where a creator publishes in this shape.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Landscape => "Landscape: YouTube, Vimeo, a screen",
            Self::Vertical => "Vertical: Shorts, Reels, TikTok, Stories",
            Self::Square => "Square: an Instagram or Facebook feed",
            Self::Portrait => "Portrait: Instagram's tallest feed post",
        }
    }

    /// Taller than wide.
    pub fn is_portrait(self) -> bool {
        matches!(self, Self::Vertical | Self::Portrait)
    }

    /// Width over height.
    pub fn ratio(self) -> f64 {
        let (long, short) = self.edges();
        if self.is_portrait() {
            f64::from(short) / f64::from(long)
        } else {
            f64::from(long) / f64::from(short)
        }
    }
}

impl std::fmt::Display for AspectRatio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The visual language of a render. The documented list:
/// - `organic`: flowing, soft shapes and gradients that breathe with the energy (the default);
/// - `geometric`: hard-edged shapes, grids and symmetry cut on the beat;
/// - `cinematic`: slow camera moves, film grain and letterboxing, cuts on sections;
/// - `abstract`: colour fields and particles driven by the spectrum;
/// - `glitch`: datamosh, RGB splits and stutters on transients;
/// - `retro`: VHS and synthwave palettes, scanlines;
/// - `minimal`: sparse, monochrome, restrained motion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum StylePreference {
    Organic,
    Geometric,
    Cinematic,
    Abstract,
    Glitch,
    Retro,
    Minimal,
}

impl StylePreference {
    pub const ALL: [StylePreference; 7] =
        [Self::Organic, Self::Geometric, Self::Cinematic, Self::Abstract, Self::Glitch, Self::Retro, Self::Minimal];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organic => "organic",
            Self::Geometric => "geometric",
            Self::Cinematic => "cinematic",
            Self::Abstract => "abstract",
            Self::Glitch => "glitch",
            Self::Retro => "retro",
            Self::Minimal => "minimal",
        }
    }
}

/// How a status reads at a glance: the colour of its badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    /// Done and well.
    Ok,
    /// Under way, or worth a look (a warning).
    Busy,
    /// Failed.
    Bad,
    /// At rest.
    Idle,
}

/// A status as a creator reads it: its words and its tone. The same spelling means the same in
/// every vocabulary (a project's and a generation's `failed` read alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StatusLook {
    pub label: &'static str,
    pub tone: Tone,
}

const fn look(label: &'static str, tone: Tone) -> StatusLook {
    StatusLook { label, tone }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    Draft,
    Queued,
    Analyzing,
    Orchestrating,
    Rendering,
    Completed,
    Failed,
}

impl ProjectStatus {
    pub const ALL: [ProjectStatus; 7] = [
        Self::Draft,
        Self::Queued,
        Self::Analyzing,
        Self::Orchestrating,
        Self::Rendering,
        Self::Completed,
        Self::Failed,
    ];

    /// As it is stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Queued => "queued",
            Self::Analyzing => "analyzing",
            Self::Orchestrating => "orchestrating",
            Self::Rendering => "rendering",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub fn look(self) -> StatusLook {
        match self {
            Self::Draft => look("Draft", Tone::Idle),
            Self::Queued => look("Queued", Tone::Busy),
            Self::Analyzing => look("Analyzing audio", Tone::Busy),
            Self::Orchestrating => look("Planning visuals", Tone::Busy),
            Self::Rendering => look("Rendering", Tone::Busy),
            Self::Completed => look("Completed", Tone::Ok),
            Self::Failed => look("Failed", Tone::Bad),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Project {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub prompt: String,
    pub audio_path: String,
    pub audio_duration: Option<f64>,
    pub resolution: Option<Resolution>,
    pub style_preference: Option<StylePreference>,
    pub footage_visibility: Option<f64>,
    pub effect_intensity: Option<f64>,
    /// The creator's tempo (BPM) when the detected one is wrong: renders follow it. Absent from
    /// projects stored before it existed.
    #[serde(default)]
    pub tempo_bpm: Option<f64>,
    /// The shape of its renders (absent from projects stored before shapes existed: 16:9).
    #[serde(default)]
    pub aspect: Option<AspectRatio>,
    pub status: Option<ProjectStatus>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum GenerationStatus {
    Pending,
    Processing,
    Completed,
    Failed,
}

impl GenerationStatus {
    pub const ALL: [GenerationStatus; 4] = [Self::Pending, Self::Processing, Self::Completed, Self::Failed];

    /// As it is stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// Whether the render is still to come (queued or running): its end will be news.
    pub fn is_unfinished(self) -> bool {
        matches!(self, Self::Pending | Self::Processing)
    }

    pub fn look(self) -> StatusLook {
        match self {
            Self::Pending => look("Waiting to start", Tone::Busy),
            Self::Processing => look("Rendering", Tone::Busy),
            Self::Completed => look("Completed", Tone::Ok),
            Self::Failed => look("Failed", Tone::Bad),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Generation {
    pub id: Uuid,
    pub project_id: Option<Uuid>,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub seed: String,
    pub generation_number: Option<i32>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub audio_analysis: Option<serde_json::Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub visual_plan: Option<serde_json::Value>,
    pub video_url: Option<String>,
    pub thumbnail_url: Option<String>,
    pub duration: Option<f64>,
    pub file_size: Option<i64>,
    pub render_time_seconds: Option<i32>,
    pub status: Option<GenerationStatus>,
    pub error_message: Option<String>,
    /// Where the render starts in the song, in seconds, when it covers a part of it (a trim).
    #[serde(default)]
    pub trim_start: Option<f64>,
    /// Where the render ends in the song, in seconds, when it covers a part of it.
    #[serde(default)]
    pub trim_end: Option<f64>,
    pub created_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// One of a project's clips or stills (`public.footage`): the finished footage upload of the same
/// id, in the project's order, with the part of a clip to use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Footage {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub project_id: Uuid,
    pub user_id: Uuid,
    pub kind: crate::footage::FootageKind,
    /// The file's name on the machine it came from.
    pub filename: Option<String>,
    /// Where the file is stored (served through `GET /v1/footage/{id}/source`).
    pub object_key: String,
    /// Where its poster frame is stored (served through `GET /v1/footage/{id}/poster`).
    pub poster_key: String,
    pub sha256: String,
    /// Bytes.
    pub size: i64,
    /// Seconds of a clip; absent for a still.
    pub duration: Option<f64>,
    /// As it is shown (an upright phone clip is taller than wide).
    pub width: i32,
    pub height: i32,
    /// ffprobe's name of its picture codec (`h264`, `hevc`, `vp9`, `av1`, `mjpeg`, `png`, `webp`).
    pub codec: String,
    /// Its place in the project's list, from 0.
    pub position: i32,
    /// Where the part of a clip to use starts, in seconds (absent: its start).
    pub in_point: Option<f64>,
    /// Where it ends (absent: the clip's end).
    pub out_point: Option<f64>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Footage {
    /// The part of the item a render uses, in seconds of the clip (`None` for a still).
    pub fn span(&self) -> Option<(f64, f64)> {
        let duration = self.duration?;
        Some((self.in_point.unwrap_or(0.0), self.out_point.unwrap_or(duration)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum LogStatus {
    Started,
    Success,
    Warning,
    Error,
}

impl LogStatus {
    pub const ALL: [LogStatus; 4] = [Self::Started, Self::Success, Self::Warning, Self::Error];

    /// The wire and database spelling (`system_logs.status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Success => "success",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }

    /// The entry's severity (`system_logs.severity`): what an operator filters on.
    pub fn severity(self) -> &'static str {
        match self {
            Self::Started | Self::Success => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }

    pub fn look(self) -> StatusLook {
        match self {
            Self::Started => look("Started", Tone::Idle),
            Self::Success => look("Success", Tone::Ok),
            Self::Warning => look("Warning", Tone::Busy),
            Self::Error => look("Error", Tone::Bad),
        }
    }
}

/// One entry of the organization's activity log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SystemLog {
    pub id: Uuid,
    pub organization_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub generation_id: Option<Uuid>,
    pub action_type: String,
    pub status: LogStatus,
    pub severity: Option<String>,
    pub message: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub details: Option<serde_json::Value>,
    pub error_message: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

from_spelling!(
    Role: "role",
    SubscriptionStatus: "subscription status",
    ProjectStatus: "project status",
    GenerationStatus: "generation status",
    LogStatus: "log status",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_reads_back_and_no_other_does() {
        fn check<T>(all: &[T], spell: fn(T) -> &'static str)
        where
            T: std::str::FromStr<Err = String> + PartialEq + std::fmt::Debug + Copy,
        {
            for v in all {
                assert_eq!(spell(*v).parse::<T>(), Ok(*v));
            }
            assert!("Completed".parse::<T>().unwrap_err().contains("\"Completed\""));
        }
        check(&Role::ALL, Role::as_str);
        check(&SubscriptionStatus::ALL, SubscriptionStatus::as_str);
        check(&ProjectStatus::ALL, ProjectStatus::as_str);
        check(&GenerationStatus::ALL, GenerationStatus::as_str);
        check(&LogStatus::ALL, LogStatus::as_str);
    }

    /// The UI shows every status through one table keyed by its spelling: a spelling shared by
    /// two vocabularies must read alike in both, and unfinished generations read as busy.
    #[test]
    fn a_status_spelled_alike_reads_alike() {
        let all: Vec<(&str, StatusLook)> = ProjectStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.look()))
            .chain(GenerationStatus::ALL.iter().map(|s| (s.as_str(), s.look())))
            .chain(LogStatus::ALL.iter().map(|s| (s.as_str(), s.look())))
            .collect();
        for (a, look_a) in &all {
            for (b, look_b) in &all {
                if a == b {
                    assert_eq!(look_a, look_b, "{a}");
                }
            }
        }
        assert!(all.iter().any(|(a, _)| *a == "failed"), "the test looks at shared spellings");
        for s in GenerationStatus::ALL {
            assert_eq!(s.is_unfinished(), s.look().tone == Tone::Busy, "{s:?}");
        }
    }

    #[test]
    fn capabilities_grow_with_the_role() {
        let [viewer, developer, admin, owner] = Role::ALL.map(Role::capabilities);
        assert!(!viewer.edit_projects && !viewer.share_own_generations && viewer.invite_roles.is_empty());
        assert!(developer.edit_projects && developer.start_generations && !developer.delete_projects);
        assert!(developer.share_own_generations && !developer.share_any_generation);
        assert!(admin.delete_projects && admin.manage_members && admin.share_any_generation && !admin.manage_billing);
        assert_eq!(admin.invite_roles, [Role::Viewer, Role::Developer, Role::Admin]);
        assert!(owner.manage_billing && owner.invite_roles == admin.invite_roles);
    }

    #[test]
    fn generation_statuses_read_back_as_they_are_sent() {
        for status in GenerationStatus::ALL {
            assert_eq!(status.as_str().parse::<GenerationStatus>(), Ok(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert!("rendering".parse::<GenerationStatus>().is_err(), "a stage is not a status");
        let unfinished: Vec<_> = GenerationStatus::ALL.into_iter().filter(|s| s.is_unfinished()).collect();
        assert_eq!(unfinished, [GenerationStatus::Pending, GenerationStatus::Processing]);
    }

    #[test]
    fn roles_are_ordered_by_privilege() {
        assert!(Role::Viewer < Role::Developer && Role::Developer < Role::Admin && Role::Admin < Role::Owner);
        assert!(!Role::Viewer.can_edit_projects());
        assert!(Role::Developer.can_edit_projects() && !Role::Developer.can_delete_projects());
        assert!(Role::Admin.can_manage_members() && !Role::Admin.can_manage_billing());
        assert!(Role::Owner.can_manage_billing());
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn resolution_uses_the_product_names() {
        assert_eq!(serde_json::to_string(&Resolution::R1440p).unwrap(), r#""1440p""#);
        assert!(serde_json::from_str::<Resolution>(r#""4k""#).is_err());
    }

    #[test]
    fn the_resolution_names_the_short_edge_in_every_shape() {
        use AspectRatio::*;
        assert_eq!(Resolution::R1080p.dimensions(), (1920, 1080));
        assert_eq!(Resolution::R1080p.dimensions_for(Vertical), (1080, 1920));
        assert_eq!(Resolution::R1080p.dimensions_for(Square), (1080, 1080));
        assert_eq!(Resolution::R1080p.dimensions_for(Portrait), (1080, 1350));
        assert_eq!(Resolution::R720p.dimensions_for(Portrait), (720, 900));
        assert_eq!(Resolution::R2160p.dimensions_for(Vertical), (2160, 3840));
        for r in Resolution::ALL {
            for a in AspectRatio::ALL {
                let (w, h) = r.dimensions_for(a);
                assert_eq!(w.min(h), r.short_edge(), "{r:?} {a}");
                assert_eq!(w.max(h), r.long_edge(a), "{r:?} {a}");
                assert!(w % 2 == 0 && h % 2 == 0, "H.264 in 4:2:0 needs even edges: {r:?} {a}");
                assert!((f64::from(w) / f64::from(h) - a.ratio()).abs() < 1e-9, "{r:?} {a}");
                assert_eq!(AspectRatio::parse(a.as_str()), Some(a));
                assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
            }
        }
        assert_eq!(AspectRatio::default(), Landscape);
        assert!(serde_json::from_str::<AspectRatio>(r#""16/9""#).is_err());
    }

    #[test]
    fn a_project_row_from_postgres_jsonb_decodes() {
        let row = serde_json::json!({
            "id": "2f1b3c59-4a4e-4a43-9d7e-2b0c6a1f5e11",
            "organization_id": "5b8e6f0c-6c43-4c41-a1b7-0d2c9e3b7a10",
            "user_id": "7c4d2a1b-1e2f-4a3b-8c9d-0e1f2a3b4c5d",
            "name": "Night drive", "description": null, "prompt": "neon rain",
            "audio_path": "a.mp3", "audio_duration": 183.2, "resolution": "1080p",
            "style_preference": "organic", "footage_visibility": 0.6, "effect_intensity": 0.5,
            "status": "draft", "created_at": "2026-11-25T14:41:41.123456+00:00",
            "updated_at": "2026-11-25T14:41:41.123456+00:00"
        });
        let p: Project = serde_json::from_value(row).unwrap();
        assert_eq!(p.footage_visibility, Some(0.6));
        assert_eq!(p.status, Some(ProjectStatus::Draft));
    }
}
