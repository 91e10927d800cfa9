//! Uploading a project's audio from the CLI into the server's real storage directory: probed
//! locally first (not audio: refused before a byte is sent), resumed after kills, and sent after
//! an offline creation once the project reaches the server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use sha2::Digest;

fn sha_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts `resonance upload` in small chunks, sends it SIGINT (Ctrl-C) once the server has some
/// of it, and returns the upload as `uploads --json` then shows it.
async fn pause_upload(m: &Machine<'_>, backend: &Backend, file: &std::path::Path, project: &str) -> serde_json::Value {
    let mut c = m.command(&["upload", file.to_str().unwrap(), "--project", project]);
    c.env("RESONANCE_UPLOAD_CHUNK_BYTES", "65536");
    // Progress on the server: any receiving upload's offset moves (earlier ones stand still).
    let offsets = || async {
        sqlx::query_scalar::<_, i64>("SELECT coalesce(sum(\"offset\"), 0)::int8 FROM uploads WHERE state = 'receiving'")
            .fetch_one(&backend.owner)
            .await
            .unwrap()
    };
    let before = offsets().await;
    let child = c.spawn().unwrap();
    let pid = child.id().unwrap();
    for _ in 0..400 {
        if offsets().await > before + 65536 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Paused"), "{}", stderr(&out));
    let list = m.json(&["uploads", "--json"]).await;
    list.as_array().unwrap().first().cloned().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_audio_uploads_resumes_after_kills_and_refuses_what_is_not_audio() {
    let keyring = Keyring::start();
    let mut backend = Backend::start().await;
    let (token, owner) = backend.signup("kim@example.com", "Kim").await;
    let org = owner["user"]["organization_id"].as_str().unwrap().to_owned();
    let m = Machine::new(&keyring, &backend.base);
    assert!(m.login("kim@example.com").await.status.success());

    // Not audio: refused here, nothing created, nothing sent.
    let notes = keyring.dir.path().join("notes.mp3");
    std::fs::write(&notes, b"these are lyrics, not audio\n".repeat(50)).unwrap();
    let refused =
        m.run(&["project", "create", "--name", "Oops", "--prompt", "p", "--audio", notes.to_str().unwrap()]).await;
    assert_eq!(refused.status.code(), Some(5), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("not audio"), "{}", stderr(&refused));
    assert_eq!(m.json(&["projects", "--json"]).await, serde_json::json!([]));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM uploads").fetch_one(&backend.owner).await.unwrap();
    assert_eq!(rows, 0, "not a byte was sent");

    // Online: the project is created and its audio stored under <org>/<project>/<sha256>.wav.
    let wav = tone_wav(keyring.dir.path(), "take.wav", 1.0);
    let project =
        m.ok(&["project", "create", "--name", "Take", "--prompt", "p", "--audio", wav.to_str().unwrap()]).await;
    let project = project.trim().to_owned();
    let sha = sha_hex(&std::fs::read(&wav).unwrap());
    let key = format!("{org}/{project}/{sha}.wav");
    assert!(backend.storage.path().join(&key).exists(), "{key} must be stored");
    let server = backend.projects(&token).await;
    assert_eq!(server[&project]["audio_path"], key.as_str());

    // A longer file in small chunks, killed three times mid-way: each run resumes.
    let long = tone_wav(keyring.dir.path(), "long.wav", 60.0);
    let long_size = std::fs::metadata(&long).unwrap().len();
    let long_sha = sha_hex(&std::fs::read(&long).unwrap());
    let mut offsets = Vec::new();
    for round in 0..3 {
        let mut c = m.command(&["upload", long.to_str().unwrap(), "--project", &project]);
        c.env("RESONANCE_UPLOAD_CHUNK_BYTES", "65536");
        let mut child = c.spawn().unwrap();
        // Killed once the server has taken a few more chunks.
        let before = offsets.last().copied().unwrap_or(0) as i64;
        for _ in 0..400 {
            let at: Option<i64> = sqlx::query_scalar("SELECT max(\"offset\") FROM uploads WHERE state = 'receiving'")
                .fetch_one(&backend.owner)
                .await
                .unwrap();
            if at.unwrap_or(0) > before + 65536 * (round + 1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.start_kill().unwrap();
        let _ = child.wait().await;
        let unfinished = m.json(&["uploads", "--json"]).await;
        if let Some(u) = unfinished.as_array().unwrap().first() {
            offsets.push(u["offset"].as_u64().unwrap());
        }
    }
    println!("offsets after each kill: {offsets:?} of {long_size}");
    assert!(offsets.iter().all(|o| *o > 0 && *o < long_size), "each kill lands mid-upload: {offsets:?}");
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "resumed, never restarted: {offsets:?}");
    // Ctrl-C pauses: the upload stops between chunks and is kept as paused.
    let paused = pause_upload(&m, &backend, &long, &project).await;
    assert_eq!(paused["state"], "paused");
    assert!(paused["offset"].as_u64().unwrap() >= *offsets.last().unwrap(), "{paused}");
    let mut c = m.command(&["upload", long.to_str().unwrap(), "--project", &project]);
    c.env("RESONANCE_UPLOAD_CHUNK_BYTES", "65536");
    let done = c.output().await.unwrap();
    assert!(done.status.success(), "{}", stderr(&done));
    let key = format!("{org}/{project}/{long_sha}.wav");
    let stored = std::fs::read(backend.storage.path().join(&key)).unwrap();
    assert_eq!(sha_hex(&stored), long_sha, "the stored file is the file");
    assert_eq!(m.json(&["uploads", "--json"]).await, serde_json::json!([]));

    // Cancelled: the server forgets what it received, and the upload is no longer pending.
    let other = tone_wav(keyring.dir.path(), "other.wav", 45.0);
    let paused = pause_upload(&m, &backend, &other, &project).await;
    let id = paused["id"].as_str().unwrap().to_owned();
    m.ok(&["cancel-upload", &id]).await;
    assert_eq!(m.json(&["uploads", "--json"]).await, serde_json::json!([]));
    let receiving: i64 = sqlx::query_scalar("SELECT count(*) FROM uploads WHERE state = 'receiving'")
        .fetch_one(&backend.owner)
        .await
        .unwrap();
    assert_eq!(receiving, 0, "the server's side of the cancelled upload is terminated");

    // Offline: the project and its upload wait; the next sync sends both, metadata first.
    backend.stop().await;
    let offline =
        m.run(&["project", "create", "--name", "Train", "--prompt", "p", "--audio", wav.to_str().unwrap()]).await;
    assert!(offline.status.success(), "{}", stderr(&offline));
    let train = stdout(&offline).trim().to_owned();
    assert_eq!(m.json(&["uploads", "--json"]).await.as_array().unwrap().len(), 1);
    backend.restart().await;
    m.ok(&["sync"]).await;
    let server = backend.projects(&token).await;
    assert_eq!(server[&train]["audio_path"], format!("{org}/{train}/{sha}.wav").as_str());
    assert_eq!(m.json(&["uploads", "--json"]).await, serde_json::json!([]));
}
