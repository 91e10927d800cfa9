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
use serde_json::Value;
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

async fn read_json(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let resp = request.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
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

    // The same bytes for another project finish at once, without a byte sent. The creation is
    // answered as tus core answers one (no Upload-Offset, which a stock client would read as
    // creation-with-upload); HEAD says it is complete, and a PATCH at 0 (a client that did not
    // ask) is told so without its bytes being kept.
    let (_, p2) = s.post("/v1/projects", token, new_project("Remix")).await;
    let project2 = p2["id"].as_str().unwrap().to_owned();
    let again = create(&s, token, &project2, file.len(), Some(&sha)).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(again.headers().get("upload-offset").is_none(), "{:?}", again.headers());
    let location = again.headers()["location"].to_str().unwrap().to_owned();
    let head = tus(&s, Method::HEAD, &location, token).send().await.unwrap();
    assert_eq!((head.status(), offset_of(&head)), (StatusCode::OK, file.len()), "already stored: complete at creation");
    let sent_anyway = patch(&s, token, &location, 0, file.clone()).await;
    assert_eq!((sent_anyway.status(), offset_of(&sent_anyway)), (StatusCode::NO_CONTENT, file.len()));
    assert!(files_under(&dir.join("_uploads")).is_empty(), "the bytes sent anyway are not kept");
    let elsewhere = patch(&s, token, &location, 5, file[5..].to_vec()).await;
    assert_eq!(elsewhere.status(), StatusCode::CONFLICT, "only a PATCH from 0 is a client that did not ask");
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
    // The size is judged first: a file too large is told so whatever else is wrong.
    let too_large = tus(&s, Method::POST, "/v1/uploads", token)
        .header("Upload-Length", (5u64 << 20).to_string())
        .header("Upload-Metadata", "filename ***")
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(create(&s, &org.viewer.access, &project, 100, None).await.status(), StatusCode::FORBIDDEN);
    let other = s.organization("other").await;
    assert_eq!(create(&s, &other.owner.access, &project, 100, None).await.status(), StatusCode::NOT_FOUND);

    // Upload-Metadata as tus has it: a value is any bytes, so one this server does not read
    // may be binary; a last base64 symbol's unused bits need not be zero ("Zh==" is "f").
    let meta = |m: String| {
        tus(&s, Method::POST, "/v1/uploads", token).header("Upload-Length", "10").header("Upload-Metadata", m)
    };
    let lenient = meta(format!("project_id {},cover /w==,mark,note Zh==", b64(&project))).send().await.unwrap();
    assert_eq!(lenient.status(), StatusCode::CREATED);
    let (status, err) = read_json(meta(format!("project_id {},filename /w==", b64(&project)))).await;
    assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("filename")), "{err}");
    let (status, err) = read_json(meta(format!("project_id {},filename AA==", b64(&project)))).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("filename")),
        "NUL: {err}"
    );
    let (status, err) = read_json(meta("filename dGFrZQ==".into())).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("project_id")),
        "{err}"
    );
    let (status, err) = read_json(meta(format!("project_id {},filename d*==", b64(&project)))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");

    let created = create(&s, token, &project, file.len(), None).await;
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let malformed_sum = tus(&s, Method::PATCH, &location, token)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .header("Upload-Checksum", "sha256 not*base64")
        .body(file[..100].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        malformed_sum.status(),
        StatusCode::BAD_REQUEST,
        "a digest that is not base64 is malformed, not a mismatch"
    );
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
    resonance_server::uploads::forget_expired_uploads(&db, store.as_ref()).await;
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
    let (_, logs) = s.get("/v1/system-logs", token).await;
    let refusal = logs.as_array().unwrap().iter().find(|e| e["action_type"] == "upload.refused");
    assert_eq!(refusal.map(|e| &e["status"]), Some(&serde_json::json!("warning")), "logged as a warning: {logs}");
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

/// One run of the stock tus client (`stock-tus-client.cjs`): its JSON lines, read as they come.
fn stock_client(
    s: &TestServer,
    token: &str,
    file: &std::path::Path,
    project: &str,
    sha: Option<&str>,
    urls: &std::path::Path,
    freeze_at: Option<usize>,
) -> tokio::process::Child {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join("../../ui/node_modules");
    assert!(
        modules.join("tus-js-client").exists(),
        "tus-js-client is not installed: run the tests with `cargo xtask test`, which installs the UI's npm packages"
    );
    let mut c = tokio::process::Command::new("node");
    c.arg(root.join("tests/stock-tus-client.cjs"))
        .env("UI_MODULES", &modules)
        .env("TUS_ENDPOINT", format!("{}/v1/uploads", s.base))
        .env("TUS_TOKEN", token)
        .env("TUS_FILE", file)
        .env("TUS_PROJECT", project)
        .env("TUS_URL_STORAGE", urls)
        .env("TUS_CHUNK", (64 * 1024).to_string())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(sha) = sha {
        c.env("TUS_SHA256", sha);
    }
    if let Some(at) = freeze_at {
        c.env("TUS_FREEZE_AT", at.to_string());
    }
    c.spawn().expect("node runs the stock tus client")
}

async fn lines_until(child: &mut tokio::process::Child, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
    use tokio::io::AsyncBufReadExt;
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while let Ok(Ok(Some(line))) = tokio::time::timeout_at(deadline, lines.next_line()).await {
        let value: Value = serde_json::from_str(&line).unwrap_or(Value::String(line));
        let last = stop(&value);
        seen.push(value);
        if last {
            break;
        }
    }
    seen
}

/// A stock tus client (tus-js-client 4 from npm) against the server: killed when a third of the
/// file is acknowledged, a new process finds the upload in its URL storage, resumes from the
/// server's offset and finishes; the same file for another project, with its `sha256` in the
/// metadata, completes through the dedupe without a byte kept, the client none the wiser.
#[tokio::test]
async fn a_stock_tus_client_resumes_after_a_kill_and_understands_the_dedupe() {
    let Store { dir, server: s } = with_storage().await;
    let org = s.organization("stock").await;
    let token = &org.developer.access;
    let work = tempfile::tempdir().unwrap();
    let audio = work.path().join("song.wav");
    let file = wav(12.0);
    std::fs::write(&audio, &file).unwrap();
    let sha = hex::encode(sha2::Sha256::digest(&file));
    let (_, p) = s.post("/v1/projects", token, new_project("Stock")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    let urls = work.path().join("tus-urls.json");

    let mut first = stock_client(&s, token, &audio, &project, None, &urls, Some(file.len() / 3));
    let said = lines_until(&mut first, |l| l.get("frozen").is_some() || l.get("done").is_some()).await;
    let frozen = said.last().and_then(|l| l["frozen"].as_u64()).unwrap_or_else(|| panic!("never froze: {said:?}"));
    first.kill().await.unwrap();
    let url = said.last().unwrap()["url"].as_str().unwrap().to_owned();
    let location = url.strip_prefix(&s.base).unwrap().to_owned();
    let head = tus(&s, Method::HEAD, &location, token).send().await.unwrap();
    assert_eq!(offset_of(&head) as u64, frozen, "the server holds what it acknowledged");

    let mut second = stock_client(&s, token, &audio, &project, None, &urls, None);
    let said = lines_until(&mut second, |l| l.get("done").is_some() || l.get("error").is_some()).await;
    assert_eq!(said.first().and_then(|l| l["resuming"].as_str()), Some(url.as_str()), "{said:?}");
    let first_ack = said.iter().find_map(|l| l["accepted"].as_u64()).unwrap();
    assert!(first_ack > frozen && first_ack <= frozen + 64 * 1024, "resumed at {frozen}, not from 0: {said:?}");
    assert_eq!(said.last().and_then(|l| l["done"].as_str()), Some(url.as_str()), "{said:?}");
    assert!(second.wait().await.unwrap().success());
    let (_, p) = s.get(&format!("/v1/projects/{project}"), token).await;
    let key = format!("{}/{project}/{sha}.wav", org.id);
    assert_eq!(p["audio_path"], key.as_str(), "{p}");
    assert_eq!(std::fs::read(dir.join(&key)).unwrap(), file, "the stored object is the file");

    // The same file for another project: complete at creation; the client sends from 0 (it
    // does not ask first) and is told it is done.
    let (_, p2) = s.post("/v1/projects", token, new_project("Again")).await;
    let project2 = p2["id"].as_str().unwrap().to_owned();
    let mut third = stock_client(&s, token, &audio, &project2, Some(&sha), &work.path().join("other.json"), None);
    let said = lines_until(&mut third, |l| l.get("done").is_some() || l.get("error").is_some()).await;
    assert!(said.last().is_some_and(|l| l.get("done").is_some()), "the dedupe must read as success: {said:?}");
    assert!(third.wait().await.unwrap().success());
    let (_, p2) = s.get(&format!("/v1/projects/{project2}"), token).await;
    assert_eq!(p2["audio_path"], format!("{}/{project2}/{sha}.wav", org.id).as_str(), "{p2}");
    assert!(files_under(&dir.join("_uploads")).is_empty(), "nothing of the bytes sent anyway is kept");
    let _ = std::fs::remove_dir_all(&dir);
}
