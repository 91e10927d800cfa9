//! The render worker end to end on a real storage directory with real ffmpeg: a generation goes
//! analyzing → orchestrating → rendering → completed; the video has the project's resolution,
//! the audio's duration and an audio stream, and its picture changes most on the beats. A
//! crashed worker's job is finished by another; a job that keeps failing is given up with its
//! reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use resonance_server::worker::{self, WorkerSettings};
use serde_json::{json, Value};
use uuid::Uuid;

/// A click track: 16-bit mono, a short 1 kHz click every beat, a low tone under it.
fn click_track(seconds: f64, bpm: f64) -> Vec<u8> {
    click_track_silent(seconds, bpm, 0.0..0.0)
}

/// [`click_track`], silent over `silence` (seconds): a landmark to find in a render's audio.
fn click_track_silent(seconds: f64, bpm: f64, silence: std::ops::Range<f64>) -> Vec<u8> {
    let rate = 44_100u32;
    let period = (f64::from(rate) * 60.0 / bpm) as u32;
    let samples: Vec<i16> = (0..(f64::from(rate) * seconds) as u32)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            if silence.contains(&t) {
                return 0;
            }
            let click = if i % period < 800 { (t * 1000.0 * std::f64::consts::TAU).sin() * 0.8 } else { 0.0 };
            ((click + (t * 110.0 * std::f64::consts::TAU).sin() * 0.1) * 30_000.0) as i16
        })
        .collect();
    wav_file(&samples, 1, rate)
}

/// The loudness (RMS, 0..1) of `video`'s audio over `span` seconds of the video.
fn audio_level(video: &std::path::Path, span: std::ops::Range<f64>) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(video)
        .args(["-map", "0:a", "-ac", "1", "-ar", "8000", "-f", "s16le", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let samples: Vec<f64> =
        out.stdout.chunks_exact(2).map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect();
    let part = &samples[(span.start * 8000.0) as usize..(span.end * 8000.0) as usize];
    (part.iter().map(|v| v * v).sum::<f64>() / part.len() as f64).sqrt()
}

struct Setup {
    s: TestServer,
    dir: std::path::PathBuf,
    store: Arc<dyn object_store::ObjectStore>,
    db: resonance_server::Db,
    org: Org,
}

async fn setup() -> Setup {
    let dir = std::env::temp_dir().join(format!("resonance-render-{}", Uuid::new_v4().simple()));
    let store = resonance_server::objects::open(dir.to_str().unwrap()).unwrap();
    let for_server = Arc::clone(&store);
    let s = TestServer::start_with(move |settings| settings.storage = for_server).await;
    let db = resonance_server::Db::connect_worker(&resonance_server::config::DatabaseUrl::parse(&s.db_url).unwrap(), 4)
        .await
        .unwrap();
    let org = s.organization("render").await;
    sqlx::query("UPDATE organizations SET generations_limit = 100 WHERE id = $1")
        .bind(org.id)
        .execute(&s.owner)
        .await
        .unwrap();
    Setup { s, dir, store, db, org }
}

/// A project whose audio (a click track) is in storage, and a generation of it.
async fn project_with_generation(st: &Setup, audio: Option<&[u8]>) -> (String, String) {
    let (_, p) = st.s.post("/v1/projects", &st.org.developer.access, new_project("Clicks")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    if let Some(bytes) = audio {
        st.s.upload_audio(&st.org.developer.access, &project, bytes).await;
    }
    let (status, _) =
        st.s.patch(
            &format!("/v1/projects/{project}"),
            &st.org.developer.access,
            json!({"resolution": "720p", "style_preference": "geometric", "prompt": "neon rain over a night city"}),
        )
        .await;
    assert_eq!(status, 200);
    let generation = start_generation(st, &project).await;
    (project, generation)
}

/// Starts a generation of `project` (as its developer); its id.
async fn start_generation(st: &Setup, project: &str) -> String {
    start_generation_with(st, project, json!({})).await
}

/// Starts a generation of `project` with `body` (a seed, a trim); its id.
async fn start_generation_with(st: &Setup, project: &str, body: Value) -> String {
    let resp =
        st.s.http
            .post(format!("{}/v1/projects/{project}/generations", st.s.base))
            .bearer_auth(&st.org.developer.access)
            .header("Idempotency-Key", Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), 201);
    let g: Value = resp.json().await.unwrap();
    g["id"].as_str().unwrap().to_owned()
}

fn ffprobe(path: &std::path::Path) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-show_format", "-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Mean absolute change between consecutive frames (gray, 64×36), per frame.
fn frame_changes(path: &std::path::Path) -> Vec<f64> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-vf", "scale=64:36,format=gray", "-f", "rawvideo", "-"])
        .output()
        .unwrap();
    let frames: Vec<&[u8]> = out.stdout.chunks_exact(64 * 36).collect();
    frames
        .windows(2)
        .map(|w| w[0].iter().zip(w[1]).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>() / (64.0 * 36.0))
        .collect()
}

#[tokio::test]
async fn the_creator_s_tempo_is_what_the_render_follows() {
    let st = setup().await;
    let audio = click_track(8.0, 120.0);
    let (_, p) = st.s.post("/v1/projects", &st.org.developer.access, new_project("Halved")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    assert!(p["tempo_bpm"].is_null(), "a new project follows the detected tempo: {p}");
    st.s.upload_audio(&st.org.developer.access, &project, &audio).await;
    let path = format!("/v1/projects/{project}");
    // Out of range: refused, naming the field; the project is unchanged.
    let (status, body) = st.s.patch(&path, &st.org.developer.access, json!({"tempo_bpm": 500})).await;
    assert_eq!((status.as_u16(), body["error"]["field"].as_str()), (422, Some("tempo_bpm")), "{body}");
    // The creator halves it (a click every beat at 120 is also a pulse at 60).
    let (status, p) = st.s.patch(&path, &st.org.developer.access, json!({"tempo_bpm": 60, "resolution": "720p"})).await;
    assert_eq!((status.as_u16(), p["tempo_bpm"].as_f64()), (200, Some(60.0)), "{p}");
    let generation = start_generation(&st, &project).await;
    // An edit after Generate does not change that render.
    let (status, p) = st.s.patch(&path, &st.org.developer.access, json!({"tempo_bpm": 0})).await;
    assert_eq!((status.as_u16(), p["tempo_bpm"].is_null()), (200, true), "0 returns to the detected tempo: {p}");
    let settings = WorkerSettings { name: "w1".into(), ..Default::default() };
    assert!(worker::run_once(&st.db, &st.store, &settings).await.unwrap());
    let (_, g) = st.s.get(&format!("/v1/generations/{generation}"), &st.org.viewer.access).await;
    assert_eq!(g["status"], "completed", "{g}");
    let analysis = &g["audio_analysis"];
    assert_eq!(analysis["tempo_bpm"].as_f64(), Some(60.0), "{analysis}");
    let beats: Vec<f64> = g["visual_plan"]["beats"].as_array().unwrap().iter().filter_map(Value::as_f64).collect();
    let gaps: Vec<f64> = beats.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() >= 5 && gaps.iter().all(|g| (g - 1.0).abs() < 0.05), "one beat a second: {beats:?}");
}

#[tokio::test]
async fn a_generation_is_analysed_planned_rendered_and_moves_with_the_beats() {
    let st = setup().await;
    let audio = click_track(6.0, 120.0);
    let (project, generation) = project_with_generation(&st, Some(&audio)).await;
    let settings = WorkerSettings { name: "w1".into(), ..Default::default() };
    assert!(worker::run_once(&st.db, &st.store, &settings).await.unwrap());
    let (_, g) = st.s.get(&format!("/v1/generations/{generation}"), &st.org.viewer.access).await;
    assert_eq!(g["status"], "completed", "{g}");
    assert!((g["duration"].as_f64().unwrap() - 6.0).abs() < 0.01, "{g}");
    assert!(g["file_size"].as_i64().unwrap() > 10_000);
    assert!(
        g["audio_analysis"]["tempo_bpm"].as_f64().is_some_and(|t| (t - 120.0).abs() < 2.0),
        "{}",
        g["audio_analysis"]
    );
    let plan = &g["visual_plan"];
    assert!(!plan["beats"].as_array().unwrap().is_empty());
    // The plan is the recipe: the prompt's words, what they chose, and the style.
    assert_eq!(plan["style"], "geometric");
    assert_eq!(plan["motifs"], json!(["neon", "rain", "city"]), "{plan}");
    assert_eq!(plan["light"], "night");
    let plan: resonance_visuals::VisualPlan = serde_json::from_value(plan.clone()).expect("the stored plan reads back");
    assert!(plan.reading.explain().contains(&"motif rain ← 'rain'".to_owned()));
    let (_, p) = st.s.get(&format!("/v1/projects/{project}"), &st.org.viewer.access).await;
    assert_eq!(p["status"], "completed");
    let base = st.dir.join(format!("{}/{project}/renders/{generation}", st.org.id));
    let video = base.with_extension("mp4");
    let probe = ffprobe(&video);
    let streams = probe["streams"].as_array().unwrap();
    let v = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!(
        (v["codec_name"].as_str(), v["width"].as_i64(), v["height"].as_i64()),
        (Some("h264"), Some(1280), Some(720))
    );
    assert!(streams.iter().any(|s| s["codec_type"] == "audio"), "the original audio is muxed in");
    let duration: f64 = probe["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((duration - 6.0).abs() <= 0.1, "video lasts {duration} s for 6 s of audio");
    let thumb = std::fs::read(base.with_extension("jpg")).unwrap();
    assert_eq!(&thumb[..2], &[0xFF, 0xD8], "a JPEG thumbnail");
    // Served to the organization's members only.
    let fetch = |path: String, token: String| {
        let (http, url) = (st.s.http.clone(), format!("{}{path}", st.s.base));
        async move { http.get(url).bearer_auth(token).send().await.unwrap() }
    };
    let served = fetch(g["video_url"].as_str().unwrap().to_owned(), st.org.viewer.access.clone()).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "video/mp4");
    assert_eq!(served.bytes().await.unwrap().to_vec(), std::fs::read(&video).unwrap());
    // Players seek with byte ranges.
    let whole = std::fs::read(&video).unwrap();
    let url = format!("{}{}", st.s.base, g["video_url"].as_str().unwrap());
    let part =
        st.s.http.get(&url).bearer_auth(&st.org.viewer.access).header("Range", "bytes=100-1099").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], format!("bytes 100-1099/{}", whole.len()).as_str());
    assert_eq!(part.bytes().await.unwrap().to_vec(), whole[100..1100].to_vec());
    let past =
        st.s.http
            .get(&url)
            .bearer_auth(&st.org.viewer.access)
            .header("Range", format!("bytes={}-", whole.len()))
            .send()
            .await
            .unwrap();
    assert_eq!(past.status(), 416);
    let served = fetch(g["thumbnail_url"].as_str().unwrap().to_owned(), st.org.viewer.access.clone()).await;
    assert_eq!((served.status().as_u16(), served.bytes().await.unwrap().to_vec()), (200, thumb.clone()));
    let stranger = st.s.organization("stranger").await;
    assert_eq!(fetch(g["video_url"].as_str().unwrap().to_owned(), stranger.owner.access.clone()).await.status(), 404);
    // The picture reacts to the music: frame-to-frame change is larger on the beats.
    let changes = frame_changes(&video);
    let beats: Vec<f64> = g["visual_plan"]["beats"].as_array().unwrap().iter().filter_map(Value::as_f64).collect();
    let fps = 30.0;
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for (i, c) in changes.iter().enumerate() {
        let t = (i + 1) as f64 / fps;
        if beats.iter().any(|b| (t - b).abs() <= 1.5 / fps) {
            on.push(*c);
        } else if beats.iter().all(|b| (t - b).abs() > 5.0 / fps) {
            off.push(*c);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    assert!(!on.is_empty() && !off.is_empty());
    assert!(mean(&on) > 2.0 * mean(&off), "change on beats {:.2} vs between {:.2}", mean(&on), mean(&off));
    let (_, logs) = st.s.get("/v1/system-logs", &st.org.admin.access).await;
    let actions: Vec<&str> = logs.as_array().unwrap().iter().filter_map(|l| l["action_type"].as_str()).collect();
    for stage in ["render.analyzing", "render.orchestrating", "render.rendering", "render.completed"] {
        assert!(actions.contains(&stage), "{stage} logged: {actions:?}");
    }
    assert!(!worker::run_once(&st.db, &st.store, &settings).await.unwrap(), "the queue is empty now");
    // The worker's role touches only what rendering needs.
    for forbidden in [
        "SELECT count(*) FROM users",
        "SELECT count(*) FROM auth.sessions",
        "UPDATE organizations SET generations_limit = 1000000",
        "UPDATE projects SET prompt = 'changed by the worker'",
        "DELETE FROM generations",
    ] {
        let refused = sqlx::query(forbidden).execute(st.db.pool()).await;
        assert!(refused.is_err(), "the worker role must not run: {forbidden}");
    }
    let _ = std::fs::remove_dir_all(&st.dir);
}

/// The frames of `video` (rgb24 at `w`×`h`) whose numbers are in `wanted`.
fn decoded_frames(video: &std::path::Path, (w, h): (u32, u32), wanted: &[usize]) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(video)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let frames: Vec<&[u8]> = out.stdout.chunks_exact((w * h * 3) as usize).collect();
    wanted.iter().map(|n| frames[*n].to_vec()).collect()
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a.iter().zip(b).map(|(x, y)| f64::from(x.abs_diff(*y)).powi(2)).sum::<f64>() / a.len() as f64;
    10.0 * (255.0f64.powi(2) / mse.max(1e-9)).log10()
}

/// Shapes and trims through the worker: a 20 s part from 0:40 of a 64 s song, in 9:16, lasts
/// 20 s (± a frame), is 720×1280 with a thumbnail of its shape, its frames are the whole song's
/// frames at the same times (drawn again here from the stored plan, without the trim), and its
/// audio is that part of the track (the song's silence at 0:45 is 5 s into it); a 1:1 render is
/// square.
#[tokio::test]
async fn a_vertical_part_of_the_song_is_the_full_render_over_that_part_and_a_square_is_square() {
    let st = setup().await;
    let audio = click_track_silent(64.0, 120.0, 45.0..47.0);
    let (_, p) = st.s.post("/v1/projects", &st.org.developer.access, new_project("Shapes")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    st.s.upload_audio(&st.org.developer.access, &project, &audio).await;
    let path = format!("/v1/projects/{project}");
    let look = json!({"resolution": "720p", "aspect": "9:16", "style_preference": "geometric",
                      "prompt": "neon rain over a night city", "effect_intensity": 0.8, "audio_duration": 64.0});
    let (status, p) = st.s.patch(&path, &st.org.developer.access, look).await;
    assert_eq!((status.as_u16(), p["aspect"].as_str()), (200, Some("9:16")), "{p}");
    let part = start_generation_with(&st, &project, json!({"trim_start": 40, "trim_end": 60})).await;
    let (status, p) = st.s.patch(&path, &st.org.developer.access, json!({"aspect": "1:1"})).await;
    assert_eq!((status.as_u16(), p["aspect"].as_str()), (200, Some("1:1")), "{p}");
    let square = start_generation_with(&st, &project, json!({"trim_start": 10, "trim_end": 12})).await;
    let settings = WorkerSettings { name: "w1".into(), ..Default::default() };
    assert!(worker::run_once(&st.db, &st.store, &settings).await.unwrap());
    assert!(worker::run_once(&st.db, &st.store, &settings).await.unwrap());

    let (_, g) = st.s.get(&format!("/v1/generations/{part}"), &st.org.viewer.access).await;
    assert_eq!(g["status"], "completed", "{g}");
    assert!((g["duration"].as_f64().unwrap() - 20.0).abs() < 1e-9, "{g}");
    let base = st.dir.join(format!("{}/{project}/renders/{part}", st.org.id));
    let video = base.with_extension("mp4");
    let probe = ffprobe(&video);
    let streams = probe["streams"].as_array().unwrap();
    let v = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!((v["width"].as_i64(), v["height"].as_i64()), (Some(720), Some(1280)), "9:16 at 720p");
    assert_eq!(v["nb_frames"].as_str(), Some("600"), "20 s at 30 frames a second");
    let duration: f64 = probe["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((duration - 20.0).abs() <= 1.0 / 30.0 + 0.03, "the part lasts {duration} s");
    let a = streams.iter().find(|s| s["codec_type"] == "audio").unwrap();
    let audio_seconds: f64 = a["duration"].as_str().unwrap().parse().unwrap();
    assert!((audio_seconds - 20.0).abs() <= 0.05, "the audio is the part's too: {audio_seconds} s");
    let (loud, silent) = (audio_level(&video, 1.0..4.0), audio_level(&video, 5.2..6.8));
    assert!(
        loud > 0.05 && silent < loud / 50.0,
        "the song's silence at 0:45 is 5 s into the part: {loud:.4} then {silent:.4}"
    );
    let thumb = ffprobe(&base.with_extension("jpg"));
    let t = &thumb["streams"][0];
    assert_eq!((t["width"].as_i64(), t["height"].as_i64()), (Some(720), Some(1280)), "the thumbnail has the shape");
    let plan: resonance_visuals::VisualPlan = serde_json::from_value(g["visual_plan"].clone()).unwrap();
    assert_eq!(plan.trim, Some(resonance_visuals::Trim { start: 40.0, end: 60.0 }));
    assert!(
        (40.0..60.0).contains(&plan.thumbnail_time),
        "the thumbnail is a frame of the part: {}",
        plan.thumbnail_time
    );
    // The frames: the whole song's plan (no trim) drawn at the same times, against the video's.
    let whole = resonance_visuals::VisualPlan { trim: None, ..plan };
    let wanted = [0usize, 137, 599];
    let decoded = decoded_frames(&video, (720, 1280), &wanted);
    for (n, got) in wanted.iter().zip(&decoded) {
        let mut same = resonance_visuals::Frame::new(720, 1280);
        resonance_visuals::draw(&whole, (1200 + n) as f64 / 30.0, &mut same);
        let mut later = resonance_visuals::Frame::new(720, 1280);
        resonance_visuals::draw(&whole, (1200 + n) as f64 / 30.0 + 0.5, &mut later);
        let (matched, shifted) = (psnr(got, &same.rgb), psnr(got, &later.rgb));
        assert!(
            matched > 28.0 && matched > shifted + 3.0,
            "frame {n}: {matched:.1} dB at its time, {shifted:.1} dB half a second on"
        );
    }

    let (_, g) = st.s.get(&format!("/v1/generations/{square}"), &st.org.viewer.access).await;
    assert_eq!(g["status"], "completed", "{g}");
    let video = st.dir.join(format!("{}/{project}/renders/{square}.mp4", st.org.id));
    let probe = ffprobe(&video);
    let v = probe["streams"].as_array().unwrap().iter().find(|s| s["codec_type"] == "video").unwrap().clone();
    assert_eq!(
        (v["width"].as_i64(), v["height"].as_i64(), v["nb_frames"].as_str()),
        (Some(720), Some(720), Some("60"))
    );
    let _ = std::fs::remove_dir_all(&st.dir);
}

/// A file made by ffmpeg from `args`, its bytes.
fn made(name: &str, args: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(name);
    let ok =
        Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args.split_whitespace()).arg(&out).status().unwrap();
    assert!(ok.success(), "ffmpeg {args}");
    std::fs::read(&out).unwrap()
}

/// The times ffmpeg's scene detection finds a cut at in `video` (score above `threshold`).
fn detected_cuts(video: &std::path::Path, threshold: f64) -> Vec<f64> {
    let out = Command::new("ffmpeg")
        .args(["-v", "info", "-i"])
        .arg(video)
        .args(["-vf", &format!("select='gt(scene,{threshold})',showinfo"), "-an", "-f", "null", "-"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("Parsed_showinfo"))
        .filter_map(|l| l.split("pts_time:").nth(1)?.split_whitespace().next()?.parse().ok())
        .collect()
}

fn framemd5(video: &std::path::Path) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(video)
        .args(["-an", "-f", "framemd5", "-"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit(',').next().unwrap_or("").trim().to_owned())
        .collect()
}

#[tokio::test]
async fn footage_is_cut_on_the_music_and_at_visibility_zero_none_of_it_shows() {
    let st = setup().await;
    let token = &st.org.developer.access;
    let audio = click_track(12.0, 120.0);
    let (_, p) = st.s.post("/v1/projects", token, new_project("Band video")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    st.s.upload_audio(token, &project, &audio).await;
    let clips = [
        ("band.mp4", made("a.mp4", "-f lavfi -i testsrc2=s=640x360:r=30:d=6 -c:v libx264 -pix_fmt yuv420p")),
        ("crowd.mp4", made("b.mp4", "-f lavfi -i mandelbrot=s=640x360:r=30 -t 6 -c:v libx264 -pix_fmt yuv420p")),
        ("cover.png", made("c.png", "-f lavfi -i smptehdbars=s=640x360 -frames:v 1")),
    ];
    for (name, bytes) in &clips {
        st.s.upload_footage(token, &project, bytes, name).await;
    }
    let look = json!({"resolution": "720p", "style_preference": "minimal", "prompt": "a quiet room",
                      "effect_intensity": 0.5, "footage_visibility": 1.0});
    let (status, _) = st.s.patch(&format!("/v1/projects/{project}"), token, look).await;
    assert_eq!(status, 200);
    let cut = start_generation_with(&st, &project, json!({"seed": "cut"})).await;
    let settings = WorkerSettings { name: "w1".into(), ..Default::default() };
    assert!(worker::run_once(&st.db, &st.store, &settings).await.unwrap());
    let (_, g) = st.s.get(&format!("/v1/generations/{cut}"), token).await;
    assert_eq!(g["status"], "completed", "{g}");
    let plan: resonance_visuals::VisualPlan = serde_json::from_value(g["visual_plan"].clone()).unwrap();
    assert_eq!(plan.footage.len(), 3, "the plan records the footage it cut");
    assert!(plan.cuts.len() >= 3, "{:?}", plan.cuts);
    let video = st.dir.join(format!("{}/{project}/renders/{cut}.mp4", st.org.id));
    let found = detected_cuts(&video, 0.2);
    let planned: Vec<f64> = plan.cuts.iter().skip(1).map(|c| c.start).collect();
    let frame = 1.0 / 30.0 + 1e-3;
    for t in &found {
        assert!(
            planned.iter().any(|p| (p - t).abs() <= frame),
            "a cut at {t} s that the plan does not have: {planned:?}"
        );
    }
    for p in &planned {
        assert!(found.iter().any(|t| (p - t).abs() <= frame), "the plan's cut at {p} s is not in the video: {found:?}");
    }
    println!("cuts: planned {planned:?}, detected {found:?}");
    // A contact sheet, for a person to look at.
    let sheet = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("footage-render.png");
    let _ = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&video)
        .args(["-vf", "fps=2,scale=320:-2,tile=4x6", "-frames:v", "1"])
        .arg(&sheet)
        .status();

    // A part of it shows the full render's pictures at the same times (each cut is decoded from
    // its own source, never from where the part starts).
    let part = start_generation_with(&st, &project, json!({"seed": "cut", "trim_start": 3.0, "trim_end": 9.0})).await;
    assert!(worker::run_once(&st.db, &st.store, &settings).await.unwrap());
    let part_video = st.dir.join(format!("{}/{project}/renders/{part}.mp4", st.org.id));
    let wanted = [0usize, 31, 95, 179];
    let full = decoded_frames(&video, (1280, 720), &wanted.map(|n| n + 90));
    let trimmed = decoded_frames(&part_video, (1280, 720), &wanted);
    for ((n, a), b) in wanted.iter().zip(&full).zip(&trimmed) {
        let db = psnr(a, b);
        assert!(db > 32.0, "frame {n} of the part against the full render's: {db:.1} dB");
    }

    // At visibility 0 the video is the graphics alone: the very frames of a project without footage.
    let (status, _) = st.s.patch(&format!("/v1/projects/{project}"), token, json!({"footage_visibility": 0.0})).await;
    assert_eq!(status, 200);
    let hidden = start_generation_with(&st, &project, json!({"seed": "same"})).await;
    let (_, p) = st.s.post("/v1/projects", token, new_project("No footage")).await;
    let bare = p["id"].as_str().unwrap().to_owned();
    st.s.upload_audio(token, &bare, &audio).await;
    let look = json!({"resolution": "720p", "style_preference": "minimal", "prompt": "a quiet room",
                      "effect_intensity": 0.5, "footage_visibility": 0.0});
    let (status, _) = st.s.patch(&format!("/v1/projects/{bare}"), token, look).await;
    assert_eq!(status, 200);
    let plain = start_generation_with(&st, &bare, json!({"seed": "same"})).await;
    assert!(worker::run_once(&st.db, &st.store, &settings).await.unwrap());
    assert!(worker::run_once(&st.db, &st.store, &settings).await.unwrap());
    let hidden = framemd5(&st.dir.join(format!("{}/{project}/renders/{hidden}.mp4", st.org.id)));
    let plain = framemd5(&st.dir.join(format!("{}/{bare}/renders/{plain}.mp4", st.org.id)));
    assert_eq!(hidden.len(), 360);
    assert!(hidden == plain, "at visibility 0 no frame shows footage");
    let _ = std::fs::remove_dir_all(&st.dir);
}

#[tokio::test]
async fn a_crashed_workers_job_is_finished_by_another_and_a_hopeless_one_fails_at_once() {
    let st = setup().await;
    let audio = click_track(2.0, 100.0);
    let (_, generation) = project_with_generation(&st, Some(&audio)).await;
    // Worker A claims the job and dies without a word.
    let a = WorkerSettings { name: "a".into(), lease: Duration::from_secs(60), ..Default::default() };
    let claimed = worker::claim(&st.db, &a).await.unwrap().unwrap();
    assert_eq!(claimed.generation_id.to_string(), generation);
    let b = WorkerSettings { name: "b".into(), ..Default::default() };
    assert!(!worker::run_once(&st.db, &st.store, &b).await.unwrap(), "a leased job is not taken");
    sqlx::query("UPDATE render.jobs SET lease_expires_at = now() - interval '1 second'")
        .execute(&st.s.owner)
        .await
        .unwrap();
    assert!(worker::run_once(&st.db, &st.store, &b).await.unwrap());
    let (_, g) = st.s.get(&format!("/v1/generations/{generation}"), &st.org.developer.access).await;
    assert_eq!(g["status"], "completed");
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM render.jobs").fetch_one(&st.s.owner).await.unwrap();
    assert_eq!(attempts, 2);

    // A project whose audio never reached storage fails at once with the reason: no attempt
    // could do better.
    let (project, hopeless) = project_with_generation(&st, None).await;
    assert!(worker::run_once(&st.db, &st.store, &b).await.unwrap());
    assert!(!worker::run_once(&st.db, &st.store, &b).await.unwrap(), "no second attempt");
    let (_, g) = st.s.get(&format!("/v1/generations/{hopeless}"), &st.org.developer.access).await;
    assert_eq!(g["status"], "failed");
    let message = g["error_message"].as_str().unwrap();
    assert!(message.contains("no uploaded audio"), "{message}");
    let (_, p) = st.s.get(&format!("/v1/projects/{project}"), &st.org.developer.access).await;
    assert_eq!(p["status"], "failed");

    // A worker that died on the last attempt: when its lease runs out, the job is given up.
    let (_, last) = project_with_generation(&st, Some(&audio)).await;
    sqlx::query(
        "UPDATE render.jobs SET state = 'running', attempts = max_attempts, leased_by = 'gone', \
         lease_expires_at = now() - interval '1 second', last_error = 'the worker vanished' WHERE generation_id = $1",
    )
    .bind(last.parse::<Uuid>().unwrap())
    .execute(&st.s.owner)
    .await
    .unwrap();
    assert!(worker::run_once(&st.db, &st.store, &b).await.unwrap());
    let (_, g) = st.s.get(&format!("/v1/generations/{last}"), &st.org.developer.access).await;
    assert_eq!(g["status"], "failed");
    assert!(g["error_message"].as_str().unwrap().contains("the worker vanished"), "{g}");
    let _ = std::fs::remove_dir_all(&st.dir);
}
