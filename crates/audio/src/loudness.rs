//! Integrated loudness (ITU-R BS.1770-4 / EBU R128, LUFS) and true peak (dBTP, by our pruned 4×
//! interpolator), measured while decoding.
//!
//! The loudness meter is our own, fused into one pass: each channel goes through the K-weighting
//! (a high shelf and the RLB high-pass, as two biquads in f64) and its squares are summed per
//! 100 ms. Gating blocks are 400 ms with 75 % overlap, so each block is the mean of four
//! consecutive 100 ms sums: only one number per 100 ms is kept (36,000 an hour). Then the
//! absolute gate (−70 LUFS) and the relative gate (−10 LU) as the standard says. The filter
//! design is libebur128's, so the figures match it (and ffmpeg's `ebur128` filter).

use crate::decode::{Format, Sink};
use crate::true_peak::TruePeak;

/// Loudness of a mean square, per BS.1770.
fn lufs(mean_square: f64) -> f64 {
    -0.691 + 10.0 * mean_square.log10()
}

/// One second-order section, transposed direct form II.
#[derive(Clone, Copy, Default)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    s: [f64; 2],
}

impl Biquad {
    #[inline(always)]
    fn run(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.s[0];
        self.s[0] = self.b[1] * x - self.a[0] * y + self.s[1];
        self.s[1] = self.b[2] * x - self.a[1] * y;
        y
    }

    /// Flushes a decayed state to zero, so silence never drags the filter into denormals.
    fn settle(&mut self) {
        for s in &mut self.s {
            if s.abs() < 1e-25 {
                *s = 0.0;
            }
        }
    }
}

/// The K-weighting for a sample rate: the "pre-filter" shelf and the RLB high-pass.
fn k_weighting(rate: f64) -> [Biquad; 2] {
    let f0 = 1_681.974_450_955_533;
    let gain_db = 3.999_843_853_973_347;
    let q = 0.707_175_236_955_419_6;
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let vh = 10f64.powf(gain_db / 20.0);
    let vb = vh.powf(0.499_666_774_154_541_6);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b: [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
        s: [0.0; 2],
    };
    let f0 = 38.135_470_876_024_44;
    let q = 0.500_327_037_323_877_3;
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let high_pass =
        Biquad { b: [1.0, -2.0, 1.0], a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0], s: [0.0; 2] };
    [shelf, high_pass]
}

/// BS.1770's channel weights, in the WAV/SMPTE order (L, R, C, LFE, Ls, Rs): the LFE is left out,
/// the surrounds count +1.5 dB. Further channels count as front channels.
fn channel_weight(index: usize, channels: usize) -> f64 {
    match (channels, index) {
        (c, 3) if c >= 4 => 0.0,
        (c, 4 | 5) if c >= 5 => 1.41,
        _ => 1.0,
    }
}

/// K-weights `run` (`C` interleaved channels) and adds each channel's squares to `sums`. The
/// channels' filters run side by side in registers: each is a serial recurrence, so this is what
/// keeps the core busy.
fn weigh_frames<const C: usize>(filters: &mut [[Biquad; 2]], sums: &mut [f64], run: &[f32]) {
    let (Ok(state), Ok(totals)) = (<&mut [[Biquad; 2]; C]>::try_from(filters), <&mut [f64; C]>::try_from(sums)) else {
        return;
    };
    let mut f = *state;
    let mut acc = [0.0f64; C];
    for frame in run.chunks_exact(C) {
        for c in 0..C {
            let shelved = f[c][0].run(f64::from(frame[c]));
            let y = f[c][1].run(shelved);
            acc[c] += y * y;
        }
    }
    *state = f;
    for (t, a) in totals.iter_mut().zip(acc) {
        *t += a;
    }
}

/// Integrated loudness, streamed.
#[derive(Default)]
pub struct LoudnessMeter {
    filters: Vec<[Biquad; 2]>,
    weights: Vec<f64>,
    /// Frames in 100 ms, and how many of the current 100 ms have been summed.
    per_tenth: usize,
    in_tenth: usize,
    /// Weighted sum of squares of the current 100 ms, per channel.
    sums: Vec<f64>,
    /// Weighted mean square of every complete 100 ms.
    tenths: Vec<f64>,
}

impl LoudnessMeter {
    pub fn new(channels: usize, sample_rate: u32) -> Self {
        Self {
            filters: vec![k_weighting(f64::from(sample_rate.max(1))); channels],
            weights: (0..channels).map(|c| channel_weight(c, channels)).collect(),
            // libebur128's rounding, for rates that do not divide by ten.
            per_tenth: ((sample_rate as usize + 5) / 10).max(1),
            in_tenth: 0,
            sums: vec![0.0; channels],
            tenths: Vec::new(),
        }
    }

    pub fn push(&mut self, interleaved: &[f32]) {
        let channels = self.filters.len();
        if channels == 0 {
            return;
        }
        let frames = interleaved.len() / channels;
        let mut at = 0;
        while at < frames {
            // Up to the end of the current 100 ms, one channel at a time (the filters are serial).
            let take = (self.per_tenth - self.in_tenth).min(frames - at);
            let run = &interleaved[at * channels..(at + take) * channels];
            match channels {
                1 => weigh_frames::<1>(&mut self.filters, &mut self.sums, run),
                2 => weigh_frames::<2>(&mut self.filters, &mut self.sums, run),
                _ => {
                    for (c, (filters, sum)) in self.filters.iter_mut().zip(&mut self.sums).enumerate() {
                        let [shelf, high_pass] = filters;
                        for x in run.get(c..).unwrap_or_default().iter().step_by(channels) {
                            let y = high_pass.run(shelf.run(f64::from(*x)));
                            *sum += y * y;
                        }
                    }
                }
            }
            self.filters.iter_mut().flatten().for_each(Biquad::settle);
            at += take;
            self.in_tenth += take;
            if self.in_tenth == self.per_tenth {
                let total: f64 = self.sums.iter().zip(&self.weights).map(|(s, w)| s * w).sum();
                self.tenths.push(total / self.per_tenth as f64);
                self.sums.iter_mut().for_each(|s| *s = 0.0);
                self.in_tenth = 0;
            }
        }
    }

    /// The gated integrated loudness; `None` when nothing passes the absolute gate (silence, or
    /// less than 400 ms of audio).
    pub fn integrated(&self) -> Option<f64> {
        let blocks: Vec<f64> = self.tenths.windows(4).map(|w| w.iter().sum::<f64>() / 4.0).collect();
        let above = |threshold: f64| -> Option<f64> {
            let kept: Vec<f64> = blocks.iter().copied().filter(|z| lufs(*z) > threshold).collect();
            (!kept.is_empty()).then(|| kept.iter().sum::<f64>() / kept.len() as f64)
        };
        let relative_gate = lufs(above(-70.0)?) - 10.0;
        let gated = above(relative_gate.max(-70.0))?;
        Some(lufs(gated)).filter(|v| v.is_finite())
    }
}

/// The loudness meter and the true-peak meter, as one sink.
#[derive(Default)]
pub struct Loudness {
    meter: Option<LoudnessMeter>,
    true_peak: Option<TruePeak>,
    channels: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LoudnessFigures {
    /// `None` for silence (R128's gating leaves nothing to measure).
    pub integrated_lufs: Option<f64>,
    /// `None` for digital silence.
    pub true_peak_dbtp: Option<f64>,
}

impl Loudness {
    pub fn figures(&self) -> LoudnessFigures {
        let peak = self.true_peak.as_ref().map_or(0.0, TruePeak::peak);
        LoudnessFigures {
            integrated_lufs: self.meter.as_ref().and_then(LoudnessMeter::integrated),
            true_peak_dbtp: (peak > 0.0).then(|| 20.0 * peak.log10()),
        }
    }
}

impl Sink for Loudness {
    fn start(&mut self, format: &Format) {
        self.channels = format.channels;
        self.meter = Some(LoudnessMeter::new(format.channels, format.sample_rate));
        self.true_peak = Some(TruePeak::new(format.channels));
    }

    fn push(&mut self, interleaved: &[f32], channels: usize) {
        if channels != self.channels {
            return;
        }
        if let Some(m) = &mut self.meter {
            m.push(interleaved);
        }
        if let Some(t) = &mut self.true_peak {
            t.push(interleaved, channels);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Music-like test material: a chord, a noise burst, a quiet stretch and silence.
    fn material(rate: u32, channels: usize, seconds: f64) -> Vec<f32> {
        let mut noise = crate::test_noise(0x9E37_79B9_7F4A_7C15u64);
        let frames = (f64::from(rate) * seconds) as usize;
        let mut out = Vec::with_capacity(frames * channels);
        for i in 0..frames {
            let t = i as f64 / f64::from(rate);
            let level = match t {
                t if t < seconds * 0.4 => 0.5,
                t if t < seconds * 0.7 => 0.02,
                t if t < seconds * 0.8 => 0.0,
                _ => 0.3,
            };
            let tone =
                ((t * 110.0 * std::f64::consts::TAU).sin() + (t * 2_500.0 * std::f64::consts::TAU).sin() * 0.5) * level;
            for c in 0..channels {
                out.push(tone as f32 * (1.0 - 0.1 * c as f32) + noise() * level as f32 * 0.3);
            }
        }
        out
    }

    #[test]
    fn integrated_loudness_agrees_with_libebur128() {
        for (rate, channels) in [(44_100, 2), (48_000, 1), (22_050, 2), (11_025, 1), (48_000, 6)] {
            let signal = material(rate, channels, 12.0);
            let mut ours = LoudnessMeter::new(channels, rate);
            let mut reference = ebur128::EbuR128::new(channels as u32, rate, ebur128::Mode::I).unwrap();
            for chunk in signal.chunks(channels * 1001) {
                ours.push(chunk);
                reference.add_frames_f32(chunk).unwrap();
            }
            let (ours, theirs) = (ours.integrated().unwrap(), reference.loudness_global().unwrap());
            assert!(
                (ours - theirs).abs() < 0.01,
                "{rate} Hz × {channels}: ours {ours:.4} LUFS, libebur128 {theirs:.4}"
            );
        }
    }

    #[test]
    fn a_full_scale_1k_sine_reads_its_reference_level() {
        // BS.1770: a 0 dBFS 997 Hz sine in one channel reads −3.01 LKFS.
        let rate = 48_000;
        let signal: Vec<f32> = (0..rate * 5)
            .map(|i| (f64::from(i) * 997.0 / f64::from(rate) * std::f64::consts::TAU).sin() as f32)
            .collect();
        let mut meter = LoudnessMeter::new(1, rate);
        meter.push(&signal);
        let lufs = meter.integrated().unwrap();
        assert!((lufs + 3.01).abs() < 0.05, "{lufs}");
    }

    #[test]
    fn silence_and_short_input_have_no_loudness() {
        let mut meter = LoudnessMeter::new(2, 44_100);
        meter.push(&vec![0.0; 44_100 * 2 * 3]);
        assert_eq!(meter.integrated(), None);
        let mut short = LoudnessMeter::new(2, 44_100);
        short.push(&material(44_100, 2, 0.3));
        assert_eq!(short.integrated(), None, "under 400 ms there is no gating block");
    }

    #[test]
    fn the_sink_reports_both_figures() {
        let mut sink = Loudness::default();
        sink.start(&Format {
            sample_rate: 44_100,
            channels: 2,
            bit_depth: None,
            codec: "pcm_f32le".into(),
            container: "wav",
        });
        for chunk in material(44_100, 2, 5.0).chunks(2 * 1152) {
            sink.push(chunk, 2);
        }
        let figures = sink.figures();
        assert!(figures.integrated_lufs.is_some_and(|v| (-40.0..0.0).contains(&v)), "{figures:?}");
        assert!(figures.true_peak_dbtp.is_some_and(|v| (-10.0..3.0).contains(&v)), "{figures:?}");
    }
}
