//! The visual plan: what a render shows when, decided from the audio analysis, the project's
//! parameters and the seed. Invariant: a pure function — the same seed and inputs always give
//! the same plan (no clock, no global randomness).

use serde::{Deserialize, Serialize};
use sha2::Digest;

/// One stretch of the video between section boundaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    pub start: f64,
    pub end: f64,
    /// Base hue, degrees.
    pub hue: f64,
    /// How fast the pattern drifts, cycles per second.
    pub drift: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisualPlan {
    pub seed: String,
    pub style: String,
    pub duration: f64,
    pub scenes: Vec<Scene>,
    /// Beat times: each flashes and pulses the frame.
    pub pulses: Vec<f64>,
    /// Downbeat times: each shifts the hue (a cut).
    pub cuts: Vec<f64>,
    /// The energy envelope (0..1), one value per `energy_hop_seconds`.
    pub energy: Vec<f32>,
    pub energy_hop_seconds: f64,
    /// 0..1: how strongly pulses and energy move the picture.
    pub effect_strength: f64,
    /// 0..1: the opacity of the footage layer (the drifting pattern) over the base colour.
    pub footage_opacity: f64,
    pub saturation: f64,
}

/// splitmix64: a small, well-mixed generator, enough for choosing hues.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn seed_of(text: &str) -> u64 {
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().take(8).fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// The style's base hue and saturation, and how fast it moves.
fn style_look(style: &str) -> (f64, f64, f64) {
    match style {
        "geometric" => (200.0, 0.8, 0.15),
        "cinematic" => (30.0, 0.45, 0.05),
        "abstract" => (280.0, 0.9, 0.25),
        "glitch" => (120.0, 1.0, 0.6),
        "retro" => (320.0, 0.85, 0.2),
        "minimal" => (0.0, 0.05, 0.05),
        _ => (160.0, 0.6, 0.1), // organic
    }
}

fn numbers(v: &serde_json::Value, key: &str) -> Vec<f64> {
    v[key].as_array().map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect()).unwrap_or_default()
}

pub struct Inputs<'a> {
    pub seed: &'a str,
    pub prompt: &'a str,
    pub style: &'a str,
    pub effect_intensity: f64,
    pub footage_visibility: f64,
    pub analysis: &'a serde_json::Value,
}

pub fn make(i: &Inputs<'_>) -> VisualPlan {
    let mut mix = Mix(seed_of(i.seed));
    let (base_hue, saturation, drift) = style_look(i.style);
    // The prompt's words tint the palette: the same words, the same tint.
    let tint = i.prompt.split_whitespace().map(|w| seed_of(&w.to_lowercase()) % 360).sum::<u64>() % 360;
    let duration = i.analysis["duration_seconds"].as_f64().unwrap_or(0.0).max(0.0);
    let mut bounds = vec![0.0];
    bounds.extend(numbers(i.analysis, "sections").into_iter().filter(|t| *t > 0.0 && *t < duration));
    bounds.push(duration);
    let scenes = bounds
        .windows(2)
        .map(|w| Scene {
            start: w[0],
            end: w[1],
            hue: (base_hue + tint as f64 * 0.3 + mix.unit() * 120.0) % 360.0,
            drift: drift * (0.5 + mix.unit()),
        })
        .collect();
    let energy: Vec<f32> = i.analysis["energy"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_f64).map(|v| v as f32).collect())
        .unwrap_or_default();
    let peak = energy.iter().copied().fold(0.0f32, f32::max).max(1e-6);
    VisualPlan {
        seed: i.seed.to_owned(),
        style: i.style.to_owned(),
        duration,
        scenes,
        pulses: numbers(i.analysis, "beats"),
        cuts: numbers(i.analysis, "downbeats"),
        energy: energy.iter().map(|e| e / peak).collect(),
        energy_hop_seconds: i.analysis["energy_hop_seconds"].as_f64().unwrap_or(0.1),
        effect_strength: i.effect_intensity.clamp(0.0, 1.0),
        footage_opacity: i.footage_visibility.clamp(0.0, 1.0),
        saturation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis() -> serde_json::Value {
        serde_json::json!({
            "duration_seconds": 20.0, "beats": [0.5, 1.0, 1.5, 2.0], "downbeats": [0.5, 2.5],
            "sections": [8.0, 14.0], "energy": [0.1, 0.4, 0.2], "energy_hop_seconds": 0.1
        })
    }

    #[test]
    fn the_same_seed_and_inputs_give_the_same_plan_and_another_seed_another() {
        let a = analysis();
        let inputs = |seed| Inputs {
            seed,
            prompt: "neon rain over Tokyo",
            style: "glitch",
            effect_intensity: 0.7,
            footage_visibility: 0.6,
            analysis: &a,
        };
        assert_eq!(make(&inputs("abc")), make(&inputs("abc")));
        assert_ne!(make(&inputs("abc")).scenes, make(&inputs("abd")).scenes);
        let plan = make(&inputs("abc"));
        assert_eq!(plan.scenes.len(), 3, "one scene per section");
        assert_eq!((plan.scenes[0].start, plan.scenes[2].end), (0.0, 20.0));
        assert_eq!(plan.pulses.len(), 4);
        assert!((plan.energy.iter().copied().fold(0.0, f32::max) - 1.0).abs() < 1e-6);
    }
}
