//! A curve of the music sampled at a fixed hop (energy, a band), read at any time.

use serde::{Deserialize, Serialize};

/// A curve sampled every `hop_seconds`, 0..1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Envelope {
    pub hop_seconds: f64,
    pub values: Vec<f32>,
}

impl Envelope {
    /// Linearly interpolated at `t`; 0 outside.
    pub fn at(&self, t: f64) -> f32 {
        if self.values.is_empty() || self.hop_seconds <= 0.0 || t < 0.0 {
            return 0.0;
        }
        let x = t / self.hop_seconds;
        let i = x.floor() as usize;
        let f = (x - i as f64) as f32;
        match (self.values.get(i), self.values.get(i + 1)) {
            (Some(a), Some(b)) => a + (b - a) * f,
            (Some(a), None) => *a,
            _ => 0.0,
        }
    }

    /// ∫₀ᵗ (base + gain · value) dt, exactly for the curve [`Envelope::at`] reads: linear between
    /// values, the last value for one hop after it, 0 from there on.
    pub fn integral(&self, t: f64, base: f64, gain: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        if self.values.is_empty() || self.hop_seconds <= 0.0 {
            return base * t;
        }
        let h = self.hop_seconds;
        let whole = ((t / h).floor() as usize).min(self.values.len().saturating_sub(1));
        let mut sum = 0.0;
        for w in self.values.windows(2).take(whole) {
            sum += f64::from(w[0] + w[1]) * 0.5 * h;
        }
        let rest = t - whole as f64 * h;
        let a = f64::from(self.values[whole]);
        if whole + 1 == self.values.len() {
            // The last value holds for one hop, then the curve is 0.
            sum += a * rest.min(h);
        } else {
            sum += (a + f64::from(self.at(t))) * 0.5 * rest;
        }
        base * t + gain * sum
    }

    /// The curve's mean over `from..to`, the span clamped to start at 0 (past its end the curve
    /// is 0, as [`Envelope::at`] reads it); an empty span is the value at `to`.
    pub fn mean(&self, from: f64, to: f64) -> f32 {
        let from = from.max(0.0);
        if to - from <= 1e-9 {
            return self.at(to);
        }
        ((self.integral(to, 0.0, 1.0) - self.integral(from, 0.0, 1.0)) / (to - from)) as f32
    }

    /// The curve as a follower with these time constants sees it: rising towards each value
    /// with `attack_seconds`, falling with `release_seconds` (one pole each way). A hat's
    /// instant jump becomes a rise over a few frames, so the picture's sharpest changes stay
    /// the beats' own.
    /// A value that is not a number leaves the level where it was; a curve without a hop is
    /// returned as it is.
    pub(crate) fn followed(&self, attack_seconds: f64, release_seconds: f64) -> Self {
        if self.hop_seconds.is_nan() || self.hop_seconds <= 0.0 {
            return self.clone();
        }
        let gain = |tau: f64| if tau > 0.0 { (1.0 - (-self.hop_seconds / tau).exp()) as f32 } else { 1.0 };
        let (up, down) = (gain(attack_seconds), gain(release_seconds));
        let mut level = self.values.iter().copied().find(|v| v.is_finite()).unwrap_or(0.0);
        let values = self
            .values
            .iter()
            .map(|v| {
                if v.is_finite() {
                    level += (v - level) * if *v > level { up } else { down };
                }
                (level * 1000.0).round() / 1000.0
            })
            .collect();
        Self { hop_seconds: self.hop_seconds, values }
    }

    pub(crate) fn normalised(values: &[f32], hop_seconds: f64) -> Self {
        let mut sorted: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f32::total_cmp);
        let top = sorted.get((sorted.len().saturating_sub(1)) * 95 / 100).copied().unwrap_or(1.0).max(1e-6);
        let values = values.iter().map(|v| (((v / top).clamp(0.0, 1.0)) * 1000.0).round() / 1000.0).collect();
        Self { hop_seconds, values }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps() -> Envelope {
        // 0 for a second, 1 for a second, 0 again: hop 0.02 s, as the analysis' bands.
        let values = (0..150).map(|i| if (50..100).contains(&i) { 1.0 } else { 0.0 }).collect();
        Envelope { hop_seconds: 0.02, values }
    }

    #[test]
    fn a_follower_rises_and_falls_with_its_own_time_constants() {
        let f = steps().followed(0.1, 0.25);
        // One time constant after the step (whose first value, at 1.0 s, is the first step up):
        // 1 − 1/e of the way up, to the rounding of the values.
        assert!((f.at(1.08) - (1.0 - (-1.0f32).exp())).abs() < 0.01, "{}", f.at(1.08));
        // It never overshoots, and falls more slowly than it rose.
        assert!(f.values.iter().all(|v| (0.0..=1.0).contains(v)));
        let up = f.at(1.08);
        let down = 1.0 - f.at(2.08) / f.at(1.98);
        assert!(down < up, "after 0.1 s: rose {up}, fell {down}");
        // No time constant is the curve itself.
        assert_eq!(steps().followed(0.0, 0.0), steps());
        // A value that is not a number holds the level; no hop, no following.
        let mut holed = steps();
        holed.values[60] = f32::NAN;
        let h = holed.followed(0.1, 0.25);
        assert!(h.values.iter().all(|v| v.is_finite()));
        assert_eq!(h.values[60], h.values[59]);
        let flat = Envelope { hop_seconds: 0.0, values: vec![0.0, 1.0] };
        assert_eq!(flat.followed(0.1, 0.25), flat);
    }

    #[test]
    fn a_mean_is_the_area_over_the_span() {
        let e = steps();
        assert!((e.mean(0.5, 1.5) - 0.5).abs() < 0.03, "{}", e.mean(0.5, 1.5));
        assert!((e.mean(1.2, 1.8) - 1.0).abs() < 1e-6);
        assert!(e.mean(0.0, 0.9).abs() < 1e-6);
        // Before the start, the span is what there is of it; an empty span is the value there.
        assert!((e.mean(-1.0, 1.5) - e.mean(0.0, 1.5)).abs() < 1e-6);
        assert_eq!(e.mean(1.5, 1.5), e.at(1.5));
        // The first frame's window lies wholly before 0: the value at 0, not nothing.
        let loud = Envelope { hop_seconds: 0.1, values: vec![0.8; 20] };
        assert_eq!(loud.mean(-0.4, 0.0), 0.8);
        // The last value (at 1.9 s) holds for one hop, then the curve is 0.
        assert!((loud.mean(1.85, 1.95) - 0.8).abs() < 1e-6, "{}", loud.mean(1.85, 1.95));
        assert!((loud.mean(1.9, 2.1) - 0.4).abs() < 1e-6, "{}", loud.mean(1.9, 2.1));
        assert!(loud.mean(2.0, 3.0).abs() < 1e-6, "{}", loud.mean(2.0, 3.0));
        assert!((loud.integral(10.0, 0.0, 1.0) - 1.6).abs() < 1e-6, "{}", loud.integral(10.0, 0.0, 1.0));
    }
}
