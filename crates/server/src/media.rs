//! Footage as the server judges it before keeping it: `ffprobe` reads what the file is
//! (`resonance_api::footage::accept` decides), `ffmpeg` decodes its first frames (what alone
//! proves this machine can decode it: HEVC may not be, a truncated file is not) and draws its
//! poster. Invariants: ffmpeg reads local files only and only through the demuxers footage comes
//! in (a "clip" that is really a playlist cannot make it open anything else); every run is
//! bounded in time and killed with the request.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use resonance_api::footage::{self, FootageFacts, FootageKind, Probe, FOOTAGE_FORMATS};
use tokio::process::Command;

use crate::error::{Error, Result};

/// The longest any one step may take (a 30-minute 8K clip's first frames included).
const STEP_TIMEOUT: Duration = Duration::from_secs(120);
/// The poster's width at most, in pixels.
const POSTER_WIDTH: u32 = 640;

/// What a file turned out to be.
pub enum Judged {
    Footage(FootageFacts),
    /// Not footage; the message says what it is, for the creator.
    Refused(String),
}

/// Runs a tool on `files` to its end within [`STEP_TIMEOUT`]: its stdout, or what it said on
/// stderr (without the files' paths, which are the server's business) as the reason it failed.
/// A tool killed by a signal or failing without a word is the server's failure, not the file's.
async fn run(command: &mut Command, files: &[&Path]) -> Result<std::result::Result<Vec<u8>, String>> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let child = command.spawn().map_err(|e| {
        Error::Invariant(format!("cannot run ffmpeg/ffprobe ({e}); the API server needs them on its PATH"))
    })?;
    let output = tokio::time::timeout(STEP_TIMEOUT, child.wait_with_output()).await.map_err(|_| {
        Error::Invariant(format!("ffmpeg took longer than {} s on an upload", STEP_TIMEOUT.as_secs()))
    })??;
    if output.status.success() {
        return Ok(Ok(output.stdout));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code().is_none() || stderr.trim().is_empty() {
        return Err(Error::Invariant(format!("ffmpeg ended without a reason ({})", output.status)));
    }
    let paths: Vec<String> = files.iter().map(|f| f.to_string_lossy().into_owned()).collect();
    Ok(Err(reason(&stderr, &paths)))
}

/// ffmpeg's complaints as one line: "[mov,mp4 @ 0x55…] moov atom not found" and "/tmp/x: Invalid
/// data found when processing input" become "moov atom not found; invalid data found when
/// processing input"; a path named anywhere else is "the file".
fn reason(stderr: &str, paths: &[String]) -> String {
    // The longest first: one path may begin another (a poster beside its file).
    let mut paths: Vec<&str> = paths.iter().map(String::as_str).filter(|p| !p.is_empty()).collect();
    paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let mut said: Vec<String> = Vec::new();
    for line in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = line.strip_prefix('[').and_then(|l| l.split_once("] ")).map_or(line, |(_, rest)| rest);
        let mut line = line.to_owned();
        for path in &paths {
            if let Some(rest) = line.strip_prefix(path) {
                line = rest.trim_start_matches(':').trim().to_owned();
            }
            line = line.replace(path, "the file");
        }
        let mut chars = line.trim().chars();
        let line = chars.next().map_or(String::new(), |c| c.to_lowercase().chain(chars).collect());
        if !line.is_empty() && !said.contains(&line) {
            said.push(line);
        }
    }
    if said.is_empty() {
        "no reason given".to_owned()
    } else {
        said.into_iter().take(3).collect::<Vec<_>>().join("; ")
    }
}

/// Judges the file at `path` and, when it is footage, writes its poster (a JPEG) to `poster`.
pub async fn examine_footage(path: &Path, poster: &Path) -> Result<Judged> {
    let probed = run(Command::new("ffprobe").args(footage::probe_args(path)), &[path]).await?;
    let probe: Probe = match probed {
        Ok(json) => serde_json::from_slice(&json)
            .map_err(|e| Error::Invariant(format!("ffprobe wrote what is not its JSON: {e}")))?,
        Err(reason) => return Ok(Judged::Refused(format!("This file is not footage ffmpeg can read ({reason})."))),
    };
    let facts = match footage::accept(&probe) {
        Ok(facts) => facts,
        Err(why) => return Ok(Judged::Refused(format!("This file is not footage: {why}."))),
    };
    let decoded = run(
        Command::new("ffmpeg")
            .args(["-v", "error", "-xerror", "-protocol_whitelist", "file", "-format_whitelist", FOOTAGE_FORMATS, "-i"])
            .arg(path)
            // `V`: a picture stream, never a cover image (what `accept` judged).
            .args(["-map", "0:V:0", "-frames:v", "3", "-f", "null", "-"]),
        &[path],
    )
    .await?;
    if let Err(reason) = decoded {
        return Ok(Judged::Refused(format!(
            "This file is not footage this server can decode: its {} picture does not decode ({reason}).",
            facts.codec
        )));
    }
    // A clip's poster is a moment in (its first frame is often black); a still's is itself.
    let at = match (facts.kind, facts.duration) {
        (FootageKind::Video, Some(d)) => (d / 3.0).min(1.0),
        _ => 0.0,
    };
    let drawn = run(
        Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-protocol_whitelist", "file", "-format_whitelist", FOOTAGE_FORMATS])
            .args(["-ss", &format!("{at:.3}"), "-i"])
            .arg(path)
            .args(["-map", "0:V:0", "-frames:v", "1", "-vf"])
            .arg(format!("scale='min({POSTER_WIDTH},iw)':-2,format=yuvj420p"))
            .args(["-q:v", "3", "-f", "image2", "-c:v", "mjpeg"])
            .arg(poster),
        &[path, poster],
    )
    .await?;
    if let Err(reason) = drawn {
        // It decoded a moment ago: a poster that cannot be made is this server's trouble.
        return Err(Error::Invariant(format!("the poster of an upload could not be made: {reason}")));
    }
    Ok(Judged::Footage(facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffmpegs_complaints_are_read_without_addresses_or_paths() {
        let stderr = "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x559d8ba66500] moov atom not found\n\
                      /tmp/upload-1: Invalid data found when processing input\n";
        let paths = ["/tmp/upload-1".to_owned(), "/tmp/upload-1.poster.jpg".to_owned()];
        assert_eq!(reason(stderr, &paths), "moov atom not found; invalid data found when processing input");
        // Newer ffmpegs name the file inside their sentences.
        let newer = "Error opening input file /tmp/upload-1.poster.jpg.\nCould not open file : /tmp/upload-1\n";
        assert_eq!(reason(newer, &paths), "error opening input file the file.; could not open file : the file");
        assert_eq!(reason("\n", &paths), "no reason given");
    }
}
