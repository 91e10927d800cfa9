//! How long a frame takes to draw, per style, at one size:
//! `cargo run --release -p resonance-visuals --example speed -- ANALYSIS.json WIDTH HEIGHT [FRAMES]`.

use std::time::Instant;

use resonance_api::model::StylePreference;
use resonance_visuals::{draw, plan, Frame, ProjectLook};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [analysis, w, h, rest @ ..] = args.as_slice() else {
        return Err("usage: speed ANALYSIS.json WIDTH HEIGHT [FRAMES]".into());
    };
    let analysis: resonance_audio::Analysis = serde_json::from_str(&std::fs::read_to_string(analysis)?)?;
    let (w, h): (u32, u32) = (w.parse()?, h.parse()?);
    let frames: u32 = rest.first().map(|f| f.parse()).transpose()?.unwrap_or(60);
    for style in StylePreference::ALL {
        let look = ProjectLook {
            prompt: "neon rain over a night city".into(),
            style,
            effect_intensity: 0.6,
            footage_visibility: 0.6,
        };
        let plan = plan(&analysis, &look, "speed");
        let mut frame = Frame::new(w, h);
        let started = Instant::now();
        for n in 0..frames {
            draw(&plan, 10.0 + f64::from(n) / 30.0, &mut frame);
        }
        let ms = started.elapsed().as_secs_f64() * 1000.0 / f64::from(frames);
        println!("{:>10} {w}×{h}: {ms:.1} ms a frame", style.as_str());
    }
    Ok(())
}
