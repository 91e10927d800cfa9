//! Finished renders are announced exactly once: `generate --wait` follows one to the end, and
//! `resonance watch` prints one line per finished generation — not again after a restart, and
//! once (not never) after an offline period.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Lines a child prints within `wait`.
async fn lines_within(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    want: usize,
    wait: Duration,
) -> Vec<String> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while out.len() < want {
        match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Ok(Ok(Some(line))) => out.push(line),
            _ => break,
        }
    }
    out
}

async fn completed(backend: &Backend, n: i64) {
    for _ in 0..300 {
        let done: i64 = sqlx::query_scalar("SELECT count(*) FROM generations WHERE status = 'completed'")
            .fetch_one(&backend.owner)
            .await
            .unwrap();
        if done >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{n} generations never completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_finished_render_is_announced_once_across_restarts_and_offline_periods() {
    let keyring = Keyring::start();
    let mut backend = Backend::start().await;
    let (_, owner) = backend.signup("lou@example.com", "Lou").await;
    let org: uuid::Uuid = owner["user"]["organization_id"].as_str().unwrap().parse().unwrap();
    sqlx::query("UPDATE organizations SET generations_limit = 50 WHERE id = $1")
        .bind(org)
        .execute(&backend.owner)
        .await
        .unwrap();
    let worker = backend.spawn_worker().await;
    let m = Machine::new(&keyring, &backend.base);
    assert!(m.login("lou@example.com").await.status.success());
    let wav = tone_wav(keyring.dir.path(), "beat.wav", 2.0);
    let project = m
        .ok(&[
            "project",
            "create",
            "--name",
            "Beat",
            "--prompt",
            "p",
            "--resolution",
            "720p",
            "--audio",
            wav.to_str().unwrap(),
        ])
        .await;
    let project = project.trim().to_owned();

    // Followed to the end.
    let waited = m.run(&["generate", &project, "--wait"]).await;
    assert!(waited.status.success(), "{}", stderr(&waited));
    assert!(stdout(&waited).contains("Render #1 of \u{201c}Beat\u{201d} is ready"), "{}", stdout(&waited));
    assert!(stderr(&waited).contains("rendering"), "the stages are shown: {}", stderr(&waited));
    // Its video comes into the media cache on demand.
    let first = stdout(&waited).lines().next().unwrap().trim().to_owned();
    let video = std::path::PathBuf::from(m.ok(&["video", &first]).await.trim());
    let bytes = std::fs::read(&video).unwrap();
    assert_eq!(&bytes[4..8], b"ftyp", "an MP4 at {}", video.display());
    // End to end: the file uploaded by the CLI, rendered by the worker, fetched by the client.
    let probe = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-show_format", "-of", "json"])
        .arg(&video)
        .output()
        .unwrap();
    let probe: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    let streams = probe["streams"].as_array().unwrap();
    let v = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!((v["width"].as_i64(), v["height"].as_i64()), (Some(1280), Some(720)), "the project's 720p");
    assert!(streams.iter().any(|s| s["codec_type"] == "audio"), "with its audio");
    let duration: f64 = probe["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((duration - 2.0).abs() <= 0.1, "{duration} s for 2 s of audio");
    let thumbnail = std::fs::read(m.ok(&["video", &first, "--thumbnail"]).await.trim()).unwrap();
    assert_eq!(&thumbnail[..2], &[0xFF, 0xD8], "a JPEG thumbnail");

    // Watched: one line for each of two renders, and #1 (already seen finishing) not at all.
    let mut watch = m.command(&["watch"]).spawn().unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    tokio::time::sleep(Duration::from_millis(500)).await;
    m.ok(&["generate", &project]).await;
    m.ok(&["generate", &project]).await;
    completed(&backend, 3).await;
    let told = lines_within(&mut lines, 3, Duration::from_secs(15)).await;
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told.iter().any(|l| l.contains("#2")) && told.iter().any(|l| l.contains("#3")), "{told:?}");
    // Thumbnails of announced renders are cached as they finish.
    let media = video.parent().unwrap().to_owned();
    for _ in 0..50 {
        let thumbs = std::fs::read_dir(&media)
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "jpg"))
            .count();
        if thumbs >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let thumbs = std::fs::read_dir(&media)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jpg"))
        .count();
    assert!(thumbs >= 2, "thumbnails of #2 and #3 are cached");
    watch.start_kill().unwrap();
    let _ = watch.wait().await;

    // A restart announces nothing again.
    let mut again = m.command(&["watch"]).spawn().unwrap();
    let mut again_lines = BufReader::new(again.stdout.take().unwrap()).lines();
    let repeated = lines_within(&mut again_lines, 1, Duration::from_secs(3)).await;
    assert!(repeated.is_empty(), "nothing is announced twice: {repeated:?}");
    again.start_kill().unwrap();
    let _ = again.wait().await;

    // Offline while a render finishes: announced once, when the server is back.
    m.ok(&["generate", &project]).await;
    backend.stop().await;
    // Cached media plays offline.
    assert_eq!(std::path::PathBuf::from(m.ok(&["video", &first]).await.trim()), video);
    completed(&backend, 4).await;
    let mut offline = m.command(&["watch"]).spawn().unwrap();
    let mut offline_lines = BufReader::new(offline.stdout.take().unwrap()).lines();
    tokio::time::sleep(Duration::from_secs(1)).await;
    backend.restart().await;
    let caught_up = lines_within(&mut offline_lines, 2, Duration::from_secs(15)).await;
    assert_eq!(caught_up.len(), 1, "{caught_up:?}");
    assert!(caught_up[0].contains("#4") && caught_up[0].contains("is ready"), "{caught_up:?}");
    offline.start_kill().unwrap();
    let _ = offline.wait().await;
    worker.abort();
}
