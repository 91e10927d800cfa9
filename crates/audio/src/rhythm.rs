//! Rhythm: onset strength and energy, streamed at 100 frames a second; then tempo, beats,
//! downbeats and section boundaries from those envelopes. Invariant: only the envelopes are kept
//! (a few hundred kilobytes an hour), never the audio.
//!
//! - Onset strength: spectral flux of log-compressed magnitudes (Hann window of ~23 ms).
//! - Tempo: autocorrelation of the (smoothed) onset envelope, each period T scored with its
//!   multiples (ACF(T) + ACF(2T)/2 + ACF(4T)/4). The best-scoring period, weighted towards
//!   moderate tempos, and its doubles and halves are the candidates (never 3:2 or 4:3 of it,
//!   which syncopation makes strong). Of them, the beat is the fastest whose consecutive pulses
//!   carry alike in the bass band (below 400 Hz): eighth notes alternate a beat and a cymbal
//!   there, half notes are a kick and a snare apart, so neither the double nor the half of the
//!   tempo is taken for it.
//! - Beats: dynamic programming over the onset envelope (Ellis 2007), then the tempo is refined
//!   by a least-squares fit of the beat times.
//! - Downbeats: the bar phase (4/4) whose beats carry the most energy below 150 Hz, kept
//!   only when it stands out clearly.
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
/// Spectral bands for the section features (upper edges in Hz).
const BANDS: [f64; 6] = [150.0, 400.0, 1000.0, 2500.0, 6000.0, 20_000.0];

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
    pub envelopes: Envelopes,
}

/// What the analysis keeps of the audio: one value (or band vector) per envelope frame.
#[derive(Debug, Clone, Default)]
pub struct Envelopes {
    pub onset: Vec<f32>,
    /// Onset strength below ~400 Hz (kick and snare bodies, hardly any cymbal), for choosing
    /// between a pulse and its double or half.
    pub bass_onset: Vec<f32>,
    /// RMS per hop.
    pub energy: Vec<f32>,
    /// Log energy per band per hop, for sections.
    pub bands: Vec<[f32; BANDS.len()]>,
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

/// The beat period in frames, and a confidence.
fn estimate_period(onset: &[f64], bass: &[f64]) -> Option<(f64, f64)> {
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
    let best = candidates.iter().map(|c| c.1).fold(f64::MIN, f64::max);
    if best <= 0.0 {
        return None;
    }
    // The pulse family: the best candidate under a broad preference for moderate tempos (a
    // log-normal an octave wide around 120 BPM, as in Ellis 2007), with its doubles and halves.
    // Syncopated music has strong periodicities at 3:2 and 4:3 of the beat too; they are never
    // the beat, so they are not considered.
    let prior = |t: f64| (-0.5 * (FRAME_RATE * 60.0 / t / 120.0).log2().powi(2)).exp();
    let anchor = candidates.iter().copied().max_by(|a, b| (a.1 * prior(a.0)).total_cmp(&(b.1 * prior(b.0))))?;
    let octaves_apart = |t: f64| {
        let r = (t / anchor.0).log2();
        (r - r.round()).abs() < 0.04
    };
    // The metrical level: the fastest strong member of the family whose consecutive pulses carry
    // alike in the bass band (kick and snare alike, where eighth notes alternate beat and
    // cymbal). A track with nothing in the bass band is judged on the whole onset envelope.
    let reference = if bass.iter().any(|v| *v > 0.0) { bass } else { onset };
    let mut strong: Vec<(f64, f64)> =
        candidates.iter().copied().filter(|c| octaves_apart(c.0) && c.1 >= 0.5 * anchor.1).collect();
    strong.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (period, chosen) = strong.iter().copied().find(|c| fold_ratio(reference, 2.0 * c.0) < 2.0).unwrap_or(anchor);
    let confidence = (acf_at(&acf, period) / acf[0].max(1e-12)).clamp(0.0, 1.0) * (chosen / best);
    Some((period, confidence))
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
    pub fn analyse(&self) -> Rhythm {
        let to_time = |frame: f64| (frame / FRAME_RATE + self.offset_seconds).max(0.0);
        let onset = smooth(&normalise(&self.onset));
        let mut rhythm = Rhythm {
            tempo_bpm: None,
            tempo_confidence: 0.0,
            beats: Vec::new(),
            downbeats: Vec::new(),
            sections: sections(&self.bands, &self.energy).into_iter().map(|f| to_time(f as f64)).collect(),
            energy: self.energy.chunks(10).map(|c| c.iter().sum::<f32>() / c.len() as f32).collect(),
            energy_hop_seconds: 10.0 / FRAME_RATE,
            bands: BandEnvelopes::from_frames(&self.bands),
        };
        let bass = smooth(&normalise(&self.bass_onset));
        let Some((period, confidence)) = estimate_period(&onset, &bass) else { return rhythm };
        let frames = track_beats(&onset, period);
        rhythm.beats = frames.iter().map(|f| to_time(*f as f64)).collect();
        let seconds_per_beat = fitted_period(&rhythm.beats).unwrap_or(period / FRAME_RATE);
        rhythm.tempo_bpm = Some(60.0 / seconds_per_beat);
        rhythm.tempo_confidence = confidence;
        let low_energy: Vec<f64> = self.bands.iter().map(|b| f64::from(b[0]).exp()).collect();
        if let Some(phase) = downbeats(&frames, &low_energy) {
            rhythm.downbeats = rhythm.beats.get(phase..).unwrap_or_default().iter().step_by(4).copied().collect();
        }
        rhythm
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
            let (p, _) = estimate_period(&onset, &onset).unwrap();
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
