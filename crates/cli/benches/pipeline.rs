//! `cargo xtask bench` (render pipeline): upload throughput on loopback against curl sending the
//! same file to the same server in one request; render speed as a multiple of real time at 720p
//! and 1080p; and the latency from the worker completing a generation to the client's
//! notification. Targets: upload ≥ 0.8× curl, notification p95 under 1 s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::*;
use resonance_client::watcher::{Notification, Notifier};
use resonance_client::{Client, DataDir};
use uuid::Uuid;

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

struct Clock(Mutex<Vec<(Uuid, SystemTime)>>);

impl Notifier for Clock {
    fn notify(&self, n: &Notification) {
        if let Ok(mut v) = self.0.lock() {
            v.push((n.generation_id, SystemTime::now()));
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let keyring = Keyring::start();
    let backend = Backend::start_with(|s| s.max_upload_bytes = 1 << 30).await;
    let (token, owner) = backend.signup("bench@example.com", "Bench").await;
    let org: Uuid = owner["user"]["organization_id"].as_str().unwrap().parse().unwrap();
    sqlx::query("UPDATE organizations SET generations_limit = 1000 WHERE id = $1")
        .bind(org)
        .execute(&backend.owner)
        .await
        .unwrap();
    let m = Machine::new(&keyring, &backend.base);
    assert!(m.login("bench@example.com").await.status.success());
    for (k, v) in keyring.env() {
        std::env::set_var(k, v);
    }
    let client = Client::open(DataDir::resolve(Some(m.data.clone())).unwrap()).unwrap();

    // Upload: a 60 MB WAV, ours (checksummed chunks sized to the link) against one curl PATCH.
    let big = tone_wav(keyring.dir.path(), "big.wav", 680.0);
    let size = std::fs::metadata(&big).unwrap().len() as f64;
    let short = tone_wav(keyring.dir.path(), "short.wav", 1.0);
    let project =
        m.ok(&["project", "create", "--name", "Bench", "--prompt", "p", "--audio", short.to_str().unwrap()]).await;
    let project: Uuid = project.trim().parse().unwrap();
    let (mut ours, mut curl) = (Vec::new(), Vec::new());
    for round in 0..3 {
        // A fresh copy each round (other bytes), so nothing finishes as "already stored".
        let file = keyring.dir.path().join(format!("big-{round}.wav"));
        let mut bytes = std::fs::read(&big).unwrap();
        let last = bytes.len() - 1;
        bytes[last] = round as u8;
        std::fs::write(&file, &bytes).unwrap();
        let facts = client.probe_audio(&file).unwrap();
        let upload = client.record_upload(project, &file, &facts).unwrap();
        let (_, paused) = tokio::sync::watch::channel(false);
        let started = Instant::now();
        client.run_upload(upload.id, &paused, |_| {}).await.unwrap();
        ours.push(started.elapsed().as_secs_f64());

        let mut other = bytes.clone();
        other[last] = 100 + round as u8;
        let copy = keyring.dir.path().join(format!("curl-{round}.wav"));
        std::fs::write(&copy, &other).unwrap();
        let meta = format!("project_id {}", base64_of(&project.to_string()));
        let started = Instant::now();
        let created = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-D", "-", "-X", "POST", "-H", "Tus-Resumable: 1.0.0"])
            .args(["-H", &format!("Upload-Length: {}", other.len()), "-H", &format!("Upload-Metadata: {meta}")])
            .args(["-H", &format!("Authorization: Bearer {token}"), &format!("{}/v1/uploads", backend.base)])
            .output()
            .unwrap();
        let headers = String::from_utf8_lossy(&created.stdout).to_string();
        let location = headers
            .lines()
            .find_map(|l| l.strip_prefix("location: ").or_else(|| l.strip_prefix("Location: ")))
            .unwrap()
            .trim()
            .to_owned();
        let sent = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH", "-H", "Tus-Resumable: 1.0.0"])
            .args(["-H", "Content-Type: application/offset+octet-stream", "-H", "Upload-Offset: 0"])
            .args(["-H", &format!("Authorization: Bearer {token}"), "-T"])
            .arg(&copy)
            .arg(format!("{}{location}", backend.base))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&sent.stdout), "204");
        curl.push(started.elapsed().as_secs_f64());
    }
    let (ours, curl) = (percentile(ours, 0.5), percentile(curl, 0.5));
    let ratio = curl / ours;
    println!(
        "pipeline bench: upload of {:.0} MB on loopback: ours {:.2} s ({:.0} MB/s), curl -T {:.2} s ({:.0} MB/s): {ratio:.2}x curl (target >= 0.8: {})",
        size / 1e6,
        ours,
        size / 1e6 / ours,
        curl,
        size / 1e6 / curl,
        if ratio >= 0.8 { "met" } else { "NOT met" }
    );

    // Footage: a ~70 MB H.264 clip (moov first, so the changed last byte is picture data), ours
    // against one curl PATCH with the purpose `footage`; both include the server's probe, decode
    // check and poster.
    let clip = keyring.dir.path().join("clip.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30", "-t", "14"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", "-movflags", "+faststart"])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(made.success());
    let clip_bytes = std::fs::read(&clip).unwrap();
    let clip_size = clip_bytes.len() as f64;
    let (mut ours, mut curl) = (Vec::new(), Vec::new());
    for round in 0..3u8 {
        let file = keyring.dir.path().join(format!("clip-{round}.mp4"));
        let mut bytes = clip_bytes.clone();
        let last = bytes.len() - 1;
        bytes[last] ^= round + 1;
        std::fs::write(&file, &bytes).unwrap();
        let probed = client.probe_footage(&file).unwrap();
        let upload = client.record_footage(project, &file, &probed).unwrap();
        let (_, paused) = tokio::sync::watch::channel(false);
        let started = Instant::now();
        client.run_upload(upload.id, &paused, |_| {}).await.unwrap();
        ours.push(started.elapsed().as_secs_f64());

        bytes[last] ^= 0x80;
        let copy = keyring.dir.path().join(format!("curl-clip-{round}.mp4"));
        std::fs::write(&copy, &bytes).unwrap();
        let meta = format!("project_id {},purpose {}", base64_of(&project.to_string()), base64_of("footage"));
        let started = Instant::now();
        let created = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-D", "-", "-X", "POST", "-H", "Tus-Resumable: 1.0.0"])
            .args(["-H", &format!("Upload-Length: {}", bytes.len()), "-H", &format!("Upload-Metadata: {meta}")])
            .args(["-H", &format!("Authorization: Bearer {token}"), &format!("{}/v1/uploads", backend.base)])
            .output()
            .unwrap();
        let headers = String::from_utf8_lossy(&created.stdout).to_string();
        let location = headers
            .lines()
            .find_map(|l| l.strip_prefix("location: ").or_else(|| l.strip_prefix("Location: ")))
            .unwrap()
            .trim()
            .to_owned();
        let sent = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH", "-H", "Tus-Resumable: 1.0.0"])
            .args(["-H", "Content-Type: application/offset+octet-stream", "-H", "Upload-Offset: 0"])
            .args(["-H", &format!("Authorization: Bearer {token}"), "-T"])
            .arg(&copy)
            .arg(format!("{}{location}", backend.base))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&sent.stdout), "204");
        curl.push(started.elapsed().as_secs_f64());
    }
    let (ours, curl) = (percentile(ours, 0.5), percentile(curl, 0.5));
    let ratio = curl / ours;
    println!(
        "pipeline bench: footage upload of {:.0} MB on loopback: ours {:.2} s ({:.0} MB/s), curl -T {:.2} s ({:.0} MB/s): {ratio:.2}x curl (target >= 0.8: {})",
        clip_size / 1e6,
        ours,
        clip_size / 1e6 / ours,
        curl,
        clip_size / 1e6 / curl,
        if ratio >= 0.8 { "met" } else { "NOT met" }
    );

    // Render speed: a 30 s track at 720p and 1080p.
    let db = resonance_server::Db::connect_worker(
        &resonance_server::config::DatabaseUrl::parse(&backend.db_url()).unwrap(),
        4,
    )
    .await
    .unwrap();
    let storage = backend.storage_handle();
    let track = tone_wav(keyring.dir.path(), "track.wav", 30.0);
    for resolution in ["720p", "1080p"] {
        let p = m
            .ok(&[
                "project",
                "create",
                "--name",
                resolution,
                "--prompt",
                "p",
                "--resolution",
                resolution,
                "--audio",
                track.to_str().unwrap(),
            ])
            .await;
        let p = p.trim().to_owned();
        m.ok(&["generate", &p]).await;
        let settings = resonance_server::worker::WorkerSettings::default();
        let started = Instant::now();
        assert!(resonance_server::worker::run_once(&db, &storage, &settings).await.unwrap());
        let took = started.elapsed().as_secs_f64();
        println!("pipeline bench: render of 30 s at {resolution}: {took:.1} s, {:.2}x real time", 30.0 / took);
    }

    // Notification latency: completed by the worker → announced by the watcher.
    let clock = Arc::new(Clock(Mutex::new(Vec::new())));
    let watching = {
        let client = Client::open(DataDir::resolve(Some(m.data.clone())).unwrap()).unwrap();
        let clock = clock.clone();
        tokio::spawn(async move {
            let _ = client.watch(clock, Arc::new(())).await;
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let one = m
        .ok(&[
            "project",
            "create",
            "--name",
            "Short",
            "--prompt",
            "p",
            "--resolution",
            "720p",
            "--audio",
            short.to_str().unwrap(),
        ])
        .await;
    let one = one.trim().to_owned();
    let mut latencies = Vec::new();
    for _ in 0..20 {
        let g = m.ok(&["generate", &one]).await;
        let g: Uuid = g.trim().parse().unwrap();
        let settings = resonance_server::worker::WorkerSettings::default();
        assert!(resonance_server::worker::run_once(&db, &storage, &settings).await.unwrap());
        let completed_at: chrono::DateTime<chrono::Utc> =
            sqlx::query_scalar("SELECT completed_at FROM generations WHERE id = $1")
                .bind(g)
                .fetch_one(&backend.owner)
                .await
                .unwrap();
        let mut told = None;
        for _ in 0..100 {
            told = clock.0.lock().unwrap().iter().find(|(id, _)| *id == g).map(|(_, t)| *t);
            if told.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let told: chrono::DateTime<chrono::Utc> = told.expect("every render is announced").into();
        latencies.push((told - completed_at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
    }
    watching.abort();
    let p95 = percentile(latencies.clone(), 0.95);
    println!(
        "pipeline bench: completed -> notification: p50 {:.0} ms, p95 {p95:.0} ms (target < 1000: {})",
        percentile(latencies, 0.5),
        if p95 < 1000.0 { "met" } else { "NOT met" }
    );
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}
