//! Rhythm: onset strength, energy and a coarse spectrum, streamed at 100 frames a second (the
//! spectrum at 25); then tempo, beats, downbeats and section boundaries from those envelopes.
//! Invariant: only the envelopes are kept (about 8 MB an hour, most of it the spectrum), never
//! the audio.
//!
//! - Onset strength: spectral flux of log-compressed magnitudes (Hann window of ~23 ms).
//! - Pulse: autocorrelation of the (smoothed) onset envelope, each period T scored with its
//!   multiples (ACF(T) + ACF(2T)/2 + ACF(4T)/4); the best under a broad tempo prior is the anchor.
//! - Metrical level (which of the anchor's doubles and halves is the beat): with held notes,
//!   each level is tracked and scored by where the harmony changes (chords change on a bar's
//!   first beat, so the right level groups into bars of four or three), with the tempo prior and
//!   how alike alternate beats are; levels at 3:2 of the anchor only when clearly better. Without
//!   held notes (drums alone), the fastest strong level whose consecutive pulses carry alike in
//!   the bass band (eighth notes alternate a beat and a cymbal there, half notes a kick and a
//!   snare). Weighed on the ground-truth corpus of `cargo xtask bench` (rhythm truth).
//! - Beats: dynamic programming over the onset envelope (Ellis 2007), then the tempo is refined
//!   by a least-squares fit of the beat times.
//! - Downbeats: the bar phase where the harmony changes most, when it stands out; otherwise the
//!   4/4 phase whose beats carry the most energy below 150 Hz, when that stands out.
//! - Sections: peaks of the distance between the timbre and energy of the preceding and
//!   following eight seconds.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use crate::decode::{Format, Sink};

/// Envelope frames per second.
pub const FRAME_RATE: f64 = 100.0;
const MIN_BPM: f64 = 50.0;
const MAX_BPM: f64 = 220.0;
/// A tempo given by a creator is tracked within these (BPM); the product asks for 30 to 300.
const GIVEN_BPM: (f64, f64) = (20.0, 400.0);
/// Spectral bands for the section features (upper edges in Hz).
const BANDS: [f64; 6] = [150.0, 400.0, 1000.0, 2500.0, 6000.0, 20_000.0];
/// Harmony frames: the log spectrum from `HARMONY_HZ.0` to `HARMONY_HZ.1`, averaged over this
/// many envelope frames (25 a second) and kept to a sixteenth of a neper in a byte.
const HARMONY_HOP: usize = 4;
const HARMONY_HZ: (f64, f64) = (300.0, 4000.0);
const HARMONY_SCALE: f32 = 16.0;

/// ln(1 + x) for finite x ≥ 0, to within 1e-7 (a polynomial for the mantissa's logarithm): the
/// library call is a tenth of the whole analysis, and onset flux needs no more precision.
fn ln_1p(x: f32) -> f32 {
    const C: [f32; 8] = [
        0.999_996_4,
        -0.499_874_12,
        0.331_799_03,
        -0.240_733_81,
        0.167_654_07,
        -0.095_329_39,
        0.036_088_494,
        -0.006_453_544,
    ];
    let y = 1.0 + x;
    let bits = y.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    // The mantissa, as 1 + t with t in [0, 1).
    let t = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000) - 1.0;
    let ln_mantissa = C.iter().rev().fold(0.0f32, |acc, c| acc * t + c) * t;
    exponent as f32 * std::f32::consts::LN_2 + ln_mantissa
}

/// Streams audio into onset, low-band onset, energy and band-energy envelopes.
pub struct RhythmSink {
    hop: usize,
    window: Vec<f32>,
    fft: Option<Arc<dyn RealToComplex<f32>>>,
    /// The mono samples: the current window at the end, after at most seven windows' worth of
    /// older ones.
    pending: Vec<f32>,
    /// Sum of squares of the current hop, for its RMS.
    hop_energy: f64,
    since_hop: usize,
    previous: Vec<f32>,
    magnitudes: Vec<f32>,
    scratch_in: Vec<f32>,
    scratch_out: Vec<realfft::num_complex::Complex<f32>>,
    bass_bins: usize,
    /// Onset flux is summed up to here (~5 kHz): cymbals and hats sit above it, and would
    /// otherwise make the eighth-note pulse outweigh the beat.
    onset_bins: usize,
    band_bins: Vec<usize>,
    /// The FFT bins of the harmony frames, and their running sums.
    harmony_bins: std::ops::Range<usize>,
    harmony_sum: Vec<f32>,
    harmony_frames: usize,
    pub envelopes: Envelopes,
}

/// What the analysis keeps of the audio: one value (or band vector) per envelope frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envelopes {
    pub onset: Vec<f32>,
    /// Onset strength below ~400 Hz (kick and snare bodies, hardly any cymbal), for choosing
    /// between a pulse and its double or half.
    pub bass_onset: Vec<f32>,
    /// RMS per hop.
    pub energy: Vec<f32>,
    /// Log energy per band per hop, for sections.
    pub bands: Vec<[f32; BANDS.len()]>,
    /// The log spectrum between 300 Hz and 4 kHz (above the kick and the bass) every
    /// `HARMONY_HOP` frames, `harmony_bins` bytes a frame: where chords change (bar lines), once
    /// drum hits are filtered out.
    pub harmony: Vec<u8>,
    pub harmony_bins: usize,
    /// Seconds between the start and the centre of frame 0's window.
    pub offset_seconds: f64,
}

impl Default for RhythmSink {
    fn default() -> Self {
        Self {
            hop: 1,
            window: Vec::new(),
            fft: None,
            pending: Vec::new(),
            hop_energy: 0.0,
            since_hop: 0,
            previous: Vec::new(),
            magnitudes: Vec::new(),
            scratch_in: Vec::new(),
            scratch_out: Vec::new(),
            bass_bins: 0,
            onset_bins: 0,
            band_bins: Vec::new(),
            harmony_bins: 0..0,
            harmony_sum: Vec::new(),
            harmony_frames: 0,
            envelopes: Envelopes::default(),
        }
    }
}

impl RhythmSink {
    /// Analyses the window at the front of `pending` (the last `n` samples).
    fn frame(&mut self) {
        let n = self.window.len();
        let start = self.pending.len() - n;
        for ((dst, x), w) in self.scratch_in.iter_mut().zip(&self.pending[start..]).zip(&self.window) {
            *dst = x * w;
        }
        self.envelopes.energy.push((self.hop_energy / self.hop as f64).sqrt() as f32);
        self.hop_energy = 0.0;
        let Some(fft) = &self.fft else { return };
        if fft.process(&mut self.scratch_in, &mut self.scratch_out).is_err() {
            return;
        }
        // Log-compressed magnitudes up to ~5 kHz, and how much each rose since the last frame:
        // simple loops over slices, which the compiler vectorises.
        let bins = (self.onset_bins + 1).min(self.scratch_out.len());
        for (m, c) in self.magnitudes[..bins].iter_mut().zip(&self.scratch_out) {
            *m = ln_1p(1000.0 * c.norm_sqr().sqrt());
        }
        let rise = |now: &[f32], before: &[f32]| -> f32 {
            now.iter().zip(before).map(|(m, p)| (m - p).max(0.0)).fold(0.0, |a, b| a + b)
        };
        let bass = (self.bass_bins + 1).min(bins);
        let bass_flux = rise(&self.magnitudes[..bass], &self.previous[..bass]);
        let flux = bass_flux + rise(&self.magnitudes[bass..bins], &self.previous[bass..bins]);
        if let Some(harmony) = self.magnitudes.get(self.harmony_bins.clone()) {
            for (sum, m) in self.harmony_sum.iter_mut().zip(harmony) {
                *sum += m;
            }
            self.harmony_frames += 1;
            if self.harmony_frames == HARMONY_HOP {
                let scale = HARMONY_SCALE / HARMONY_HOP as f32;
                self.envelopes
                    .harmony
                    .extend(self.harmony_sum.iter().map(|v| (v * scale).round().clamp(0.0, 255.0) as u8));
                self.harmony_sum.fill(0.0);
                self.harmony_frames = 0;
            }
        }
        std::mem::swap(&mut self.magnitudes, &mut self.previous);
        let mut bands = [0.0f32; BANDS.len()];
        let mut from = 0;
        for (band, &to) in self.band_bins.iter().enumerate() {
            let to = (to + 1).min(self.scratch_out.len());
            bands[band] = self.scratch_out[from.min(to)..to].iter().map(|c| c.norm_sqr()).sum();
            from = to;
        }
        self.envelopes.onset.push(flux);
        self.envelopes.bass_onset.push(bass_flux);
        self.envelopes.bands.push(bands.map(|e| (1e-9 + e).ln()));
    }
}

impl Sink for RhythmSink {
    fn start(&mut self, format: &Format) {
        let rate = format.sample_rate.max(1);
        self.hop = ((f64::from(rate) / FRAME_RATE).round() as usize).max(1);
        let n = (f64::from(rate) * 0.023).round() as usize;
        let n = n.next_power_of_two().max(64);
        self.window = (0..n).map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / n as f32).cos()).collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
        self.scratch_in = fft.make_input_vec();
        self.scratch_out = fft.make_output_vec();
        self.previous = vec![0.0; self.scratch_out.len()];
        self.magnitudes = vec![0.0; self.scratch_out.len()];
        self.fft = Some(fft);
        self.pending = vec![0.0; n];
        let bin_hz = f64::from(rate) / n as f64;
        self.bass_bins = (400.0 / bin_hz) as usize;
        self.onset_bins = (5000.0 / bin_hz) as usize;
        self.band_bins = BANDS.iter().map(|hz| (hz / bin_hz) as usize).collect();
        let to = ((HARMONY_HZ.1 / bin_hz) as usize).min(self.onset_bins + 1).min(self.scratch_out.len());
        self.harmony_bins = ((HARMONY_HZ.0 / bin_hz).ceil() as usize).min(to)..to;
        self.harmony_sum = vec![0.0; self.harmony_bins.len()];
        self.envelopes.harmony_bins = self.harmony_bins.len();
        // Frame i's window ends at sample (i+1)·hop + n − hop; onsets register as they enter,
        // which the offset puts back at the window's centre.
        self.envelopes.offset_seconds = (n as f64 / 2.0 - self.hop as f64) / f64::from(rate);
    }

    fn push(&mut self, interleaved: &[f32], channels: usize) {
        if self.window.is_empty() {
            return;
        }
        let ch = channels.max(1);
        let n = self.window.len();
        let scale = 1.0 / ch as f32;
        let frames = interleaved.len() / ch;
        let mut at = 0;
        while at < frames {
            // Up to the end of the current hop: the mono mix and its energy, slice by slice.
            let take = (self.hop - self.since_hop).min(frames - at);
            let run = &interleaved[at * ch..(at + take) * ch];
            let from = self.pending.len();
            match ch {
                1 => self.pending.extend_from_slice(run),
                2 => self.pending.extend(run.chunks_exact(2).map(|f| (f[0] + f[1]) * 0.5)),
                _ => self.pending.extend(run.chunks_exact(ch).map(|f| f.iter().sum::<f32>() * scale)),
            }
            self.hop_energy += f64::from(self.pending[from..].iter().map(|v| v * v).sum::<f32>());
            at += take;
            self.since_hop += take;
            if self.since_hop == self.hop {
                self.since_hop = 0;
                self.frame();
                // The next window overlaps this one: only the last n samples are needed. They
                // are moved to the front now and then, not after every frame.
                if self.pending.len() >= 8 * n {
                    let excess = self.pending.len() - n;
                    self.pending.drain(..excess);
                }
            }
        }
    }
}

/// How loud the low (below 150 Hz: kicks, bass), mid (400 Hz to 2.5 kHz: snares, voices) and
/// high (above 6 kHz: hats, cymbals) bands are, each 0 to 1 relative to its own range in this
/// track, one value per `hop_seconds` (50 a second): what lets kicks, snares and hats move
/// different things in a video.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BandEnvelopes {
    pub hop_seconds: f64,
    pub low: Vec<f32>,
    pub mid: Vec<f32>,
    pub high: Vec<f32>,
}

/// Band frames per second in [`BandEnvelopes`].
pub const BAND_RATE: f64 = 50.0;

impl BandEnvelopes {
    /// From log band energies at `FRAME_RATE`: pairs of frames summed, each band mapped from its
    /// 10th to its 99th percentile onto 0..1 and kept to three decimals (the JSON stays small).
    fn from_frames(bands: &[[f32; BANDS.len()]]) -> Self {
        let per = (FRAME_RATE / BAND_RATE).round() as usize;
        let band = |members: &[usize]| -> Vec<f32> {
            let levels: Vec<f32> = bands
                .chunks(per)
                .map(|c| {
                    let linear: f32 = c.iter().flat_map(|b| members.iter().map(|&m| b[m].exp())).sum();
                    (1e-9 + linear / c.len() as f32).ln()
                })
                .collect();
            let mut sorted = levels.clone();
            sorted.sort_by(f32::total_cmp);
            let at = |q: f64| sorted.get(((sorted.len().saturating_sub(1)) as f64 * q) as usize).copied();
            let (Some(lo), Some(hi)) = (at(0.10), at(0.99)) else { return Vec::new() };
            let range = (hi - lo).max(1e-3);
            levels.iter().map(|v| (((v - lo) / range).clamp(0.0, 1.0) * 1000.0).round() / 1000.0).collect()
        };
        Self { hop_seconds: per as f64 / FRAME_RATE, low: band(&[0]), mid: band(&[2, 3]), high: band(&[5]) }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Rhythm {
    pub tempo_bpm: Option<f64>,
    /// 0 to 1: how much the chosen period stands out in the onset envelope's periodicity.
    pub tempo_confidence: f64,
    pub beats: Vec<f64>,
    pub downbeats: Vec<f64>,
    pub sections: Vec<f64>,
    /// RMS energy, one value per `energy_hop_seconds` (a tenth of a second).
    pub energy: Vec<f32>,
    pub energy_hop_seconds: f64,
    /// Per-band envelopes (absent from analyses stored before they existed).
    #[serde(default)]
    pub bands: BandEnvelopes,
}

/// A light symmetric smoothing: peaks of a periodic envelope then keep their height when the
/// period falls between two frames.
fn smooth(x: &[f64]) -> Vec<f64> {
    const K: [f64; 5] = [1.0, 2.0, 3.0, 2.0, 1.0];
    (0..x.len())
        .map(|i| {
            let (mut sum, mut weight) = (0.0, 0.0);
            for (j, k) in K.iter().enumerate() {
                if let Some(v) = (i + j).checked_sub(2).and_then(|idx| x.get(idx)) {
                    sum += v * k;
                    weight += k;
                }
            }
            sum / weight
        })
        .collect()
}

/// Removes a slow trend and keeps what rises above it.
fn normalise(onset: &[f32]) -> Vec<f64> {
    let w = 50; // half a second either side
    let mut prefix = vec![0.0f64; onset.len() + 1];
    for (i, v) in onset.iter().enumerate() {
        prefix[i + 1] = prefix[i] + f64::from(*v);
    }
    let out: Vec<f64> = (0..onset.len())
        .map(|i| {
            let (a, b) = (i.saturating_sub(w), (i + w + 1).min(onset.len()));
            let mean = (prefix[b] - prefix[a]) / (b - a) as f64;
            (f64::from(onset[i]) - mean).max(0.0)
        })
        .collect();
    let sd = (out.iter().map(|v| v * v).sum::<f64>() / out.len().max(1) as f64).sqrt();
    if sd > 0.0 {
        out.iter().map(|v| v / sd).collect()
    } else {
        out
    }
}

/// Mean-product autocorrelation for lags `0..=max_lag`.
fn autocorrelation(x: &[f64], max_lag: usize) -> Vec<f64> {
    (0..=max_lag)
        .map(|lag| {
            if lag >= x.len() {
                return 0.0;
            }
            let n = x.len() - lag;
            // Four partial sums, so the products vectorise (one running sum cannot be reordered).
            let mut lanes = [0.0f64; 4];
            let (head, tail) = (x[..n].chunks_exact(4), x[lag..].chunks_exact(4));
            let rest: f64 = head.remainder().iter().zip(tail.remainder()).map(|(a, b)| a * b).sum();
            for (a, b) in head.zip(tail) {
                for i in 0..4 {
                    lanes[i] += a[i] * b[i];
                }
            }
            (lanes.iter().sum::<f64>() + rest) / n as f64
        })
        .collect()
}

fn acf_at(acf: &[f64], lag: f64) -> f64 {
    let i = lag.floor() as usize;
    match (acf.get(i), acf.get(i + 1)) {
        (Some(a), Some(b)) => a + (b - a) * (lag - i as f64),
        (Some(a), None) => *a,
        _ => 0.0,
    }
}

/// What the onset envelope's periodicity says, before the metrical level is chosen.
struct Pulse {
    /// The strongest period (frames) under a broad preference for moderate tempos.
    anchor: f64,
    /// How much the percussive choice stands out: its autocorrelation over the envelope's
    /// energy (0 to 1), times its score over the best candidate's.
    clarity: f64,
    /// The metrical level drums alone suggest: the fastest strong member of the anchor's family
    /// whose consecutive pulses carry alike in the bass band (kick and snare alike, where eighth
    /// notes alternate beat and cymbal). For music without sustained harmony.
    percussive: f64,
}

fn estimate_pulse(onset: &[f64], bass: &[f64]) -> Option<Pulse> {
    let min_lag = (FRAME_RATE * 60.0 / MAX_BPM).floor() as usize;
    let max_lag = (FRAME_RATE * 60.0 / MIN_BPM).ceil() as usize;
    if onset.len() < max_lag * 2 {
        return None;
    }
    let acf = autocorrelation(onset, max_lag * 4 + 2);
    let score = |t: f64| acf_at(&acf, t) + 0.5 * acf_at(&acf, 2.0 * t) + 0.25 * acf_at(&acf, 4.0 * t);
    // Local maxima of the ACF within the tempo range, refined to a fractional lag.
    let mut candidates: Vec<(f64, f64)> = Vec::new();
    for lag in min_lag.max(2)..=max_lag {
        if acf[lag] > acf[lag - 1] && acf[lag] >= acf[lag + 1] && acf[lag] > 0.0 {
            let (a, b, c) = (acf[lag - 1], acf[lag], acf[lag + 1]);
            let shift = 0.5 * (a - c) / (a - 2.0 * b + c).min(-1e-12);
            let t = lag as f64 + shift.clamp(-0.5, 0.5);
            candidates.push((t, score(t)));
        }
    }
    // The best candidate under a log-normal an octave wide around 120 BPM (as in Ellis 2007).
    // Its doubles and halves are weighed by `metrical_levels`; periods at 3:2 or 4:3 of it are
    // never taken, which syncopation would otherwise make strong.
    let best = candidates.iter().map(|c| c.1).fold(f64::MIN, f64::max);
    if best <= 0.0 {
        return None;
    }
    let anchor = candidates.iter().copied().max_by(|a, b| (a.1 * prior(a.0)).total_cmp(&(b.1 * prior(b.0))))?;
    let octaves_apart = |t: f64| {
        let r = (t / anchor.0).log2();
        (r - r.round()).abs() < 0.04
    };
    let reference = reference(bass, onset);
    let mut strong: Vec<(f64, f64)> =
        candidates.iter().copied().filter(|c| octaves_apart(c.0) && c.1 >= 0.5 * anchor.1).collect();
    strong.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (percussive, chosen) =
        strong.iter().copied().find(|c| fold_ratio(reference, 2.0 * c.0) < 2.0).unwrap_or(anchor);
    let clarity = (acf_at(&acf, percussive) / acf[0].max(1e-12)).clamp(0.0, 1.0) * (chosen / best);
    Some(Pulse { anchor: anchor.0, clarity, percussive })
}

/// A broad preference for moderate tempos: a log-normal an octave wide around 120 BPM, for a
/// period in frames.
fn prior(period: f64) -> f64 {
    (-0.5 * (FRAME_RATE * 60.0 / period / 120.0).log2().powi(2)).exp()
}

/// Sustained spectra less tonal than this (see `sustained`) are taken for drums alone.
const MIN_TONAL: f32 = 0.16;

/// Bars whose first beats' harmonic change stands out less than this over the other beats' are
/// not trusted for downbeats (the bass-band rule decides instead).
const MIN_BAR_CONTRAST: f64 = 1.5;
/// How much better (in score) than every octave of the anchor a level at 2:3 or 3:2 of it must
/// be to be taken. Weighed on the ground-truth corpus: 0.3 lets a few wrong ones in, 0.6 keeps
/// the right ones out.
const THREE_TWO_MARGIN: f64 = 0.45;

/// How the beats of a level group into bars, read from where the harmony changes.
#[derive(Debug, Clone, Copy)]
struct Bar {
    meter: usize,
    /// The index of the first downbeat among the level's beats.
    phase: usize,
    /// How far the harmonic change on the first beats stands out (1: not at all).
    contrast: f64,
}

/// One reading of the beat: a period, the beats tracked at it, their bars, and how well the
/// whole fits music (see `metrical_levels`).
#[derive(Debug)]
struct Level {
    period: f64,
    frames: Vec<usize>,
    bar: Option<Bar>,
    score: f64,
}

impl Level {
    /// Beats at `period` with nothing known of their bars (drums alone, or a given tempo).
    fn tracked(onset: &[f64], period: f64) -> Self {
        Level { period, frames: track_beats(onset, period), bar: None, score: 0.0 }
    }
}

/// Where alternate beats are compared: the bass band, or for a track with nothing there, the
/// whole onset envelope.
fn reference<'a>(bass: &'a [f64], onset: &'a [f64]) -> &'a [f64] {
    if bass.iter().any(|v| *v > 0.0) {
        bass
    } else {
        onset
    }
}

/// The anchor period and its doubles and halves within the tempo range, each tracked and scored.
/// A level's score (log scale) adds up:
/// - the harmony: how clearly chords change on its bars' first beats (bars of four, compared
///   half a bar either side, or of three, a beat either side), and on every second bar;
/// - the tempo prior, at half weight;
/// - the bass band's contrast between alternate beats (kick and snare) over the whole
///   spectrum's (capped: past it, the alternate beats are missing, not different);
/// - a penalty when alternate beats are far weaker than the others in the whole spectrum (the
///   level is a subdivision of the beat), and a bonus when what lies halfway between beats is
///   well below them (up to half their strength: otherwise the level is a multiple of the beat).
///
/// Weighed on the ground-truth corpus (`cargo xtask bench`); the metrical level is what
/// distinguishes a ballad at 62 BPM from its eighth notes at 124 and a quickstep at 200 from
/// its half notes.
fn metrical_levels(onset: &[f64], bass: &[f64], harmony: Harmony, anchor: f64) -> Vec<Level> {
    let (min_lag, max_lag) = (FRAME_RATE * 60.0 / MAX_BPM, FRAME_RATE * 60.0 / MIN_BPM);
    let reference = reference(bass, onset);
    let mut levels: Vec<Level> = (-2..=2)
        .map(|k| anchor * 2f64.powi(k))
        .filter(|p| (min_lag..=max_lag).contains(p))
        .map(|p| level(onset, reference, harmony, p))
        .collect();
    // The anchor itself may sit at 2:3 or 3:2 of the beat (syncopated or very fast music): those
    // are taken only when they score clearly above every octave of it, and their beats land on
    // onsets at least as well (a grid at 3:2 of a pulse puts every third beat between its notes).
    let Some(octave) = levels.iter().max_by(|a, b| a.score.total_cmp(&b.score)) else { return levels };
    let (best, landing) = (octave.score, salience(onset, &octave.frames));
    levels.extend(
        [1.5, 2.0 / 3.0]
            .map(|f| anchor * f)
            .into_iter()
            .filter(|p| (min_lag..=max_lag).contains(p))
            .map(|p| level(onset, reference, harmony, p))
            .filter(|l| l.score >= best + THREE_TWO_MARGIN && salience(onset, &l.frames) >= landing),
    );
    levels
}

/// The mean onset strength on the beats.
fn salience(onset: &[f64], beats: &[usize]) -> f64 {
    beats.iter().filter_map(|b| onset.get(*b)).sum::<f64>() / beats.len().max(1) as f64
}

/// Sustained spectra (see `sustained`) and their bins per frame.
type Harmony<'a> = (&'a [u8], usize);

/// Tracks and scores one level (see `metrical_levels`).
fn level(onset: &[f64], reference: &[f64], harmony: Harmony, period: f64) -> Level {
    let frames = track_beats(onset, period);
    let beat = harmonic_changes(harmony.0, harmony.1, &frames, 1);
    let half_bar = harmonic_changes(harmony.0, harmony.1, &frames, 2);
    let four = bar_phase(&half_bar, 4);
    let three = bar_phase(&beat, 3);
    let two_bars = bar_phase(&half_bar, 8);
    let bar = if three.contrast > four.contrast { three } else { four };
    let alternate_bass = fold_ratio(reference, 2.0 * period).min(4.0);
    let alternate = fold_ratio(onset, 2.0 * period);
    let halfway = fold_ratio(onset, period);
    let score =
        bar.contrast.ln() + 0.5 * prior(period).ln() + 0.5 * two_bars.contrast.ln() + 0.25 * alternate_bass.ln()
            - 0.25 * alternate.ln()
            + 0.5 * halfway.min(2.0).ln();
    Level { period, frames, bar: Some(bar), score }
}

/// The pulse and the levels that may be the beat, scored. With held notes (`tonal`), the harmony
/// says where bars are and so which level is the beat; without (drums alone), the drums' own
/// pattern does.
fn beat_levels(onset: &[f64], bass: &[f64], harmony: Harmony, tonal: f32) -> Option<(Pulse, Vec<Level>)> {
    let pulse = estimate_pulse(onset, bass)?;
    let levels = if tonal >= MIN_TONAL {
        metrical_levels(onset, bass, harmony, pulse.anchor)
    } else {
        vec![Level::tracked(onset, pulse.percussive)]
    };
    Some((pulse, levels))
}

/// 0 to 1: how sure the tempo is. With harmony, how clearly chords change on the chosen bars'
/// first beats: 1 − contrast^−0.88, 0.5 at a contrast of 2.2 (on the ground-truth corpus, 98% of
/// the tempos above that were right and 79% of those below; 83% and 58% on its held-out set).
/// Without, how much the pulse stands out.
fn confidence(bar: Option<Bar>, clarity: f64) -> f64 {
    match bar {
        Some(bar) => (1.0 - bar.contrast.max(1.0).powf(-0.88)).clamp(0.0, 1.0),
        None => clarity,
    }
}

/// Folds the envelope at period `t` (frames): the mean strength at the best phase, and at the
/// points halfway between. Their ratio says whether `t/2` is a pulse of its own (near 1) or a
/// subdivision (well above 1).
fn fold_ratio(onset: &[f64], t: f64) -> f64 {
    let at = |x: f64| -> f64 {
        let i = x.floor() as usize;
        match (onset.get(i), onset.get(i + 1)) {
            (Some(a), Some(b)) => a + (b - a) * (x - i as f64),
            _ => 0.0,
        }
    };
    let count = ((onset.len() as f64 - t) / t).floor().max(1.0) as usize;
    let mean_at = |phase: f64| (0..count).map(|k| at(phase + k as f64 * t)).sum::<f64>() / count as f64;
    let steps = (t.ceil() as usize).max(1);
    let (best_phase, on) =
        (0..steps)
            .map(|p| (p as f64, mean_at(p as f64)))
            .fold((0.0, f64::MIN), |acc, x| if x.1 > acc.1 { x } else { acc });
    let mid = mean_at(best_phase + t / 2.0);
    on / mid.max(1e-9)
}

/// Ellis' dynamic programming beat tracker: frame indices of the beats.
fn track_beats(onset: &[f64], period: f64) -> Vec<usize> {
    let n = onset.len();
    let tightness = 100.0;
    let mut score = vec![0.0f64; n];
    let mut back = vec![usize::MAX; n];
    let (lo, hi) = ((period / 2.0).round() as usize, (period * 2.0).round() as usize);
    let lo = lo.max(1);
    let penalty: Vec<f64> = (lo..=hi).map(|gap| tightness * (gap as f64 / period).ln().powi(2)).collect();
    for t in 0..n {
        let mut best = 0.0;
        let mut from = usize::MAX;
        for (gap, penalty) in (lo..=hi).zip(&penalty) {
            if gap > t {
                break;
            }
            let tau = t - gap;
            let s = score[tau] - penalty;
            if from == usize::MAX || s > best {
                best = s;
                from = tau;
            }
        }
        score[t] = onset[t] + if from == usize::MAX { 0.0 } else { best.max(0.0) };
        back[t] = if from != usize::MAX && best > 0.0 { from } else { usize::MAX };
    }
    // End on the best-scoring frame of the last period, then walk back.
    let tail = n.saturating_sub(period.ceil() as usize);
    let Some(mut t) = (tail..n).max_by(|a, b| score[*a].total_cmp(&score[*b])) else { return Vec::new() };
    let mut beats = vec![t];
    while back[t] != usize::MAX {
        t = back[t];
        beats.push(t);
    }
    beats.reverse();
    // Drop leading beats placed on silence before the music starts.
    let threshold = 0.1 * onset.iter().copied().fold(0.0, f64::max);
    let first = beats.iter().position(|&b| (b.saturating_sub(2)..(b + 3).min(n)).any(|i| onset[i] > threshold));
    beats.split_off(first.unwrap_or(0))
}

/// Least-squares slope of beat times against their index: the tempo, to a fraction of a frame.
fn fitted_period(beats: &[f64]) -> Option<f64> {
    if beats.len() < 4 {
        return None;
    }
    let n = beats.len() as f64;
    let mean_i = (n - 1.0) / 2.0;
    let mean_t = beats.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, t) in beats.iter().enumerate() {
        let di = i as f64 - mean_i;
        num += di * (t - mean_t);
        den += di * di;
    }
    (den > 0.0).then_some(num / den)
}

/// `low_energy`: energy below 150 Hz per frame (linear), where a bar's accented first beat shows.
fn downbeats(beats: &[usize], low_energy: &[f64]) -> Option<usize> {
    if beats.len() < 8 {
        return None;
    }
    let mut phase_energy = [0.0f64; 4];
    let mut counts = [0usize; 4];
    for (i, &b) in beats.iter().enumerate() {
        let around = (b.saturating_sub(2)..(b + 3).min(low_energy.len())).map(|j| low_energy[j]).fold(0.0, f64::max);
        phase_energy[i % 4] += around;
        counts[i % 4] += 1;
    }
    let means: Vec<f64> = (0..4).map(|p| phase_energy[p] / counts[p].max(1) as f64).collect();
    let mut order: Vec<usize> = (0..4).collect();
    order.sort_by(|a, b| means[*b].total_cmp(&means[*a]));
    (means[order[0]] > 1.15 * means[order[1]]).then_some(order[0])
}

/// Sustained spectra, one per harmony frame (`bins` bytes each, flat): each bin's median over
/// five frames (a fifth of a second), so drum hits, shorter than that, hardly show. Also how
/// tonal they are: the mean distance (nepers) of a bin from its neighbours' mean, high for the
/// peaks of held notes and low for drums alone (0.03 to 0.12 for the synthetic kits of the
/// tests, 0.21 to 0.58 on the ground-truth corpus).
fn sustained(harmony: &[u8], bins: usize) -> (Vec<u8>, f32) {
    if bins == 0 {
        return (Vec::new(), 0.0);
    }
    let frames = harmony.len() / bins;
    let mut out = Vec::with_capacity(frames * bins);
    let mut tonal = 0.0f32;
    for k in 0..frames {
        let around = k.saturating_sub(2)..(k + 3).min(frames);
        let row = out.len();
        for b in 0..bins {
            let mut values = [0u8; 5];
            let n = around.len();
            for (v, f) in values.iter_mut().zip(around.clone()) {
                *v = harmony[f * bins + b];
            }
            values[..n].sort_unstable();
            out.push(values[n / 2]);
        }
        let v = &out[row..];
        // Peaks: how far each bin stands above or below its neighbours.
        let peaks: f32 = (2..bins.saturating_sub(2))
            .map(|b| {
                let around: f32 = v[b - 2..b + 3].iter().map(|x| f32::from(*x)).sum();
                (f32::from(v[b]) - around / 5.0).abs()
            })
            .sum();
        tonal += peaks / HARMONY_SCALE / bins as f32;
    }
    (out, tonal / frames.max(1) as f32)
}

/// How much the harmony changes at each beat (0 where it cannot be told): one minus the
/// correlation (over the bins) of the sustained spectrum over the `width` beats before and the
/// `width` beats from there.
fn harmonic_changes(sustained: &[u8], bins: usize, beats: &[usize], width: usize) -> Vec<f64> {
    let frames = sustained.len() / bins.max(1);
    if frames == 0 {
        return vec![0.0; beats.len()];
    }
    let span = |from: usize, to: usize| -> Vec<f32> {
        // Harmony frame k is centred on envelope frame k·HOP + HOP/2.
        let first = from.saturating_sub(HARMONY_HOP / 2).div_ceil(HARMONY_HOP).min(frames);
        let last = to.saturating_sub(HARMONY_HOP / 2).div_ceil(HARMONY_HOP).clamp(first, frames);
        let mut total = vec![0.0f32; bins];
        for frame in sustained[first * bins..last * bins].chunks_exact(bins) {
            total.iter_mut().zip(frame).for_each(|(t, v)| *t += f32::from(*v));
        }
        total
    };
    let spans: Vec<Vec<f32>> = beats
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let next = beats.get(i + 1).copied().unwrap_or_else(|| b + (b - beats[i.saturating_sub(1)]).max(1));
            span(b, next)
        })
        .collect();
    // The sum over `range` of spans, less its mean over the bins (what correlation compares).
    let centred = |range: std::ops::Range<usize>| -> Vec<f32> {
        let mut total = vec![0.0f32; bins];
        for s in &spans[range] {
            total.iter_mut().zip(s).for_each(|(t, v)| *t += v);
        }
        let mean = total.iter().sum::<f32>() / bins as f32;
        total.iter_mut().for_each(|t| *t -= mean);
        total
    };
    let mut changes = vec![0.0; beats.len()];
    let width = width.max(1);
    let end = spans.len().saturating_sub(width - 1);
    for (i, change) in changes.iter_mut().enumerate().take(end).skip(width) {
        let (a, b) = (centred(i - width..i), centred(i..i + width));
        let dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let norms = a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt();
        *change = if norms > 1e-6 { f64::from(1.0 - dot / norms) } else { 0.0 };
    }
    changes
}

/// For bars of `meter` beats: the phase (which beat of the list is a first beat) whose changes are
/// largest, and how far it stands out (its mean change ÷ the mean of the other phases).
fn bar_phase(changes: &[f64], meter: usize) -> Bar {
    let mut sums = vec![0.0f64; meter];
    let mut counts = vec![0usize; meter];
    for (i, c) in changes.iter().enumerate().skip(1) {
        sums[i % meter] += c;
        counts[i % meter] += 1;
    }
    let means: Vec<f64> = sums.iter().zip(&counts).map(|(s, n)| s / (*n).max(1) as f64).collect();
    let Some(best) = (0..meter).max_by(|a, b| means[*a].total_cmp(&means[*b])) else {
        return Bar { meter, phase: 0, contrast: 1.0 };
    };
    let others = (means.iter().sum::<f64>() - means[best]) / (meter - 1).max(1) as f64;
    // A little slack, so that no change at all reads as no contrast.
    Bar { meter, phase: best, contrast: (means[best] + 1e-3) / (others + 1e-3) }
}

fn sections(bands: &[[f32; BANDS.len()]], energy: &[f32]) -> Vec<usize> {
    let w = (8.0 * FRAME_RATE) as usize;
    let n = bands.len();
    if n < 3 * w {
        return Vec::new();
    }
    let dims = BANDS.len() + 1;
    let feature = |i: usize| -> Vec<f64> {
        let mut f: Vec<f64> = bands[i].iter().map(|v| f64::from(*v)).collect();
        f.push((1e-6 + f64::from(energy[i])).ln() * 2.0);
        f
    };
    let mut prefix = vec![vec![0.0; dims]; n + 1];
    for i in 0..n {
        let f = feature(i);
        for d in 0..dims {
            prefix[i + 1][d] = prefix[i][d] + f[d];
        }
    }
    let mean = |a: usize, b: usize, d: usize| (prefix[b][d] - prefix[a][d]) / (b - a) as f64;
    let step = (FRAME_RATE / 2.0) as usize; // every half second
    let points: Vec<(usize, f64)> = (w..n - w)
        .step_by(step)
        .map(|t| (t, (0..dims).map(|d| (mean(t - w, t, d) - mean(t, t + w, d)).powi(2)).sum::<f64>().sqrt()))
        .collect();
    let values: Vec<f64> = points.iter().map(|p| p.1).collect();
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let threshold = (median * 2.0).max(1.0);
    let mut out: Vec<usize> = Vec::new();
    for i in 1..points.len().saturating_sub(1) {
        let (t, v) = points[i];
        if v > threshold && v >= values[i - 1] && v >= values[i + 1] && out.last().is_none_or(|last| t - last >= w) {
            out.push(t);
        }
    }
    out
}

impl Envelopes {
    /// Tempo, beats, downbeats, sections and the rest, as detected.
    pub fn analyse(&self) -> Rhythm {
        self.analyse_at(None)
    }

    /// The same, at a creator's tempo (BPM) when given: the beats are tracked at that period
    /// (the bars still read from the harmony), `tempo_bpm` is that value and the confidence 1.
    /// A tempo outside 20 to 400 BPM is tracked at the nearer of them.
    pub fn analyse_at(&self, tempo_bpm: Option<f64>) -> Rhythm {
        let onset = smooth(&normalise(&self.onset));
        let mut rhythm = Rhythm {
            tempo_bpm: None,
            tempo_confidence: 0.0,
            beats: Vec::new(),
            downbeats: Vec::new(),
            sections: sections(&self.bands, &self.energy).into_iter().map(|f| self.seconds(f)).collect(),
            energy: self.energy.chunks(10).map(|c| c.iter().sum::<f32>() / c.len() as f32).collect(),
            energy_hop_seconds: 10.0 / FRAME_RATE,
            bands: BandEnvelopes::from_frames(&self.bands),
        };
        let bass = smooth(&normalise(&self.bass_onset));
        let (spectra, tonal) = sustained(&self.harmony, self.harmony_bins);
        let harmony = (&spectra[..], self.harmony_bins);
        if let Some(bpm) = tempo_bpm.filter(|b| b.is_finite() && *b > 0.0) {
            // Tracking needs a period of a few frames to a few seconds.
            let period = FRAME_RATE * 60.0 / bpm.clamp(GIVEN_BPM.0, GIVEN_BPM.1);
            let chosen = if tonal >= MIN_TONAL {
                level(&onset, reference(&bass, &onset), harmony, period)
            } else {
                Level::tracked(&onset, period)
            };
            rhythm.tempo_bpm = Some(bpm);
            rhythm.tempo_confidence = 1.0;
            self.place(&mut rhythm, &chosen);
            return rhythm;
        }
        let Some((pulse, levels)) = beat_levels(&onset, &bass, harmony, tonal) else { return rhythm };
        let Some(chosen) = levels.iter().max_by(|a, b| a.score.total_cmp(&b.score)) else { return rhythm };
        self.place(&mut rhythm, chosen);
        let seconds_per_beat = fitted_period(&rhythm.beats).unwrap_or(chosen.period / FRAME_RATE);
        rhythm.tempo_bpm = Some(60.0 / seconds_per_beat);
        rhythm.tempo_confidence = confidence(chosen.bar, pulse.clarity);
        rhythm
    }

    /// Envelope frame `frame` in seconds from the start of the audio.
    fn seconds(&self, frame: usize) -> f64 {
        (frame as f64 / FRAME_RATE + self.offset_seconds).max(0.0)
    }

    /// The chosen level's beats and downbeats, in seconds.
    fn place(&self, rhythm: &mut Rhythm, chosen: &Level) {
        rhythm.beats = chosen.frames.iter().map(|f| self.seconds(*f)).collect();
        let bar = chosen.bar.filter(|b| b.contrast >= MIN_BAR_CONTRAST).map(|b| (b.meter, b.phase)).or_else(|| {
            let low_energy: Vec<f64> = self.bands.iter().map(|b| f64::from(b[0]).exp()).collect();
            downbeats(&chosen.frames, &low_energy).map(|phase| (4, phase))
        });
        if let Some((meter, phase)) = bar {
            rhythm.downbeats = rhythm.beats.get(phase..).unwrap_or_default().iter().step_by(meter).copied().collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pulse_train_gives_its_own_period_not_its_half_or_double() {
        for bpm in [60.0, 70.0, 120.0, 140.0, 200.0] {
            let period = FRAME_RATE * 60.0 / bpm;
            let onset: Vec<f64> = (0..3000).map(|i| if (i as f64 % period) < 1.0 { 1.0 } else { 0.0 }).collect();
            let (_, levels) = beat_levels(&onset, &onset, (&[], 0), 0.0).unwrap();
            let p = levels.iter().max_by(|a, b| a.score.total_cmp(&b.score)).unwrap().period;
            assert!((p - period).abs() / period < 0.02, "{bpm} BPM: period {p} frames, want {period}");
        }
    }

    #[test]
    fn the_fast_logarithm_is_the_logarithm() {
        for x in [0.0f32, 1e-6, 0.3, 1.0, 2.5, 1000.0, 123_456.0, 3.0e30] {
            let (ours, std) = (ln_1p(x), x.ln_1p());
            assert!((ours - std).abs() <= 2e-6 * std.max(1.0), "ln(1 + {x}): {ours} vs {std}");
        }
    }

    #[test]
    fn fitted_period_is_the_slope() {
        let beats: Vec<f64> = (0..10).map(|i| 0.3 + 0.5 * f64::from(i)).collect();
        assert!((fitted_period(&beats).unwrap() - 0.5).abs() < 1e-12);
    }
}
