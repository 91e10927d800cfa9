//! Writes a plan's frames as raw RGB to standard output, to pipe into ffmpeg while working on
//! the engine: `cargo run --release -p resonance-visuals --example frames -- ANALYSIS.json STYLE
//! "PROMPT" WIDTH HEIGHT FROM SECONDS | ffmpeg -f rawvideo -pix_fmt rgb24 -s WxH -r 30 -i - out.mp4`.

use std::io::Write;

use resonance_api::model::StylePreference;
use resonance_visuals::{draw, plan, Frame, ProjectLook};

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
    // As the worker does: the next frame is drawn while the last one is written.
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Frame>(1);
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        for frame in full_rx {
            out.write_all(&frame.rgb)?;
        }
        Ok(())
    });
    for n in 0..(seconds * 30.0).round() as u32 {
        let mut frame = Frame::new(w, h);
        draw(&plan, from + f64::from(n) / 30.0, &mut frame);
        if full_tx.send(frame).is_err() {
            break;
        }
    }
    drop(full_tx);
    writer.join().map_err(|_| "the writer panicked")??;
    Ok(())
}
