//! Requests that create and edit projects, and the validation rules for every field. Invariant:
//! the server and an offline client apply the same rules, so a queued edit that passes here is
//! refused by the server only for reasons of state (role, conflict), never for its shape.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::FieldError;
use crate::model::{AspectRatio, Project, Resolution, StylePreference};

pub const NAME_MAX_CHARS: usize = 120;
pub const PROMPT_MAX_CHARS: usize = 2000;
pub const DESCRIPTION_MAX_CHARS: usize = 5000;
pub const AUDIO_PATH_MAX_CHARS: usize = 1024;
/// Ten hours: longer than any track we render, short enough to catch unit mistakes (ms for s).
pub const AUDIO_DURATION_MAX_SECONDS: f64 = 36_000.0;
/// The tempo a creator may set for a track (beats per minute): the render follows it instead of
/// the detected one.
pub const TEMPO_MIN_BPM: f64 = 30.0;
pub const TEMPO_MAX_BPM: f64 = 300.0;

/// What a new project gets for each setting its creator left out: the database's column defaults
/// (a server test pins them to the schema), which the app's form starts from, the CLI leaves to
/// the server and an offline client shows until the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ProjectDefaults {
    pub resolution: Resolution,
    pub aspect: AspectRatio,
    pub style_preference: StylePreference,
    pub footage_visibility: f64,
    pub effect_intensity: f64,
}

pub const PROJECT_DEFAULTS: ProjectDefaults = ProjectDefaults {
    resolution: Resolution::R1080p,
    aspect: AspectRatio::Landscape,
    style_preference: StylePreference::Organic,
    footage_visibility: 0.6,
    effect_intensity: 0.5,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// Client-made id: a retried create with the same id and fields returns the same project.
    #[serde(default)]
    pub id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 120,
            pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
        )
    )]
    pub name: String,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 5000, pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$")
    )]
    pub description: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 2000,
            pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
        )
    )]
    pub prompt: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 1024,
            pattern = r"^[^/\\\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s/\\\u0000-\u001F\u007F-\u009F][^/\\\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
        )
    )]
    pub audio_path: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 36000))]
    pub audio_duration: Option<f64>,
    #[serde(default)]
    pub resolution: Option<Resolution>,
    #[serde(default)]
    pub style_preference: Option<StylePreference>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1))]
    pub footage_visibility: Option<f64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1))]
    pub effect_intensity: Option<f64>,
    /// The creator's tempo (BPM), when the detected one is wrong; absent: the detected one.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 30, maximum = 300))]
    pub tempo_bpm: Option<f64>,
    /// The shape of its renders; absent: 16:9.
    #[serde(default)]
    pub aspect: Option<AspectRatio>,
}

/// A partial edit: absent fields are left as they are; `description: ""` clears it, and
/// `tempo_bpm: 0` returns to the detected tempo.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 120,
            pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
        )
    )]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 5000, pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$")
    )]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 2000,
            pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
        )
    )]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 1024,
            pattern = r"^[^/\\\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s/\\\u0000-\u001F\u007F-\u009F][^/\\\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
        )
    )]
    pub audio_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 36000))]
    pub audio_duration: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style_preference: Option<StylePreference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1))]
    pub footage_visibility: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1))]
    pub effect_intensity: Option<f64>,
    /// The creator's tempo, 30 to 300 BPM; 0 returns to the detected one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = tempo_patch_schema))]
    pub tempo_bpm: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect: Option<AspectRatio>,
}

/// A patch's `tempo_bpm`: absent or null (unchanged), 0 (the detected tempo again), or a tempo.
#[cfg(feature = "openapi")]
fn tempo_patch_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .item(ObjectBuilder::new().schema_type(Type::Number).enum_values(Some([0])))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(TEMPO_MIN_BPM))
                    .maximum(Some(TEMPO_MAX_BPM)),
            )
            .build(),
    )
}

fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<(), FieldError> {
    if required && value.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    let n = value.chars().count();
    if n > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters (got {n})")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(())
}

/// `audio_path` as a client sends it: the audio file's name. Storage keys are the server's to
/// name (when an upload finishes), so a client can never point a project at stored audio,
/// its own organization's or another's.
fn file_name(value: &str) -> Result<(), FieldError> {
    text("audio_path", value, AUDIO_PATH_MAX_CHARS, true)?;
    if value.contains(['/', '\\']) {
        return Err(FieldError::new(
            "audio_path",
            "must be the audio file's name, not a path; the server names the stored audio when its upload finishes",
        ));
    }
    Ok(())
}

fn unit_interval(field: &'static str, value: Option<f64>) -> Result<(), FieldError> {
    match value {
        Some(v) if !(0.0..=1.0).contains(&v) || v.is_nan() => {
            Err(FieldError::new(field, format!("must be between 0 and 1 (got {v})")))
        }
        _ => Ok(()),
    }
}

/// A creator's tempo: `TEMPO_MIN_BPM` to `TEMPO_MAX_BPM`.
pub fn check_tempo(bpm: f64) -> Result<(), FieldError> {
    if bpm.is_finite() && (TEMPO_MIN_BPM..=TEMPO_MAX_BPM).contains(&bpm) {
        Ok(())
    } else {
        Err(FieldError::new(
            "tempo_bpm",
            format!("must be between {TEMPO_MIN_BPM} and {TEMPO_MAX_BPM} beats per minute (got {bpm})"),
        ))
    }
}

/// A creator's tempo if given; in a patch, 0 too (it clears the tempo).
fn tempo(value: Option<f64>, clearing: bool) -> Result<(), FieldError> {
    match value {
        Some(0.0) if clearing => Ok(()),
        Some(v) => check_tempo(v).map_err(|e| {
            if clearing {
                FieldError::new(e.field, format!("{}, or 0 for the detected tempo", e.message))
            } else {
                e
            }
        }),
        None => Ok(()),
    }
}

fn duration(value: Option<f64>) -> Result<(), FieldError> {
    match value {
        Some(v) if !(v.is_finite() && v > 0.0 && v <= AUDIO_DURATION_MAX_SECONDS) => Err(FieldError::new(
            "audio_duration",
            format!("must be a number of seconds above 0 and at most {AUDIO_DURATION_MAX_SECONDS}"),
        )),
        _ => Ok(()),
    }
}

impl NewProject {
    pub fn validate(&self) -> Result<(), FieldError> {
        text("name", &self.name, NAME_MAX_CHARS, true)?;
        if let Some(d) = &self.description {
            text("description", d, DESCRIPTION_MAX_CHARS, false)?;
        }
        text("prompt", &self.prompt, PROMPT_MAX_CHARS, true)?;
        file_name(&self.audio_path)?;
        duration(self.audio_duration)?;
        unit_interval("footage_visibility", self.footage_visibility)?;
        unit_interval("effect_intensity", self.effect_intensity)?;
        tempo(self.tempo_bpm, false)
    }
}

/// The patch rules, once, for both a project and a create not sent yet (their fields share
/// names and types).
macro_rules! apply_patch {
    ($patch:expr, $to:expr) => {{
        let (patch, to) = ($patch, $to);
        if let Some(v) = &patch.name {
            to.name = v.clone();
        }
        if let Some(v) = &patch.description {
            to.description = (!v.is_empty()).then(|| v.clone());
        }
        if let Some(v) = &patch.prompt {
            to.prompt = v.clone();
        }
        if let Some(v) = &patch.audio_path {
            to.audio_path = v.clone();
        }
        to.audio_duration = patch.audio_duration.or(to.audio_duration);
        to.resolution = patch.resolution.or(to.resolution);
        to.style_preference = patch.style_preference.or(to.style_preference);
        to.footage_visibility = patch.footage_visibility.or(to.footage_visibility);
        to.effect_intensity = patch.effect_intensity.or(to.effect_intensity);
        to.tempo_bpm = patch.tempo_after(to.tempo_bpm);
        to.aspect = patch.aspect.or(to.aspect);
    }};
}

impl ProjectPatch {
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(v) = &self.name {
            text("name", v, NAME_MAX_CHARS, true)?;
        }
        if let Some(v) = &self.description {
            text("description", v, DESCRIPTION_MAX_CHARS, false)?;
        }
        if let Some(v) = &self.prompt {
            text("prompt", v, PROMPT_MAX_CHARS, true)?;
        }
        if let Some(v) = &self.audio_path {
            file_name(v)?;
        }
        duration(self.audio_duration)?;
        unit_interval("footage_visibility", self.footage_visibility)?;
        unit_interval("effect_intensity", self.effect_intensity)?;
        tempo(self.tempo_bpm, true)
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The creator's tempo after this patch, from `current`: the one place that says `0` clears.
    pub fn tempo_after(&self, current: Option<f64>) -> Option<f64> {
        match self.tempo_bpm {
            Some(0.0) => None,
            Some(t) => Some(t),
            None => current,
        }
    }

    /// Applies this patch's fields to `project`, as the server does: an absent field keeps its
    /// value, `description: ""` clears it, `tempo_bpm: 0` clears the creator's tempo. (The
    /// server's SQL says the same; its test `a_patch_is_applied_as_the_contract_says` compares
    /// the two.)
    pub fn apply_to(&self, project: &mut Project) {
        apply_patch!(self, project);
    }

    /// Applies this patch to a create that has not reached the server yet, by the same rules.
    pub fn apply_to_new(&self, new: &mut NewProject) {
        apply_patch!(self, new);
    }
}

/// A new project as the patch that makes an empty one into it (a create laid over the mirror
/// goes the same way as an edit).
impl From<&NewProject> for ProjectPatch {
    fn from(new: &NewProject) -> Self {
        Self {
            name: Some(new.name.clone()),
            description: new.description.clone(),
            prompt: Some(new.prompt.clone()),
            audio_path: Some(new.audio_path.clone()),
            audio_duration: new.audio_duration,
            resolution: new.resolution,
            style_preference: new.style_preference,
            footage_visibility: new.footage_visibility,
            effect_intensity: new.effect_intensity,
            tempo_bpm: new.tempo_bpm,
            aspect: new.aspect,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_not_sent_yet_is_patched_by_the_same_rules() {
        let mut new = valid();
        new.description = Some("d".into());
        new.tempo_bpm = Some(120.0);
        ProjectPatch {
            description: Some(String::new()),
            tempo_bpm: Some(0.0),
            name: Some("b".into()),
            ..Default::default()
        }
        .apply_to_new(&mut new);
        assert_eq!((new.name.as_str(), new.description.as_deref(), new.tempo_bpm), ("b", None, None));
        assert_eq!(new.prompt, valid().prompt, "an absent field is kept");
    }

    #[test]
    fn a_patch_clears_an_emptied_description_and_a_zero_tempo_and_keeps_absent_fields() {
        let mut p: Project = serde_json::from_value(serde_json::json!({
            "id": Uuid::nil(), "organization_id": Uuid::nil(), "user_id": Uuid::nil(), "name": "a",
            "description": "d", "prompt": "p", "audio_path": "x.mp3", "resolution": "720p", "tempo_bpm": 120.0
        }))
        .unwrap();
        ProjectPatch {
            description: Some(String::new()),
            name: Some("b".into()),
            tempo_bpm: Some(0.0),
            ..Default::default()
        }
        .apply_to(&mut p);
        assert_eq!(
            (p.name.as_str(), p.description.as_deref(), p.resolution, p.tempo_bpm, p.prompt.as_str()),
            ("b", None, Some(Resolution::R720p), None, "p")
        );
    }

    fn valid() -> NewProject {
        NewProject {
            id: None,
            name: "Night drive".into(),
            description: None,
            prompt: "neon rain on a highway".into(),
            audio_path: "night-drive.flac".into(),
            audio_duration: Some(183.4),
            resolution: Some(Resolution::R1080p),
            style_preference: Some(StylePreference::Organic),
            footage_visibility: Some(0.6),
            effect_intensity: Some(0.5),
            tempo_bpm: None,
            aspect: None,
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        type Mutation = Box<dyn Fn(&mut NewProject)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("name", Box::new(|p| p.name = "   ".into())),
            ("name", Box::new(|p| p.name = "x".repeat(NAME_MAX_CHARS + 1))),
            ("prompt", Box::new(|p| p.prompt = String::new())),
            ("prompt", Box::new(|p| p.prompt = "y".repeat(PROMPT_MAX_CHARS + 1))),
            ("audio_path", Box::new(|p| p.audio_path = String::new())),
            ("audio_path", Box::new(|p| p.audio_path = format!("{}/{}/a.wav", Uuid::nil(), Uuid::nil()))),
            ("audio_path", Box::new(|p| p.audio_path = "/srv/storage/a.wav".into())),
            ("audio_path", Box::new(|p| p.audio_path = "..\\a.wav".into())),
            ("audio_duration", Box::new(|p| p.audio_duration = Some(-1.0))),
            ("audio_duration", Box::new(|p| p.audio_duration = Some(f64::NAN))),
            ("footage_visibility", Box::new(|p| p.footage_visibility = Some(1.01))),
            ("effect_intensity", Box::new(|p| p.effect_intensity = Some(-0.1))),
            ("tempo_bpm", Box::new(|p| p.tempo_bpm = Some(0.0))),
            ("tempo_bpm", Box::new(|p| p.tempo_bpm = Some(301.0))),
            ("tempo_bpm", Box::new(|p| p.tempo_bpm = Some(f64::INFINITY))),
            ("description", Box::new(|p| p.description = Some("bad\u{7}bell".into()))),
        ];
        for (field, mutate) in cases {
            let mut p = valid();
            mutate(&mut p);
            assert_eq!(p.validate().unwrap_err().field, field);
        }
        assert_eq!(valid().validate(), Ok(()));
    }

    #[test]
    fn bounds_are_inclusive() {
        let mut p = valid();
        p.footage_visibility = Some(0.0);
        p.effect_intensity = Some(1.0);
        p.name = "n".repeat(NAME_MAX_CHARS);
        p.tempo_bpm = Some(TEMPO_MAX_BPM);
        assert_eq!(p.validate(), Ok(()));
        p.tempo_bpm = Some(TEMPO_MIN_BPM);
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn a_tempo_of_0_clears_the_creator_s_tempo_in_a_patch_only() {
        let clear = ProjectPatch { tempo_bpm: Some(0.0), ..ProjectPatch::default() };
        assert_eq!(clear.validate(), Ok(()));
        assert_eq!(clear.tempo_after(Some(62.0)), None);
        let set = ProjectPatch { tempo_bpm: Some(124.0), ..ProjectPatch::default() };
        assert_eq!(set.tempo_after(Some(62.0)), Some(124.0));
        assert_eq!(ProjectPatch::default().tempo_after(Some(62.0)), Some(62.0));
        let bad = ProjectPatch { tempo_bpm: Some(12.0), ..ProjectPatch::default() };
        assert_eq!(bad.validate().unwrap_err().field, "tempo_bpm");
    }

    #[test]
    fn unknown_fields_and_styles_are_refused() {
        assert!(serde_json::from_str::<ProjectPatch>(r#"{"status":"completed"}"#).is_err());
        assert!(serde_json::from_str::<ProjectPatch>(r#"{"style_preference":"vaporwave"}"#).is_err());
        assert!(serde_json::from_str::<ProjectPatch>("{}").unwrap().is_empty());
    }
}
