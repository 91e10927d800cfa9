//! `cargo xtask bench` (render): the video engine on real music, side by side with ffmpeg's
//! own limit. A 12 s clip of a real song (`RESONANCE_BENCH_MUSIC`) is analysed, planned and
//! rendered by the worker's `render::render` (draw on every core + x264 + AAC mux + thumbnail),
//! then the same frames, drawn beforehand and held in memory, are given to the same ffmpeg
//! command alone (encode-only). Printed per resolution: the render ÷ encode-only ratio (target
//! ≤ 1.3×), the render as a share of the clip's length (target at 720p ≤ 1.0×), drawing alone,
//! each the best of four rounds (this machine's speed drifts by tens of percent between minutes,
//! and only ever makes a run slower), with the median of the rounds' own ratios beside it,
//! and the peak RSS of the 2160p render (measured first, before anything else is allocated).
//! Also: beat F of frame-to-frame change (frames drawn at 160×90) against the analysis' beats,
//! at effect intensity 0.5 and 1.0 (target ≥ 0.8), per style, on five songs (`BEAT_SONGS`;
//! `RESONANCE_BENCH_ROWS=beats` measures only that).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use resonance_api::model::StylePreference;
use resonance_server::worker::render::{self, enlarge_pipe, ffmpeg_for_frames, x264_settings, FPS};
use resonance_visuals::measure::{beat_match, frame_changes};
use resonance_visuals::{draw, draw_frames, plan, Frame, ProjectLook, VisualPlan};

const CLIP_SECONDS: f64 = 12.0;
/// Distinct frames held in memory for the encode-only run (cycled).
const RING: usize = 60;
/// Rounds of each measurement (see the top of this file).
const ROUNDS: usize = 4;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// The songs the beat F is measured on (12 s from 10 s into each; those the music holds): the
/// render's own, and four more of other tempos and kinds, two of them slow, where notes between
/// the beats are most likely to move the picture as much as the beats do.
const BEAT_SONGS: [&str; 5] = [
    "usr/share/games/etr/music/race1-jt.ogg",
    "usr/share/games/etr/music/spunkyrace-ks.ogg",
    "usr/share/games/etr/music/freezingpoint.ogg",
    "usr/share/games/etr/music/credits1-cp.ogg",
    "usr/share/games/frozen-bubble/snd/frozen-mainzik-1p.ogg",
];

/// The render's song: the first of these that the music holds.
fn song(music: &Path) -> PathBuf {
    ["usr/share/games/etr/music/race1-jt.ogg", "usr/share/games/etr/music/start1-jt.ogg"]
        .iter()
        .map(|p| music.join(p))
        .find(|p| p.exists())
        .expect("a song from extremetuxracer-data")
}

/// `CLIP_SECONDS` of `song` from 10 s in, as a WAV file in `dir`.
fn clip(song: &Path, dir: &Path) -> (PathBuf, String) {
    let name = song.file_name().unwrap().to_string_lossy().into_owned();
    let out = dir.join(format!("{name}.wav"));
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-ss", "10", "-t", &CLIP_SECONDS.to_string(), "-i"])
        .arg(song)
        .arg(&out)
        .status()
        .unwrap();
    assert!(ok.success());
    (out, name)
}

fn encode_only(plan: &VisualPlan, (w, h): (u32, u32), dir: &Path) -> f64 {
    let frames = (plan.duration * f64::from(FPS)).ceil() as usize;
    let ring: Vec<Frame> = (0..RING.min(frames))
        .map(|n| {
            let mut f = Frame::new(w, h);
            draw(plan, n as f64 / f64::from(FPS), &mut f);
            f
        })
        .collect();
    let (preset, crf) = x264_settings((w, h));
    let started = Instant::now();
    let mut child = ffmpeg_for_frames(w, h)
        .args(["-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", preset, "-crf", &crf.to_string()])
        .arg(dir.join("encode-only.mp4"))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    enlarge_pipe(&stdin);
    for n in 0..frames {
        stdin.write_all(&ring[n % ring.len()].rgb).unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    started.elapsed().as_secs_f64()
}

fn draw_only(plan: &VisualPlan, size: (u32, u32)) -> f64 {
    let frames = (plan.duration * f64::from(FPS)).ceil() as u64;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let started = Instant::now();
    draw_frames(plan, size, 0, frames, FPS, cores, |_, _| true);
    started.elapsed().as_secs_f64()
}

fn full_render(plan: &VisualPlan, audio: &Path, size: (u32, u32), dir: &Path) -> f64 {
    full_render_with(plan, audio, size, dir, &[])
}

fn full_render_with(plan: &VisualPlan, audio: &Path, size: (u32, u32), dir: &Path, footage: &[PathBuf]) -> f64 {
    let started = Instant::now();
    render::render(plan, audio, &dir.join("video.mp4"), &dir.join("thumb.jpg"), size, footage, |_| {}).unwrap();
    started.elapsed().as_secs_f64()
}

/// Footage for the footage rows: two 1080p H.264 clips (a test card and a fractal zoom) and a
/// still, as a phone or a camera gives them.
fn footage_files(dir: &Path) -> (Vec<resonance_visuals::FootageItem>, Vec<PathBuf>) {
    use resonance_api::footage::FootageKind;
    let make = |name: &str, input: &str, extra: &[&str]| {
        let out = dir.join(name);
        let ok = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", input])
            .args(extra)
            .arg(&out)
            .status()
            .unwrap();
        assert!(ok.success(), "{name}");
        out
    };
    let h264 = ["-t", "8", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"];
    let paths = vec![
        make("band.mp4", "testsrc2=s=1920x1080:r=30", &h264),
        make("crowd.mp4", "mandelbrot=s=1920x1080:r=30", &h264),
        make("cover.png", "smptehdbars=s=1920x1080", &["-frames:v", "1"]),
    ];
    let item = |id: &str, kind, duration| resonance_visuals::FootageItem {
        id: id.into(),
        kind,
        duration,
        in_point: None,
        out_point: None,
    };
    let items = vec![
        item("band", FootageKind::Video, Some(8.0)),
        item("crowd", FootageKind::Video, Some(8.0)),
        item("cover", FootageKind::Image, None),
    ];
    (items, paths)
}

fn main() {
    // Real music or nothing: the figures mean something only on a real song.
    let music = std::env::var_os("RESONANCE_BENCH_MUSIC").map(PathBuf::from).expect(
        "RESONANCE_BENCH_MUSIC names the unpacked extremetuxracer-data: `cargo xtask bench` fetches it with apt-get download",
    );
    let dir = tempfile::tempdir().unwrap();
    let (audio, song) = clip(&song(&music), dir.path());
    let analysis = resonance_audio::analyze(&audio).unwrap();
    let look = |style, intensity| ProjectLook {
        prompt: "neon rain over a night city".into(),
        style,
        effect_intensity: intensity,
        footage_visibility: 0.6,
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("render: {CLIP_SECONDS} s of {song} ({:.0} BPM), {cores} cores", analysis.rhythm.tempo_bpm.unwrap_or(0.0));

    // `RESONANCE_BENCH_ROWS=minimal,cinematic:720` measures only those rows (a style, or a style
    // and a height); unset, every row.
    let only: Option<Vec<String>> =
        std::env::var("RESONANCE_BENCH_ROWS").ok().map(|v| v.split(',').map(|r| r.trim().to_owned()).collect());
    let wanted = |style: StylePreference, height: u32| {
        only.as_ref()
            .is_none_or(|rows| rows.iter().any(|r| r == style.as_str() || *r == format!("{}:{height}", style.as_str())))
    };

    // The 2160p render first, so the process' peak RSS is the render's own.
    let uhd = wanted(StylePreference::Cinematic, 2160).then(|| {
        let heavy = plan(&analysis, &look(StylePreference::Cinematic, 0.6), "bench");
        let uhd = full_render(&heavy, &audio, (3840, 2160), dir.path());
        println!("  peak RSS of the 2160p render: {:.0} MB", peak_rss_mb());
        uhd
    });

    println!(
        "  {:<10} {:>6} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}",
        "style", "size", "render s", "encode s", "draw s", "÷encode", "median", "÷clip"
    );
    // This machine's speed drifts from one minute to the next: see the top of this file.
    let row = |style: StylePreference, size: (u32, u32), first: Option<f64>| {
        if !wanted(style, size.1) {
            return;
        }
        let p = plan(&analysis, &look(style, 0.6), "bench");
        let mut ratios = Vec::with_capacity(ROUNDS);
        let (mut render_s, mut encode_s) = (f64::MAX, f64::MAX);
        for round in 0..ROUNDS {
            let r = match (round, first) {
                (0, Some(first)) => first,
                _ => full_render(&p, &audio, size, dir.path()),
            };
            let e = encode_only(&p, size, dir.path());
            ratios.push(r / e);
            (render_s, encode_s) = (render_s.min(r), encode_s.min(e));
        }
        ratios.sort_by(f64::total_cmp);
        let draw_s = (0..ROUNDS).map(|_| draw_only(&p, size)).fold(f64::MAX, f64::min);
        println!(
            "  {:<10} {:>5}p {render_s:>9.1} {encode_s:>9.1} {draw_s:>9.1} {:>7.2}× {:>7.2}× {:>7.2}×",
            style.as_str(),
            size.1,
            render_s / encode_s,
            ratios[ROUNDS / 2],
            render_s / CLIP_SECONDS
        );
    };
    for (size, first) in [((1280, 720), None), ((1920, 1080), None), ((2560, 1440), None), ((3840, 2160), uhd)] {
        row(StylePreference::Cinematic, size, first);
    }
    for style in StylePreference::ALL.into_iter().filter(|s| *s != StylePreference::Cinematic) {
        row(style, (1920, 1080), None);
    }

    // Footage: the same 1080p render with two clips and a still cut in, against none.
    if only.as_ref().is_none_or(|rows| rows.iter().any(|r| r == "footage")) {
        let (items, paths) = footage_files(dir.path());
        println!("  footage at 1080p (minimal; best of {ROUNDS}): {:>9} {:>9} {:>8}", "with s", "without s", "÷");
        for visibility in [0.6, 1.0] {
            let mut l = look(StylePreference::Minimal, 0.6);
            l.footage_visibility = visibility;
            let with = resonance_visuals::plan_with_footage(&analysis, &l, &items, "bench");
            let without = plan(&analysis, &l, "bench");
            let (mut w, mut wo) = (f64::MAX, f64::MAX);
            for _ in 0..ROUNDS {
                w = w.min(full_render_with(&with, &audio, (1920, 1080), dir.path(), &paths));
                wo = wo.min(full_render(&without, &audio, (1920, 1080), dir.path()));
            }
            println!(
                "    visibility {visibility:.1} ({} cuts) {:>21.1} {wo:>9.1} {:>7.2}×",
                with.cuts.len(),
                w,
                w / wo
            );
        }
    }

    if only.as_ref().is_none_or(|rows| rows.iter().any(|r| r == "beats")) {
        beat_f_table(&music, dir.path(), (&song, &analysis), &look);
    }
}

/// Beat F on several songs (`BEAT_SONGS`): one song's figure says little about the next. The
/// render's own song, `known`, is not analysed again.
fn beat_f_table(
    music: &Path,
    dir: &Path,
    known: (&str, &resonance_audio::Analysis),
    look: &dyn Fn(StylePreference, f64) -> ProjectLook,
) {
    let songs: Vec<(String, resonance_audio::Analysis)> = BEAT_SONGS
        .iter()
        .map(|p| music.join(p))
        .filter(|p| p.exists())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name == known.0 {
                return (name, known.1.clone());
            }
            let (audio, name) = clip(&p, dir);
            (name, resonance_audio::analyze(&audio).unwrap())
        })
        .collect();
    assert!(!songs.is_empty(), "none of the beat F songs is in RESONANCE_BENCH_MUSIC: {BEAT_SONGS:?}");
    println!("  beat F of frame-to-frame change against the analysis' beats, at intensity 0.5 / 1 (target ≥ 0.8):");
    let names: Vec<String> = songs
        .iter()
        .map(|(n, a)| format!("{} ({:.0} BPM)", n.trim_end_matches(".ogg"), a.rhythm.tempo_bpm.unwrap_or(0.0)))
        .collect();
    println!("    {:<10} {}  {:>11}", "", names.iter().map(|n| format!("{n:>28}")).collect::<String>(), "least");
    for style in StylePreference::ALL {
        let mut least = [f64::MAX; 2];
        let cells: String = songs
            .iter()
            .map(|(_, a)| {
                let fs = [0.5, 1.0].map(|i| {
                    let p = plan(a, &look(style, i), "bench");
                    beat_match(&frame_changes(&p, p.duration), &p.beats).f
                });
                least = [least[0].min(fs[0]), least[1].min(fs[1])];
                format!("{:>28}", format!("{:.2} / {:.2}", fs[0], fs[1]))
            })
            .collect();
        println!("    {:<10} {cells}  {:>11}", style.as_str(), format!("{:.2} / {:.2}", least[0], least[1]));
    }
}
