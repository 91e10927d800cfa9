//! Rendering a plan: every frame drawn at the output size by `resonance-visuals` on every core,
//! piped to ffmpeg (Debian's), which encodes H.264 and muxes the original audio; then the
//! thumbnail, a frame the plan chose (just after the loudest downbeat), drawn and encoded as JPEG.
//! Invariant: drawing and encoding overlap (one frame is drawn while the last is written), and at
//! most three frames are in memory at once, whatever the song's length.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use resonance_visuals::{draw, Frame, VisualPlan};

pub const FPS: u32 = 30;

/// The longest edge of the thumbnail.
const THUMBNAIL_HEIGHT: u32 = 720;

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("ffmpeg could not be started ({0}); install Debian's ffmpeg")]
    NoFfmpeg(std::io::Error),
    #[error("ffmpeg failed: {0}")]
    Ffmpeg(String),
    #[error("writing the video failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The x264 preset and quality for an output height: chosen with `cargo xtask bench`'s figures
/// so that drawing and encoding together stay close to what encoding alone needs.
pub fn x264_settings(height: u32) -> (&'static str, u8) {
    match height {
        0..=720 => ("veryfast", 20),
        721..=1080 => ("veryfast", 21),
        _ => ("superfast", 22),
    }
}

/// ffmpeg reading raw RGB frames of `width`×`height` from its standard input.
pub fn ffmpeg_for_frames(width: u32, height: u32) -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]).args([
        "-s",
        &format!("{width}x{height}"),
        "-r",
        &FPS.to_string(),
        "-i",
        "pipe:0",
    ]);
    c
}

fn finished(child: std::process::Child) -> Result<(), EncodeError> {
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(EncodeError::Ffmpeg(String::from_utf8_lossy(&out.stderr).trim().to_owned()))
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
) -> Result<(), EncodeError> {
    let frames = (plan.duration * f64::from(FPS)).ceil().max(1.0) as u64;
    let (preset, crf) = x264_settings(height);
    let mut child = ffmpeg_for_frames(width, height)
        .arg("-i")
        .arg(audio)
        .args(["-map", "0:v:0", "-map", "1:a:0", "-pix_fmt", "yuv420p"])
        .args(["-c:v", "libx264", "-preset", preset, "-crf", &crf.to_string(), "-c:a", "aac", "-b:a", "192k"])
        .args(["-shortest", "-movflags", "+faststart"])
        .arg(video)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(EncodeError::NoFfmpeg)?;
    if let Some(stdin) = child.stdin.take() {
        stream_frames(plan, frames, (width, height), stdin, &mut progress);
    }
    finished(child)?;
    progress(1.0);
    let thumb_h = height.min(THUMBNAIL_HEIGHT);
    let thumb_w = ((u64::from(width) * u64::from(thumb_h) / u64::from(height.max(1))) as u32) & !1;
    let mut frame = Frame::new(thumb_w, thumb_h);
    draw(plan, plan.thumbnail_time, &mut frame);
    let mut child = ffmpeg_for_frames(thumb_w, thumb_h)
        .args(["-frames:v", "1", "-q:v", "3"])
        .arg(thumbnail)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(EncodeError::NoFfmpeg)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A refusal shows in ffmpeg's own message.
        let _ = stdin.write_all(&frame.rgb);
    }
    finished(child)
}

/// Draws frames 0..`frames` and writes them to `out` from a second thread, so drawing frame n+1
/// overlaps writing frame n. Stops early if the reader goes away (its message says why).
pub fn stream_frames(
    plan: &VisualPlan,
    frames: u64,
    (width, height): (u32, u32),
    mut out: impl Write + Send + 'static,
    progress: &mut impl FnMut(f64),
) {
    let (full_tx, full_rx) = mpsc::sync_channel::<Frame>(1);
    let (empty_tx, empty_rx) = mpsc::channel::<Frame>();
    let writer = std::thread::spawn(move || {
        for frame in full_rx {
            if out.write_all(&frame.rgb).is_err() {
                return;
            }
            let _ = empty_tx.send(frame);
        }
    });
    for n in 0..frames {
        let mut frame = empty_rx.try_recv().unwrap_or_else(|_| Frame::new(width, height));
        draw(plan, n as f64 / f64::from(FPS), &mut frame);
        if full_tx.send(frame).is_err() {
            break;
        }
        if n % u64::from(FPS * 2) == 0 {
            progress(n as f64 / frames as f64);
        }
    }
    drop(full_tx);
    let _ = writer.join();
}
