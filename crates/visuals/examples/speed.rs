//! How long a frame takes to draw, per style, at one size:
//! `cargo run --release -p resonance-visuals --example speed -- ANALYSIS.json WIDTH HEIGHT [FRAMES]`
//! (`STYLE=glitch` for one style only, `START=0` to start at 0 s instead of 10 s,
//! `SEED=bench` for another seed, `THREADS=1` to draw on one thread).

use std::time::Instant;

use resonance_api::model::StylePreference;
use resonance_visuals::{draw_with_threads, plan, Frame, ProjectLook};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [analysis, w, h, rest @ ..] = args.as_slice() else {
        return Err("usage: speed ANALYSIS.json WIDTH HEIGHT [FRAMES]".into());
    };
    let analysis: resonance_audio::Analysis = serde_json::from_str(&std::fs::read_to_string(analysis)?)?;
    let (w, h): (u32, u32) = (w.parse()?, h.parse()?);
    let frames: u32 = rest.first().map(|f| f.parse()).transpose()?.unwrap_or(60);
    let only = std::env::var("STYLE").ok();
    let threads = std::env::var("THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let start: f64 = std::env::var("START").ok().and_then(|s| s.parse().ok()).unwrap_or(10.0);
    for style in StylePreference::ALL.into_iter().filter(|s| only.as_deref().is_none_or(|o| o == s.as_str())) {
        let look = ProjectLook {
            prompt: "neon rain over a night city".into(),
            style,
            effect_intensity: 0.6,
            footage_visibility: 0.6,
        };
        let plan = plan(&analysis, &look, &std::env::var("SEED").unwrap_or_else(|_| "speed".into()));
        let mut frame = Frame::new(w, h);
        // The best of three: this machine's speed drifts.
        let mut best = f64::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            for n in 0..frames {
                draw_with_threads(&plan, start + f64::from(n) / 30.0, &mut frame, threads);
            }
            best = best.min(started.elapsed().as_secs_f64() * 1000.0 / f64::from(frames));
        }
        println!("{:>10} {w}×{h}: {best:.1} ms a frame (best of 3)", style.as_str());
    }
    Ok(())
}
