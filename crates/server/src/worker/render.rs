//! Rendering a plan: every frame drawn at the output size by `resonance-visuals`, whole frames on
//! every core (`draw_frames`), piped to ffmpeg (Debian's), which encodes H.264 and muxes the
//! original audio; beside it the thumbnail, a frame the plan chose (just after the loudest
//! downbeat), drawn and encoded as JPEG by a second ffmpeg.
//! Invariant: drawing and encoding overlap (frames are drawn while the last is written), and at
//! most `MAX_WORKERS + 1` frames are in memory at once, whatever the song's length.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use resonance_visuals::{draw_frames_with, draw_with_footage, Frame, VisualPlan};

use super::footage::{Closing, Feed, Pictures};

pub const FPS: u32 = 30;

/// Threads drawing frames at most, whatever the machine (a render holds one frame more than
/// this: 25 MB each at 2160p).
const MAX_WORKERS: usize = 8;

/// The thumbnail's short edge at most (its height in 16:9, its width in 9:16).
const THUMBNAIL_HEIGHT: u32 = 720;

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("ffmpeg could not be started ({0}); install Debian's ffmpeg")]
    NoFfmpeg(std::io::Error),
    #[error("ffmpeg failed: {0}")]
    Ffmpeg(String),
    #[error("writing the video failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Footage(String),
}

/// The x264 preset and quality for a frame of `width`×`height`, by its short edge (what the
/// resolution names, whatever the shape): chosen with `cargo xtask bench`'s figures so that
/// drawing and encoding together stay close to what encoding alone needs.
pub fn x264_settings((width, height): (u32, u32)) -> (&'static str, u8) {
    match width.min(height) {
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

/// Bytes the pipe to ffmpeg holds: a megabyte (Linux's default limit for an unprivileged
/// process) instead of 64 kB, so a 1080p frame (6 MB) crosses in 6 wake-ups of ffmpeg's reading
/// thread, not 95; that thread also converts every frame, and fewer switches leave it more time.
const PIPE_BYTES: usize = 1 << 20;

/// The pipe to `child`'s standard input enlarged to `PIPE_BYTES` where the system allows it
/// (elsewhere it keeps its size: only speed depends on it).
pub fn enlarge_pipe(stdin: &std::process::ChildStdin) {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::pipe::fcntl_setpipe_size(stdin, PIPE_BYTES) {
        tracing::debug!(error = %e, "the pipe to ffmpeg keeps its size");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = stdin;
}

/// The nice value of the drawing threads: 19, the lowest priority there is. x264 alone keeps
/// about 1.9 of two cores busy at 1080p and ffmpeg's one reading thread (read, convert, hand on)
/// is on its critical path, so drawing at an equal priority took time slices that the encoder needed and
/// the whole render waited for it. Below it, drawing runs in the time the encoder leaves, and at
/// full speed whenever the encoder waits for frames, which bounds how far it can fall behind. On
/// a host shared with the API, the API keeps its share too.
const DRAWING_NICENESS: i32 = 19;

/// Gives the calling thread the drawing's priority; the threads it starts inherit it. On Linux a
/// nice value is a thread's own (`setpriority` with `who` = 0 is the calling thread), so the rest
/// of the worker keeps its priority. Elsewhere, or if refused, nothing changes but speed.
fn yield_to_encoder() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(None, DRAWING_NICENESS) {
        tracing::debug!(error = %e, "drawing keeps the worker's priority");
    }
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
/// with the fraction done now and then, and the thumbnail (`THUMBNAIL_HEIGHT` on its short edge
/// at most). A trimmed plan renders its part of the song: those frames of the whole song's video,
/// and that part of the audio. `footage[i]` is the file of `plan.footage[i]`.
pub fn render(
    plan: &VisualPlan,
    audio: &Path,
    video: &Path,
    thumbnail: &Path,
    (width, height): (u32, u32),
    footage: &[std::path::PathBuf],
    mut progress: impl FnMut(f64) + Send,
) -> Result<(), EncodeError> {
    let (first, frames) = plan.frames(FPS);
    let workers = std::thread::available_parallelism().map_or(1, usize::from).min(MAX_WORKERS);
    // The thumbnail first, encoded by its own ffmpeg while the video is drawn and encoded.
    let (thumb_w, thumb_h) = thumbnail_size(width, height);
    let mut frame = Frame::new(thumb_w, thumb_h);
    let pictures = Closing(Feed::new(plan, footage.to_vec(), (thumb_w, thumb_h), 1, FPS));
    draw_with_footage(plan, plan.thumbnail_time, &mut frame, workers, &Pictures(pictures.0.clone()));
    if let Some(e) = pictures.0.error() {
        return Err(EncodeError::Footage(e));
    }
    drop(pictures);
    let mut thumb = ffmpeg_for_frames(thumb_w, thumb_h)
        .args(["-frames:v", "1", "-q:v", "3"])
        .arg(thumbnail)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(EncodeError::NoFfmpeg)?;
    if let Some(mut stdin) = thumb.stdin.take() {
        // A refusal shows in ffmpeg's own message.
        let _ = stdin.write_all(&frame.rgb);
    }
    drop(frame);
    let (preset, crf) = x264_settings((width, height));
    let mut encoder = ffmpeg_for_frames(width, height);
    if plan.trim.is_some() {
        // The audio of the part: ffmpeg decodes from the start and drops what comes before
        // (exact to the sample for audio), and stops at the part's end.
        let (fps, first) = (f64::from(FPS), first as f64);
        encoder.args(["-ss", &format!("{:.6}", first / fps), "-t", &format!("{:.6}", frames as f64 / fps)]);
    }
    let spawned = encoder
        .arg("-i")
        .arg(audio)
        .args(["-map", "0:v:0", "-map", "1:a:0", "-pix_fmt", "yuv420p"])
        .args(["-c:v", "libx264", "-preset", preset, "-crf", &crf.to_string()])
        // ffmpeg's AAC encoder with its fast coder, which needs half the time of the default
        // (0.2 s instead of 0.4 s per 12 s of song here) and which ffmpeg's own maintainers
        // judged as good at high bitrates such as this one.
        .args(["-c:a", "aac", "-aac_coder", "fast", "-b:a", "192k"])
        .args(["-shortest", "-movflags", "+faststart"])
        .arg(video)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let _ = thumb.kill();
            let _ = thumb.wait();
            return Err(EncodeError::NoFfmpeg(e));
        }
    };
    let pictures = Closing(Feed::new(plan, footage.to_vec(), (width, height), workers, FPS));
    if let Some(stdin) = child.stdin.take() {
        enlarge_pipe(&stdin);
        // Drawn on threads of their own whose priority is below ffmpeg's (see `yield_to_encoder`).
        std::thread::scope(|s| {
            s.spawn(|| {
                yield_to_encoder();
                let footage = Pictures(pictures.0.clone());
                stream_frames(plan, (first, frames), (width, height), &footage, stdin, &mut progress);
            });
        });
    }
    let failed = pictures.0.error();
    drop(pictures);
    let encoded = finished(child);
    let thumbnailed = finished(thumb);
    if let Some(e) = failed {
        return Err(EncodeError::Footage(e));
    }
    encoded?;
    progress(1.0);
    thumbnailed
}

/// The thumbnail's size for a video of `width`×`height`: the same shape, its short edge at most
/// `THUMBNAIL_HEIGHT`, both edges even.
pub fn thumbnail_size(width: u32, height: u32) -> (u32, u32) {
    let (w, h) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let short = w.min(h).min(u64::from(THUMBNAIL_HEIGHT));
    let scale = |edge: u64| ((edge * short / w.min(h)) as u32 & !1).max(2);
    (scale(w), scale(h))
}

/// Draws `frames` frames from frame `first` of the song on every core (at most `MAX_WORKERS`)
/// and writes them in order to `out` while the next ones are drawn. Stops early if the reader goes
/// away (its message says why).
pub fn stream_frames(
    plan: &VisualPlan,
    (first, frames): (u64, u64),
    size: (u32, u32),
    footage: &dyn resonance_visuals::Footage,
    mut out: impl Write,
    progress: &mut impl FnMut(f64),
) {
    let workers = std::thread::available_parallelism().map_or(1, usize::from).min(MAX_WORKERS);
    draw_frames_with(plan, size, first, frames, FPS, workers, footage, |n, frame| {
        if out.write_all(&frame.rgb).is_err() {
            return false;
        }
        if n % u64::from(FPS * 2) == 0 {
            progress(n as f64 / frames as f64);
        }
        true
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// A shape keeps its resolution's encoder settings: a 1080p vertical is encoded as a 1080p
    /// landscape is, not as 1440p; and the thumbnail keeps the video's shape.
    #[test]
    fn every_shape_is_encoded_and_thumbnailed_by_its_short_edge() {
        use resonance_api::model::{AspectRatio, Resolution};
        for r in Resolution::ALL {
            let landscape = x264_settings(r.dimensions());
            for a in AspectRatio::ALL {
                let (w, h) = r.dimensions_for(a);
                assert_eq!(x264_settings((w, h)), landscape, "{r:?} {a}");
                let (tw, th) = thumbnail_size(w, h);
                assert_eq!(tw.min(th), THUMBNAIL_HEIGHT.min(r.short_edge()), "{r:?} {a}");
                assert!((f64::from(tw) / f64::from(th) - a.ratio()).abs() < 0.01, "{r:?} {a}: {tw}×{th}");
            }
        }
        assert_eq!(x264_settings((720, 1280)), ("veryfast", 20));
    }

    /// The drawing runs at the lowest priority (progress is reported from the thread that hands
    /// frames to ffmpeg, whose drawing threads it started), and the caller, a thread of the
    /// worker's blocking pool that goes on to other jobs, keeps the priority it had.
    #[cfg(target_os = "linux")]
    #[test]
    fn drawing_yields_to_the_encoder_and_the_caller_keeps_its_priority() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("tone.wav");
        let made = Command::new("ffmpeg")
            .args(["-v", "error", "-f", "lavfi", "-i", "sine=frequency=220:duration=2"])
            .arg(&audio)
            .status()
            .unwrap();
        assert!(made.success());
        let analysis = resonance_audio::analyze(&audio).unwrap();
        let look = resonance_visuals::ProjectLook {
            prompt: "rain".into(),
            style: resonance_api::model::StylePreference::Minimal,
            effect_intensity: 0.5,
            footage_visibility: 0.6,
        };
        let plan = resonance_visuals::plan(&analysis, &look, "nice");
        let before = rustix::process::getpriority_process(None).unwrap();
        assert!(before < DRAWING_NICENESS, "the test runs at nice {before}: nothing to tell apart");
        let seen = std::sync::Mutex::new(Vec::new());
        render(&plan, &audio, &dir.path().join("v.mp4"), &dir.path().join("t.jpg"), (64, 36), &[], |_| {
            seen.lock().unwrap().push(rustix::process::getpriority_process(None).unwrap());
        })
        .unwrap();
        let seen = seen.into_inner().unwrap();
        // The last report (1.0) comes from the caller once the video is done.
        let (last, drawing) = seen.split_last().unwrap();
        assert!(!drawing.is_empty());
        assert!(drawing.iter().all(|n| *n == DRAWING_NICENESS), "{seen:?}");
        assert_eq!(*last, before);
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), before);
    }
}
