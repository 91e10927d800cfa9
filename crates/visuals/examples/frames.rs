//! Writes a plan's frames as raw RGB to standard output, to pipe into ffmpeg while working on
//! the engine: `cargo run --release -p resonance-visuals --example frames -- ANALYSIS.json STYLE
//! "PROMPT" WIDTH HEIGHT FROM SECONDS | ffmpeg -f rawvideo -pix_fmt rgb24 -s WxH -r 30 -i - out.mp4`.

use std::io::Write;

use resonance_api::model::StylePreference;
use resonance_visuals::{draw_frames, plan, ProjectLook};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [analysis, style, prompt, w, h, from, seconds] = args.as_slice() else {
        return Err("usage: frames ANALYSIS.json STYLE PROMPT WIDTH HEIGHT FROM SECONDS".into());
    };
    let analysis: resonance_audio::Analysis = serde_json::from_str(&std::fs::read_to_string(analysis)?)?;
    let style: StylePreference = serde_json::from_value(serde_json::Value::String(style.clone()))?;
    let look = ProjectLook { prompt: prompt.clone(), style, effect_intensity: 0.6, footage_visibility: 0.6 };
    let plan = plan(&analysis, &look, "frames");
    let (from, seconds): (f64, f64) = (from.parse()?, seconds.parse()?);
    let (w, h) = (w.parse()?, h.parse()?);
    let threads = std::env::var("THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    // As the worker does: whole frames drawn on `threads` workers while the last is written.
    let mut out = std::io::stdout().lock();
    let mut failed = None;
    draw_frames(
        &plan,
        (w, h),
        (from * 30.0).round() as u64,
        (seconds * 30.0).round() as u64,
        30,
        threads,
        |_, frame| match out.write_all(&frame.rgb) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        },
    );
    if let Some(e) = failed {
        return Err(e.into());
    }
    Ok(())
}
