//! The findings of the live probe (issue 14), each as an attack or a crowd against the real
//! server on a real Postgres and a real storage directory. Each test fails on the code before
//! its fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use resonance_server::worker::{self, WorkerSettings};
use serde_json::{json, Value};
use uuid::Uuid;

/// Two seconds of a 440 Hz tone, mono.
fn tone() -> Vec<u8> {
    let rate = 22_050u32;
    let samples: Vec<i16> = (0..rate * 2)
        .map(|i| ((f64::from(i) / f64::from(rate) * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16)
        .collect();
    wav_file(&samples, 1, rate)
}

struct Stored {
    s: TestServer,
    dir: PathBuf,
    store: Arc<dyn object_store::ObjectStore>,
}

async fn with_storage(tune: impl FnOnce(&mut resonance_server::Settings)) -> Stored {
    let dir = std::env::temp_dir().join(format!("resonance-hardening-{}", Uuid::new_v4().simple()));
    let store = resonance_server::objects::open(dir.to_str().unwrap()).unwrap();
    let for_server = Arc::clone(&store);
    let s = TestServer::start_with(move |settings| {
        settings.storage = for_server;
        tune(settings);
    })
    .await;
    Stored { s, dir, store }
}

async fn project(s: &TestServer, token: &str, name: &str) -> String {
    let (status, p) = s.post("/v1/projects", token, new_project(name)).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    p["id"].as_str().unwrap().to_owned()
}

async fn worker_db(s: &TestServer) -> resonance_server::Db {
    resonance_server::Db::connect_worker(&resonance_server::config::DatabaseUrl::parse(&s.db_url).unwrap(), 4)
        .await
        .unwrap()
}

/// Finding 1: org A names org B's stored audio. Refused by the API, by the database, and a
/// render of A never reads B's object.
#[tokio::test]
async fn an_organization_cannot_point_its_project_at_another_organizations_audio() {
    let Stored { s, dir, store } = with_storage(|_| {}).await;
    let a = s.organization("a-audio").await;
    let b = s.organization("b-audio").await;
    let b_project = project(&s, &b.developer.access, "B's song").await;
    let b_key = s.upload_audio(&b.developer.access, &b_project, &tone()).await;
    assert!(b_key.starts_with(&format!("{}/{b_project}/", b.id)), "{b_key}");

    // Through the API: the key is not a file name.
    let mut body = new_project("Stolen");
    body["audio_path"] = json!(b_key);
    let (status, err) = s.post("/v1/projects", &a.developer.access, body).await;
    assert_eq!((status, error_code(&err)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{err}");
    assert_eq!(err["error"]["field"], "audio_path");
    let a_project = project(&s, &a.developer.access, "A's song").await;
    for path in [b_key.clone(), format!("/{b_key}"), format!("{}//{b_project}/x.wav", b.id)] {
        let (status, err) =
            s.patch(&format!("/v1/projects/{a_project}"), &a.developer.access, json!({"audio_path": path})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a storage key is refused: {path} {err}");
    }

    // In the database, under the request role: a key that is not this project's upload.
    let mut tx = s.as_app(Some(a.developer.user_id)).await;
    let refused = sqlx::query("UPDATE projects SET audio_path = $2 WHERE id = $1")
        .bind(Uuid::parse_str(&a_project).unwrap())
        .bind(&b_key)
        .execute(&mut *tx)
        .await
        .expect_err("the database refuses another organization's key");
    assert!(refused.to_string().contains("audio_path"), "{refused}");
    drop(tx);

    // The owner role bypasses the API: even then the render reads nothing outside A's project.
    sqlx::query("ALTER TABLE projects DISABLE TRIGGER projects_audio_path").execute(&s.owner).await.unwrap();
    sqlx::query("UPDATE projects SET audio_path = $2 WHERE id = $1")
        .bind(Uuid::parse_str(&a_project).unwrap())
        .bind(&b_key)
        .execute(&s.owner)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE projects ENABLE TRIGGER projects_audio_path").execute(&s.owner).await.unwrap();
    let (status, g) = s.start_generation(&a.developer.access, &a_project, Uuid::new_v4(), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let db = worker_db(&s).await;
    let settings = WorkerSettings { lease: Duration::from_secs(30), ..Default::default() };
    // Refused at the first attempt: no attempt could do better.
    assert!(worker::run_once(&db, &store, &settings).await.unwrap());
    let (_, g) = s.get(&format!("/v1/generations/{}", g["id"].as_str().unwrap()), &a.developer.access).await;
    assert_eq!(g["status"], "failed", "{g}");
    assert!(g["audio_analysis"].is_null(), "A must not receive B's analysis: {g}");
    let message = g["error_message"].as_str().unwrap();
    assert!(message.contains("no uploaded audio"), "{message}");
    assert!(!message.contains(dir.to_str().unwrap()) && !message.contains("/tmp"), "no server path: {message}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Finding 7: the render follows what was checked at Generate, not a later edit.
#[tokio::test]
async fn an_edit_after_generate_does_not_change_the_render() {
    let Stored { s, dir, store } = with_storage(|_| {}).await;
    let org = s.organization("plan").await;
    let token = &org.developer.access;
    let p = project(&s, token, "Limited").await;
    s.upload_audio(token, &p, &tone()).await;
    let (status, _) = s.patch(&format!("/v1/projects/{p}"), token, json!({"resolution": "720p"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, g) = s.start_generation(token, &p, Uuid::new_v4(), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    // Above the Free plan's 1080p, after the check.
    let (status, _) =
        s.patch(&format!("/v1/projects/{p}"), token, json!({"resolution": "2160p", "prompt": "later"})).await;
    assert_eq!(status, StatusCode::OK);
    let inputs: Value = sqlx::query_scalar("SELECT inputs FROM render.jobs WHERE generation_id = $1")
        .bind(Uuid::parse_str(g["id"].as_str().unwrap()).unwrap())
        .fetch_one(&s.owner)
        .await
        .unwrap();
    assert_eq!(inputs["resolution"], "720p", "{inputs}");
    assert_eq!(inputs["prompt"], "neon rain on a night highway", "{inputs}");

    let db = worker_db(&s).await;
    assert!(worker::run_once(&db, &store, &WorkerSettings::default()).await.unwrap());
    let id = g["id"].as_str().unwrap();
    let (_, g) = s.get(&format!("/v1/generations/{id}"), token).await;
    assert_eq!(g["status"], "completed", "{g}");
    let video = dir.join(format!("{}/{p}/renders/{id}.mp4", org.id));
    let probe = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0"])
        .arg(&video)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "1280,720", "the render is the size checked at Generate");
    let _ = std::fs::remove_dir_all(dir);
}

/// Finding 9: seeds are unique per organization, and a re-run finds a free number.
#[tokio::test]
async fn seeds_are_per_organization_and_a_rerun_never_fails_for_good() {
    let s = TestServer::start().await;
    let b = s.organization("b-seed").await;
    let c = s.organization("c-seed").await;
    for org in [&b, &c] {
        sqlx::query("UPDATE organizations SET generations_limit = 100 WHERE id = $1")
            .bind(org.id)
            .execute(&s.owner)
            .await
            .unwrap();
    }
    let seed = |org: &Org, p: String| {
        let token = org.developer.access.clone();
        let s = &s;
        async move {
            let (status, g) = s.start_generation(&token, &p, Uuid::new_v4(), json!({"seed": "sunrise"})).await;
            assert_eq!(status, StatusCode::CREATED, "{g}");
            g["seed"].as_str().unwrap().to_owned()
        }
    };
    let b1 = project(&s, &b.developer.access, "b1").await;
    assert_eq!(seed(&b, b1.clone()).await, "sunrise");
    let c1 = project(&s, &c.developer.access, "c1").await;
    assert_eq!(seed(&c, c1.clone()).await, "sunrise", "C learns nothing of B's seeds");
    let c2 = project(&s, &c.developer.access, "c2").await;
    assert_eq!(seed(&c, c2).await, "sunrise~2");
    let (status, _) = s.delete(&format!("/v1/projects/{c1}"), &c.admin.access).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let c3 = project(&s, &c.developer.access, "c3").await;
    assert_eq!(seed(&c, c3).await, "sunrise~3", "a number still taken is skipped");
    assert_eq!(seed(&b, b1).await, "sunrise~2");
}

/// Finding 10: what each role can execute is exactly the allow-list.
#[tokio::test]
async fn request_roles_execute_only_the_functions_they_are_granted() {
    let s = TestServer::start().await;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT r.rolname::text, n.nspname || '.' || p.proname FROM pg_proc p \
         JOIN pg_namespace n ON n.oid = p.pronamespace \
         CROSS JOIN pg_roles r \
         WHERE r.rolname IN ('resonance_app', 'resonance_auth', 'resonance_worker', 'resonance_billing') \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
           AND has_schema_privilege(r.oid, n.oid, 'USAGE') AND has_function_privilege(r.oid, p.oid, 'EXECUTE') \
         ORDER BY 1, 2",
    )
    .fetch_all(&s.owner)
    .await
    .unwrap();
    let got: Vec<String> = rows.iter().map(|(r, f)| format!("{r} {f}")).collect();
    let allowed = [
        "resonance_app auth.sid",
        "resonance_app auth.uid",
        "resonance_app auth_private.caller",
        "resonance_app auth_private.current_org",
        "resonance_app auth_private.current_rank",
        "resonance_app auth_private.end_session",
        // Whether an organization's plan has room for more footage (locks its row).
        "resonance_app auth_private.footage_room",
        "resonance_app auth_private.idempotent_record",
        "resonance_app auth_private.idempotent_replay",
        "resonance_app auth_private.is_removed",
        // Who may share a generation (a policy's helper), and what a share link plays.
        "resonance_app auth_private.may_share",
        // The caller's organization's newest event number (resuming an event stream).
        "resonance_app auth_private.newest_event",
        "resonance_app auth_private.remove_member",
        "resonance_app auth_private.role_rank",
        "resonance_app auth_private.shared_video",
        "resonance_app auth_private.start_generation",
        "resonance_app render.render_seed",
        "resonance_auth auth.sid",
        "resonance_auth auth.uid",
        "resonance_auth auth_private.accept_invitation",
        "resonance_auth auth_private.create_organization_with_owner",
        // What an invitation code leads to, for its holder (keyed by the code's hash).
        "resonance_auth auth_private.invitation_preview",
        "resonance_auth auth_private.membership_state",
        "resonance_auth auth_private.record_auth_event",
        "resonance_billing billing.month_start",
        "resonance_billing billing.resolution_rank",
        "resonance_billing billing.roll_calendar_month",
        "resonance_billing billing.start_period",
        "resonance_billing billing.use_calendar_months",
        "resonance_worker render.render_seed",
    ];
    let unexpected: Vec<&String> = got.iter().filter(|g| !allowed.contains(&g.as_str())).collect();
    assert!(unexpected.is_empty(), "executable beyond the allow-list: {unexpected:?}\nall: {got:?}");
    // And the one the probe found, by hand.
    let mut tx = s.as_app(None).await;
    let refused = sqlx::query(
        "SELECT auth_private.emit_event(gen_random_uuid(), 'project', gen_random_uuid(), NULL, 'completed', NULL)",
    )
    .execute(&mut *tx)
    .await
    .expect_err("the request role cannot inject events");
    assert!(refused.to_string().contains("permission denied"), "{refused}");
}

fn tus(s: &TestServer, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    s.http.request(method, format!("{}{path}", s.base)).bearer_auth(token).header("Tus-Resumable", "1.0.0")
}

async fn start_upload(s: &TestServer, token: &str, project: &str, length: usize) -> String {
    use base64::Engine as _;
    let created = tus(s, Method::POST, "/v1/uploads", token)
        .header("Upload-Length", length.to_string())
        .header("Upload-Metadata", format!("project_id {}", base64::engine::general_purpose::STANDARD.encode(project)))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    created.headers()["location"].to_str().unwrap().to_owned()
}

fn chunk_patch(s: &TestServer, token: &str, location: &str, offset: usize) -> reqwest::RequestBuilder {
    tus(s, Method::PATCH, location, token)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", offset.to_string())
}

/// Findings 4 and 6: a viewer's PATCH stores nothing; a second PATCH while one streams is
/// answered 409 at once and stores nothing; the first one then completes.
#[tokio::test]
async fn no_byte_is_stored_for_a_patch_that_will_be_refused() {
    let Stored { s, dir, store: _store } = with_storage(|settings| settings.max_upload_bytes = 64 << 20).await;
    let org = s.organization("patch").await;
    let p = project(&s, &org.developer.access, "Big").await;
    let file = tone();
    let location = start_upload(&s, &org.developer.access, &p, file.len()).await;

    let viewer = chunk_patch(&s, &org.viewer.access, &location, 0).body(file.clone()).send().await.unwrap();
    assert_eq!(viewer.status(), StatusCode::FORBIDDEN);
    assert!(files_under(&dir).is_empty(), "a viewer's chunk is not stored: {:?}", files_under(&dir));

    // A PATCH whose body arrives slowly holds the upload…
    let (feed, body) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(body));
    let first = tokio::spawn(chunk_patch(&s, &org.developer.access, &location, 0).body(body).send());
    feed.send(Ok(file[..1000].to_vec())).await.unwrap();
    // …once it has claimed it, a second one is refused before its body is read.
    let upload_id = Uuid::parse_str(location.rsplit('/').next().unwrap()).unwrap();
    let mut claimed = false;
    for _ in 0..200 {
        claimed = sqlx::query_scalar("SELECT patch_holder IS NOT NULL FROM uploads WHERE id = $1")
            .bind(upload_id)
            .fetch_one(&s.owner)
            .await
            .unwrap();
        if claimed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(claimed, "the streaming PATCH claims the upload");
    let second = chunk_patch(&s, &org.developer.access, &location, 0).body(file.clone()).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let body: Value = second.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("Another request"), "{body}");
    feed.send(Ok(file[1000..].to_vec())).await.unwrap();
    drop(feed);
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), StatusCode::NO_CONTENT, "{}", first.text().await.unwrap_or_default());
    let kept = files_under(&dir);
    assert_eq!(kept.len(), 1, "only the finished audio remains, no orphan chunk: {kept:?}");
    let _ = std::fs::remove_dir_all(dir);
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Finding 5: a deleted project's audio, unfinished upload chunks and renders are deleted by
/// the maintenance task.
#[tokio::test]
async fn a_deleted_projects_objects_are_collected() {
    let Stored { s, dir, store } = with_storage(|_| {}).await;
    let org = s.organization("gc").await;
    let token = &org.developer.access;
    let keep = project(&s, token, "Kept").await;
    s.upload_audio(token, &keep, &tone()).await;
    let p = project(&s, token, "Doomed").await;
    s.upload_audio(token, &p, &tone()).await;
    let file = tone();
    let location = start_upload(&s, token, &p, file.len()).await;
    let r = chunk_patch(&s, token, &location, 0).body(file[..4096].to_vec()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, g) = s.start_generation(token, &p, Uuid::new_v4(), json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let db = worker_db(&s).await;
    assert!(worker::run_once(&db, &store, &WorkerSettings::default()).await.unwrap());
    let (_, g) = s.get(&format!("/v1/generations/{}", g["id"].as_str().unwrap()), token).await;
    assert_eq!(g["status"], "completed", "{g}");
    let before = files_under(&dir);
    assert_eq!(before.len(), 5, "2 audio files, 1 chunk, a video and its thumbnail: {before:?}");

    let (status, _) = s.delete(&format!("/v1/projects/{p}"), &org.admin.access).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let owner_db = resonance_server::Db::from_pool(s.owner.clone());
    let deleted = resonance_server::maintenance::collect_garbage(&owner_db, store.as_ref()).await;
    assert_eq!(deleted, 4);
    let after = files_under(&dir);
    assert_eq!(after.len(), 1, "only the kept project's audio remains: {after:?}");
    assert!(after[0].to_str().unwrap().contains(&keep));
    assert_eq!(resonance_server::maintenance::collect_garbage(&owner_db, store.as_ref()).await, 0, "done once");
    let _ = std::fs::remove_dir_all(dir);
}

/// Reads an event stream until it ends; true when it ended within `limit`.
async fn ends_within(resp: reqwest::Response, limit: Duration) -> bool {
    let mut stream = resp.bytes_stream();
    tokio::time::timeout(limit, async {
        use futures_util::StreamExt as _;
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await
    .is_ok()
}

/// Finding 8: a removed member's and a signed-out session's event streams end.
#[tokio::test]
async fn event_streams_end_when_the_member_is_removed_or_signs_out() {
    let s = TestServer::start().await;
    let org = s.organization("events-end").await;
    let open = |token: String| {
        let (http, base) = (s.http.clone(), s.base.clone());
        async move { http.get(format!("{base}/v1/events")).bearer_auth(token).send().await.unwrap() }
    };
    let viewer_stream = open(org.viewer.access.clone()).await;
    assert_eq!(viewer_stream.status(), StatusCode::OK);
    let developer_stream = open(org.developer.access.clone()).await;
    let (status, _) = s.delete(&format!("/v1/members/{}", org.viewer.user_id), &org.admin.access).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(ends_within(viewer_stream, Duration::from_secs(20)).await, "a removed member's stream ends");
    let (status, _) = s.call(Method::POST, "/v1/auth/logout", Some(&org.developer.access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(ends_within(developer_stream, Duration::from_secs(20)).await, "a signed-out session's stream ends");
    // A member still in place keeps theirs.
    let owner_stream = open(org.owner.access.clone()).await;
    assert!(!ends_within(owner_stream, resonance_server::http::events::RECHECK_EVERY * 3).await);
}

/// Finding 11: extreme numbers in headers are answered, not a panic.
#[tokio::test]
async fn extreme_header_numbers_are_answered() {
    let s = TestServer::start().await;
    let org = s.organization("extreme").await;
    for id in ["9223372036854775807", "-9223372036854775808"] {
        let resp = s
            .http
            .get(format!("{}/v1/events", s.base))
            .bearer_auth(&org.viewer.access)
            .header("Last-Event-ID", id)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "Last-Event-ID {id}");
    }
    let resp = s
        .http
        .get(format!("{}/v1/events", s.base))
        .bearer_auth(&org.viewer.access)
        .header("Last-Event-ID", "99999999999999999999")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

/// Finding 3: a burst of wrong passwords checks at most the limit, and does not lock the owner
/// out from another address; the window passing lets the first address in again.
#[tokio::test]
async fn a_burst_of_wrong_passwords_tests_at_most_the_limit_and_locks_out_no_one_else() {
    let s = TestServer::start().await;
    let org = s.organization("burst").await;
    let email = "developer@burst.test";
    let tries = (0..150).map(|n| {
        let (http, base) = (s.http.clone(), s.base.clone());
        async move {
            http.post(format!("{base}/v1/auth/token"))
                .json(&json!({"grant_type": "password", "email": email, "password": format!("wrong guess {n}")}))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let answers = futures_util::future::join_all(tries).await;
    let tested = answers.iter().filter(|a| **a == StatusCode::UNAUTHORIZED).count();
    let throttled = answers.iter().filter(|a| **a == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(tested + throttled, 150, "{answers:?}");
    assert!(tested <= 10, "at most the limit of passwords were checked: {tested}");
    let (status, _) = s.sign_in(email, PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "this address waits out the window");

    let elsewhere = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 2])).build().unwrap();
    let resp = elsewhere
        .post(format!("{}/v1/auth/token", s.base))
        .json(&json!({"grant_type": "password", "email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the owner signs in from their own address");

    sqlx::query("UPDATE auth.sign_in_failures SET attempted_at = attempted_at - interval '16 minutes'")
        .execute(&s.owner)
        .await
        .unwrap();
    let (status, _) = s.sign_in(email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "after the window the right password works again");
    let _ = org;
}

/// Finding 2: each address has a rate on the auth endpoints; a full hashing pool answers 503
/// with Retry-After; nothing else fails.
#[tokio::test]
async fn auth_floods_are_answered_with_retry_after() {
    let s = TestServer::start_with(|settings| settings.auth_per_minute = 5).await;
    let mut statuses = Vec::new();
    for n in 0..6 {
        let resp = s
            .http
            .post(format!("{}/v1/auth/token", s.base))
            .json(&json!({"grant_type": "password", "email": format!("nobody{n}@flood.test"), "password": "x"}))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status());
        if n == 5 {
            assert!(resp.headers().contains_key("retry-after"), "429 says when to retry");
        }
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);

    let s = TestServer::start_with(|settings| settings.hash_wait = Duration::from_millis(1)).await;
    let tries = (0..60).map(|n| {
        let (http, base) = (s.http.clone(), s.base.clone());
        async move {
            let resp = http
                .post(format!("{base}/v1/auth/token"))
                .json(&json!({"grant_type": "password", "email": format!("n{n}@flood.test"), "password": "x"}))
                .send()
                .await
                .unwrap();
            (resp.status(), resp.headers().contains_key("retry-after"))
        }
    });
    let answers = futures_util::future::join_all(tries).await;
    let busy = answers.iter().filter(|(st, _)| *st == StatusCode::SERVICE_UNAVAILABLE).count();
    assert!(busy > 0, "a full pool answers 503: {answers:?}");
    for (status, retry_after) in &answers {
        assert!(
            *status == StatusCode::UNAUTHORIZED || (*status == StatusCode::SERVICE_UNAVAILABLE && *retry_after),
            "only wrong-password answers and 503 with Retry-After: {answers:?}"
        );
    }
}

/// Finding 14: what anyone can add without an account does not grow without bound — failed
/// sign-ins for unknown e-mails leave no activity row, and stale failures are pruned.
#[tokio::test]
async fn failed_sign_ins_leave_nothing_that_grows_without_bound() {
    let s = TestServer::start().await;
    let org = s.organization("prune").await;
    let logs = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM system_logs WHERE organization_id IS NULL")
            .fetch_one(&s.owner)
            .await
            .unwrap()
    };
    let anonymous = logs().await;
    for n in 0..5 {
        let (status, _) = s.sign_in(&format!("stranger{n}@nowhere.test"), "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(logs().await, anonymous, "unknown e-mails write no activity rows");
    let (status, _) = s.sign_in("viewer@prune.test", "wrong password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let org_warnings: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM system_logs WHERE organization_id = $1 AND action_type = 'auth.sign_in' AND status = 'warning'",
    )
    .bind(org.id)
    .fetch_one(&s.owner)
    .await
    .unwrap();
    assert_eq!(org_warnings, 1, "a member's failed sign-in stays in their organization's activity");

    let failures = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM auth.sign_in_failures").fetch_one(&s.owner).await.unwrap()
    };
    assert_eq!(failures().await, 6);
    sqlx::query(
        "UPDATE auth.sign_in_failures SET attempted_at = now() - interval '2 hours' WHERE email_key LIKE 'stranger%'",
    )
    .execute(&s.owner)
    .await
    .unwrap();
    let db = resonance_server::Db::from_pool(s.owner.clone());
    resonance_server::maintenance::prune(&db, Duration::from_secs(86_400)).await;
    assert_eq!(failures().await, 1, "stale failures are pruned; the fresh one still counts");
}
