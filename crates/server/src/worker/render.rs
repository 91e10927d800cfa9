//! Rendering a plan: frames drawn here at a small size and piped to ffmpeg (Debian's), which
//! scales them to the project's resolution, encodes H.264 and muxes the original audio; then a
//! JPEG thumbnail from the middle. Invariant: every beat of the plan flashes and pulses the
//! picture, and every downbeat shifts its hue, so the video moves with the music.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::plan::VisualPlan;

/// The size frames are drawn at; ffmpeg scales them up.
const DRAW_W: usize = 256;
const DRAW_H: usize = 144;
pub const FPS: u32 = 30;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("ffmpeg could not be started ({0}); install Debian's ffmpeg")]
    NoFfmpeg(std::io::Error),
    #[error("ffmpeg failed: {0}")]
    Ffmpeg(String),
    #[error("rendering failed: {0}")]
    Io(#[from] std::io::Error),
}

fn hsv(h: f64, s: f64, v: f64) -> [u8; 3] {
    let h = h.rem_euclid(360.0) / 60.0;
    let c = v * s;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [((r + m) * 255.0) as u8, ((g + m) * 255.0) as u8, ((b + m) * 255.0) as u8]
}

/// How strongly the last beat at or before `t` still shows (1 on the beat, fading in ~0.15 s).
fn pulse(beats: &[f64], t: f64) -> f64 {
    let i = beats.partition_point(|b| *b <= t);
    match i.checked_sub(1).and_then(|j| beats.get(j)) {
        Some(b) => (-(t - b) / 0.15).exp(),
        None => 0.0,
    }
}

/// Draws frame `n` of the plan into `frame` (RGB, DRAW_W × DRAW_H).
pub fn draw(plan: &VisualPlan, n: u64, frame: &mut [u8]) {
    let t = n as f64 / f64::from(FPS);
    let scene = plan.scenes.iter().find(|s| t >= s.start && t < s.end).or(plan.scenes.last());
    let (hue, drift) = scene.map_or((0.0, 0.1), |s| (s.hue, s.drift));
    let cuts = plan.cuts.partition_point(|c| *c <= t) as f64;
    let hue = hue + cuts * 47.0;
    let beat = pulse(&plan.pulses, t) * plan.effect_strength;
    let energy = plan.energy.get((t / plan.energy_hop_seconds.max(1e-3)) as usize).copied().map_or(0.3, f64::from);
    let base_v = 0.18 + 0.35 * energy * (0.5 + plan.effect_strength / 2.0);
    let radius = 0.15 + 0.35 * beat + 0.1 * energy;
    for (y, row) in frame.chunks_exact_mut(DRAW_W * 3).enumerate() {
        let fy = y as f64 / DRAW_H as f64 - 0.5;
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            let fx = (x as f64 / DRAW_W as f64 - 0.5) * (DRAW_W as f64 / DRAW_H as f64);
            // The footage layer: bands drifting with time.
            let wave = ((fx * 6.0 + fy * 3.0 + t * drift * std::f64::consts::TAU).sin() + 1.0) / 2.0;
            let layer = plan.footage_opacity * wave;
            let inside = (fx * fx + fy * fy).sqrt() < radius;
            let v = (base_v + 0.25 * layer + if inside { 0.45 * beat + 0.1 } else { 0.0 } + 0.3 * beat).min(1.0);
            let h = hue + 40.0 * layer + if inside { 180.0 } else { 0.0 };
            px.copy_from_slice(&hsv(h, plan.saturation, v));
        }
    }
}

/// Renders `plan` with `audio` into `video` (H.264 + AAC, `width`×`height`), calling `progress`
/// with the fraction done now and then; then the thumbnail.
pub fn render(
    plan: &VisualPlan,
    audio: &Path,
    video: &Path,
    thumbnail: &Path,
    (width, height): (u32, u32),
    mut progress: impl FnMut(f64),
) -> Result<(), RenderError> {
    let frames = (plan.duration * f64::from(FPS)).ceil().max(1.0) as u64;
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"])
        .args(["-s", &format!("{DRAW_W}x{DRAW_H}"), "-r", &FPS.to_string(), "-i", "pipe:0", "-i"])
        .arg(audio)
        .args(["-map", "0:v:0", "-map", "1:a:0"])
        .args(["-vf", &format!("scale={width}:{height}:flags=bilinear,format=yuv420p")])
        .args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-c:a", "aac", "-b:a", "192k"])
        .args(["-shortest", "-movflags", "+faststart"])
        .arg(video)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(RenderError::NoFfmpeg)?;
    let mut frame = vec![0u8; DRAW_W * DRAW_H * 3];
    if let Some(mut stdin) = child.stdin.take() {
        for n in 0..frames {
            draw(plan, n, &mut frame);
            if stdin.write_all(&frame).is_err() {
                break; // ffmpeg stopped; its message says why
            }
            if n % u64::from(FPS * 2) == 0 {
                progress(n as f64 / frames as f64);
            }
        }
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(RenderError::Ffmpeg(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    progress(1.0);
    let middle = format!("{:.3}", plan.duration / 2.0);
    let thumb = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-ss", &middle, "-i"])
        .arg(video)
        .args(["-frames:v", "1", "-q:v", "3"])
        .arg(thumbnail)
        .output()
        .map_err(RenderError::NoFfmpeg)?;
    if !thumb.status.success() {
        return Err(RenderError::Ffmpeg(String::from_utf8_lossy(&thumb.stderr).trim().to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::plan::Scene;

    #[test]
    fn a_beat_changes_the_frame_more_than_the_time_between_beats() {
        let plan = VisualPlan {
            seed: "s".into(),
            style: "organic".into(),
            duration: 4.0,
            scenes: vec![Scene { start: 0.0, end: 4.0, hue: 200.0, drift: 0.1 }],
            pulses: vec![1.0, 2.0, 3.0],
            cuts: vec![],
            energy: vec![0.5; 40],
            energy_hop_seconds: 0.1,
            effect_strength: 0.8,
            footage_opacity: 0.6,
            saturation: 0.7,
        };
        let frame_at = |n: u64| {
            let mut f = vec![0u8; DRAW_W * DRAW_H * 3];
            draw(&plan, n, &mut f);
            f
        };
        let change =
            |n: u64| frame_at(n).iter().zip(frame_at(n - 1)).map(|(a, b)| f64::from(a.abs_diff(b))).sum::<f64>();
        // Frame 60 is the beat at 2.0 s; frame 75 is half-way to the next.
        assert!(change(60) > 5.0 * change(75), "on the beat {} vs between {}", change(60), change(75));
    }
}
