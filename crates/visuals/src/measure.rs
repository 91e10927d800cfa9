//! Measures of what a plan draws, shared by the engine's tests and the render bench so that
//! both judge a video the same way.

use crate::draw::draw;
use crate::frame::Frame;
use crate::plan::VisualPlan;

/// Frames a second the measures sample.
pub const FPS: f64 = 30.0;

/// Mean absolute luma change (0..1) between consecutive frames of the first `seconds` of
/// `plan`, drawn at 160×90: entry `i` is the change from frame `i` to frame `i + 1`.
pub fn frame_changes(plan: &VisualPlan, seconds: f64) -> Vec<f32> {
    let luma = |n: usize| {
        let mut f = Frame::new(160, 90);
        draw(plan, n as f64 / FPS, &mut f);
        f.rgb
            .chunks_exact(3)
            .map(|p| (0.2126 * f32::from(p[0]) + 0.7152 * f32::from(p[1]) + 0.0722 * f32::from(p[2])) / 255.0)
            .collect::<Vec<f32>>()
    };
    let frames: Vec<Vec<f32>> = (0..(seconds * FPS) as usize).map(luma).collect();
    frames
        .windows(2)
        .map(|w| w[0].iter().zip(&w[1]).map(|(a, b)| (a - b).abs()).sum::<f32>() / w[0].len().max(1) as f32)
        .collect()
}

/// How the peaks of frame-to-frame change fall on the beats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeatMatch {
    pub peaks: usize,
    pub beats: usize,
    pub precision: f64,
    pub recall: f64,
    /// The F-measure of the two.
    pub f: f64,
}

/// Peaks of `changes` (local maxima over ±3 frames, above 1.5× the median) matched to the
/// `beats` inside the measured time, within two frames either way.
pub fn beat_match(changes: &[f32], beats: &[f64]) -> BeatMatch {
    let mut sorted = changes.to_vec();
    sorted.sort_by(f32::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    let peaks: Vec<f64> = (1..changes.len().saturating_sub(1))
        .filter(|&i| {
            let around = &changes[i.saturating_sub(3)..(i + 4).min(changes.len())];
            changes[i] > 1.5 * median + 1e-4 && around.iter().all(|c| *c <= changes[i])
        })
        .map(|i| (i + 1) as f64 / FPS)
        .collect();
    let end = (changes.len() + 1) as f64 / FPS;
    let beats: Vec<f64> = beats.iter().copied().filter(|b| *b < end - 0.1).collect();
    let tolerance = 2.0 / FPS + 1e-6;
    let hit = |t: &f64, set: &[f64]| set.iter().any(|b| (t - b).abs() <= tolerance);
    let precision = peaks.iter().filter(|p| hit(p, &beats)).count() as f64 / peaks.len().max(1) as f64;
    let recall = beats.iter().filter(|b| hit(b, &peaks)).count() as f64 / beats.len().max(1) as f64;
    let f = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    BeatMatch { peaks: peaks.len(), beats: beats.len(), precision, recall, f }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Changes that jump on frame `n` of every `period`.
    fn pulses(frames: usize, period: usize, phase: usize) -> Vec<f32> {
        (0..frames).map(|i| if i % period == phase { 0.2 } else { 0.01 + (i % 3) as f32 * 0.001 }).collect()
    }

    #[test]
    fn peaks_on_the_beats_score_one_and_peaks_between_them_score_nothing() {
        // Beats every half second (15 frames); change `i` lands on frame `i + 1`.
        let beats: Vec<f64> = (1..20).map(|b| b as f64 * 0.5).collect();
        let on = beat_match(&pulses(300, 15, 14), &beats);
        assert!((on.f - 1.0).abs() < 1e-12, "{on:?}");
        let off = beat_match(&pulses(300, 15, 6), &beats);
        assert!(off.f.abs() < 1e-12, "{off:?}");
        let half = beat_match(&pulses(300, 30, 14), &beats);
        assert!((half.recall - 0.5).abs() < 0.06 && (half.precision - 1.0).abs() < 1e-12, "every other beat: {half:?}");
        assert!(beat_match(&[], &beats).f.abs() < 1e-12, "no frames, no match");
    }
}
