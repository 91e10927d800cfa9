//! Drafts of new projects: the new-project form as the creator left it, in the mirror, so that it
//! survives a crash or a restart. A draft's id is the id the project is created with; creating
//! the project removes the draft in the same transaction (`outbox::create_project`). Audio dropped
//! anywhere in the app starts one draft per track (`start_from_files`).
//! Invariant: the `drafts` table is read and written here only.

use std::path::{Path, PathBuf};

use chrono::Utc;
use resonance_api::model::{AspectRatio, Resolution, StylePreference};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{ClientError, Result};
use crate::footage::classify;
use crate::mirror::Mirror;
use resonance_api::footage::UploadPurpose;

/// The new-project form as it was left. A setting the creator has not touched is `None`: the
/// form shows its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Draft {
    pub id: Uuid,
    pub name: String,
    pub prompt: String,
    pub description: String,
    /// The track on this computer, when one was chosen.
    pub audio_path: Option<String>,
    pub resolution: Option<Resolution>,
    pub aspect: Option<AspectRatio>,
    pub style_preference: Option<StylePreference>,
    pub footage_visibility: Option<f64>,
    pub effect_intensity: Option<f64>,
    pub tempo_bpm: Option<f64>,
    /// Clips and pictures on this computer, added to the project once it is created.
    pub footage: Vec<String>,
    /// The live preview's seed, so the look previewed is the one generated.
    pub seed: Option<String>,
    /// When it was last saved (RFC 3339); set by `save`, and empty when `save` kept nothing (a
    /// blank form).
    #[serde(default)]
    pub updated_at: String,
}

impl Draft {
    /// An empty form for a new project.
    pub fn new(id: Uuid) -> Self {
        Self {
            id,
            name: String::new(),
            prompt: String::new(),
            description: String::new(),
            audio_path: None,
            resolution: None,
            aspect: None,
            style_preference: None,
            footage_visibility: None,
            effect_intensity: None,
            tempo_bpm: None,
            footage: Vec::new(),
            seed: None,
            updated_at: String::new(),
        }
    }

    /// Nothing was chosen or written: not worth keeping.
    pub fn is_blank(&self) -> bool {
        self.name.trim().is_empty()
            && self.prompt.trim().is_empty()
            && self.description.trim().is_empty()
            && self.audio_path.is_none()
            && self.footage.is_empty()
    }
}

/// What dropping files outside the editor started.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StartedDrafts {
    /// One per track, in the order dropped.
    pub drafts: Vec<Draft>,
    /// Clips and pictures dropped without any track: nothing was started for them (footage
    /// joins a project, and a project starts from a track).
    pub footage_without_track: Vec<String>,
}

/// Keeps `draft` as it is now, and returns it as kept. A blank one is removed instead (there is
/// nothing to keep) and comes back with an empty `updated_at`.
pub fn save(mirror: &Mirror, mut draft: Draft) -> Result<Draft> {
    if draft.is_blank() {
        discard(mirror, draft.id)?;
        return Ok(draft);
    }
    draft.updated_at = Utc::now().to_rfc3339();
    let conn = mirror.lock();
    // A draft whose project exists is done with: a late save (a form left open on the old
    // draft) must not bring it back under the project's id.
    let created: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM projects WHERE id = ?1)", [draft.id.to_string()], |r| r.get(0))?;
    if created {
        return Err(ClientError::Invalid {
            field: "draft".into(),
            message: "This draft is already a project; open the project instead.".into(),
        });
    }
    conn.execute(
        "INSERT INTO drafts (id, updated_at, body) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, body = excluded.body",
        params![draft.id.to_string(), draft.updated_at, serde_json::to_string(&draft)?],
    )?;
    Ok(draft)
}

/// Every draft, the last edited first. One that cannot be read (written by a newer version
/// with a shape this one does not know) is skipped, not deleted.
pub fn list(mirror: &Mirror) -> Result<Vec<Draft>> {
    let conn = mirror.lock();
    let mut stmt = conn.prepare("SELECT id, body FROM drafts ORDER BY updated_at DESC, id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut drafts = Vec::new();
    for row in rows {
        let (id, body) = row?;
        match serde_json::from_str::<Draft>(&body) {
            Ok(d) => drafts.push(d),
            Err(e) => tracing::warn!(draft = %id, error = %e, "a draft cannot be read; it is kept as it is"),
        }
    }
    Ok(drafts)
}

pub fn get(mirror: &Mirror, id: Uuid) -> Result<Draft> {
    let body: Option<String> =
        mirror.lock().query_row("SELECT body FROM drafts WHERE id = ?1", [id.to_string()], |r| r.get(0)).optional()?;
    match body {
        Some(body) => Ok(serde_json::from_str(&body)?),
        None => Err(ClientError::NotFound { what: "draft", id: id.to_string() }),
    }
}

/// Forgets a draft; `false` if there was none.
pub fn discard(mirror: &Mirror, id: Uuid) -> Result<bool> {
    Ok(mirror.lock().execute("DELETE FROM drafts WHERE id = ?1", [id.to_string()])? > 0)
}

/// Removes the draft a project is being created from, inside the creating transaction.
pub(crate) fn remove_in(tx: &rusqlite::Transaction<'_>, id: Uuid) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM drafts WHERE id = ?1", [id.to_string()]).map(|_| ())
}

/// A project's name from its track's file name: no extension, underscores as spaces.
pub fn name_from_file(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = stem.split('_').filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
    let name = name.trim();
    if name.is_empty() {
        "Untitled".to_owned()
    } else {
        name.to_owned()
    }
}

/// Files dropped outside the editor: each track starts a draft (named after its file); clips and
/// pictures dropped with tracks join the first track's draft. Files are sorted by their extension
/// (ffprobe only for an unknown one); the editor reads the track when the draft is opened, and
/// says there if it is not audio after all.
pub fn start_from_files(mirror: &Mirror, paths: &[PathBuf]) -> Result<StartedDrafts> {
    let mut tracks = Vec::new();
    let mut footage = Vec::new();
    for path in paths {
        match classify(path)? {
            UploadPurpose::Audio => tracks.push(path),
            UploadPurpose::Footage => footage.push(path.display().to_string()),
        }
    }
    if tracks.is_empty() {
        return Ok(StartedDrafts { drafts: Vec::new(), footage_without_track: footage });
    }
    let mut drafts = Vec::with_capacity(tracks.len());
    for (n, track) in tracks.into_iter().enumerate() {
        let mut draft = Draft::new(Uuid::new_v4());
        draft.name = name_from_file(track);
        draft.audio_path = Some(track.display().to_string());
        if n == 0 {
            draft.footage = std::mem::take(&mut footage);
        }
        drafts.push(save(mirror, draft)?);
    }
    Ok(StartedDrafts { drafts, footage_without_track: Vec::new() })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn mirror() -> (tempfile::TempDir, Mirror) {
        let dir = tempfile::tempdir().unwrap();
        let m = Mirror::open(&dir.path().join("mirror.sqlite")).unwrap();
        (dir, m)
    }

    #[test]
    fn a_draft_is_kept_as_left_the_last_edited_first_and_a_blank_one_is_not_kept() {
        let (_dir, m) = mirror();
        let mut first = Draft::new(Uuid::new_v4());
        first.prompt = "Neon rain".into();
        first.style_preference = Some(StylePreference::Retro);
        first.footage = vec!["/clips/a.mp4".into()];
        let saved = save(&m, first.clone()).unwrap();
        assert!(!saved.updated_at.is_empty());
        std::thread::sleep(std::time::Duration::from_millis(5));
        let mut second = Draft::new(Uuid::new_v4());
        second.name = "Second".into();
        save(&m, second.clone()).unwrap();
        let listed = list(&m).unwrap();
        assert_eq!(listed.iter().map(|d| d.id).collect::<Vec<_>>(), vec![second.id, first.id]);
        assert_eq!(get(&m, first.id).unwrap(), saved, "read back as saved, every field");

        // Emptied again: removed, not kept blank, and said so by an empty `updated_at`.
        second.name = "  ".into();
        assert_eq!(save(&m, second.clone()).unwrap().updated_at, "");
        assert!(matches!(get(&m, second.id), Err(ClientError::NotFound { .. })));
        assert!(discard(&m, first.id).unwrap());
        assert!(!discard(&m, first.id).unwrap());
        assert!(list(&m).unwrap().is_empty());
    }

    #[test]
    fn a_draft_whose_project_exists_is_not_saved_again() {
        let (_dir, m) = mirror();
        let mut d = Draft::new(Uuid::new_v4());
        d.name = "Made".into();
        m.lock()
            .execute(
                "INSERT INTO projects (id, organization_id, name, data) VALUES (?1, ?2, 'Made', '{}')",
                params![d.id.to_string(), Uuid::new_v4().to_string()],
            )
            .unwrap();
        assert!(matches!(save(&m, d), Err(ClientError::Invalid { .. })));
        assert!(list(&m).unwrap().is_empty());
    }

    #[test]
    fn a_draft_written_by_a_newer_version_is_skipped_not_lost() {
        let (_dir, m) = mirror();
        m.lock()
            .execute("INSERT INTO drafts (id, updated_at, body) VALUES ('x', 'now', '{\"shape\": 2}')", [])
            .unwrap();
        assert!(list(&m).unwrap().is_empty());
        let kept: i64 = m.lock().query_row("SELECT count(*) FROM drafts", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, 1);
    }

    #[test]
    fn each_dropped_track_starts_a_draft_and_footage_joins_the_first() {
        let (dir, m) = mirror();
        let files: Vec<PathBuf> = ["night_drive.mp3", "clip.mp4", "Second Song.flac", "still.png"]
            .iter()
            .map(|f| dir.path().join(f))
            .collect();
        let started = start_from_files(&m, &files).unwrap();
        let names: Vec<&str> = started.drafts.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["night drive", "Second Song"]);
        assert_eq!(started.drafts[0].footage.len(), 2);
        assert!(started.drafts[1].footage.is_empty());
        assert_eq!(list(&m).unwrap().len(), 2);

        let only_footage = start_from_files(&m, &files[1..2]).unwrap();
        assert!(only_footage.drafts.is_empty());
        assert_eq!(only_footage.footage_without_track.len(), 1);
        assert_eq!(list(&m).unwrap().len(), 2, "nothing started for footage alone");
    }

    #[test]
    fn names_come_from_file_names() {
        assert_eq!(name_from_file(Path::new("/music/night_drive__v2.mp3")), "night drive v2");
        assert_eq!(name_from_file(Path::new("/music/Song.Final.wav")), "Song.Final");
        assert_eq!(name_from_file(Path::new("/music/___.mp3")), "Untitled");
    }
}
