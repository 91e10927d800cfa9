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

    /// ∫₀ᵗ (base + gain · value) dt, exactly for the piecewise-linear curve.
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
        let b = f64::from(self.at(t));
        sum += (a + b) * 0.5 * rest;
        base * t + gain * sum
    }

    pub(crate) fn normalised(values: &[f32], hop_seconds: f64) -> Self {
        let mut sorted: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f32::total_cmp);
        let top = sorted.get((sorted.len().saturating_sub(1)) * 95 / 100).copied().unwrap_or(1.0).max(1e-6);
        let values = values.iter().map(|v| (((v / top).clamp(0.0, 1.0)) * 1000.0).round() / 1000.0).collect();
        Self { hop_seconds, values }
    }
}
