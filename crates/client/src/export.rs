//! Exports: a finished generation's video, re-encoded on this machine by ffmpeg for where it is
//! published. They run from the media cache (offline too, once the video is cached) and never
//! cost quota. Invariants: the file appears at its destination only complete (written beside it,
//! then renamed), so a failed or cancelled export leaves nothing; the master is never changed.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::error::{ClientError, Result};

/// Where a video is going, and so how it is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// The render itself, copied as it is.
    AsRendered,
    /// YouTube's recommended upload: H.264 High, AAC at 320 kb/s, fast start.
    Youtube,
    /// Shorts, Reels and TikTok: 1080×1920, the video over a blurred fill of itself.
    Vertical,
    /// A Spotify Canvas: an 8-second vertical loop (720×1280), no sound.
    Canvas,
    /// A GIF for the web: 10 seconds, 480 pixels wide, 12 frames a second.
    Gif,
    /// WebM for the web: VP9 and Opus.
    Webm,
}

impl Preset {
    pub const ALL: [Preset; 6] = [Self::AsRendered, Self::Youtube, Self::Vertical, Self::Canvas, Self::Gif, Self::Webm];

    /// The name on the command line and in settings.
    pub fn id(self) -> &'static str {
        match self {
            Self::AsRendered => "as-rendered",
            Self::Youtube => "youtube",
            Self::Vertical => "vertical",
            Self::Canvas => "canvas",
            Self::Gif => "gif",
            Self::Webm => "webm",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.id() == id)
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Gif => "gif",
            Self::Webm => "webm",
            _ => "mp4",
        }
    }

    /// What a creator is told about it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::AsRendered => "The render as it is (MP4)",
            Self::Youtube => "YouTube: H.264 High, AAC 320 kb/s",
            Self::Vertical => "Shorts, Reels, TikTok: 1080×1920 vertical",
            Self::Canvas => "Spotify Canvas: an 8-second vertical loop, no sound",
            Self::Gif => "GIF: 10 seconds, 480 px wide",
            Self::Webm => "WebM for the web: VP9 and Opus",
        }
    }

    /// The part of a `duration`-second video it takes: (start, length), both in seconds. The
    /// short presets take the middle of the song's first half, where most tracks are in full
    /// swing, and never run past the end.
    pub fn span(self, duration: f64) -> (f64, f64) {
        let length: f64 = match self {
            // Spotify takes 3 to 8 seconds: a little under 8, so no frame rate rounds it over.
            Self::Canvas => 7.9,
            Self::Gif => 10.0,
            _ => return (0.0, duration),
        };
        let length = length.min(duration);
        let start = (duration * 0.25 - length / 2.0).clamp(0.0, (duration - length).max(0.0));
        (start, length)
    }

    /// ffmpeg's arguments after the input, up to (not including) the output file: where the
    /// streams come from, then how they are encoded.
    fn encoding(self) -> Vec<&'static str> {
        const VERTICAL: &str = "[0:v]scale=1080:1920:force_original_aspect_ratio=increase,crop=1080:1920,\
             boxblur=24:2,eq=brightness=-0.15:saturation=0.85[bg];[0:v]scale=1080:1920:force_original_aspect_ratio=decrease[fg];\
             [bg][fg]overlay=(W-w)/2:(H-h)/2,setsar=1,format=yuv420p[v]";
        const CANVAS: &str = "crop='min(iw,ih*9/16)':'min(ih,iw*16/9)',scale=720:1280,setsar=1,format=yuv420p";
        const GIF: &str = "fps=12,scale=480:-2:flags=lanczos,split[a][b];[a]palettegen=stats_mode=diff[p];\
             [b][p]paletteuse=dither=sierra2_4a";
        // H.264 for players everywhere, its index first so playback starts before the download ends.
        const H264: [&str; 8] =
            ["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", "-movflags", "+faststart"];
        let (inputs, codecs): (&[&str], &[&str]) = match self {
            Self::AsRendered => (&["-map", "0"], &["-c", "copy", "-movflags", "+faststart"]),
            Self::Youtube => (
                &["-map", "0:v:0", "-map", "0:a:0?"],
                &["-profile:v", "high", "-crf", "18", "-c:a", "aac", "-b:a", "320k"],
            ),
            Self::Vertical => (
                &["-filter_complex", VERTICAL, "-map", "[v]", "-map", "0:a:0?"],
                &["-crf", "20", "-c:a", "aac", "-b:a", "192k"],
            ),
            Self::Canvas => (&["-map", "0:v:0", "-vf", CANVAS, "-an"], &["-crf", "20"]),
            Self::Gif => (&["-map", "0:v:0", "-vf", GIF, "-an"], &["-loop", "0"]),
            Self::Webm => (
                &["-map", "0:v:0", "-map", "0:a:0?"],
                &[
                    "-c:v",
                    "libvpx-vp9",
                    "-crf",
                    "32",
                    "-b:v",
                    "0",
                    "-row-mt",
                    "1",
                    "-deadline",
                    "good",
                    "-cpu-used",
                    "4",
                    "-c:a",
                    "libopus",
                    "-b:a",
                    "128k",
                ],
            ),
        };
        let mut args = inputs.to_vec();
        if matches!(self, Self::Youtube | Self::Vertical | Self::Canvas) {
            args.extend(H264);
        }
        args.extend(codecs);
        args
    }
}

/// The seconds of video in `master`, as ffprobe reads its container.
pub async fn duration_of(master: &Path) -> Result<f64> {
    let out = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1"])
        .arg(master)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(missing_tool("ffprobe"))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or_else(|| ClientError::Export(format!("{} is not a video ffprobe can read", master.display())))
}

fn missing_tool(tool: &'static str) -> impl Fn(std::io::Error) -> ClientError {
    move |e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ClientError::Export(format!(
                "{tool} is not installed; install FFmpeg (on Debian: apt install ffmpeg) to export"
            ))
        } else {
            ClientError::Io(e)
        }
    }
}

/// Where an export to `dest` goes: inside it with a default name when it is a directory, and with
/// the preset's extension added when the name does not end with it (`Mix v1.2` becomes
/// `Mix v1.2.mp4`, `clip.mov` for a GIF `clip.mov.gif`), so the file is what its name says.
pub fn destination(dest: &Path, preset: Preset) -> PathBuf {
    let ext = preset.extension();
    let dest = if dest.is_dir() { dest.join(format!("resonance-{}.{ext}", preset.id())) } else { dest.to_owned() };
    let ends_right = dest.extension().is_some_and(|e| e.to_string_lossy().eq_ignore_ascii_case(ext));
    if ends_right {
        return dest;
    }
    let mut name = dest.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "resonance-export".into());
    name.push(format!(".{ext}"));
    dest.with_file_name(name)
}

/// Encodes `master` with `preset` into `dest` (see [`destination`]), telling `progress` how far
/// it is (0 to 1) as it goes. Returns where the file is. The master itself, and anything in its
/// folder (the media cache), is never a destination.
pub async fn run(master: &Path, preset: Preset, dest: &Path, progress: impl Fn(f64)) -> Result<PathBuf> {
    let dest = destination(dest, preset);
    let folder = |p: &Path| p.parent().and_then(|d| std::fs::canonicalize(d).ok());
    if folder(&dest).is_some() && folder(&dest) == folder(master) {
        return Err(ClientError::Export(
            "Choose another folder: that one is Resonance's media cache, which keeps the rendered videos.".into(),
        ));
    }
    if !dest.parent().is_none_or(|d| d.as_os_str().is_empty() || d.is_dir()) {
        return Err(ClientError::Export(format!("The folder of {} does not exist.", dest.display())));
    }
    let duration = duration_of(master).await?;
    if preset == Preset::Canvas && duration < CANVAS_MIN_SECONDS {
        return Err(ClientError::Export(format!(
            "A Spotify Canvas lasts 3 to 8 seconds; this video has only {duration:.1}."
        )));
    }
    let (start, length) = preset.span(duration);
    // Written beside the destination (the same file system, so the rename is atomic), under a
    // name of its own that keeps the extension ffmpeg picks the muxer by. Made before ffmpeg
    // starts, so it is dropped after ffmpeg: the process is killed first, then its file removed.
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = dest.with_file_name(format!(".{name}.{}.part.{}", uuid::Uuid::new_v4().simple(), preset.extension()));
    let cleanup = Partial(Some(partial.clone()));
    let mut command = tokio::process::Command::new("ffmpeg");
    command.args(["-hide_banner", "-nostdin", "-v", "error", "-y", "-progress", "pipe:1", "-nostats"]);
    if start > 0.0 {
        command.args(["-ss", &format!("{start:.3}")]);
    }
    command.arg("-i").arg(master);
    if length > 0.0 {
        command.args(["-t", &format!("{length:.3}")]);
    }
    command
        .args(preset.encoding())
        .arg(&partial)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(missing_tool("ffmpeg"))?;
    // ffmpeg's messages are read as they come (a damaged master can make more than a pipe
    // holds, and ffmpeg would wait on a full pipe forever); the last ones say what failed.
    let said = child.stderr.take().map(|stderr| {
        tokio::spawn(async move {
            let mut last = std::collections::VecDeque::with_capacity(4);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if !line.trim().is_empty() {
                    if last.len() == 4 {
                        last.pop_front();
                    }
                    last.push_back(line);
                }
            }
            last.into_iter().collect::<Vec<_>>()
        })
    });
    if let Some(stdout) = child.stdout.take() {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await? {
            if let Some(us) = line.strip_prefix("out_time_us=").and_then(|v| v.trim().parse::<f64>().ok()) {
                progress((us / 1e6 / length.max(0.001)).clamp(0.0, 0.99));
            }
        }
    }
    let status = child.wait().await?;
    let said = match said {
        Some(task) => task.await.unwrap_or_default(),
        None => Vec::new(),
    };
    if !status.success() {
        let last = said.last().map_or("no message", String::as_str);
        return Err(ClientError::Export(format!("ffmpeg could not make the {} export: {last}", preset.id())));
    }
    std::fs::rename(&partial, &dest)?;
    cleanup.keep();
    progress(1.0);
    Ok(dest)
}

/// The shortest video a Spotify Canvas may be.
const CANVAS_MIN_SECONDS: f64 = 3.0;

/// Deletes an unfinished export's file when the export ends early (an error, a cancel).
struct Partial(Option<PathBuf>);

impl Partial {
    /// The export finished: its file stays.
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_presets_take_a_span_inside_the_song() {
        assert_eq!(Preset::Youtube.span(180.0), (0.0, 180.0));
        let (start, length) = Preset::Canvas.span(180.0);
        assert!((start - 41.05).abs() < 1e-9 && length == 7.9, "{start} {length}");
        assert_eq!(Preset::Gif.span(180.0), (40.0, 10.0));
        // Shorter than the span: all of it, from the start.
        assert_eq!(Preset::Canvas.span(5.0), (0.0, 5.0));
        assert_eq!(Preset::Youtube.span(5.0), (0.0, 5.0));
        let (start, length) = Preset::Gif.span(12.0);
        assert!(start >= 0.0 && start + length <= 12.0 + 1e-9, "{start} + {length}");
    }

    #[test]
    fn a_destination_ends_with_what_the_file_is() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(destination(&d.join("song.mp4"), Preset::Youtube), d.join("song.mp4"));
        assert_eq!(destination(&d.join("song.MP4"), Preset::Vertical), d.join("song.MP4"));
        assert_eq!(destination(&d.join("Mix v1.2"), Preset::Youtube), d.join("Mix v1.2.mp4"));
        assert_eq!(destination(&d.join("clip.mov"), Preset::Gif), d.join("clip.mov.gif"));
        assert_eq!(destination(&d.join("song"), Preset::Webm), d.join("song.webm"));
        assert_eq!(destination(d, Preset::Canvas), d.join("resonance-canvas.mp4"), "a folder gets a name inside");
    }

    #[test]
    fn presets_are_named_as_the_command_line_writes_them() {
        for p in Preset::ALL {
            assert_eq!(Preset::from_id(p.id()), Some(p));
            assert_eq!(serde_json::to_value(p).ok(), Some(serde_json::json!(p.id())));
        }
        assert_eq!(Preset::from_id("tiktok"), None);
    }
}
