//! The sample tracks (`resonance_audio::samples`, made here, CC0) as projects a newcomer can try:
//! each with a prompt and a look that suit it. `cargo xtask dev` seeds them through
//! `resonance samples --generate`; the desktop's empty projects screen offers one as a draft.

use std::path::{Path, PathBuf};

use resonance_api::model::{Resolution, StylePreference};
use resonance_api::projects::NewProject;
use resonance_audio::samples::{Sample, SAMPLES};
use uuid::Uuid;

use crate::drafts::Draft;
use crate::error::Result;

/// A sample track with what to make of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleProject {
    pub sample: &'static Sample,
    pub prompt: &'static str,
    pub style: StylePreference,
    pub effect_intensity: f64,
}

/// The samples, in the order they are offered.
pub fn all() -> [SampleProject; 3] {
    [
        SampleProject {
            sample: &SAMPLES[0],
            prompt: "Neon rain over a night city, a synthwave sun on the horizon, colours pulse with the bass",
            style: StylePreference::Retro,
            effect_intensity: 0.6,
        },
        SampleProject {
            sample: &SAMPLES[1],
            prompt: "Golden sunrise over a calm ocean, soft waves and drifting mist",
            style: StylePreference::Organic,
            effect_intensity: 0.35,
        },
        SampleProject {
            sample: &SAMPLES[2],
            prompt: "Chrome geometry and sparks in a dark club, lasers cutting through smoke",
            style: StylePreference::Geometric,
            effect_intensity: 0.8,
        },
    ]
}

impl SampleProject {
    pub fn title(&self) -> &'static str {
        self.sample.title
    }

    /// The description that credits the track.
    pub fn credit(&self) -> String {
        format!("Sample track “{}”: {}.", self.sample.title, resonance_audio::samples::CREDIT)
    }

    /// The track's file under `dir` (`<title>.wav`), written the first time (whole or not at all).
    pub fn track_file(&self, dir: &Path) -> Result<PathBuf> {
        let file = dir.join(format!("{}.wav", self.sample.title));
        if !file.exists() {
            std::fs::create_dir_all(dir)?;
            let partial = dir.join(format!(".{}.wav.partial", self.sample.title));
            std::fs::write(&partial, self.sample.wav())?;
            std::fs::rename(&partial, &file)?;
        }
        Ok(file)
    }

    /// The project it makes, with its track's `file_name` and length.
    pub fn new_project(&self, id: Uuid, file_name: String, duration: f64) -> NewProject {
        NewProject {
            id: Some(id),
            name: self.sample.title.to_owned(),
            description: Some(self.credit()),
            prompt: self.prompt.to_owned(),
            audio_path: file_name,
            audio_duration: Some(duration),
            // Samples render quickly: a newcomer sees the first video in a minute.
            resolution: Some(Resolution::R720p),
            style_preference: Some(self.style),
            footage_visibility: None,
            effect_intensity: Some(self.effect_intensity),
            tempo_bpm: None,
            aspect: None,
        }
    }

    /// A new-project form filled in with the sample, its track written under `dir`.
    pub fn draft(&self, dir: &Path) -> Result<Draft> {
        let mut draft = Draft::new(Uuid::new_v4());
        draft.name = self.sample.title.to_owned();
        draft.prompt = self.prompt.to_owned();
        draft.description = self.credit();
        draft.audio_path = Some(self.track_file(dir)?.display().to_string());
        draft.style_preference = Some(self.style);
        draft.effect_intensity = Some(self.effect_intensity);
        Ok(draft)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn each_sample_makes_a_valid_credited_project_and_its_track_is_written_once() {
        let dir = tempfile::tempdir().unwrap();
        for s in all() {
            let file = s.track_file(dir.path()).unwrap();
            let written = std::fs::metadata(&file).unwrap().modified().unwrap();
            assert_eq!(s.track_file(dir.path()).unwrap(), file);
            assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), written, "not written twice");
            let new = s.new_project(Uuid::new_v4(), format!("{}.wav", s.title()), s.sample.seconds());
            new.validate().unwrap();
            assert!(new.description.unwrap().contains("CC0"));
            let draft = s.draft(dir.path()).unwrap();
            assert_eq!(draft.audio_path.as_deref(), Some(file.to_str().unwrap()));
            assert!(!draft.is_blank());
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
