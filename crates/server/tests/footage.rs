//! A project's footage through the API, into a real object-storage directory, judged by the real
//! ffprobe and ffmpeg: clips and stills of every accepted kind uploaded over tus and listed with
//! their posters, the same bytes never sent twice, what is not footage refused with nothing kept,
//! the plan's room checked before a byte is sent and again when a file is kept, and items
//! arranged, trimmed and removed by the roles that may.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Digest;
use uuid::Uuid;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

struct Store {
    dir: PathBuf,
    store: Arc<dyn object_store::ObjectStore>,
    server: TestServer,
}

async fn with_storage(max_upload_bytes: u64) -> Store {
    let dir = std::env::temp_dir().join(format!("resonance-footage-{}", Uuid::new_v4().simple()));
    let store = resonance_server::objects::open(dir.to_str().unwrap()).unwrap();
    let shared = Arc::clone(&store);
    let server = TestServer::start_with(move |s| {
        s.storage = shared;
        s.max_upload_bytes = max_upload_bytes;
    })
    .await;
    Store { dir, store, server }
}

/// A file made by ffmpeg from `args` (inputs and codec options), written as `name` in a fresh
/// folder; its bytes.
fn made(name: &str, args: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("resonance-footage-media-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(name);
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args.split_whitespace())
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg {args} {name}");
    let bytes = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

fn clip_h264() -> Vec<u8> {
    made("clip.mp4", "-f lavfi -i testsrc2=s=320x240:r=30:d=2 -c:v libx264 -pix_fmt yuv420p")
}

fn still_png(colour: &str) -> Vec<u8> {
    made("still.png", &format!("-f lavfi -i color=c={colour}:s=64x48 -frames:v 1"))
}

fn sha_of(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn tus(s: &TestServer, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    s.http.request(method, format!("{}{path}", s.base)).bearer_auth(token).header("Tus-Resumable", "1.0.0")
}

async fn create(
    s: &TestServer,
    token: &str,
    project: &str,
    name: &str,
    length: usize,
    sha: Option<&str>,
    purpose: &str,
) -> reqwest::Response {
    let mut meta = format!("project_id {},filename {},purpose {}", b64(project), b64(name), b64(purpose));
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

/// How an upload of footage ended.
struct Sent {
    /// The creation's answer.
    created: StatusCode,
    /// Whether the creation said the bytes were already stored (no Upload-Expires).
    at_once: bool,
    /// The last chunk's answer and body (the creation's when no chunk was sent).
    status: StatusCode,
    body: Value,
    location: String,
}

/// Uploads `bytes` as footage of `project` in `chunks` chunks (declaring their hash when `sha`).
async fn send(s: &TestServer, token: &str, project: &str, name: &str, bytes: &[u8], chunks: usize, sha: bool) -> Sent {
    let hash = sha.then(|| sha_of(bytes));
    let created = create(s, token, project, name, bytes.len(), hash.as_deref(), "footage").await;
    let status = created.status();
    let at_once = created.headers().get("upload-expires").is_none();
    let location = created.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    if status != StatusCode::CREATED || at_once {
        let body = created.json().await.unwrap_or(Value::Null);
        return Sent { created: status, at_once, status, body, location };
    }
    let size = bytes.len().div_ceil(chunks);
    let mut last = (StatusCode::NO_CONTENT, Value::Null);
    for (i, piece) in bytes.chunks(size).enumerate() {
        let r = tus(s, Method::PATCH, &location, token)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", (i * size).to_string())
            .body(piece.to_vec())
            .send()
            .await
            .unwrap();
        let code = r.status();
        last = (code, r.json().await.unwrap_or(Value::Null));
        if code != StatusCode::NO_CONTENT {
            break;
        }
    }
    Sent { created: status, at_once, status: last.0, body: last.1, location }
}

async fn list(s: &TestServer, token: &str, project: &str) -> Vec<Value> {
    let (status, items) = s.get(&format!("/v1/projects/{project}/footage"), token).await;
    assert_eq!(status, StatusCode::OK, "{items}");
    items.as_array().unwrap().clone()
}

async fn bytes_of(s: &TestServer, token: &str, path: &str, range: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    let mut request = s.http.get(format!("{}{path}", s.base)).bearer_auth(token);
    if let Some(r) = range {
        request = request.header("Range", r);
    }
    let r = request.send().await.unwrap();
    let kind = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (r.status(), kind, r.bytes().await.unwrap().to_vec())
}

fn files_in(dir: &Path, part: &str) -> Vec<PathBuf> {
    files_under(dir).into_iter().filter(|f| f.to_string_lossy().contains(part)).collect()
}

async fn project(s: &TestServer, token: &str, name: &str) -> String {
    let (status, p) = s.post("/v1/projects", token, new_project(name)).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    p["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn clips_and_stills_of_every_accepted_kind_are_judged_kept_and_listed_with_posters() {
    let Store { dir, server: s, .. } = with_storage(64 << 20).await;
    let org = s.organization("footage").await;
    let token = &org.developer.access;
    let p = project(&s, token, "Band video").await;
    // (name, bytes, codec, shown size, seconds of a clip)
    type Case = (&'static str, Vec<u8>, &'static str, (i64, i64), Option<f64>);
    let files: Vec<Case> = vec![
        ("band.mp4", clip_h264(), "h264", (320, 240), Some(2.0)),
        ("crowd.webm", made("c.webm", "-f lavfi -i testsrc2=s=160x120:r=30:d=1 -c:v libvpx-vp9 -deadline realtime"), "vp9", (160, 120), Some(1.0)),
        ("phone.mov", made("p.mov", "-f lavfi -i testsrc2=s=192x108:r=30:d=1 -c:v libx265 -pix_fmt yuv420p -tag:v hvc1 -x265-params log-level=error"), "hevc", (192, 108), Some(1.0)),
        ("drone.mkv", made("d.mkv", "-f lavfi -i testsrc2=s=160x128:r=24:d=1 -c:v libaom-av1 -cpu-used 8 -row-mt 1"), "av1", (160, 128), Some(1.0)),
        ("cover.jpg", made("c.jpg", "-f lavfi -i testsrc2=s=400x300 -frames:v 1"), "mjpeg", (400, 300), None),
        ("logo.png", still_png("red"), "png", (64, 48), None),
        ("poster.webp", made("p.webp", "-f lavfi -i testsrc2=s=100x80 -frames:v 1 -c:v libwebp"), "webp", (100, 80), None),
    ];
    for (name, bytes, _, _, _) in &files {
        let sent = send(&s, token, &p, name, bytes, 3, true).await;
        assert_eq!((sent.created, sent.at_once), (StatusCode::CREATED, false), "{name}");
        assert_eq!(sent.status, StatusCode::NO_CONTENT, "{name}: {}", sent.body);
    }
    let items = list(&s, token, &p).await;
    assert_eq!(items.len(), files.len());
    for (i, (item, (name, bytes, codec, (w, h), duration))) in items.iter().zip(&files).enumerate() {
        assert_eq!(item["filename"], *name);
        assert_eq!(item["position"], i as i64, "listed in the order they were added");
        assert_eq!(item["codec"], *codec, "{name}");
        assert_eq!((item["width"].as_i64().unwrap(), item["height"].as_i64().unwrap()), (*w, *h), "{name}");
        assert_eq!(item["kind"], if duration.is_some() { "video" } else { "image" }, "{name}");
        match duration {
            Some(d) => assert!((item["duration"].as_f64().unwrap() - d).abs() < 0.1, "{name}: {item}"),
            None => assert!(item["duration"].is_null()),
        }
        assert_eq!(item["size"], bytes.len() as i64);
        assert_eq!(item["sha256"], sha_of(bytes));
        let id = item["id"].as_str().unwrap();
        let (status, kind, poster) = bytes_of(&s, token, &format!("/v1/footage/{id}/poster"), None).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "image/jpeg"), "{name}");
        assert_eq!(&poster[..2], &[0xFF, 0xD8], "{name}: the poster is a JPEG");
        let (status, _, head) = bytes_of(&s, token, &format!("/v1/footage/{id}/source"), Some("bytes=0-15")).await;
        assert_eq!((status, head.as_slice()), (StatusCode::PARTIAL_CONTENT, &bytes[..16]), "{name}");
        assert!(files_in(&dir, &format!("_uploads/{id}")).is_empty(), "{name}: its chunks are gone");
        assert_eq!(files_in(&dir, &format!("footage/{id}/")).len(), 2, "{name}: the file and its poster");
    }
    let (_, project) = s.get(&format!("/v1/projects/{p}"), token).await;
    assert!(
        !project["audio_path"].as_str().unwrap_or_default().contains('/'),
        "footage is never the project's track: {project}"
    );
    let (_, feed) = s.get("/v1/sync?limit=10000", token).await;
    let synced = feed["changes"].as_array().unwrap().iter().filter(|c| c["table"] == "footage").count();
    assert_eq!(synced, files.len(), "the change feed carries every item");
    let (_, logs) = s.get("/v1/system-logs", token).await;
    assert!(logs.to_string().contains("footage.add"), "{logs}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_same_bytes_are_not_sent_twice_and_audio_never_takes_footage_bytes() {
    let Store { dir, server: s, .. } = with_storage(64 << 20).await;
    let org = s.organization("dedupe").await;
    let token = &org.developer.access;
    let (one, two) = (project(&s, token, "One").await, project(&s, token, "Two").await);
    let clip = clip_h264();
    assert_eq!(send(&s, token, &one, "band.mp4", &clip, 2, true).await.status, StatusCode::NO_CONTENT);
    let stored = files_under(&dir).len();

    // Again in the same project: done at once, the same item.
    let again = send(&s, token, &one, "band again.mp4", &clip, 2, true).await;
    assert_eq!((again.created, again.at_once), (StatusCode::CREATED, true));
    let head = tus(&s, Method::HEAD, &again.location, token).send().await.unwrap();
    assert_eq!(head.headers()["upload-offset"].to_str().unwrap(), clip.len().to_string());
    assert_eq!(list(&s, token, &one).await.len(), 1);
    assert_eq!(files_under(&dir).len(), stored, "nothing new is stored");

    // In another project: done at once, an item of its own with the same facts.
    let other = send(&s, token, &two, "band.mp4", &clip, 2, true).await;
    assert_eq!((other.created, other.at_once), (StatusCode::CREATED, true));
    let (a, b) = (list(&s, token, &one).await.remove(0), list(&s, token, &two).await.remove(0));
    assert_ne!(a["id"], b["id"]);
    for field in ["kind", "sha256", "size", "duration", "width", "height", "codec"] {
        assert_eq!(a[field], b[field], "{field}");
    }
    let (status, _, copy) =
        bytes_of(&s, token, &format!("/v1/footage/{}/source", b["id"].as_str().unwrap()), None).await;
    assert_eq!((status, copy == clip), (StatusCode::OK, true), "the copy is the same file");

    // The clip's bytes declared as audio are judged as audio, not taken as stored audio.
    let audio = create(&s, token, &one, "band.mp4", clip.len(), Some(&sha_of(&clip)), "audio").await;
    assert_eq!(audio.status(), StatusCode::CREATED);
    assert!(audio.headers().get("upload-expires").is_some(), "footage bytes are not the organization's audio");
    let (_, p) = s.get(&format!("/v1/projects/{one}"), token).await;
    assert!(!p["audio_path"].as_str().unwrap_or_default().contains('/'), "{p}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn what_is_not_footage_is_refused_naming_what_it_is_and_nothing_is_kept() {
    let Store { dir, server: s, .. } = with_storage(64 << 20).await;
    let org = s.organization("refusals").await;
    let token = &org.developer.access;
    let p = project(&s, token, "Refusals").await;
    let song = wav_file(&vec![0i16; 44_100], 1, 44_100);
    let clip = clip_h264();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("song.wav", song, "holds no picture"),
        (
            "notes.mp4",
            b"not a video at all, only words\n".repeat(100),
            "not footage ffmpeg can read (invalid data found",
        ),
        ("old.mp4", made("o.mp4", "-f lavfi -i testsrc2=s=320x240:r=30:d=1 -c:v mpeg4"), "MPEG-4 Part 2"),
        ("loop.gif", made("l.gif", "-f lavfi -i testsrc2=s=64x48:r=10:d=1"), "animated GIF"),
        ("cut off.mp4", clip[..clip.len() / 2].to_vec(), "moov atom not found"),
    ];
    for (name, bytes, says) in cases {
        let sent = send(&s, token, &p, name, &bytes, 2, false).await;
        assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {}", sent.body);
        assert_eq!(error_code(&sent.body), "not_footage", "{name}");
        let message = sent.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{name}: {message}");
        assert!(!message.contains("/tmp") && !message.contains("resonance-upload"), "{name}: {message}");
        let head = tus(&s, Method::HEAD, &sent.location, token).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}: a refused upload stays refused");
    }
    assert!(list(&s, token, &p).await.is_empty());
    assert!(files_under(&dir).is_empty(), "nothing of a refused file is kept: {:?}", files_under(&dir));
    let (_, logs) = s.get("/v1/system-logs", token).await;
    let refusals: Vec<&Value> =
        logs.as_array().unwrap().iter().filter(|e| e["action_type"] == "footage.refused").collect();
    assert!(!refusals.is_empty(), "{logs}");
    assert!(refusals.iter().all(|e| e["status"] == "warning"), "a refusal is logged as a warning: {logs}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_plans_room_is_checked_before_a_byte_is_sent_and_again_when_a_file_is_kept() {
    let free = resonance_api::plans::FREE;
    let Store { dir, server: s, .. } = with_storage(free.footage_bytes + (1 << 20)).await;
    let org = s.organization("room").await;
    let token = &org.developer.access;
    let p = project(&s, token, "Full").await;
    let pid: Uuid = p.parse().unwrap();

    // Bytes: a file larger than the plan keeps is refused at creation.
    let too_big = usize::try_from(free.footage_bytes + 1).unwrap();
    let r = create(&s, token, &p, "long take.mp4", too_big, None, "footage").await;
    assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "plan_limit");
    assert!(body["error"]["message"].as_str().unwrap().contains("Free plan keeps"), "{body}");

    // Items: with all but one used, one more fits; then the next is refused before a byte is sent.
    let mut filler = Vec::new();
    for i in 1..free.footage_items {
        filler.push(s.insert_footage(&org, pid, &format!("filler {i}")).await);
    }
    assert_eq!(send(&s, token, &p, "last.png", &still_png("blue"), 1, true).await.status, StatusCode::NO_CONTENT);
    let refused = send(&s, token, &p, "one more.png", &still_png("green"), 1, true).await;
    assert_eq!(refused.created, StatusCode::PAYMENT_REQUIRED);
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&format!("keeps {} footage items", free.footage_items)));

    // Room when the upload starts, none when it ends (another took it): refused, nothing kept.
    sqlx::query("DELETE FROM footage WHERE id = $1").bind(filler[0]).execute(&s.owner).await.unwrap();
    let yellow = still_png("yellow");
    let created = create(&s, token, &p, "late.png", yellow.len(), None, "footage").await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    s.insert_footage(&org, pid, "the one that took the room").await;
    let r = tus(&s, Method::PATCH, &location, token)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .body(yellow)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED);
    let id = location.rsplit('/').next().unwrap();
    assert!(files_in(&dir, id).is_empty(), "nothing of it is kept: {:?}", files_in(&dir, id));
    assert_eq!(list(&s, token, &p).await.len(), usize::try_from(free.footage_items).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn footage_is_arranged_trimmed_and_removed_by_developers_and_its_files_deleted() {
    let Store { dir, store, server: s } = with_storage(64 << 20).await;
    let org = s.organization("arrange").await;
    let token = &org.developer.access;
    let p = project(&s, token, "Arranged").await;
    let pid: Uuid = p.parse().unwrap();
    assert_eq!(send(&s, token, &p, "band.mp4", &clip_h264(), 1, true).await.status, StatusCode::NO_CONTENT);
    let still = s.insert_footage(&org, pid, "second").await;
    sqlx::query("UPDATE footage SET kind = 'image', duration = NULL WHERE id = $1")
        .bind(still)
        .execute(&s.owner)
        .await
        .unwrap();
    let third = s.insert_footage(&org, pid, "third").await;
    let clip = list(&s, token, &p).await[0]["id"].as_str().unwrap().to_owned();

    // Moving the third first moves the others down.
    let (status, moved) = s.patch(&format!("/v1/footage/{third}"), token, json!({"position": 0})).await;
    assert_eq!((status, moved["position"].as_i64()), (StatusCode::OK, Some(0)), "{moved}");
    let names: Vec<String> =
        list(&s, token, &p).await.iter().map(|i| i["filename"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["third", "band.mp4", "second"]);

    // The part of a clip; a point outside it, a reversed part, a point on a still are refused.
    let (status, trimmed) =
        s.patch(&format!("/v1/footage/{clip}"), token, json!({"in_point": 0.5, "out_point": 1.5})).await;
    assert_eq!(status, StatusCode::OK, "{trimmed}");
    assert_eq!((trimmed["in_point"].as_f64(), trimmed["out_point"].as_f64()), (Some(0.5), Some(1.5)));
    for (id, body, field) in [
        (&clip, json!({"out_point": 5.0}), "out_point"),
        (&clip, json!({"in_point": 1.6}), "in_point"),
        (&still.to_string(), json!({"in_point": 0.0}), "in_point"),
    ] {
        let (status, refused) = s.patch(&format!("/v1/footage/{id}"), token, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {refused}");
        assert_eq!(refused["error"]["field"], field, "{refused}");
    }
    let (_, cleared) = s.patch(&format!("/v1/footage/{clip}"), token, json!({"out_point": null})).await;
    assert_eq!((cleared["in_point"].as_f64(), cleared["out_point"].as_f64()), (Some(0.5), None));

    // Viewers read but change nothing.
    let viewer = &org.viewer.access;
    assert_eq!(list(&s, viewer, &p).await.len(), 3);
    let (status, _) = s.patch(&format!("/v1/footage/{clip}"), viewer, json!({"position": 2})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s.delete(&format!("/v1/footage/{clip}"), viewer).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = create(&s, viewer, &p, "mine.png", 100, None, "footage").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("upload footage"), "{body}");

    // Removing the clip renumbers the rest and deletes its folder.
    assert_eq!(files_in(&dir, &format!("footage/{clip}/")).len(), 2);
    let (status, _) = s.delete(&format!("/v1/footage/{clip}"), token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let left: Vec<i64> = list(&s, token, &p).await.iter().map(|i| i["position"].as_i64().unwrap()).collect();
    assert_eq!(left, [0, 1]);
    let owner_db = resonance_server::Db::from_pool(s.owner.clone());
    resonance_server::maintenance::collect_garbage(&owner_db, store.as_ref()).await;
    assert!(files_in(&dir, &format!("footage/{clip}/")).is_empty(), "{:?}", files_under(&dir));
    let (status, _) = s.get(&format!("/v1/footage/{clip}/poster"), token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        s.call(Method::GET, "/v1/projects/00000000-0000-0000-0000-000000000000/footage", Some(token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_racing_for_the_last_room_keep_one_and_refuse_the_other() {
    let free = resonance_api::plans::FREE;
    let Store { dir, server: s, .. } = with_storage(64 << 20).await;
    let org = s.organization("race").await;
    let token = &org.developer.access;
    let p = project(&s, token, "Race").await;
    let pid: Uuid = p.parse().unwrap();
    for i in 1..free.footage_items {
        s.insert_footage(&org, pid, &format!("filler {i}")).await;
    }
    // Eight creations at once: each answered (none deadlocks on the organization's row).
    let stills: Vec<Vec<u8>> =
        ["red", "green", "blue", "white", "black", "yellow", "cyan", "magenta"].iter().map(|c| still_png(c)).collect();
    let names: Vec<String> = (0..stills.len()).map(|i| format!("{i}.png")).collect();
    let created = futures::future::join_all(
        stills.iter().zip(&names).map(|(b, name)| create(&s, token, &p, name, b.len(), None, "footage")),
    )
    .await;
    let locations: Vec<String> = created
        .iter()
        .map(|r| {
            assert_eq!(r.status(), StatusCode::CREATED, "one item's room is left for each to start");
            r.headers()["location"].to_str().unwrap().to_owned()
        })
        .collect();
    // All their last bytes at once: one is kept, the others are refused for want of room.
    let sent = futures::future::join_all(locations.iter().zip(&stills).map(|(location, bytes)| {
        tus(&s, Method::PATCH, location, token)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", "0")
            .body(bytes.clone())
            .send()
    }))
    .await;
    let statuses: Vec<StatusCode> = sent.into_iter().map(|r| r.unwrap().status()).collect();
    assert_eq!(statuses.iter().filter(|c| **c == StatusCode::NO_CONTENT).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|c| **c == StatusCode::PAYMENT_REQUIRED).count(), 7, "{statuses:?}");
    let items = list(&s, token, &p).await;
    assert_eq!(items.len(), usize::try_from(free.footage_items).unwrap());
    let positions: Vec<i64> = items.iter().map(|i| i["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, (0..i64::from(free.footage_items)).collect::<Vec<_>>(), "no gap, no repeat");
    assert_eq!(files_in(&dir, "/footage/").len(), 2, "only the kept one's file and poster remain");
    // Asked again, a refused upload says why it was refused.
    let head = tus(
        &s,
        Method::HEAD,
        &locations[statuses.iter().position(|c| *c == StatusCode::PAYMENT_REQUIRED).unwrap()],
        token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(head.status(), StatusCode::PAYMENT_REQUIRED);
    let _ = std::fs::remove_dir_all(&dir);
}
