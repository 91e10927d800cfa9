//! How the picture's changes fall on the beats, per style and effect intensity, as the render
//! bench and the engine's tests judge it (`resonance_visuals::measure`):
//! `cargo run --release -p resonance-visuals --example beats -- ANALYSIS.json [PROMPT]`
//! (`STYLE=geometric` for one style only, `SEED=bench` for another seed).
//! Prints the F-measure with its precision (peaks that fall on a beat) and recall (beats that
//! got a peak), so a low F says which of the two to work on.

use resonance_api::model::StylePreference;
use resonance_visuals::measure::{beat_match, frame_changes};
use resonance_visuals::{plan, ProjectLook};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [analysis, rest @ ..] = args.as_slice() else {
        return Err("usage: beats ANALYSIS.json [PROMPT]".into());
    };
    let analysis: resonance_audio::Analysis = serde_json::from_str(&std::fs::read_to_string(analysis)?)?;
    let prompt = rest.first().cloned().unwrap_or_else(|| "neon rain over a night city".into());
    let only = std::env::var("STYLE").ok();
    let seed = std::env::var("SEED").unwrap_or_else(|_| "bench".into());
    println!(
        "{:>10} {:>9} {:>5} {:>9} {:>6} {:>5} {:>5}",
        "style", "intensity", "F", "precision", "recall", "peaks", "beats"
    );
    for style in StylePreference::ALL.into_iter().filter(|s| only.as_deref().is_none_or(|o| o == s.as_str())) {
        for intensity in [0.25, 0.5, 0.75, 1.0] {
            let look =
                ProjectLook { prompt: prompt.clone(), style, effect_intensity: intensity, footage_visibility: 0.6 };
            let p = plan(&analysis, &look, &seed);
            let changes = frame_changes(&p, p.duration);
            let m = beat_match(&changes, &p.beats);
            if std::env::var_os("CHANGES").is_some() {
                // The series itself, one frame a line: time, change, and a mark on the beats.
                for (i, c) in changes.iter().enumerate() {
                    let t = (i + 1) as f64 / resonance_visuals::measure::FPS;
                    let on = p.beats.iter().any(|b| (b - t).abs() < 0.5 / resonance_visuals::measure::FPS);
                    println!("  {t:6.3} {c:.4} {}", if on { "beat" } else { "" });
                }
            }
            println!(
                "{:>10} {intensity:>9.2} {:>5.2} {:>9.2} {:>6.2} {:>5} {:>5}",
                style.as_str(),
                m.f,
                m.precision,
                m.recall,
                m.peaks,
                m.beats
            );
        }
    }
    Ok(())
}
