//! The background sync engine the desktop runs: it syncs on start and when told to, reports
//! `offline` when the server goes away, and catches up by itself when the server answers again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use resonance_client::engine::SyncEngine;
use resonance_client::{Client, DataDir, SyncState, SyncStatus};

async fn wait_for(
    status: &mut tokio::sync::watch::Receiver<SyncStatus>,
    what: &str,
    done: impl Fn(&SyncStatus) -> bool,
) -> SyncStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = status.borrow_and_update().clone();
        if done(&now) {
            return now;
        }
        if tokio::time::timeout_at(deadline, status.changed()).await.is_err() {
            panic!("the engine never reached: {what} (last status {now:?})");
        }
    }
}

/// The CLI signed in as `email` on a machine of its own, and this test's client on the same data
/// directory (its environment reaching the same Secret Service as the CLI).
async fn signed_in<'k>(keyring: &'k Keyring, server: &str, email: &str) -> (Machine<'k>, Client) {
    let m = Machine::new(keyring, server);
    assert!(m.login(email).await.status.success());
    for (k, v) in keyring.env() {
        std::env::set_var(k, v);
    }
    let client = Client::open(DataDir::resolve(Some(m.data.clone())).unwrap()).unwrap();
    (m, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_syncs_on_start_when_told_and_after_the_server_comes_back() {
    let keyring = Keyring::start();
    let mut backend = Backend::start().await;
    let (token, _) = backend.signup("ivy@example.com", "Ivy").await;
    let (_machine, client) = signed_in(&keyring, &backend.base, "ivy@example.com").await;
    let mirror = client.mirror().unwrap();
    let engine = SyncEngine::start(client.session().unwrap(), mirror.clone(), Duration::from_secs(3600)).unwrap();
    let mut status = engine.status();
    wait_for(&mut status, "idle after the start-up round", |s| {
        s.state == SyncState::Idle && s.last_success_at.is_some()
    })
    .await;

    // Told to: a project made on the server arrives without waiting for the hour.
    let new = serde_json::json!({"name": "From the web", "prompt": "p", "audio_path": "a.mp3"});
    let (code, made) = backend.call(reqwest::Method::POST, "/v1/projects", Some(&token), Some(new)).await;
    assert_eq!(code, 201);
    let id: uuid::Uuid = made["id"].as_str().unwrap().parse().unwrap();
    for _ in 0..50 {
        engine.sync_now();
        if mirror.project(id).unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(mirror.project(id).unwrap().is_some(), "sync_now must pull");

    // The server goes away: a local edit queues and the engine says offline.
    backend.stop().await;
    client
        .edit_project(
            id,
            resonance_api::projects::ProjectPatch { name: Some("Edited on a train".into()), ..Default::default() },
        )
        .unwrap();
    engine.sync_now();
    let offline = wait_for(&mut status, "offline with the edit queued", |s| {
        s.state == SyncState::Offline && s.pending_changes == 1
    })
    .await;
    assert!(offline.last_error.is_some_and(|e| e.contains("cannot be reached")));

    // It comes back: the engine notices by itself and sends the edit.
    backend.restart().await;
    wait_for(&mut status, "idle with nothing pending after reconnecting", |s| {
        s.state == SyncState::Idle && s.pending_changes == 0
    })
    .await;
    let on_server = backend.projects(&token).await;
    assert_eq!(on_server[&id.to_string()]["name"], "Edited on a train");
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_pulls_every_interval_without_being_told() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let (token, _) = backend.signup("otto@example.com", "Otto").await;
    let (_machine, client) = signed_in(&keyring, &backend.base, "otto@example.com").await;
    let mirror = client.mirror().unwrap();
    let engine = SyncEngine::start(client.session().unwrap(), mirror.clone(), Duration::from_secs(1)).unwrap();
    let mut status = engine.status();
    let idle = wait_for(&mut status, "idle after the start-up round", |s| {
        s.state == SyncState::Idle && s.last_success_at.is_some()
    })
    .await;
    // Rounds that bring nothing are not announced as changes (the UI would reload for nothing).
    let changes = engine.changes();
    let before = *changes.borrow();
    let mut last = idle.last_success_at;
    for round in 0..2 {
        let quiet = wait_for(&mut status, "another quiet round", |s| {
            s.state == SyncState::Idle && s.last_success_at.is_some() && s.last_success_at != last
        })
        .await;
        last = quiet.last_success_at;
        assert_eq!(*changes.borrow(), before, "quiet round {round} must not count as a change");
    }
    let new = serde_json::json!({"name": "Made elsewhere", "prompt": "p", "audio_path": "a.mp3"});
    let (code, made) = backend.call(reqwest::Method::POST, "/v1/projects", Some(&token), Some(new)).await;
    assert_eq!(code, 201);
    let id: uuid::Uuid = made["id"].as_str().unwrap().parse().unwrap();
    // Nobody calls sync_now: the interval alone must bring the project.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while mirror.project(id).unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the periodic pull never brought the project");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(*changes.borrow() > before, "the round that pulled the project counts as a change");
    engine.stop();
}

/// The server is upgraded past this app: the engine says an update is needed, with the server's
/// advice, and keeps the queued edit (not a conflict: nothing was refused on its merits); the CLI
/// exits 10 with the same advice. When the server serves this version again, Sync now sends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_the_server_no_longer_serves_says_update_and_keeps_its_changes() {
    let keyring = Keyring::start();
    let mut backend = Backend::start().await;
    let (token, _) = backend.signup("una@example.com", "Una").await;
    let (m, client) = signed_in(&keyring, &backend.base, "una@example.com").await;
    let new = serde_json::json!({"name": "Before the upgrade", "prompt": "p", "audio_path": "a.mp3"});
    let (code, made) = backend.call(reqwest::Method::POST, "/v1/projects", Some(&token), Some(new)).await;
    assert_eq!(code, 201);
    let id: uuid::Uuid = made["id"].as_str().unwrap().parse().unwrap();
    let mirror = client.mirror().unwrap();
    // The feed may hold a just-committed row back for a moment: sync until it is here.
    for _ in 0..50 {
        m.ok(&["sync"]).await;
        if mirror.project(id).unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(mirror.project(id).unwrap().is_some(), "the project reached this computer");

    backend.stop().await;
    backend.tune(|s| s.clients.minimum = "99.0.0".parse().unwrap());
    backend.restart().await;
    client
        .edit_project(
            id,
            resonance_api::projects::ProjectPatch {
                name: Some("Kept for the new version".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let engine = SyncEngine::start(client.session().unwrap(), mirror.clone(), Duration::from_secs(3600)).unwrap();
    let mut status = engine.status();
    let stuck = wait_for(&mut status, "update required", |s| s.state == SyncState::UpdateRequired).await;
    let advice = stuck.last_error.unwrap_or_default();
    assert!(advice.contains("needs 99.0.0 or newer"), "{advice}");
    assert_eq!((stuck.pending_changes, stuck.conflicts), (1, 0), "the edit waits, it is not a conflict");
    assert_eq!(mirror.project(id).unwrap().unwrap().name, "Kept for the new version");

    let out = m.run(&["sync"]).await;
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    assert!(stderr(&out).contains("needs 99.0.0 or newer"), "{}", stderr(&out));
    let on_server = backend.projects(&token).await;
    assert_eq!(on_server[&id.to_string()]["name"], "Before the upgrade");

    backend.stop().await;
    backend.tune(|s| s.clients.minimum = resonance_api::version::OLDEST_SERVED_CLIENT);
    backend.restart().await;
    engine.sync_now();
    wait_for(&mut status, "idle with the edit sent", |s| s.state == SyncState::Idle && s.pending_changes == 0).await;
    let on_server = backend.projects(&token).await;
    assert_eq!(on_server[&id.to_string()]["name"], "Kept for the new version");
    engine.stop();
}

/// The engine's round and the watcher's catch-up may both pull at once: they take turns, so the
/// second starts from where the first ended and asks for one page instead of the whole feed
/// again (two pulls applying pages and moving the cursor at once could move it back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pulls_at_once_take_turns() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let (_, signed_up) = backend.signup("tia@example.com", "Tia").await;
    let (_machine, client) = signed_in(&keyring, &backend.base, "tia@example.com").await;
    let organization = signed_up["user"]["organization_id"].as_str().unwrap().parse().unwrap();
    let user = signed_up["user"]["id"].as_str().unwrap().parse().unwrap();
    // More than two pages of the feed.
    backend.add_projects(organization, user, "Archive", 25_000).await;
    let (session, mirror) = (client.session().unwrap(), client.mirror().unwrap());
    let (a, b) =
        tokio::join!(resonance_client::sync::pull(&session, &mirror), resonance_client::sync::pull(&session, &mirror));
    let mut pages = [a.unwrap().pages, b.unwrap().pages];
    pages.sort_unstable();
    assert!(pages[1] >= 3, "the first pull reads the whole feed: {pages:?}");
    assert_eq!(pages[0], 1, "the second starts where the first ended: {pages:?}");
}
