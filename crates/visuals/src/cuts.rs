//! Cutting the creator's footage to the music: which clip or still shows when, from where in it,
//! how fast and how framed. Decided once with the plan and recorded in it ([`VisualPlan::cuts`]),
//! drawn by [`crate::draw()`] from pictures the caller supplies ([`Footage`]): the engine does no
//! I/O. Invariants: cuts tile the song without gaps, start on the music's beats (downbeats; beats
//! too at a high effect intensity; every section start), never show one item twice in a row when
//! there are two or more, and are a pure function of (rhythm, items, intensity, seed) with a
//! random stream of their own, so adding footage changes none of the graphics' choices.
//!
//! [`VisualPlan::cuts`]: crate::plan::VisualPlan::cuts

use std::sync::Arc;

use resonance_api::footage::FootageKind;
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::frame::Frame;

/// A cut is never shorter than this (a quarter-second cut reads as a glitch, not an edit).
pub const MIN_CUT_SECONDS: f64 = 0.45;
/// Without beats, a cut lasts this long.
const CUT_WITHOUT_BEATS_SECONDS: f64 = 4.0;
/// Clips play at least this fast when slowed to fill a cut.
const SLOWEST: f64 = 0.5;
/// How much a still zooms over its cut (Ken Burns): 1 to this, or back.
const STILL_ZOOM: f32 = 1.12;
/// How far a still pans over its cut, as a fraction of the frame.
const STILL_PAN: f32 = 0.04;
/// The beat's zoom punch at full effect intensity.
const PUNCH: f32 = 0.06;

/// One of the project's footage items, as the plan knows it (the render's inputs list them in
/// the project's order; cuts name them by index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FootageItem {
    pub id: String,
    pub kind: FootageKind,
    /// Seconds of a clip.
    #[serde(default)]
    pub duration: Option<f64>,
    #[serde(default)]
    pub in_point: Option<f64>,
    #[serde(default)]
    pub out_point: Option<f64>,
}

impl FootageItem {
    /// The part of a clip to use, in seconds of the clip; `None` for a still.
    pub fn range(&self) -> Option<(f64, f64)> {
        let d = self.duration.filter(|d| d.is_finite() && *d > 0.0)?;
        if self.kind == FootageKind::Image {
            return None;
        }
        let from = self.in_point.unwrap_or(0.0).clamp(0.0, d);
        let to = self.out_point.unwrap_or(d).clamp(from, d);
        Some((from, to))
    }
}

/// One cut: `item` shows from `start` to `end` seconds of the song.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Cut {
    pub start: f64,
    pub end: f64,
    /// Index into [`crate::plan::VisualPlan::footage`].
    pub item: u32,
    /// Where in the clip the cut starts, in seconds (0 for a still).
    pub source: f64,
    /// Playback speed at the cut's start and end (a ramp between); 1 is as filmed.
    pub speed: [f32; 2],
    /// Scale at the start and the end (1 fills the frame).
    pub zoom: [f32; 2],
    /// The picture's centre offset at the start and the end, as fractions of the frame.
    pub pan: [[f32; 2]; 2],
    /// The zoom a beat adds for an instant.
    pub punch: f32,
    /// Frames a second the clip is read at for this cut (enough for its fastest speed).
    pub grid_fps: u32,
}

impl Cut {
    /// Seconds into the clip shown at song time `t` (the speed ramp integrated).
    pub fn source_time(&self, t: f64) -> f64 {
        let d = (t - self.start).max(0.0);
        let length = (self.end - self.start).max(1e-9);
        let (s0, s1) = (f64::from(self.speed[0]), f64::from(self.speed[1]));
        self.source + d * (s0 + (s1 - s0) * d / (2.0 * length))
    }

    /// Seconds of the clip the cut plays.
    pub fn source_span(&self) -> f64 {
        self.source_time(self.end) - self.source
    }

    /// The clip's frame shown at `t`, counted on the cut's grid from `source` (0 for a still).
    pub fn step(&self, t: f64) -> u64 {
        ((self.source_time(t) - self.source) * f64::from(self.grid_fps) + 1e-6).floor().max(0.0) as u64
    }

    /// How far through the cut `t` is, 0 to 1.
    pub fn progress(&self, t: f64) -> f32 {
        (((t - self.start) / (self.end - self.start).max(1e-9)).clamp(0.0, 1.0)) as f32
    }
}

/// Pictures of the footage, supplied by the caller: the picture of cut `cut` at step `step` (see
/// [`Cut::step`]), scaled to cover the frame being drawn. `None` draws no footage for that frame.
pub trait Footage: Sync {
    fn picture(&self, cut: usize, step: u64) -> Option<Arc<Frame>>;
}

/// No footage at all.
pub struct NoFootage;

impl Footage for NoFootage {
    fn picture(&self, _cut: usize, _step: u64) -> Option<Arc<Frame>> {
        None
    }
}

/// A small seeded generator (SplitMix64): the cuts' own stream.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// 0 ≤ x < 1.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What the cuts are planned from.
pub struct CutInputs<'a> {
    pub items: &'a [FootageItem],
    pub beats: &'a [f64],
    pub downbeats: &'a [f64],
    /// Where each section starts (the first at 0).
    pub sections: &'a [f64],
    pub energy: &'a Envelope,
    /// 0 to 1.
    pub intensity: f32,
    pub duration: f64,
    /// The cuts' own random stream's seed.
    pub seed: u64,
}

/// The times a cut may fall on, sorted: the downbeats (every other one at a low intensity), the
/// loud beats at a high one, and every section's start; none closer than [`MIN_CUT_SECONDS`]
/// to the one before (section starts win) or to the song's end.
fn cut_times(i: &CutInputs<'_>) -> Vec<f64> {
    let within = |t: &f64| *t > MIN_CUT_SECONDS && *t < i.duration - MIN_CUT_SECONDS;
    // A calm song is cut half as often.
    let calm = if i.intensity < 0.35 { 2 } else { 1 };
    let mut wanted: Vec<f64> = if i.downbeats.len() >= 2 {
        i.downbeats.iter().step_by(calm).copied().collect()
    } else if i.beats.len() >= 4 {
        // No bars found: a bar of four beats.
        i.beats.iter().step_by(4 * calm).copied().collect()
    } else {
        let n = (i.duration / CUT_WITHOUT_BEATS_SECONDS).floor() as usize;
        (1..=n).map(|k| k as f64 * CUT_WITHOUT_BEATS_SECONDS).collect()
    };
    if i.intensity >= 0.75 {
        let threshold = 1.0 - 0.55 * i.intensity;
        wanted.extend(i.beats.iter().copied().filter(|t| i.energy.at(*t) >= threshold));
    }
    wanted.retain(within);
    wanted.sort_by(f64::total_cmp);
    let sections: Vec<f64> = i.sections.iter().copied().filter(within).collect();
    let mut times: Vec<f64> = Vec::new();
    for t in wanted {
        let near_section = sections.iter().any(|s| (s - t).abs() < MIN_CUT_SECONDS);
        if !near_section && times.last().is_none_or(|last| t - last >= MIN_CUT_SECONDS) {
            times.push(t);
        }
    }
    times.extend(sections);
    times.sort_by(f64::total_cmp);
    times.dedup_by(|b, a| *b - *a < 1e-9);
    times
}

/// Plans the cuts of a song over `items` (empty: no cuts).
pub fn plan_cuts(i: &CutInputs<'_>) -> Vec<Cut> {
    if i.items.is_empty() || i.duration <= 0.0 {
        return Vec::new();
    }
    let mut rng = Stream(i.seed);
    let mut bounds = vec![0.0];
    bounds.extend(cut_times(i));
    bounds.push(i.duration);
    let section_starts: Vec<f64> = i.sections.iter().copied().filter(|s| *s > 0.0).collect();
    let is_section_start = |t: f64| t == 0.0 || section_starts.iter().any(|s| (s - t).abs() < 1e-9);
    // Each item's next unused second, and a seeded order the sections open with.
    let mut cursor: Vec<f64> = i.items.iter().map(|it| it.range().map_or(0.0, |r| r.0)).collect();
    let mut opening: Vec<usize> = (0..i.items.len()).collect();
    for k in (1..opening.len()).rev() {
        opening.swap(k, rng.below(k + 1));
    }
    let mut openings = 0usize;
    let mut previous: Option<usize> = None;
    let mut last_shown: Vec<Option<usize>> = vec![None; i.items.len()];
    let punch = PUNCH * i.intensity.clamp(0.0, 1.0);
    let beat_length =
        if i.beats.len() >= 2 { (i.beats[i.beats.len() - 1] - i.beats[0]) / (i.beats.len() - 1) as f64 } else { 0.5 };
    let mut cuts: Vec<Cut> = Vec::new();
    let mut spans: Vec<(f64, f64)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    let mut s = 0;
    while s < spans.len() {
        let (start, end) = spans[s];
        s += 1;
        let new_section = is_section_start(start);
        let item = if new_section {
            let mut chosen = opening[openings % opening.len()];
            openings += 1;
            if previous == Some(chosen) && i.items.len() > 1 {
                chosen = opening[openings % opening.len()];
                openings += 1;
            }
            chosen
        } else if i.items.len() == 1 {
            0
        } else {
            // The item shown longest ago (never shown first), the seed breaking ties: every
            // clip gets its turn, and none follows itself.
            let candidates: Vec<usize> = (0..i.items.len()).filter(|k| Some(*k) != previous).collect();
            let oldest = candidates.iter().map(|k| last_shown[*k]).min().unwrap_or(None);
            let tied: Vec<usize> = candidates.into_iter().filter(|k| last_shown[*k] == oldest).collect();
            tied[rng.below(tied.len())]
        };
        previous = Some(item);
        last_shown[item] = Some(cuts.len());
        let length = end - start;
        let it = &i.items[item];
        let mut cut = Cut {
            start,
            end,
            item: item as u32,
            source: 0.0,
            speed: [1.0, 1.0],
            zoom: [1.0, 1.0],
            pan: [[0.0, 0.0], [0.0, 0.0]],
            punch,
            grid_fps: 30,
        };
        match it.range() {
            None => {
                // A still: a slow zoom in or out, and a drift.
                cut.zoom = if rng.unit() < 0.5 { [1.0, STILL_ZOOM] } else { [STILL_ZOOM, 1.0] };
                let mut drift = || ((rng.unit() * 2.0 - 1.0) as f32) * STILL_PAN;
                cut.pan = [[drift(), drift()], [drift(), drift()]];
            }
            Some((from, to)) => {
                let usable = to - from;
                // A ramp on the longer cuts of an intense song: faster as the music rises, slower
                // as it falls.
                if i.intensity >= 0.5 && length >= 2.0 * beat_length && rng.unit() < 0.4 {
                    let rising = i.energy.at(end - 0.05) >= i.energy.at(start + 0.05);
                    cut.speed = if rising { [1.0, 1.6] } else { [1.0, 0.6] };
                }
                let fits = |needed: f64| needed <= usable * (1.0 + 1e-6);
                if !fits(cut.source_span()) {
                    // Too long for the clip even from its start: slower, down to half speed,
                    // then split on a beat (leaving no sliver) and go on with another item.
                    let slowed = (usable / length).max(SLOWEST);
                    cut.speed = [slowed as f32; 2];
                    if !fits(cut.source_span()) {
                        let room = usable / SLOWEST;
                        let on_beat = i.beats.iter().copied().rev().find(|b| {
                            *b >= start + MIN_CUT_SECONDS && *b <= start + room && *b <= end - MIN_CUT_SECONDS
                        });
                        if let Some(split) = on_beat {
                            cut.end = split;
                            spans.insert(s, (split, end));
                        }
                    }
                    // What still does not fit (no beat to split on, a clip shorter than a
                    // cut can be) plays slower still, never past the clip's part.
                    if !fits(cut.source_span()) {
                        cut.speed = [(usable / (cut.end - cut.start)) as f32; 2];
                    }
                }
                let needed = cut.source_span().min(usable);
                // A new section opens a new part of its clip; a clip that ran out starts over.
                if new_section && cursor[item] > from + 1e-9 {
                    cursor[item] += (rng.unit() * 0.5 * usable).min(usable);
                }
                if cursor[item] + needed > to + 1e-9 {
                    cursor[item] = from;
                }
                cut.source = cursor[item];
                cursor[item] = (cut.source + needed).min(to);
                cut.grid_fps = 30 * cut.speed.iter().fold(1.0f32, |a, b| a.max(*b)).ceil() as u32;
            }
        }
        cuts.push(cut);
    }
    cuts
}

/// The cut showing at `t`, if any (cuts tile the song: the last one holds its end).
pub fn cut_at(cuts: &[Cut], t: f64) -> Option<usize> {
    if cuts.is_empty() {
        return None;
    }
    let k = cuts.partition_point(|c| c.start <= t);
    Some(k.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(start: f64, end: f64, speed: [f32; 2]) -> Cut {
        Cut { start, end, item: 0, source: 1.0, speed, zoom: [1.0; 2], pan: [[0.0; 2]; 2], punch: 0.0, grid_fps: 60 }
    }

    #[test]
    fn a_ramp_plays_its_clip_at_the_integrated_speed_and_steps_on_its_grid() {
        let steady = cut(2.0, 4.0, [1.0, 1.0]);
        assert_eq!((steady.source_time(3.0), steady.source_span(), steady.step(2.5)), (2.0, 2.0, 30));
        let faster = cut(2.0, 4.0, [1.0, 1.6]);
        // ∫ from 1 to 1.6 over 2 s: 2.6 s of the clip, the mean speed 1.3.
        assert!((faster.source_span() - 2.6).abs() < 1e-6);
        assert!(faster.source_time(3.0) - 1.0 < 1.3, "slower in its first half");
        assert_eq!(faster.progress(3.0), 0.5);
    }

    #[test]
    fn the_cut_at_a_time_is_the_last_one_started() {
        let cuts = [cut(0.0, 2.0, [1.0; 2]), cut(2.0, 4.0, [1.0; 2])];
        assert_eq!(cut_at(&cuts, 0.0), Some(0));
        assert_eq!(cut_at(&cuts, 1.999), Some(0));
        assert_eq!(cut_at(&cuts, 2.0), Some(1));
        assert_eq!(cut_at(&cuts, 9.0), Some(1), "the last holds the end");
        assert_eq!(cut_at(&[], 1.0), None);
    }
}
