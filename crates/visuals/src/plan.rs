//! The visual plan: the whole recipe of a video, decided once from the analysis, the project's
//! look and the seed, stored as `generations.visual_plan`, and drawn frame by frame by
//! [`crate::draw()`]. Invariant: a pure function of its inputs (no clock, no global randomness,
//! no platform maths), so one seed gives one video on every machine.

use resonance_api::model::StylePreference;
use resonance_audio::Analysis;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::color::Rgb;
use crate::cuts::{self, Cut, CutInputs, FootageItem};
use crate::envelope::Envelope;
use crate::prompt::{self, Light, Motif, PromptReading};

/// Bumped whenever the same plan would draw different frames.
/// 2: the energy is drawn as its mean over the last [`crate::draw::ENERGY_WINDOW_SECONDS`];
/// rain falls the speed's integral; glitch's bands fade out; cinematic's lights bloom, retro's
/// grid brightens and its sun swells more on the beat; organic's field bends less with the mid
/// band. (The bands are followed when the plan is made, so a stored plan keeps the bands it was
/// made with.) Nothing reads the number yet: the worker plans every render afresh, and the
/// preview plans with the app's own engine.
pub const ENGINE_VERSION: u32 = 2;

/// How fast the bands' envelopes rise and fall in the picture (see [`Envelope::followed`]):
/// a hat or a snare swells over a few frames instead of jumping in one, so that the picture's
/// sharpest changes are the beats' own (the pulses, which rise at once). Chosen with the
/// `beats` example on five songs of the bench: at 0.07 s the slowest songs' off-beat notes
/// still made peaks of their own (beat F 0.71 at intensity 0.5); at 0.14 s, 0.88.
const BAND_ATTACK: f64 = 0.14;
const BAND_RELEASE: f64 = 0.25;

/// Large flashes are never closer than this (WCAG 2.3.1: at most three flashes in any second).
pub const MIN_FLASH_GAP_SECONDS: f64 = 0.34;

/// What the creator chose for the look of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ProjectLook {
    pub prompt: String,
    pub style: StylePreference,
    /// 0 (calm) to 1 (strobing, within the flash limit).
    pub effect_intensity: f64,
    /// 0 (graphics alone) to 1 (the footage layer leads).
    pub footage_visibility: f64,
}

/// The colours of a scene.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Palette {
    pub sky_top: Rgb,
    pub sky_bottom: Rgb,
    pub primary: Rgb,
    pub secondary: Rgb,
    pub accent: Rgb,
    /// Silhouettes: skylines, trees, mountains.
    pub ink: Rgb,
}

impl Palette {
    /// The sun's colour: the warmest of the scene's colours if one is warm, else a clear gold.
    pub fn sun(&self) -> Rgb {
        let warmest = [self.primary, self.secondary, self.accent]
            .into_iter()
            .max_by(|a, b| a.warmth().total_cmp(&b.warmth()))
            .unwrap_or(self.primary);
        let gold = Rgb::hex(0xffc46b);
        if warmest.warmth() > 0.25 {
            warmest.mix(gold, 0.35)
        } else {
            gold
        }
    }

    pub fn mix(&self, other: &Palette, t: f32) -> Palette {
        Palette {
            sky_top: self.sky_top.mix(other.sky_top, t),
            sky_bottom: self.sky_bottom.mix(other.sky_bottom, t),
            primary: self.primary.mix(other.primary, t),
            secondary: self.secondary.mix(other.secondary, t),
            accent: self.accent.mix(other.accent, t),
            ink: self.ink.mix(other.ink, t),
        }
    }
}

/// One section of the song: a scene of its own, entered with a transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Scene {
    pub start: f64,
    pub end: f64,
    /// Chooses the layout of the style's layers in this scene.
    pub variant: u32,
    pub palette: Palette,
}

/// Everything a video is: drawn by [`crate::draw()`] at any size and any time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct VisualPlan {
    pub engine: u32,
    pub seed: String,
    pub style: StylePreference,
    pub prompt: String,
    /// What the prompt's words chose, and which were not understood.
    pub reading: PromptReading,
    pub light: Light,
    /// What the footage layer shows (the prompt's motifs, or the style's own when it names none).
    pub motifs: Vec<Motif>,
    /// How fast things drift, 1 = the music's own pace.
    pub pace: f32,
    pub effect_intensity: f32,
    pub footage_visibility: f32,
    pub duration: f64,
    pub tempo_bpm: f64,
    pub beats: Vec<f64>,
    pub downbeats: Vec<f64>,
    /// Times of large flashes: never closer than [`MIN_FLASH_GAP_SECONDS`].
    pub flashes: Vec<f64>,
    pub scenes: Vec<Scene>,
    pub energy: Envelope,
    /// Kicks and bass.
    pub low: Envelope,
    /// Snares and voices.
    pub mid: Envelope,
    /// Hats and cymbals.
    pub high: Envelope,
    /// The frame the thumbnail shows: just after the loudest downbeat.
    pub thumbnail_time: f64,
    /// Seeds every pseudo-random choice of the drawing.
    pub noise_seed: u32,
    /// The part of the song this video covers, when it is a trim ([`VisualPlan::trimmed`]);
    /// absent, the whole song.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim: Option<Trim>,
    /// The creator's footage, in the project's order: what the cuts show (absent without any,
    /// so a plan without footage is written as before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub footage: Vec<FootageItem>,
    /// Which footage shows when, from where and how framed ([`crate::cuts`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cuts: Vec<Cut>,
}

/// A part of the song, in seconds of the song's own time, on whole frames.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Trim {
    pub start: f64,
    pub end: f64,
}

/// Why a trim cannot be rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrimError {
    #[error("the trim starts at {start:.1} s, but the song is {duration:.1} s long: start it at least a second before the end")]
    OutsideSong { start: f64, duration: f64 },
}

impl VisualPlan {
    /// The frames of this video at `fps`: (the first, as a frame of the whole song, and how many).
    /// Frame `first + n` of the song is at `(first + n) / fps` seconds, so a trim's frames are the
    /// whole song's frames at the same times, to the byte.
    pub fn frames(&self, fps: u32) -> (u64, u64) {
        let whole = self.whole_frames(fps) as u64;
        let fps = f64::from(fps.max(1));
        match self.trim {
            None => (0, whole),
            Some(Trim { start, end }) => {
                let first = (start * fps).round() as u64;
                let last = ((end * fps).round() as u64).min(whole);
                (first, last.saturating_sub(first).max(1))
            }
        }
    }

    /// The frames of the whole song at `fps` (its last frame begins before the song ends).
    fn whole_frames(&self, fps: u32) -> f64 {
        (self.duration * f64::from(fps.max(1))).ceil().max(1.0)
    }

    /// Seconds of video: the song's, or the trim's.
    pub fn length(&self) -> f64 {
        match self.trim {
            None => self.duration,
            Some(t) => t.end - t.start,
        }
    }

    /// This plan over `start..end` seconds of the song (`end` absent, past the song or within a
    /// frame of its end: to its end), both on whole frames at `fps`: the slice of the whole song's
    /// plan that a trim renders. Everything the drawing reads is kept, so the frames are those of
    /// the whole song; only the thumbnail is chosen again, within the part. A part that would
    /// end up shorter than a second (the decoded song is a little shorter than the length the
    /// trim was checked against) starts a second before the end instead; one that starts after
    /// the song's end is refused.
    pub fn trimmed(mut self, start: f64, end: Option<f64>, fps: u32) -> Result<VisualPlan, TrimError> {
        if !start.is_finite() || end.is_some_and(f64::is_nan) {
            return Err(TrimError::OutsideSong { start, duration: self.duration });
        }
        let (rate, whole) = (f64::from(fps.max(1)), self.whole_frames(fps));
        let mut first = (start.max(0.0) * rate).round();
        // An end past the song (+∞ included) or within a frame of its end is the song's end.
        let last = end.map_or(whole, |e| if e * rate > whole - 1.0 { whole } else { (e * rate).round() });
        if first >= whole {
            return Err(TrimError::OutsideSong { start, duration: self.duration });
        }
        if last - first < rate {
            first = (last - rate).max(0.0);
        }
        if last - first < rate {
            return Err(TrimError::OutsideSong { start, duration: self.duration });
        }
        let (start, end) = (first / rate, last / rate);
        self.thumbnail_time = thumbnail_time(&self.downbeats, &self.beats, &self.energy, start, end);
        self.trim = Some(Trim { start, end });
        Ok(self)
    }
}

/// The frame a thumbnail shows within `start..end`: just after the loudest downbeat (or beat,
/// when there are no downbeats), or 40% of the way in when there is neither.
fn thumbnail_time(downbeats: &[f64], beats: &[f64], energy: &Envelope, start: f64, end: f64) -> f64 {
    let times = if downbeats.is_empty() { beats } else { downbeats };
    let loudest = times
        .iter()
        .copied()
        .filter(|t| *t >= start && *t < end - 0.2)
        .max_by(|a, b| energy.at(*a).total_cmp(&energy.at(*b)).then(b.total_cmp(a)));
    loudest.map_or(start + (end - start) * 0.4, |t| (t + 0.12).min(end))
}

fn seed_bits(seed: &str) -> u64 {
    let digest = sha2::Sha256::digest(seed.as_bytes());
    digest.iter().take(8).fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// The least HSV value of the palette's primary, secondary and accent.
const LIGHT_FLOOR: f32 = 0.45;

/// The style's own colours, used when the prompt names none.
fn style_colors(style: StylePreference) -> [u32; 3] {
    match style {
        StylePreference::Organic => [0x2ec4a6, 0x7b5cff, 0xffd166],
        StylePreference::Geometric => [0x00b4ff, 0xff3d7f, 0xf5f5f5],
        StylePreference::Cinematic => [0xffb347, 0x2a7f9e, 0xf2e3c6],
        StylePreference::Abstract => [0xb620e0, 0xff6b35, 0x00f5d4],
        StylePreference::Glitch => [0x00ff9c, 0xff00c8, 0x00a8ff],
        StylePreference::Retro => [0xff3ea5, 0x7b2cff, 0xffb238],
        StylePreference::Minimal => [0xe8e4dc, 0xd94f30, 0x2b2b2e],
    }
}

/// The style's own scene, used when the prompt names no motif.
fn style_motifs(style: StylePreference) -> Vec<Motif> {
    match style {
        StylePreference::Organic => vec![Motif::Smoke],
        StylePreference::Geometric => vec![Motif::Stars],
        StylePreference::Cinematic => vec![Motif::Mountains, Motif::Clouds],
        StylePreference::Abstract => vec![Motif::Space],
        StylePreference::Glitch => vec![Motif::City],
        StylePreference::Retro => vec![Motif::Mountains, Motif::Stars],
        StylePreference::Minimal => vec![],
    }
}

fn style_light(style: StylePreference) -> Light {
    match style {
        StylePreference::Cinematic => Light::Golden,
        StylePreference::Retro => Light::Dusk,
        StylePreference::Minimal => Light::Day,
        _ => Light::Night,
    }
}

/// The sky of a light: (top, bottom).
fn sky(light: Light) -> (Rgb, Rgb) {
    match light {
        Light::Night => (Rgb::hex(0x03040c), Rgb::hex(0x121a38)),
        Light::Dawn => (Rgb::hex(0x37508f), Rgb::hex(0xffb68a)),
        Light::Day => (Rgb::hex(0x3d8fe0), Rgb::hex(0xd6ecff)),
        Light::Golden => (Rgb::hex(0x4a3a78), Rgb::hex(0xffa149)),
        Light::Dusk => (Rgb::hex(0x120d33), Rgb::hex(0xb8507a)),
    }
}

/// `c` with its hue turned by `by` degrees, except that a warm colour stays short of green.
fn turned(c: Rgb, by: f32) -> Rgb {
    let (h, s, v) = c.hsv();
    let to = if (15.0..=60.0).contains(&h) { (h + by).min(56.0) } else { h + by };
    Rgb::from_hsv(to, s, v)
}

fn palette(reading: &PromptReading, style: StylePreference, light: Light, hue_turn: f32) -> Palette {
    // Named colours, keeping those whose hue is not already taken (gold and sunrise gold are
    // one colour to a viewer), unless they are all there is.
    let all: Vec<Rgb> = reading.colors.iter().map(|c| c.color).collect();
    let mut named: Vec<Rgb> = Vec::new();
    for c in &all {
        let (h, s, _) = c.hsv();
        let distinct = named.iter().all(|n| {
            let (nh, ns, _) = n.hsv();
            let dh = (h - nh).abs().min(360.0 - (h - nh).abs());
            dh > 25.0 || (s < 0.2) != (ns < 0.2)
        });
        if distinct {
            named.push(*c);
        }
    }
    if named.len() < 3 {
        named.extend(all.iter().filter(|c| !named.contains(c)).take(3 - named.len()).collect::<Vec<_>>());
    }
    let own = style_colors(style).map(Rgb::hex);
    let turn = |c: Rgb| if named.is_empty() { c.rotate_hue(hue_turn) } else { c };
    let primary = turn(named.first().copied().unwrap_or(own[0]));
    let secondary =
        turn(named.get(1).copied().unwrap_or(if named.is_empty() { own[1] } else { primary.rotate_hue(40.0) }));
    let accent =
        turn(named.get(2).copied().unwrap_or(if named.is_empty() { own[2] } else { secondary.rotate_hue(140.0) }));
    // Moods grade the palette: saturations multiply, but brightness takes the darkest of the
    // darkening moods and the brightest of the brightening ones ("stormy" and "foggy" together
    // are as dark as a storm, not darker than either: multiplied, they made the picture black).
    let (mut sat, mut darker, mut brighter, mut pastel) = (1.0f32, 1.0f32, 1.0f32, 0.0f32);
    for mood in &reading.moods {
        let (s, b, _, p) = mood.grade();
        sat *= s;
        darker = darker.min(b);
        brighter = brighter.max(b);
        pastel = pastel.max(p);
    }
    let bright = darker * brighter;
    let temperature = reading.temperature;
    let warm = Rgb::hex(0xff9a3c);
    let cold = Rgb::hex(0x4a8cff);
    let grade = |c: Rgb| {
        let c = if temperature > 0.0 { c.mix(warm, 0.25 * temperature) } else { c.mix(cold, -0.25 * temperature) };
        c.graded(sat, bright.min(1.15)).mix(Rgb::WHITE, pastel).stored()
    };
    // The colours that draw lights, lines and water keep some light however dark the mood: the
    // darkness is the sky's and the ink's, or a dark prompt would draw black on black.
    let lit = |c: Rgb| {
        let (h, s, v) = c.hsv();
        if v < LIGHT_FLOOR {
            Rgb::from_hsv(h, s, LIGHT_FLOOR).stored()
        } else {
            c
        }
    };
    let (top, bottom) = sky(light);
    // The sky takes a quarter of the named colour, so "red" at night is a red night.
    let sky_tint = if named.is_empty() { 0.12 } else { 0.4 };
    let sky_top = top.mix(primary.scale(top.luma().max(0.08) * 2.0), sky_tint);
    let sky_bottom = bottom.mix(secondary.scale(bottom.luma().max(0.1) * 1.5), sky_tint);
    let ink = sky_top.scale(0.35).mix(primary.scale(0.08), 0.4);
    Palette {
        sky_top: grade(sky_top),
        sky_bottom: grade(sky_bottom),
        primary: lit(grade(primary)),
        secondary: lit(grade(secondary)),
        accent: lit(grade(accent)),
        ink: grade(ink),
    }
}

/// Plans a video. Pure: the same analysis, look and seed give the same plan.
pub fn plan(analysis: &Analysis, look: &ProjectLook, seed: &str) -> VisualPlan {
    plan_with_footage(analysis, look, &[], seed)
}

/// Plans a video cut from the creator's `footage` (in the project's order) to the music. The
/// cuts draw on a random stream of their own, so everything else is [`plan`]'s to the byte.
pub fn plan_with_footage(analysis: &Analysis, look: &ProjectLook, footage: &[FootageItem], seed: &str) -> VisualPlan {
    let bits = seed_bits(seed);
    let noise_seed = (bits >> 32) as u32 ^ bits as u32;
    let reading = prompt::read(&look.prompt);
    let style = look.style;
    // Without a named light, a dark mood is a night and a bright one a day; else the style's own.
    let light = reading.light.unwrap_or_else(|| {
        use prompt::Mood;
        if reading.moods.iter().any(|m| matches!(m, Mood::Dark | Mood::Melancholy | Mood::Mysterious)) {
            Light::Night
        } else if reading.moods.iter().any(|m| matches!(m, Mood::Bright | Mood::Joyful)) {
            Light::Day
        } else {
            style_light(style)
        }
    });
    let motifs = if reading.motifs.is_empty() { style_motifs(style) } else { reading.motifs.clone() };
    let intensity = look.effect_intensity.clamp(0.0, 1.0) as f32;
    let rhythm = &analysis.rhythm;
    let duration = analysis.facts.duration_seconds.max(0.0);
    let energy = Envelope::normalised(&rhythm.energy, rhythm.energy_hop_seconds);
    let band = |v: &[f32]| {
        Envelope { hop_seconds: rhythm.bands.hop_seconds, values: v.to_vec() }.followed(BAND_ATTACK, BAND_RELEASE)
    };

    // Scenes: one per section, each with its own layout and a turn of the palette.
    let mut bounds = vec![0.0];
    bounds.extend(rhythm.sections.iter().copied().filter(|t| *t > 1.0 && *t < duration - 1.0));
    bounds.push(duration.max(0.0));
    let hue_turn = ((bits % 41) as f32) - 20.0;
    let base = palette(&reading, style, light, hue_turn);
    let scenes: Vec<Scene> = bounds
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let variant = crate::math::hash(noise_seed ^ (i as u32).wrapping_mul(0x9e37_79b9));
            // Every other scene leads with the secondary colour; each turns its hue a little (less
            // when the prompt named its colours, and never a gold into a green).
            let turn = ((variant % 31) as f32 - 15.0) * if reading.colors.is_empty() { 1.0 } else { 0.3 };
            let mut p = base;
            if i % 2 == 1 {
                std::mem::swap(&mut p.primary, &mut p.secondary);
            }
            p.primary = turned(p.primary, turn).stored();
            p.secondary = turned(p.secondary, turn * 0.5).stored();
            Scene { start: w[0], end: w[1], variant, palette: p }
        })
        .collect();

    // Large flashes: on the loudest downbeats (and beats, when the creator asks for a lot), never
    // closer than the WCAG limit allows, whatever the song.
    let mut flashes: Vec<f64> = Vec::new();
    if intensity >= 0.35 {
        let mut candidates: Vec<(f64, f32)> = rhythm.downbeats.iter().map(|t| (*t, energy.at(*t))).collect();
        if intensity >= 0.75 {
            candidates.extend(rhythm.beats.iter().map(|t| (*t, energy.at(*t) * 0.9)));
        }
        let threshold = 1.0 - 0.55 * intensity;
        candidates.retain(|(_, e)| *e >= threshold);
        candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.total_cmp(&b.0)));
        for (t, _) in candidates {
            if flashes.iter().all(|f| (f - t).abs() >= MIN_FLASH_GAP_SECONDS) {
                flashes.push(t);
            }
        }
        flashes.sort_by(f64::total_cmp);
    }
    // A storm strikes now and then however quiet the song: the loudest downbeat of every few
    // seconds (fewer at a low intensity) lights the sky, within the same limit.
    if motifs.contains(&Motif::Lightning) && intensity > 0.0 {
        let every = 7.0 - 4.0 * f64::from(intensity);
        let times = if rhythm.downbeats.is_empty() { &rhythm.beats } else { &rhythm.downbeats };
        let mut from = 0.0;
        while from < duration {
            let loudest = times
                .iter()
                .copied()
                .filter(|t| (from..from + every).contains(t))
                .max_by(|a, b| energy.at(*a).total_cmp(&energy.at(*b)));
            if let Some(t) = loudest.filter(|t| flashes.iter().all(|f| (f - t).abs() >= MIN_FLASH_GAP_SECONDS)) {
                flashes.push(t);
            }
            from += every;
        }
        flashes.sort_by(f64::total_cmp);
    }

    let thumbnail_time = thumbnail_time(&rhythm.downbeats, &rhythm.beats, &energy, 0.0, duration);
    let sections: Vec<f64> = scenes.iter().map(|s| s.start).collect();
    let cuts = cuts::plan_cuts(&CutInputs {
        items: footage,
        beats: &rhythm.beats,
        downbeats: &rhythm.downbeats,
        sections: &sections,
        energy: &energy,
        intensity,
        duration,
        seed: seed_bits(&format!("{seed}/footage")),
    });

    VisualPlan {
        engine: ENGINE_VERSION,
        seed: seed.to_owned(),
        style,
        prompt: look.prompt.clone(),
        pace: reading.pace,
        reading,
        light,
        motifs,
        effect_intensity: intensity,
        footage_visibility: look.footage_visibility.clamp(0.0, 1.0) as f32,
        duration,
        tempo_bpm: rhythm.tempo_bpm.unwrap_or(120.0),
        beats: rhythm.beats.clone(),
        downbeats: rhythm.downbeats.clone(),
        flashes,
        scenes,
        energy,
        low: band(&rhythm.bands.low),
        mid: band(&rhythm.bands.mid),
        high: band(&rhythm.bands.high),
        thumbnail_time,
        noise_seed,
        trim: None,
        footage: if cuts.is_empty() { Vec::new() } else { footage.to_vec() },
        cuts,
    }
}
