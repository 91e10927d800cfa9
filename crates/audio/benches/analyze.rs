//! `cargo xtask bench` (audio): the whole `resonance-audio analyze` against ffmpeg decoding the
//! same file to nothing, on a 5-minute 44.1 kHz stereo MP3 and FLAC; peak RSS; the time until the
//! first seconds of waveform are drawable; and the RSS of a one-hour file, to show that memory
//! does not grow with length. Targets: analysis at most 1.0x ffmpeg's decode-only time, peak
//! RSS under 64 MB, first coarse waveform under 50 ms. Then, on real music (the directory in
//! `RESONANCE_BENCH_MUSIC`, which `cargo xtask bench` fills from Debian's game soundtracks), how
//! often our tempo agrees with `aubio tempo`, and how well our beats match `aubio beat`'s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use resonance_audio::decode::{Format, Sink};
use resonance_audio::PeakPyramid;

// The beat F-measure and median of the ground-truth bench (whose tempo measures this one does
// not use).
#[allow(dead_code)]
#[path = "rhythm_truth/score.rs"]
mod score;
use score::{f_measure, median};

/// Runs of each side, alternated so a busy moment of the machine hits both alike; medians taken.
const RUNS: usize = 9;

fn ffmpeg(args: &[&str]) {
    let ok = Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).status().unwrap().success();
    assert!(ok, "ffmpeg {args:?} failed");
}

/// (seconds, peak RSS in MB) of one run, measured by GNU time.
fn timed(program: &str, args: &[&str]) -> (f64, f64) {
    let out = Command::new("/usr/bin/time").args(["-f", "%e %M", program]).args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    let mut parts = last.split_whitespace();
    let secs: f64 = parts.next().unwrap().parse().unwrap();
    let kb: f64 = parts.next().unwrap().parse().unwrap();
    (secs, kb / 1024.0)
}

/// Notes when the first `seconds` of audio have reached the sinks.
struct FirstSeconds {
    want: u64,
    seen: u64,
    started: Instant,
    at: Option<Duration>,
}

impl Sink for FirstSeconds {
    fn start(&mut self, format: &Format) {
        self.want *= u64::from(format.sample_rate);
    }
    fn push(&mut self, interleaved: &[f32], channels: usize) {
        self.seen += (interleaved.len() / channels.max(1)) as u64;
        if self.at.is_none() && self.seen >= self.want {
            self.at = Some(self.started.elapsed());
        }
    }
}

fn first_coarse_waveform(path: &Path) -> Duration {
    let started = Instant::now();
    let mut pyramid = PeakPyramid::per_second(100, 6);
    let mut first = FirstSeconds { want: 5, seen: 0, started, at: None };
    resonance_audio::decode(path, &mut [&mut pyramid, &mut first]).unwrap();
    first.at.unwrap()
}

fn main() {
    let cli = env!("CARGO_BIN_EXE_resonance-audio");
    let dir = std::env::temp_dir().join(format!("resonance-audio-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = "aevalsrc=0.6*sin(2*PI*55*t)*exp(-8*mod(t\\,0.5))+0.15*sin(2*PI*440*t)+0.1*sin(2*PI*660*t)|0.6*sin(2*PI*55*t)*exp(-8*mod(t\\,0.5))+0.15*sin(2*PI*330*t):s=44100";
    let mp3 = dir.join("five-minutes.mp3");
    let flac = dir.join("five-minutes.flac");
    let hour = dir.join("one-hour.flac");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("{src}:d=300"),
        "-c:a",
        "libmp3lame",
        "-b:a",
        "192k",
        mp3.to_str().unwrap(),
    ]);
    ffmpeg(&["-f", "lavfi", "-i", &format!("{src}:d=300"), "-c:a", "flac", flac.to_str().unwrap()]);
    // Every codec's own row: the lossy ones from the same source.
    let lossy = |name: &str, codec: &[&str]| {
        let out = dir.join(name);
        let mut args = vec!["-f", "lavfi", "-i"];
        let input = format!("{src}:d=300");
        args.push(&input);
        args.extend_from_slice(codec);
        args.push(out.to_str().unwrap());
        ffmpeg(&args);
        out
    };
    let vorbis = lossy("five-minutes.ogg", &["-c:a", "libvorbis", "-q:a", "5"]);
    let opus = lossy("five-minutes.opus", &["-c:a", "libopus", "-b:a", "128k"]);
    let webm = lossy("five-minutes.webm", &["-c:a", "libopus", "-b:a", "128k"]);
    let aac = lossy("five-minutes.m4a", &["-c:a", "aac", "-b:a", "192k"]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("{src}:d=3600"),
        "-c:a",
        "flac",
        "-compression_level",
        "0",
        hour.to_str().unwrap(),
    ]);

    for (name, path) in [
        ("MP3 ", &mp3),
        ("FLAC", &flac),
        ("AAC (M4A)", &aac),
        ("Vorbis (Ogg)", &vorbis),
        ("Opus (Ogg)", &opus),
        ("Opus (WebM)", &webm),
    ] {
        let p = path.to_str().unwrap();
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            ours.push(timed(cli, &["analyze", p]));
            theirs.push(timed("ffmpeg", &["-v", "error", "-i", p, "-f", "null", "-"]).0);
        }
        let (t_ours, t_ffmpeg) = (median(ours.iter().map(|r| r.0).collect()), median(theirs));
        let rss = ours.iter().map(|r| r.1).fold(0.0, f64::max);
        let ratio = t_ours / t_ffmpeg;
        println!(
            "audio bench: {name} 5 min: analyze {t_ours:.2} s, ffmpeg decode-only {t_ffmpeg:.2} s, ratio {ratio:.2}x (target <= 1.0: {}), peak RSS {rss:.1} MB (target < 64: {})",
            if ratio <= 1.0 { "met" } else { "NOT met" },
            if rss < 64.0 { "met" } else { "NOT met" }
        );
        let firsts: Vec<f64> = (0..5).map(|_| first_coarse_waveform(path).as_secs_f64() * 1000.0).collect();
        let first = median(firsts);
        println!(
            "audio bench: {name} first 5 s of waveform drawable after {first:.1} ms (target < 50: {})",
            if first < 50.0 { "met" } else { "NOT met" }
        );
    }
    let (t_hour, rss_hour) = timed(cli, &["analyze", hour.to_str().unwrap()]);
    println!("audio bench: FLAC 1 hour: analyze {t_hour:.1} s, peak RSS {rss_hour:.1} MB (memory bounded: compare with 5 min)");
    let _ = std::fs::remove_dir_all(&dir);
    match std::env::var_os("RESONANCE_BENCH_MUSIC") {
        Some(music) => agreement_with_aubio(cli, Path::new(&music)),
        None => {
            println!("audio bench: real music: skipped (RESONANCE_BENCH_MUSIC is not set; `cargo xtask bench` sets it)")
        }
    }
}

fn audio_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            audio_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "ogg") && entry.metadata().is_ok_and(|m| m.len() > 500_000) {
            out.push(path);
        }
    }
}

/// The numbers on each line `aubio` prints (beat times, or "123.45 bpm").
fn aubio(verb: &str, path: &Path) -> Vec<f64> {
    let out = Command::new("aubio").arg(verb).arg(path).output().unwrap();
    assert!(out.status.success(), "aubio {verb} {path:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_whitespace().next()?.parse().ok()).collect()
}

fn agreement_with_aubio(cli: &str, music: &Path) {
    let mut files = Vec::new();
    audio_files(music, &mut files);
    files.sort();
    if files.is_empty() {
        println!("audio bench: real music: skipped (no .ogg files under {})", music.display());
        return;
    }
    let (mut same, mut octave, mut fs) = (0, 0, Vec::new());
    for path in &files {
        let out = Command::new(cli).arg("analyze").arg(path).output().unwrap();
        let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let tempo = ours["tempo_bpm"].as_f64().unwrap_or(0.0);
        let beats: Vec<f64> =
            ours["beats"].as_array().into_iter().flatten().filter_map(serde_json::Value::as_f64).collect();
        let theirs = aubio("tempo", path).last().copied().unwrap_or(0.0);
        let f = f_measure(&aubio("beat", path), &beats);
        let ratio = tempo / theirs;
        let agrees = (ratio - 1.0).abs() <= 0.04;
        let up_to_octave = [0.5, 1.0, 2.0].iter().any(|k| (ratio / k - 1.0).abs() <= 0.04);
        same += usize::from(agrees);
        octave += usize::from(up_to_octave);
        fs.push(f);
        println!(
            "audio bench: real music: {:<24} ours {tempo:6.1} BPM, aubio {theirs:6.1} BPM{}, beat F vs aubio {f:.2}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            if agrees {
                ""
            } else if up_to_octave {
                "  (octave apart)"
            } else {
                "  (disagree)"
            }
        );
    }
    let n = files.len();
    println!(
        "audio bench: real music ({n} tracks): tempo within 4% of aubio's on {same}/{n}, within 4% up to a factor of 2 on {octave}/{n}; median beat F vs aubio {:.2}",
        median(fs)
    );
}
