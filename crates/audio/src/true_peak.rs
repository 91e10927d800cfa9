//! True peak (BS.1770-4 Annex 2): the largest magnitude of the signal oversampled 4×, per channel.
//! Interpolating every sample costs as much as decoding, so blocks are skipped when they cannot
//! matter: an interpolated value is a weighted sum of 12 neighbouring samples, so it is at most
//! their largest magnitude times the filter's largest phase gain (the sum of that phase's
//! absolute taps). A block whose samples (with the 11 before it) stay below the running peak
//! divided by that gain cannot raise the peak. The blocks that remain are filtered in f32, tap by
//! tap across the block, so the compiler vectorises it. Invariant: the result equals
//! interpolating everything (to f32 precision, about 1e-7 of full scale).

const PHASES: usize = 4;
const TAPS_PER_PHASE: usize = 12;
/// Samples per block for the skip test.
const BLOCK: usize = 64;
/// Interpolated outputs computed together.
const LANES: usize = 8;

/// A 48-tap windowed-sinc interpolator for 4× oversampling, split into its 4 phases.
fn filter() -> [[f64; TAPS_PER_PHASE]; PHASES] {
    let n = PHASES * TAPS_PER_PHASE;
    let centre = (n as f64 - 1.0) / 2.0;
    let mut phases = [[0.0; TAPS_PER_PHASE]; PHASES];
    for i in 0..n {
        let x = (i as f64 - centre) / PHASES as f64;
        let sinc = if x.abs() < 1e-12 { 1.0 } else { (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x) };
        // Blackman window.
        let w = 0.42 - 0.5 * (std::f64::consts::TAU * i as f64 / (n as f64 - 1.0)).cos()
            + 0.08 * (2.0 * std::f64::consts::TAU * i as f64 / (n as f64 - 1.0)).cos();
        phases[i % PHASES][i / PHASES] = sinc * w;
    }
    // Each phase passes DC unchanged.
    for p in &mut phases {
        let sum: f64 = p.iter().sum();
        p.iter_mut().for_each(|t| *t /= sum);
    }
    phases
}

pub struct TruePeak {
    phases_f32: [[f32; TAPS_PER_PHASE]; PHASES],
    gain: f64,
    /// Per channel: the last samples (history first), and the running peak.
    history: Vec<Vec<f32>>,
    peak: Vec<f64>,
}

impl TruePeak {
    pub fn new(channels: usize) -> Self {
        let phases = filter();
        let gain = phases.iter().map(|p| p.iter().map(|t| t.abs()).sum::<f64>()).fold(0.0, f64::max);
        let phases_f32 = phases.map(|p| p.map(|t| t as f32));
        Self { phases_f32, gain, history: vec![vec![0.0; TAPS_PER_PHASE - 1]; channels], peak: vec![0.0; channels] }
    }

    /// The largest true peak over all channels, linear.
    pub fn peak(&self) -> f64 {
        self.peak.iter().copied().fold(0.0, f64::max)
    }

    fn scan(&mut self, channel: usize) {
        let samples = &self.history[channel];
        let mut peak = self.peak[channel];
        for block_start in (0..samples.len().saturating_sub(TAPS_PER_PHASE - 1)).step_by(BLOCK) {
            let block_end = (block_start + BLOCK + TAPS_PER_PHASE - 1).min(samples.len());
            let block = &samples[block_start..block_end];
            let loudest = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            // The samples themselves are points of the oversampled signal too.
            peak = peak.max(f64::from(loudest));
            if f64::from(loudest) * self.gain <= peak {
                continue;
            }
            // Output i's window is block[i..i + 12], newest last: y[i] = Σ taps[k]·block[i + 11 − k],
            // eight outputs at a time in registers, which the compiler vectorises.
            let outputs = block.len() - (TAPS_PER_PHASE - 1);
            for taps in &self.phases_f32 {
                let mut loudest = [0.0f32; LANES];
                for base in (0..outputs).step_by(LANES) {
                    let mut acc = [0.0f32; LANES];
                    for (k, tap) in taps.iter().enumerate() {
                        let from = base + TAPS_PER_PHASE - 1 - k;
                        let Some(x) = block.get(from..from + LANES) else {
                            // The block's last few outputs, one by one; lanes past the end stay 0.
                            for (lane, a) in acc.iter_mut().enumerate().take(outputs - base) {
                                *a += tap * block[from + lane];
                            }
                            continue;
                        };
                        for (a, x) in acc.iter_mut().zip(x) {
                            *a += tap * x;
                        }
                    }
                    for (l, a) in loudest.iter_mut().zip(acc) {
                        *l = l.max(a.abs());
                    }
                }
                peak = peak.max(f64::from(loudest.iter().fold(0.0f32, |m, v| m.max(*v))));
            }
        }
        self.peak[channel] = peak;
        // Keep the last 11 samples as the next call's history.
        let keep = samples.len().saturating_sub(TAPS_PER_PHASE - 1);
        self.history[channel].drain(..keep);
    }

    pub fn push(&mut self, interleaved: &[f32], channels: usize) {
        if channels != self.history.len() || channels == 0 {
            return;
        }
        for (c, history) in self.history.iter_mut().enumerate() {
            history.extend(interleaved.get(c..).unwrap_or_default().iter().step_by(channels));
        }
        for c in 0..channels {
            self.scan(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(signal: &[f32]) -> f64 {
        let mut tp = TruePeak::new(1);
        for chunk in signal.chunks(777) {
            tp.push(chunk, 1);
        }
        tp.peak()
    }

    #[test]
    fn finds_the_peak_between_samples() {
        // A sine at a quarter of the sample rate, sampled 45° off its crests: every sample is at
        // 0.707 of the amplitude, the true peak is the amplitude (+3 dB).
        let signal: Vec<f32> = (0..48_000)
            .map(|i| (std::f64::consts::FRAC_PI_2 * f64::from(i) + std::f64::consts::FRAC_PI_4).sin() as f32 * 0.5)
            .collect();
        let sample_peak = signal.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let tp = measure(&signal);
        assert!((f64::from(sample_peak) - 0.3536).abs() < 1e-3);
        assert!((tp - 0.5).abs() < 0.01, "true peak {tp}, want 0.5");
    }

    #[test]
    fn agrees_with_the_ebur128_crate() {
        // A chord with a transient-rich noise burst, stereo, at 44.1 kHz.
        let mut noise = crate::test_noise(0x2545_F491_4F6C_DD1Du64);
        let mut interleaved = Vec::new();
        for i in 0..88_200 {
            let t = f64::from(i) / 44_100.0;
            let tone = ((t * 440.0 * std::f64::consts::TAU).sin() * 0.3
                + (t * 6_000.0 * std::f64::consts::TAU).sin() * 0.25) as f32;
            let burst = if (20_000..22_000).contains(&i) { noise() * 0.4 } else { 0.0 };
            interleaved.extend([tone + burst, tone * 0.8 - burst]);
        }
        let mut ours = TruePeak::new(2);
        let mut reference = ebur128::EbuR128::new(2, 44_100, ebur128::Mode::TRUE_PEAK).unwrap();
        for chunk in interleaved.chunks(2 * 1152) {
            ours.push(chunk, 2);
            reference.add_frames_f32(chunk).unwrap();
        }
        let theirs = (0..2).map(|c| reference.true_peak(c).unwrap()).fold(0.0, f64::max);
        let db = |v: f64| 20.0 * v.log10();
        assert!(
            (db(ours.peak()) - db(theirs)).abs() < 0.3,
            "ours {:.3} dBTP, ebur128 {:.3} dBTP",
            db(ours.peak()),
            db(theirs)
        );
    }

    #[test]
    fn skipping_blocks_changes_nothing() {
        // Loud early, quiet later, then one sharp intersample event: the pruned scan must agree
        // with interpolating every sample.
        let mut signal: Vec<f32> = (0..20_000).map(|i| ((f64::from(i) * 0.05).sin() * 0.6) as f32).collect();
        signal.extend((0..50_000).map(|i| ((f64::from(i) * 0.3).sin() * 0.1) as f32));
        signal.extend([0.0, 0.7, -0.7, 0.7, -0.7, 0.0]);
        signal.extend(std::iter::repeat_n(0.0, 1000));
        let pruned = measure(&signal);
        let mut full = 0.0f64;
        let phases = filter();
        let padded: Vec<f32> = std::iter::repeat_n(0.0, TAPS_PER_PHASE - 1).chain(signal.iter().copied()).collect();
        for w in padded.windows(TAPS_PER_PHASE) {
            full = full.max(f64::from(w[TAPS_PER_PHASE - 1].abs()));
            for taps in &phases {
                full = full.max(taps.iter().zip(w.iter().rev()).map(|(t, x)| t * f64::from(*x)).sum::<f64>().abs());
            }
        }
        assert!((pruned - full).abs() < 1e-6, "pruned {pruned} vs full {full}");
        assert!(full > 0.7, "the alternating burst overshoots between samples");
    }
}
