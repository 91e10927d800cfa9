//! Scale-out, for real: storage on an S3 server (moto's, installed from PyPI by `cargo xtask
//! test`) and, on one Postgres database, two API server processes and two render worker
//! processes (the `resonance-server` binary, as deployed). Audio goes up through one server, the
//! generation starts through the other, the worker that took the render is killed mid-way and
//! the other finishes it after the lease; the video comes down through the first server, and
//! every object is in the bucket, none on disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use uuid::Uuid;

/// A child process killed when the test ends, however it ends.
struct Process(Child, &'static str);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_for(http: &reqwest::Client, url: &str, what: &str) {
    for _ in 0..300 {
        if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not come up at {url}");
}

/// A 16-bit mono click track at 120 BPM, `seconds` long.
fn clicks(seconds: f64) -> Vec<u8> {
    let rate = 44_100u32;
    let samples: Vec<i16> = (0..(f64::from(rate) * seconds) as u32)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            let click = if i % (rate / 2) < 800 { (t * 1000.0 * std::f64::consts::TAU).sin() * 0.8 } else { 0.0 };
            ((click + (t * 110.0 * std::f64::consts::TAU).sin() * 0.1) * 30_000.0) as i16
        })
        .collect();
    wav_file(&samples, 1, rate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_and_two_workers_on_s3_survive_a_worker_killed_mid_render() {
    let moto = std::env::var("RESONANCE_MOTO_SERVER").expect(
        "RESONANCE_MOTO_SERVER is not set: run the tests with `cargo xtask test`, which installs moto's S3 server",
    );
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let s3_port = free_port();
    let _s3 = Process(
        Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &s3_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts"),
        "moto",
    );
    let s3 = format!("http://127.0.0.1:{s3_port}");
    wait_for(&http, &s3, "moto's S3 server").await;
    let bucket = format!("resonance-{}", Uuid::new_v4().simple());
    assert!(http.put(format!("{s3}/{bucket}")).send().await.unwrap().status().is_success());
    let storage = format!("s3://{bucket}/media");
    let aws = [
        ("AWS_ENDPOINT", s3.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    let db_url = fresh_database().await;
    let bin = env!("CARGO_BIN_EXE_resonance-server");
    let status = Command::new(bin).args(["migrate", "--database-url", &db_url]).status().unwrap();
    assert!(status.success(), "migrate");

    // The binary as deployed, on the one database and the one bucket.
    let launch = |name: &'static str, args: &[&str]| {
        let child = Command::new(bin)
            .args(args)
            .args(["--database-url", &db_url, "--storage", &storage])
            .envs(aws)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Process(child, name)
    };
    let server = |name: &'static str, port: u16| {
        let listen = format!("127.0.0.1:{port}");
        launch(
            name,
            &["serve", "--listen", &listen, "--jwt-secret", SECRET, "--auth-per-minute", "100000", "--db-pool", "4"],
        )
    };
    let worker = |name: &'static str| launch(name, &["worker", "--lease-seconds", "10", "--name", name]);
    let (port_a, port_b) = (free_port(), free_port());
    let _a = server("server-a", port_a);
    let _b = server("server-b", port_b);
    let (a, b) = (format!("http://127.0.0.1:{port_a}"), format!("http://127.0.0.1:{port_b}"));
    wait_for(&http, &format!("{a}/v1/health"), "server A").await;
    wait_for(&http, &format!("{b}/v1/health"), "server B").await;
    let mut workers = vec![worker("worker-1"), worker("worker-2")];

    // Sign up on A; the session works on B (one database, one secret).
    let signup =
        json!({"email": "scale@example.com", "password": PASSWORD, "name": "Scale", "organization_name": "Scale"});
    let resp = http.post(format!("{a}/v1/auth/signup")).json(&signup).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let token = resp.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let made: Value = http
        .post(format!("{b}/v1/projects"))
        .bearer_auth(&token)
        .json(&new_project("Scaled"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let project = made["id"].as_str().unwrap().to_owned();
    let look = json!({"resolution": "720p", "style_preference": "geometric"});
    let resp = http.patch(format!("{a}/v1/projects/{project}")).bearer_auth(&token).json(&look).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    // Upload through A: created on A, the bytes sent to B (any instance takes any chunk).
    let audio = clicks(8.0);
    let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    let created = http
        .post(format!("{a}/v1/uploads"))
        .bearer_auth(&token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", audio.len().to_string())
        .header("Upload-Metadata", format!("project_id {},filename {}", b64(&project), b64("clicks.wav")))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let half = audio.len() / 2;
    for (server, from, to) in [(&a, 0, half), (&b, half, audio.len())] {
        let resp = http
            .patch(format!("{server}{location}"))
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", from.to_string())
            .body(audio[from..to].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    }

    // Generate through B; kill the worker that takes the render once it is under way.
    let resp = http
        .post(format!("{b}/v1/projects/{project}/generations"))
        .bearer_auth(&token)
        .header("Idempotency-Key", Uuid::new_v4().to_string())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let generation = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let owner = sqlx::PgPool::connect(&db_url).await.unwrap();
    let mut killed = None;
    for _ in 0..600 {
        let row: Option<(Option<String>, Option<f32>)> =
            sqlx::query_as("SELECT leased_by, progress FROM render.jobs WHERE generation_id = $1::uuid")
                .bind(&generation)
                .fetch_optional(&owner)
                .await
                .unwrap();
        if let Some((Some(holder), Some(progress))) = row {
            if progress > 0.0 {
                let i = workers.iter().position(|w| w.1 == holder).expect("the lease names one of the workers");
                let mut gone = workers.remove(i);
                gone.0.kill().unwrap();
                gone.0.wait().unwrap();
                killed = Some((holder, progress));
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (killed, progress_then) = killed.expect("a worker took the render and started it");
    let survivor = workers[0].1;
    assert_ne!(killed, survivor);

    // The other worker finishes it once the lease runs out.
    let mut done = Value::Null;
    for _ in 0..240 {
        let g: Value = http
            .get(format!("{a}/v1/generations/{generation}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if g["status"] == "completed" || g["status"] == "failed" {
            done = g;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(done["status"], "completed", "killed {killed} at {progress_then}: {done}");
    let (state, attempts): (String, i32) =
        sqlx::query_as("SELECT state, attempts FROM render.jobs WHERE generation_id = $1::uuid")
            .bind(&generation)
            .fetch_one(&owner)
            .await
            .unwrap();
    assert_eq!(
        (state.as_str(), attempts),
        ("done", 2),
        "a second attempt, by {survivor} (the only one left), finished it"
    );

    // The video comes down through A, from the bucket.
    let video = http.get(format!("{a}/v1/generations/{generation}/video")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(video.status(), 200);
    let bytes = video.bytes().await.unwrap();
    let file = std::env::temp_dir().join(format!("scale-out-{generation}.mp4"));
    std::fs::write(&file, &bytes).unwrap();
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type,height", "-of", "csv=p=0"])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let streams = String::from_utf8_lossy(&probe.stdout);
    assert!(streams.contains("video,720") && streams.contains("audio"), "{streams}");
    let listing =
        http.get(format!("{s3}/{bucket}?list-type=2&prefix=media/")).send().await.unwrap().text().await.unwrap();
    for wanted in [".wav</Key>", ".mp4</Key>", ".jpg</Key>"] {
        assert!(listing.contains(wanted), "the bucket lacks a {wanted} object: {listing}");
    }
    assert!(!listing.contains("_uploads/"), "the upload's chunks are gone once joined: {listing}");
}
