//! The live look preview: the video a project would get, drawn on this machine by the same
//! engine as the render worker (`resonance-visuals`), from the local analysis of a previewed
//! track, at a small size and at the player's time. Free (no quota, no network) and offline.
//! Invariants: at the same seed and time a frame is the worker's frame scaled down; a plan is
//! made once per (track, look, seed) and reused for every frame until one of them changes. A
//! track at a creator's tempo is a track of its own (`<track>@<bpm>`), so its plans never mix
//! with the detected tempo's.

use std::sync::{Arc, Mutex};

use resonance_api::projects::check_tempo;
use resonance_audio::rhythm::Envelopes;
use resonance_audio::Analysis;
use resonance_visuals::{draw, plan, Frame, ProjectLook, VisualPlan};
use serde::Serialize;

use crate::error::{ClientError, Result};

/// Analyses kept for previewing (the newest tracks previewed, and their tempos).
const KEEP_TRACKS: usize = 12;
/// The largest frame the preview draws (its area): 960×540.
const MAX_PIXELS: u32 = 960 * 540;

struct Planned {
    track: String,
    look: ProjectLook,
    seed: String,
    plan: Arc<VisualPlan>,
}

/// A previewed track's analysis, and the envelopes it came from (to read it at another tempo).
struct Kept {
    track: String,
    analysis: Arc<Analysis>,
    envelopes: Arc<Envelopes>,
}

/// A previewed track's beat grid at a tempo: what the waveform and the look preview follow.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TempoGrid {
    /// The name the look preview knows this reading by.
    pub track: String,
    pub tempo_bpm: Option<f64>,
    pub tempo_confidence: f64,
    pub beats: Vec<f64>,
    pub downbeats: Vec<f64>,
}

/// Tracks previewed on this machine, and the plan of the look being previewed.
#[derive(Default)]
pub struct LookPreview {
    tracks: Mutex<Vec<Kept>>,
    planned: Mutex<Option<Planned>>,
}

impl LookPreview {
    /// Keeps `analysis` under `track` (a previewed track's id) for drawing frames, with the
    /// envelopes it was read from.
    pub fn remember(&self, track: &str, analysis: Analysis, envelopes: Arc<Envelopes>) {
        let mut tracks = self.tracks.lock().unwrap_or_else(|p| p.into_inner());
        tracks.retain(|k| k.track != track);
        tracks.push(Kept { track: track.to_owned(), analysis: Arc::new(analysis), envelopes });
        let excess = tracks.len().saturating_sub(KEEP_TRACKS);
        tracks.drain(..excess);
    }

    /// `track` read at the creator's `tempo_bpm` (`None`: the detected tempo), as the render
    /// worker will read it; kept for the look preview under the name the answer carries.
    pub fn retempo(&self, track: &str, tempo_bpm: Option<f64>) -> Result<TempoGrid> {
        if let Some(bpm) = tempo_bpm {
            check_tempo(bpm)?;
        }
        let base = track.split_once('@').map_or(track, |(base, _)| base);
        let (analysis, envelopes) = {
            // The track's own reading becomes the newest, and it keeps one tempo reading at most:
            // trying tempo after tempo never pushes the track (or other tracks) out.
            let mut tracks = self.tracks.lock().unwrap_or_else(|p| p.into_inner());
            let prefix = format!("{base}@");
            tracks.retain(|k| !k.track.starts_with(&prefix));
            let at = tracks
                .iter()
                .position(|k| k.track == base)
                .ok_or_else(|| ClientError::NotFound { what: "previewed track", id: base.to_owned() })?;
            let kept = tracks.remove(at);
            let found = (kept.analysis.clone(), kept.envelopes.clone());
            tracks.push(kept);
            found
        };
        let (name, analysis) = match tempo_bpm {
            None => (base.to_owned(), analysis),
            Some(bpm) => {
                let rhythm = envelopes.analyse_at(Some(bpm));
                let name = format!("{base}@{bpm}");
                let analysis = Analysis { rhythm, ..(*analysis).clone() };
                self.remember(&name, analysis.clone(), envelopes);
                (name, Arc::new(analysis))
            }
        };
        let r = &analysis.rhythm;
        Ok(TempoGrid {
            track: name,
            tempo_bpm: r.tempo_bpm,
            tempo_confidence: r.tempo_confidence,
            beats: r.beats.clone(),
            downbeats: r.downbeats.clone(),
        })
    }

    /// The plan for `track` with `look` and `seed`, made once and reused.
    pub fn plan(&self, track: &str, look: &ProjectLook, seed: &str) -> Result<Arc<VisualPlan>> {
        let mut planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = planned.as_ref().filter(|p| p.track == track && &p.look == look && p.seed == seed) {
            return Ok(p.plan.clone());
        }
        let analysis = self
            .tracks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|k| k.track == track)
            .map(|k| k.analysis.clone())
            .ok_or_else(|| ClientError::NotFound { what: "previewed track", id: track.to_owned() })?;
        let made = Arc::new(plan(&analysis, look, seed));
        *planned =
            Some(Planned { track: track.to_owned(), look: look.clone(), seed: seed.to_owned(), plan: made.clone() });
        Ok(made)
    }

    /// The frame at `t` seconds, `width`×`height`, as RGBA bytes (what a canvas takes).
    pub fn frame_rgba(
        &self,
        track: &str,
        look: &ProjectLook,
        seed: &str,
        t: f64,
        width: u32,
        height: u32,
    ) -> Result<Vec<u8>> {
        if width == 0 || height == 0 || width.saturating_mul(height) > MAX_PIXELS {
            return Err(ClientError::Invalid {
                field: "size".into(),
                message: format!("a preview frame is 1×1 to 960×540 pixels, not {width}×{height}"),
            });
        }
        if !t.is_finite() {
            return Err(ClientError::Invalid {
                field: "t".into(),
                message: "the time must be a number of seconds".into(),
            });
        }
        let plan = self.plan(track, look, seed)?;
        let mut frame = Frame::new(width, height);
        draw(&plan, t.max(0.0), &mut frame);
        let mut rgba = Vec::with_capacity(frame.rgb.len() / 3 * 4);
        for px in frame.rgb.chunks_exact(3) {
            rgba.extend_from_slice(&[px[0], px[1], px[2], 255]);
        }
        Ok(rgba)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resonance_api::model::StylePreference;

    fn analysis() -> Analysis {
        serde_json::from_value(serde_json::json!({
            "duration_seconds": 10.0, "frames": 441000, "sample_rate": 44100, "channels": 2, "bit_depth": 16,
            "codec": "pcm", "container": "wav", "sha256": "x", "tags": {"title": null, "artist": null, "album": null},
            "has_cover_art": false, "warnings": [], "tempo_bpm": 120.0, "tempo_confidence": 0.9,
            "beats": [0.5, 1.0, 1.5, 2.0], "downbeats": [0.5], "sections": [], "energy": vec![0.5; 100],
            "energy_hop_seconds": 0.1, "loudness_lufs": null, "true_peak_dbtp": null
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn frames_come_from_the_remembered_track_and_the_plan_is_reused() {
        let looks = LookPreview::default();
        let look = ProjectLook {
            prompt: "neon rain".into(),
            style: StylePreference::Retro,
            effect_intensity: 0.5,
            footage_visibility: 0.6,
        };
        assert!(matches!(looks.frame_rgba("t1", &look, "s", 1.0, 48, 27), Err(ClientError::NotFound { .. })));
        looks.remember("t1", analysis(), Arc::default());
        let frame = looks.frame_rgba("t1", &look, "s", 1.0, 48, 27).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(frame.len(), 48 * 27 * 4);
        assert!(frame.chunks_exact(4).all(|p| p[3] == 255));
        let first = looks.plan("t1", &look, "s").unwrap_or_else(|e| panic!("{e}"));
        assert!(Arc::ptr_eq(&first, &looks.plan("t1", &look, "s").unwrap_or_else(|e| panic!("{e}"))), "reused");
        let other = ProjectLook { style: StylePreference::Minimal, ..look.clone() };
        assert!(
            !Arc::ptr_eq(&first, &looks.plan("t1", &other, "s").unwrap_or_else(|e| panic!("{e}"))),
            "a new look, a new plan"
        );
        assert!(matches!(looks.frame_rgba("t1", &look, "s", 1.0, 4000, 3000), Err(ClientError::Invalid { .. })));
        // The creator's tempo: a reading of its own, which draws too; the detected one is kept.
        let halved = looks.retempo("t1", Some(60.0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((halved.track.as_str(), halved.tempo_bpm), ("t1@60", Some(60.0)));
        assert!(looks.frame_rgba(&halved.track, &look, "s", 1.0, 48, 27).is_ok());
        let back = looks.retempo(&halved.track, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((back.track.as_str(), back.tempo_bpm), ("t1", Some(120.0)));
        assert!(matches!(looks.retempo("t1", Some(12.0)), Err(ClientError::Invalid { .. })));
        assert!(matches!(looks.retempo("t2", Some(90.0)), Err(ClientError::NotFound { .. })));
        // Trying tempo after tempo keeps the track and one reading of it, not a dozen.
        for bpm in 0..40 {
            looks.retempo("t1", Some(60.0 + f64::from(bpm))).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(looks.tracks.lock().unwrap_or_else(|p| p.into_inner()).len(), 2);
        assert!(looks.retempo("t1", None).is_ok());
        assert!(matches!(looks.frame_rgba("t1", &look, "s", f64::NAN, 48, 27), Err(ClientError::Invalid { .. })));
    }
}
