//! Starting a generation: what the client sends. Invariant: a seed a client supplies is short
//! plain text, so it can be shown, typed back, and stored with a re-run suffix (`~k`).

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::model::{AspectRatio, Organization, ProjectStatus, Resolution, Role};
use crate::plans::Plan;

pub const SEED_MAX_CHARS: usize = 64;

/// `POST /v1/projects/{id}/generations`. Send it with an `Idempotency-Key`: a retry returns the
/// same generation and is not counted against the quota twice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct NewGeneration {
    /// Re-render with the seed of an earlier generation (its `seed` up to any `~`); omitted, the
    /// server picks a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,64}(~.*)?$"))]
    pub seed: Option<String>,
    /// Render only a part of the song: from this second (absent: its start). Quota counts the
    /// render once, like any other; its frames are those of the whole song's render.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 36000))]
    pub trim_start: Option<f64>,
    /// Render only a part of the song: up to this second (absent, or past the song's end: its end).
    /// At least `MIN_TRIM_SECONDS` after `trim_start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 36000))]
    pub trim_end: Option<f64>,
}

/// The shortest part of a song a generation may cover, in seconds.
pub const MIN_TRIM_SECONDS: f64 = 1.0;

/// A time in a song as a creator writes it: seconds (`40`, `40.5`) or minutes and seconds
/// (`0:40`, `1:05.5`); `None` for anything else, or a negative time.
pub fn parse_clock(s: &str) -> Option<f64> {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    // Digits, and a fraction after a point: what the desktop's field accepts too.
    let seconds = |p: &str| -> Option<(f64, usize)> {
        let (whole, fraction) = p.split_once('.').unwrap_or((p, "0"));
        (digits(whole) && digits(fraction)).then(|| p.parse().ok().map(|v| (v, whole.len()))).flatten()
    };
    match s.trim().split_once(':') {
        None => seconds(s.trim()).map(|(v, _)| v),
        Some((m, sec)) => {
            let minutes: u32 = if digits(m) { m.parse().ok()? } else { return None };
            let (sec, width) = seconds(sec)?;
            (width == 2 && sec < 60.0).then(|| f64::from(minutes) * 60.0 + sec)
        }
    }
}

/// A time in a song as a creator reads it: `0:40`, `1:05.5`.
pub fn format_clock(seconds: f64) -> String {
    let tenths = (seconds.max(0.0) * 10.0).round() as u64;
    let (minutes, rest) = (tenths / 600, tenths % 600);
    if rest % 10 == 0 {
        format!("{minutes}:{:02}", rest / 10)
    } else {
        format!("{minutes}:{:02}.{}", rest / 10, rest % 10)
    }
}

/// The seed a render follows: a stored seed without its re-run suffix.
pub fn render_seed(stored: &str) -> &str {
    stored.split('~').next().unwrap_or(stored)
}

impl NewGeneration {
    /// The part of the song asked for, `(start, end)` in seconds, when a trim was given.
    pub fn trim(&self) -> Option<(f64, Option<f64>)> {
        match (self.trim_start, self.trim_end) {
            (None, None) => None,
            (start, end) => Some((start.unwrap_or(0.0), end)),
        }
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        let seconds = crate::projects::AUDIO_DURATION_MAX_SECONDS;
        for (field, value) in [("trim_start", self.trim_start), ("trim_end", self.trim_end)] {
            if let Some(v) = value.filter(|v| !(v.is_finite() && (0.0..=seconds).contains(v))) {
                return Err(FieldError::new(
                    field,
                    format!("must be a number of seconds from 0 to {seconds} (got {v})"),
                ));
            }
        }
        if let Some((start, Some(end))) = self.trim() {
            if end - start < MIN_TRIM_SECONDS {
                return Err(FieldError::new(
                    "trim_end",
                    format!("must be at least {MIN_TRIM_SECONDS} s after trim_start ({start} s); got {end} s"),
                ));
            }
        }
        if let Some(seed) = &self.seed {
            let seed = render_seed(seed);
            if seed.is_empty() || seed.chars().count() > SEED_MAX_CHARS {
                return Err(FieldError::new("seed", format!("must be 1 to {SEED_MAX_CHARS} characters")));
            }
            if !seed.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(FieldError::new("seed", "may contain only letters, digits, '-' and '_'"));
            }
        }
        Ok(())
    }
}

/// Whether Generate may be pressed, and if not, why; and what is left of the month's quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct GenerateAllowance {
    pub allowed: bool,
    pub reason: Option<String>,
    pub used: Option<i32>,
    pub limit: Option<i32>,
}

impl GenerateAllowance {
    /// Decides Generate from the role and the organization as the client's mirror has them. The
    /// server decides for real (atomically, with the quota); this only spares a creator a refused
    /// click.
    pub fn decide(
        role: Role,
        org: Option<&Organization>,
        resolution: Option<Resolution>,
        aspect: AspectRatio,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        use crate::model::SubscriptionStatus as S;
        let used = org.and_then(|o| o.generations_this_month);
        let limit = org.and_then(|o| o.generations_limit);
        let refuse = |reason: &str| GenerateAllowance { allowed: false, reason: Some(reason.into()), used, limit };
        if !role.can_start_generations() {
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
}

/// A stage of a render, in the order the worker goes through them: as the project's status
/// shows it, and as the activity log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenderStage {
    Analyzing,
    Orchestrating,
    Rendering,
}

impl RenderStage {
    pub const ALL: [RenderStage; 3] = [Self::Analyzing, Self::Orchestrating, Self::Rendering];

    /// The project's status during this stage.
    pub fn project_status(self) -> ProjectStatus {
        match self {
            Self::Analyzing => ProjectStatus::Analyzing,
            Self::Orchestrating => ProjectStatus::Orchestrating,
            Self::Rendering => ProjectStatus::Rendering,
        }
    }

    /// The activity log's `action_type` of the stage's start.
    pub fn action(self) -> &'static str {
        match self {
            Self::Analyzing => "render.analyzing",
            Self::Orchestrating => "render.orchestrating",
            Self::Rendering => "render.rendering",
        }
    }

    /// The activity log's message at the stage's start.
    pub fn message(self) -> &'static str {
        match self {
            Self::Analyzing => "Analyzing the audio",
            Self::Orchestrating => "Planning the visuals",
            Self::Rendering => "Rendering the video",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_render_goes_through_the_busy_project_statuses_in_order() {
        let shown: Vec<ProjectStatus> = RenderStage::ALL.iter().map(|s| s.project_status()).collect();
        let busy: Vec<ProjectStatus> = ProjectStatus::ALL
            .into_iter()
            .filter(|s| {
                !matches!(s, ProjectStatus::Draft | ProjectStatus::Queued) && s.look().tone == crate::model::Tone::Busy
            })
            .collect();
        assert_eq!(shown, busy);
        for stage in RenderStage::ALL {
            assert_eq!(stage.action(), format!("render.{}", stage.project_status().as_str()));
        }
    }
    use crate::model::SubscriptionStatus;
    use uuid::Uuid;

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
            let a = GenerateAllowance::decide(
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
        let a = GenerateAllowance::decide(Role::Owner, Some(&free), Some(Resolution::R2160p), Landscape, now);
        assert!(
            !a.allowed && a.reason.as_deref().is_some_and(|r| r.contains("Free plan renders up to 1080p")),
            "{a:?}"
        );
        assert!(GenerateAllowance::decide(Role::Owner, Some(&free), Some(Resolution::R1080p), Landscape, now).allowed);
        // The long edge decides: a 1440p square is 1440 wide, a 1440p vertical 2560 high.
        assert!(GenerateAllowance::decide(Role::Owner, Some(&free), Some(Resolution::R1440p), Square, now).allowed);
        let tall = GenerateAllowance::decide(Role::Owner, Some(&free), Some(Resolution::R1440p), Vertical, now);
        assert!(!tall.allowed && tall.reason.as_deref().is_some_and(|r| r.contains("1440×2560")), "{tall:?}");
        free.subscription_plan = Some("studio".into());
        free.subscription_status = Some(SubscriptionStatus::Active);
        assert!(GenerateAllowance::decide(Role::Owner, Some(&free), Some(Resolution::R2160p), Landscape, now).allowed);
    }

    #[test]
    fn seeds_are_checked_and_rerun_suffixes_dropped() {
        assert_eq!(render_seed("a1b2~3"), "a1b2");
        assert_eq!(render_seed("a1b2"), "a1b2");
        let ok = NewGeneration { seed: Some("9f3a-x_1".into()), ..NewGeneration::default() };
        assert!(ok.validate().is_ok());
        // A stored seed pasted back, suffix and all, re-runs its render seed.
        assert!(NewGeneration { seed: Some("9f3a~2".into()), ..NewGeneration::default() }.validate().is_ok());
        for bad in ["", "has space", "é", &"x".repeat(65)] {
            let e = NewGeneration { seed: Some(bad.into()), ..NewGeneration::default() }.validate().unwrap_err();
            assert_eq!(e.field, "seed", "{bad:?}");
        }
        assert!(NewGeneration::default().validate().is_ok());
    }

    #[test]
    fn song_times_read_and_print_as_creators_write_them() {
        assert_eq!(parse_clock("40"), Some(40.0));
        assert_eq!(parse_clock("0:40"), Some(40.0));
        assert_eq!(parse_clock("1:05.5"), Some(65.5));
        assert_eq!(parse_clock(" 12:00 "), Some(720.0));
        for bad in [
            "", "-3", "1:60", "1:5", "a:10", "1:-05", "inf", "NaN", "+4", "1:2:03", "1e2", ".5", "5.", "1:05.", "+1:05",
        ] {
            assert_eq!(parse_clock(bad), None, "{bad:?}");
        }
        assert_eq!(format_clock(40.0), "0:40");
        assert_eq!(format_clock(65.5), "1:05.5");
        assert_eq!(format_clock(59.96), "1:00");
        for t in [0.0, 9.9, 61.2, 3599.0] {
            assert_eq!(parse_clock(&format_clock(t)), Some(t));
        }
    }

    #[test]
    fn a_trim_is_a_part_of_at_least_a_second() {
        let trim = |start, end| NewGeneration { trim_start: start, trim_end: end, ..NewGeneration::default() };
        assert_eq!(trim(Some(40.0), Some(60.0)).validate(), Ok(()));
        assert_eq!(trim(Some(40.0), Some(60.0)).trim(), Some((40.0, Some(60.0))));
        assert_eq!(trim(None, Some(20.0)).trim(), Some((0.0, Some(20.0))));
        assert_eq!(trim(Some(30.0), None).trim(), Some((30.0, None)));
        assert_eq!(NewGeneration::default().trim(), None);
        assert_eq!(trim(Some(30.0), None).validate(), Ok(()));
        for (start, end, field) in [
            (Some(40.0), Some(40.5), "trim_end"),
            (Some(40.0), Some(20.0), "trim_end"),
            (None, Some(0.5), "trim_end"),
            (Some(-1.0), None, "trim_start"),
            (Some(f64::NAN), None, "trim_start"),
            (None, Some(f64::INFINITY), "trim_end"),
            (Some(36_001.0), None, "trim_start"),
        ] {
            assert_eq!(trim(start, end).validate().unwrap_err().field, field, "{start:?}..{end:?}");
        }
        // Unknown fields are refused, so a misspelt trim is never a silent whole-song render.
        assert!(serde_json::from_str::<NewGeneration>(r#"{"start": 4}"#).is_err());
    }
}
