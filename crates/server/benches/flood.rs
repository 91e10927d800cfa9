//! `cargo xtask bench` (flood): the server as its own process (the release binary) against two
//! crowds, with its resident memory sampled from `/proc` every 20 ms.
//!
//! 1. 400 parallel sign-ins with random e-mails, from one address with the per-address rate
//!    lifted (as a botnet of many addresses would arrive). Targets: RSS under 300 MB at the peak,
//!    back under 100 MB within 30 s, and no 5xx but 503 with `Retry-After`.
//! 2. 16 uploads of 200 MB whose last chunks arrive at the same moment, so all 16 are joined,
//!    hashed and decoded at once, while `/v1/health` and `/v1/sync` are asked every 100 ms.
//!    Target: both answer within 1 s throughout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

const SECRET: &str = "bench-secret-bench-secret-bench-secret-0";
const SIGN_INS: usize = 400;
const UPLOADS: usize = 16;
const UPLOAD_BYTES: usize = 200 << 20;
const CHUNK: usize = 64 << 20;

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Samples the server's RSS until dropped.
struct Sampler {
    samples: Arc<Mutex<Vec<(Instant, u64)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Sampler {
    fn start(pid: u32) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, st) = (Arc::clone(&samples), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !st.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(kb) = rss_kb(pid) {
                    s.lock().unwrap().push((Instant::now(), kb));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self { samples, stop }
    }

    fn peak_mb_since(&self, from: Instant) -> f64 {
        let samples = self.samples.lock().unwrap();
        samples.iter().filter(|(t, _)| *t >= from).map(|(_, kb)| *kb).max().unwrap_or(0) as f64 / 1024.0
    }

    fn latest_mb(&self) -> f64 {
        self.samples.lock().unwrap().last().map_or(0.0, |(_, kb)| *kb as f64 / 1024.0)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

struct Server {
    child: Child,
    base: String,
    _storage: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_server(db_url: &str) -> Server {
    let bin = env!("CARGO_BIN_EXE_resonance-server");
    let migrated = Command::new(bin).args(["migrate", "--database-url", db_url]).status().unwrap();
    assert!(migrated.success(), "migrate failed");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let storage = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args(["serve", "--database-url", db_url, "--jwt-secret", SECRET, "--listen", &format!("127.0.0.1:{port}")])
        .arg("--storage")
        .arg(storage.path())
        .args(["--max-upload-bytes", &(UPLOAD_BYTES * 2).to_string(), "--auth-per-minute", "1000000"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{base}/v1/health")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Server { child, base, _storage: storage };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start");
}

async fn sign_in_flood(server: &Server) {
    let pid = server.child.id();
    let sampler = Sampler::start(pid);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = sampler.latest_mb();
    let http = reqwest::Client::builder().pool_max_idle_per_host(SIGN_INS).build().unwrap();
    let started = Instant::now();
    let tries = (0..SIGN_INS).map(|_| {
        let (http, base) = (http.clone(), server.base.clone());
        async move {
            let resp = http
                .post(format!("{base}/v1/auth/token"))
                .json(&json!({"grant_type": "password", "email": format!("{}@flood.test", Uuid::new_v4()), "password": "guess"}))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.headers().contains_key("retry-after"))
        }
    });
    let answers = futures::future::join_all(tries).await;
    let took = started.elapsed();
    let peak = sampler.peak_mb_since(started);
    let settled = Instant::now();
    while sampler.latest_mb() >= 100.0 && settled.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let back = (sampler.latest_mb() < 100.0).then(|| settled.elapsed());
    let count = |f: &dyn Fn(&(u16, bool)) -> bool| answers.iter().filter(|a| f(a)).count();
    let wrong = count(&|a| a.0 == 401);
    let busy = count(&|a| a.0 == 503 && a.1);
    let bad = count(&|a| a.0 >= 500 && !(a.0 == 503 && a.1));
    println!("flood: {SIGN_INS} parallel sign-ins, random e-mails, in {took:.1?}");
    println!("  answers: {wrong} × 401, {busy} × 503 with Retry-After, {bad} other 5xx (target 0)");
    println!("  server RSS: {baseline:.0} MB before, {peak:.0} MB at the peak (target < 300 MB)");
    match back {
        Some(t) => {
            println!("  back under 100 MB {t:.1?} after the flood ({:.0} MB; target within 30 s)", sampler.latest_mb())
        }
        None => println!("  NOT back under 100 MB within 30 s ({:.0} MB)", sampler.latest_mb()),
    }
}

/// A 16-bit stereo WAV of `bytes` (about), a tone with a little movement so it is real audio.
fn wav(bytes: usize) -> bytes::Bytes {
    let frames = (bytes - 44) / 4;
    let samples: Vec<i16> = (0..frames)
        .flat_map(|i| {
            let t = i as f64 / 44_100.0;
            let v = ((t * 220.0 * std::f64::consts::TAU).sin() * (0.5 + 0.5 * (t * 0.5).sin()) * 9000.0) as i16;
            [v, v]
        })
        .collect();
    bytes::Bytes::from(resonance_audio::wav::pcm16_file(&samples, 2, 44_100))
}

async fn finishing_uploads(server: &Server) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).build().unwrap();
    let base = &server.base;
    let signed_up: serde_json::Value = http
        .post(format!("{base}/v1/auth/signup"))
        .json(&json!({"email": "big@flood.test", "password": "a long enough password", "name": "Big", "organization_name": "Big"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed_up["access_token"].as_str().unwrap().to_owned();
    let file = wav(UPLOAD_BYTES);
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut locations = Vec::new();
    for n in 0..UPLOADS {
        let project: serde_json::Value = http
            .post(format!("{base}/v1/projects"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("Long {n}"), "prompt": "p", "audio_path": "long.wav"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let created = http
            .post(format!("{base}/v1/uploads"))
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", file.len().to_string())
            .header("Upload-Metadata", format!("project_id {}", b64(project["id"].as_str().unwrap())))
            .send()
            .await
            .unwrap();
        locations.push(created.headers()["location"].to_str().unwrap().to_owned());
    }
    let patch = |location: String, from: usize, to: usize| {
        let (http, base, token, body) = (http.clone(), base.clone(), token.clone(), file.slice(from..to));
        async move {
            let resp = http
                .patch(format!("{base}{location}"))
                .bearer_auth(&token)
                .header("Tus-Resumable", "1.0.0")
                .header("Content-Type", "application/offset+octet-stream")
                .header("Upload-Offset", from.to_string())
                .body(body)
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        }
    };
    // Everything but the last chunk, upload by upload.
    let last = (file.len() - 1) / CHUNK * CHUNK;
    for location in &locations {
        let mut at = 0;
        while at < last {
            assert_eq!(patch(location.clone(), at, at + CHUNK).await, 204);
            at += CHUNK;
        }
    }
    // The probes, every 100 ms, while the 16 last chunks arrive together.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let (http, base, token, stop) = (http.clone(), base.clone(), token.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut worst = (Duration::ZERO, Duration::ZERO);
            let mut over = 0;
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                let health = http.get(format!("{base}/v1/health")).send().await.map(|r| r.status().is_success());
                let h = t.elapsed();
                let t = Instant::now();
                let sync = http.get(format!("{base}/v1/sync?limit=1")).bearer_auth(&token).send().await;
                let s = t.elapsed();
                assert!(health.unwrap_or(false) && sync.is_ok_and(|r| r.status().is_success()), "a probe failed");
                worst = (worst.0.max(h), worst.1.max(s));
                over += usize::from(h > Duration::from_secs(1)) + usize::from(s > Duration::from_secs(1));
                n += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (worst, over, n)
        })
    };
    let sampler = Sampler::start(server.child.id());
    let started = Instant::now();
    let finishing = locations.iter().map(|l| patch(l.clone(), last, file.len()));
    let statuses = futures::future::join_all(finishing).await;
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let ((health, sync), over, probes) = probe.await.unwrap();
    let done = statuses.iter().filter(|s| **s == 204).count();
    println!(
        "uploads: {UPLOADS} × {} MB finishing at once: {done} of {UPLOADS} kept as audio in {took:.1?}",
        file.len() >> 20
    );
    println!(
        "  while they finished, {probes} probes: /v1/health at worst {health:.0?}, /v1/sync at worst {sync:.0?}, {over} over 1 s (target 0)"
    );
    println!("  server RSS at the peak: {:.0} MB", sampler.peak_mb_since(started));
}

#[tokio::main]
async fn main() {
    let admin = std::env::var("RESONANCE_TEST_DATABASE_URL")
        .expect("RESONANCE_TEST_DATABASE_URL is not set: run with `cargo xtask bench`, which starts Postgres");
    let name = format!("flood_{}", Uuid::new_v4().simple());
    let pool = PgPoolOptions::new().max_connections(1).connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
    let db_url = format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]);
    {
        let server = start_server(&db_url).await;
        sign_in_flood(&server).await;
        finishing_uploads(&server).await;
    }
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&pool).await;
}
