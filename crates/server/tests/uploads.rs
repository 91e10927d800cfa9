//! tus uploads at /v1/uploads into a real object-storage directory: chunks, checksums, offsets,
//! expiry, termination, interruptions that re-send one chunk, the audio check at the end, and
//! bytes already stored finishing at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use common::*;
use reqwest::{Method, StatusCode};
use sha2::Digest;
use uuid::Uuid;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A 16-bit stereo WAV of a 330 Hz tone.
fn wav(seconds: f64) -> Vec<u8> {
    let rate = 44_100u32;
    let samples: Vec<i16> = (0..(f64::from(rate) * seconds) as u32)
        .flat_map(|i| {
            let v = ((f64::from(i) / f64::from(rate) * 330.0 * std::f64::consts::TAU).sin() * 9000.0) as i16;
            [v, v]
        })
        .collect();
    wav_file(&samples, 2, rate)
}

struct Store {
    dir: PathBuf,
    server: TestServer,
}

async fn with_storage() -> Store {
    let dir = std::env::temp_dir().join(format!("resonance-uploads-{}", Uuid::new_v4().simple()));
    let store = resonance_server::objects::open(dir.to_str().unwrap()).unwrap();
    let server = TestServer::start_with(move |s| {
        s.storage = Arc::clone(&store);
        s.max_upload_bytes = 4 << 20;
    })
    .await;
    Store { dir, server }
}

fn tus(s: &TestServer, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    s.http.request(method, format!("{}{path}", s.base)).bearer_auth(token).header("Tus-Resumable", "1.0.0")
}

async fn create(s: &TestServer, token: &str, project: &str, length: usize, sha: Option<&str>) -> reqwest::Response {
    let mut meta = format!("project_id {},filename {}", b64(project), b64("take 1.wav"));
    if let Some(sha) = sha {
        meta += &format!(",sha256 {}", b64(sha));
    }
    tus(s, Method::POST, "/v1/uploads", token)
        .header("Upload-Length", length.to_string())
        .header("Upload-Metadata", meta)
        .send()
        .await
        .unwrap()
}

async fn patch(s: &TestServer, token: &str, location: &str, offset: usize, chunk: Vec<u8>) -> reqwest::Response {
    tus(s, Method::PATCH, location, token)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", offset.to_string())
        .body(chunk)
        .send()
        .await
        .unwrap()
}

fn offset_of(resp: &reqwest::Response) -> usize {
    resp.headers()["upload-offset"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_file_uploads_in_chunks_and_becomes_the_projects_audio() {
    let Store { dir, server: s } = with_storage().await;
    let org = s.organization("up").await;
    let token = &org.developer.access;
    let (_, p) = s.post("/v1/projects", token, new_project("Song")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    let options = s.http.request(Method::OPTIONS, format!("{}/v1/uploads", s.base)).send().await.unwrap();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(options.headers()["tus-version"], "1.0.0");
    assert!(options.headers()["tus-extension"].to_str().unwrap().contains("checksum"));
    assert_eq!(options.headers()["tus-max-size"], (4 << 20).to_string().as_str());

    let file = wav(2.0);
    let created = create(&s, token, &project, file.len(), None).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["tus-resumable"], "1.0.0");
    assert!(created.headers().contains_key("upload-expires"));
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let mut offset = 0;
    for (i, chunk) in file.chunks(64 * 1024).enumerate() {
        let mut req = tus(&s, Method::PATCH, &location, token)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string());
        if i % 2 == 0 {
            let sum = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(chunk));
            req = req.header("Upload-Checksum", format!("sha1 {sum}"));
        }
        let resp = req.body(chunk.to_vec()).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{:?}", resp.text().await);
        offset += chunk.len();
        assert_eq!(offset_of(&resp), offset);
        if i == 1 {
            let head = tus(&s, Method::HEAD, &location, token).send().await.unwrap();
            assert_eq!(
                (offset_of(&head), head.headers()["upload-length"].to_str().unwrap()),
                (offset, file.len().to_string().as_str())
            );
            assert_eq!(head.headers()["cache-control"], "no-store");
        }
    }
    let sha = hex::encode(sha2::Sha256::digest(&file));
    let (_, p) = s.get(&format!("/v1/projects/{project}"), token).await;
    let key = format!("{}/{project}/{sha}.wav", org.id);
    assert_eq!(p["audio_path"], key.as_str());
    assert!((p["audio_duration"].as_f64().unwrap() - 2.0).abs() < 1e-9, "{p}");
    let kept = std::fs::read(dir.join(&key)).unwrap();
    assert_eq!(hex::encode(sha2::Sha256::digest(&kept)), sha, "the stored object is the file");
    let staging: Vec<_> = files_under(&dir.join("_uploads"));
    assert!(staging.is_empty(), "chunks are deleted once joined: {staging:?}");
    let (_, logs) = s.get("/v1/system-logs", &org.admin.access).await;
    assert!(logs.as_array().unwrap().iter().any(|l| l["action_type"] == "upload.complete"));

    // The same bytes for another project finish at once, without a byte sent.
    let (_, p2) = s.post("/v1/projects", token, new_project("Remix")).await;
    let project2 = p2["id"].as_str().unwrap().to_owned();
    let again = create(&s, token, &project2, file.len(), Some(&sha)).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(offset_of(&again), file.len(), "already stored: complete at creation");
    let (_, p2) = s.get(&format!("/v1/projects/{project2}"), token).await;
    assert_eq!(p2["audio_path"], format!("{}/{project2}/{sha}.wav", org.id).as_str());
    assert!(dir.join(p2["audio_path"].as_str().unwrap()).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn protocol_errors_get_their_tus_answers() {
    let Store { dir, server: s } = with_storage().await;
    let org = s.organization("tus").await;
    let token = &org.developer.access;
    let (_, p) = s.post("/v1/projects", token, new_project("Song")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    let file = wav(0.5);
    let no_version = s
        .http
        .post(format!("{}/v1/uploads", s.base))
        .bearer_auth(token)
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(no_version.headers()["tus-version"], "1.0.0");
    assert_eq!(create(&s, token, &project, 5 << 20, None).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(create(&s, &org.viewer.access, &project, 100, None).await.status(), StatusCode::FORBIDDEN);
    let other = s.organization("other").await;
    assert_eq!(create(&s, &other.owner.access, &project, 100, None).await.status(), StatusCode::NOT_FOUND);

    let created = create(&s, token, &project, file.len(), None).await;
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let wrong_type = tus(&s, Method::PATCH, &location, token)
        .header("Content-Type", "application/octet-stream")
        .header("Upload-Offset", "0")
        .body(file[..100].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(patch(&s, token, &location, 7, file[..100].to_vec()).await.status(), StatusCode::CONFLICT);
    let bad_sum = tus(&s, Method::PATCH, &location, token)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .header("Upload-Checksum", format!("sha256 {}", base64::engine::general_purpose::STANDARD.encode([0u8; 32])))
        .body(file[..100].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(bad_sum.status().as_u16(), 460);
    let head = tus(&s, Method::HEAD, &location, token).send().await.unwrap();
    assert_eq!(offset_of(&head), 0, "a refused chunk moves nothing");
    assert_eq!(patch(&s, token, &location, 0, file.to_vec()).await.status(), StatusCode::NO_CONTENT);

    // Termination, then the upload is gone.
    let second = create(&s, token, &project, file.len(), None).await;
    let second = second.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(patch(&s, token, &second, 0, file[..1000].to_vec()).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(tus(&s, Method::DELETE, &second, token).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(tus(&s, Method::HEAD, &second, token).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert!(files_under(&dir.join("_uploads")).is_empty(), "termination deletes the chunks");

    // Expiry.
    let third = create(&s, token, &project, file.len(), None).await;
    let third = third.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(patch(&s, token, &third, 0, file[..1000].to_vec()).await.status(), StatusCode::NO_CONTENT);
    sqlx::query("UPDATE uploads SET expires_at = now() - interval '1 minute' WHERE state = 'receiving'")
        .execute(&s.owner)
        .await
        .unwrap();
    assert_eq!(patch(&s, token, &third, 1000, file[1000..2000].to_vec()).await.status(), StatusCode::GONE);
    assert!(!files_under(&dir.join("_uploads")).is_empty());
    // The hourly maintenance forgets it and deletes its chunks.
    let db = resonance_server::Db::connect(&resonance_server::config::DatabaseUrl::parse(&s.db_url).unwrap(), 1)
        .await
        .unwrap();
    let store = resonance_server::objects::open(dir.to_str().unwrap()).unwrap();
    resonance_server::http::forget_expired_uploads(&db, store.as_ref()).await;
    assert!(files_under(&dir.join("_uploads")).is_empty(), "expired chunks are deleted");
    assert_eq!(tus(&s, Method::HEAD, &third, token).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An Opus voice note, as phones, messengers and browsers export it (Ogg Opus, Opus in WebM, in
/// MP4), is probed like any audio: kept under its container's extension, with its exact duration.
#[tokio::test]
async fn an_opus_voice_note_becomes_the_projects_audio() {
    let Store { dir, server: s } = with_storage().await;
    let org = s.organization("opus").await;
    let token = &org.developer.access;
    let work = tempfile::tempdir().unwrap();
    let wav_path = work.path().join("note.wav");
    std::fs::write(&wav_path, wav(1.5)).unwrap();
    for (name, kept_as) in [("note.opus", "ogg"), ("note.webm", "webm"), ("note.mp4", "m4a")] {
        let (_, p) = s.post("/v1/projects", token, new_project(name)).await;
        let project = p["id"].as_str().unwrap().to_owned();
        let opus_path = work.path().join(name);
        let encoded = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&wav_path)
            .args(["-ac", "1", "-c:a", "libopus", "-b:a", "32k"])
            .arg(&opus_path)
            .status()
            .unwrap();
        assert!(encoded.success());
        let file = std::fs::read(&opus_path).unwrap();
        let created = create(&s, token, &project, file.len(), None).await;
        let location = created.headers()["location"].to_str().unwrap().to_owned();
        let resp = patch(&s, token, &location, 0, file.clone()).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{name}: {:?}", resp.text().await);
        let sha = hex::encode(sha2::Sha256::digest(&file));
        let (_, p) = s.get(&format!("/v1/projects/{project}"), token).await;
        assert_eq!(p["audio_path"], format!("{}/{project}/{sha}.{kept_as}", org.id).as_str(), "{name}: {p}");
        assert!((p["audio_duration"].as_f64().unwrap() - 1.5).abs() < 1e-3, "{name}: {p}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_file_that_is_not_audio_is_refused_and_not_kept() {
    let Store { dir, server: s } = with_storage().await;
    let org = s.organization("text").await;
    let token = &org.developer.access;
    let (_, p) = s.post("/v1/projects", token, new_project("Song")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    let before = p["audio_path"].clone();
    let lyrics = b"verse one: the night is young\nchorus: la la la\n".repeat(200);
    let created = create(&s, token, &project, lyrics.len(), None).await;
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let resp = patch(&s, token, &location, 0, lyrics.clone()).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "not_audio");
    assert!(body["error"]["message"].as_str().unwrap().contains("not audio"), "{body}");
    let (_, p) = s.get(&format!("/v1/projects/{project}"), token).await;
    assert_eq!(p["audio_path"], before, "the project keeps its audio");
    assert!(files_under(&dir).is_empty(), "nothing of a refused file is kept: {:?}", files_under(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn interrupted_chunks_are_sent_again_alone() {
    let Store { dir, server: s } = with_storage().await;
    let org = s.organization("cut").await;
    let token = &org.developer.access;
    let (_, p) = s.post("/v1/projects", token, new_project("Song")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    let file = wav(3.0);
    let chunk_size = 48 * 1024;
    let created = create(&s, token, &project, file.len(), None).await;
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let (mut offset, mut sent, mut interruptions) = (0usize, 0usize, 0usize);
    let mut state = 0x9E37_79B9u64;
    let mut cut_here = None;
    while offset < file.len() {
        let end = (offset + chunk_size).min(file.len());
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        // The first ten chunks are each cut off once, at a random byte, before they go through.
        if interruptions < 10 && cut_here != Some(offset) {
            cut_here = Some(offset);
            // The connection drops part-way through this chunk.
            let cut = offset + ((state >> 20) as usize % (end - offset)).max(1);
            let head: Vec<Result<Vec<u8>, std::io::Error>> =
                vec![Ok(file[offset..cut].to_vec()), Err(std::io::Error::other("the network went away"))];
            let body = reqwest::Body::wrap_stream(futures::stream::iter(head));
            let _ = tus(&s, Method::PATCH, &location, token)
                .header("Content-Type", "application/offset+octet-stream")
                .header("Upload-Offset", offset.to_string())
                .body(body)
                .send()
                .await;
            sent += cut - offset;
            interruptions += 1;
            // Resume from where the server stands.
            let head = tus(&s, Method::HEAD, &location, token).send().await.unwrap();
            assert_eq!(offset_of(&head), offset, "a cut-off chunk stores nothing");
            continue;
        }
        let resp = patch(&s, token, &location, offset, file[offset..end].to_vec()).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        sent += end - offset;
        offset = offset_of(&resp);
    }
    assert_eq!(interruptions, 10);
    assert!(sent <= file.len() + interruptions * chunk_size, "at most one chunk re-sent per interruption");
    let sha = hex::encode(sha2::Sha256::digest(&file));
    let (_, p) = s.get(&format!("/v1/projects/{project}"), token).await;
    assert_eq!(p["audio_path"], format!("{}/{project}/{sha}.wav", org.id).as_str());
    let kept = std::fs::read(dir.join(p["audio_path"].as_str().unwrap())).unwrap();
    assert_eq!(hex::encode(sha2::Sha256::digest(&kept)), sha);
    let _ = std::fs::remove_dir_all(&dir);
}
