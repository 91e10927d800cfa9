//! Draws stills of a plan as PPM images, to look at while working on the engine:
//! `cargo run -p resonance-visuals --example stills -- ANALYSIS.json STYLE "PROMPT" OUT_DIR [WIDTH HEIGHT] [TIMES…]`
//! (`resonance-audio analyze song.ogg > ANALYSIS.json` makes the analysis).

use std::io::Write;

use resonance_api::model::StylePreference;
use resonance_visuals::{draw, plan, Frame, ProjectLook};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [analysis, style, prompt, out, rest @ ..] = args.as_slice() else {
        return Err("usage: stills ANALYSIS.json STYLE PROMPT OUT_DIR [WIDTH HEIGHT] [TIMES…]".into());
    };
    let analysis: resonance_audio::Analysis = serde_json::from_str(&std::fs::read_to_string(analysis)?)?;
    let style: StylePreference = serde_json::from_value(serde_json::Value::String(style.clone()))?;
    let look = ProjectLook { prompt: prompt.clone(), style, effect_intensity: 0.6, footage_visibility: 0.6 };
    let plan = plan(&analysis, &look, "stills");
    let (w, h) = match rest {
        [w, h, ..] => (w.parse()?, h.parse()?),
        _ => (1280, 720),
    };
    let times: Vec<f64> = rest.iter().skip(2).map(|t| t.parse()).collect::<Result<_, _>>()?;
    let times = if times.is_empty() { vec![plan.thumbnail_time] } else { times };
    for line in plan.reading.explain() {
        println!("{line}");
    }
    let flashes: Vec<String> = plan.flashes.iter().map(|t| format!("{t:.2}")).collect();
    println!("flashes at: {}", flashes.join(" "));
    for scene in &plan.scenes {
        println!("scene at {:.1} s: {}", scene.start, serde_json::to_string(&scene.palette)?);
    }
    std::fs::create_dir_all(out)?;
    for t in times {
        let mut frame = Frame::new(w, h);
        draw(&plan, t, &mut frame);
        let path = format!("{out}/{}-{t:07.2}.ppm", style.as_str());
        let mut file = std::fs::File::create(&path)?;
        write!(file, "P6\n{w} {h}\n255\n")?;
        file.write_all(&frame.rgb)?;
        println!("{path}");
    }
    Ok(())
}
