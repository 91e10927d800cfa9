//! Offline-first: with the server stopped every read works from the mirror and writes queue;
//! when it returns the queue drains in order and the server ends equal to the mirror. Refusals
//! become conflicts the user resolves. Two accounts on one machine never see each other's rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

/// The mirror's projects by id (as `projects --json` prints them).
async fn local(m: &Machine<'_>) -> BTreeMap<String, Value> {
    m.json(&["projects", "--json"])
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_owned(), p.clone()))
        .collect()
}

/// The fields a user edits, for comparing the mirror with the server.
fn fields(p: &Value) -> Value {
    serde_json::json!([
        p["name"],
        p["prompt"],
        p["description"],
        p["resolution"],
        p["style_preference"],
        p["footage_visibility"],
        p["effect_intensity"],
        p["audio_duration"]
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_reads_work_and_queued_writes_drain_in_order_when_the_server_returns() {
    let keyring = Keyring::start();
    let mut backend = Backend::start().await;
    let (token, owner) = backend.signup("dee@example.com", "Dee").await;
    let m = Machine::new(&keyring, &backend.base);
    assert!(m.login("dee@example.com").await.status.success());
    let wav = tone_wav(keyring.dir.path(), "t.wav", 0.5);
    let wav = wav.to_str().unwrap();
    let mut ids = Vec::new();
    for name in ["Alpha", "Beta", "Gamma"] {
        ids.push(m.ok(&["project", "create", "--name", name, "--prompt", "p", "--audio", wav]).await.trim().to_owned());
    }
    // A generation made on the server reaches the mirror.
    let org: uuid::Uuid = owner["user"]["organization_id"].as_str().unwrap().parse().unwrap();
    let user: uuid::Uuid = owner["user"]["id"].as_str().unwrap().parse().unwrap();
    sqlx::query("INSERT INTO generations (project_id, organization_id, user_id, seed, generation_number) VALUES ($1, $2, $3, 'seed-1', 1)")
        .bind(uuid::Uuid::parse_str(&ids[0]).unwrap())
        .bind(org)
        .bind(user)
        .execute(&backend.owner)
        .await
        .unwrap();
    // The feed hands out a change once no older transaction in the cluster is still open (other
    // tests' included), so the pull that brings it may be the second or third.
    for _ in 0..100 {
        m.ok(&["sync"]).await;
        if !m.json(&["generations", &ids[0], "--json"]).await.as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    backend.stop().await;
    // Every read works from the mirror.
    let before = local(&m).await;
    assert_eq!(before.len(), 3);
    let generations = m.json(&["generations", &ids[0], "--json"]).await;
    assert_eq!(generations[0]["seed"], "seed-1");
    assert!(m.ok(&["whoami"]).await.contains("dee@example.com"));
    assert_eq!(m.json(&["projects", "--json", "--search", "bet"]).await.as_array().unwrap().len(), 1);
    // Writes are kept and queued, in order: a create, two edits of it, an edit, a delete.
    let created =
        m.run(&["project", "create", "--name", "Offline", "--prompt", "made on a train", "--audio", wav]).await;
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(stderr(&created).contains("will be sent when the server can be reached"), "{}", stderr(&created));
    let offline_id = stdout(&created).trim().to_owned();
    m.ok(&["project", "edit", &offline_id, "--name", "Offline v2", "--resolution", "720p"]).await;
    m.ok(&["project", "edit", &offline_id, "--name", "Offline v3"]).await;
    m.ok(&["project", "edit", &ids[1], "--prompt", "rewritten offline", "--effect-intensity", "0.9"]).await;
    m.ok(&["project", "delete", &ids[2]]).await;
    let status = m.json(&["status", "--json"]).await;
    assert_eq!(status["state"], "offline", "{status}");
    assert_eq!(status["pending_changes"], 5);
    let sync = m.run(&["sync"]).await;
    assert_eq!(sync.status.code(), Some(4), "sync says the server is unreachable: {}", stderr(&sync));
    let queued = local(&m).await;
    assert_eq!(queued[&offline_id]["name"], "Offline v3", "the user sees their own edits at once");
    assert_eq!(queued[&offline_id]["pending_changes"], 3);
    assert!(!queued.contains_key(&ids[2]));

    backend.restart().await;
    let out = m.ok(&["sync"]).await;
    assert!(out.contains("Sent 5 change(s)"), "{out}");
    let server = backend.projects(&token).await;
    let mirror = local(&m).await;
    assert_eq!(server.keys().collect::<Vec<_>>(), mirror.keys().collect::<Vec<_>>(), "the same projects on both sides");
    for (id, p) in &server {
        assert_eq!(fields(p), fields(&mirror[id]), "project {id} must be equal on the server and in the mirror");
        assert_eq!(mirror[id]["pending_changes"], 0);
    }
    assert_eq!(server[&offline_id]["name"], "Offline v3", "edits applied after the create, in order");
    assert_eq!(server[&offline_id]["resolution"], "720p");
    assert_eq!(server[&ids[1]]["prompt"], "rewritten offline");
    let status = m.json(&["status", "--json"]).await;
    assert_eq!((status["state"].as_str(), status["pending_changes"].as_u64()), (Some("idle"), Some(0)), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_is_kept_as_a_conflict_until_the_user_resolves_it() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let (owner_token, _) = backend.signup("eve@example.com", "Eve").await;
    backend.add_member(&owner_token, "dev@example.com", "developer").await;
    let wav = tone_wav(keyring.dir.path(), "t.wav", 0.5);
    let wav = wav.to_str().unwrap();
    let m = Machine::new(&keyring, &backend.base);
    assert!(m.login("dev@example.com").await.status.success());
    let id = m.ok(&["project", "create", "--name", "Mine", "--prompt", "p", "--audio", wav]).await.trim().to_owned();
    let keep = m.ok(&["project", "create", "--name", "Kept", "--prompt", "p", "--audio", wav]).await.trim().to_owned();

    // The developer edits while the owner deletes the project on the server: the edit is refused.
    let (status, _) =
        backend.call(reqwest::Method::DELETE, &format!("/v1/projects/{id}"), Some(&owner_token), None).await;
    assert_eq!(status, 204);
    let edit = m.run(&["project", "edit", &id, "--name", "Mine, renamed"]).await;
    assert!(edit.status.success());
    assert!(stderr(&edit).contains("refused"), "the user is told: {}", stderr(&edit));
    // A developer may not delete (admins only): also refused, and the project comes back.
    let delete = m.run(&["project", "delete", &keep]).await;
    assert!(delete.status.success());
    let conflicts = m.json(&["conflicts", "--json"]).await;
    let conflicts = conflicts.as_array().unwrap();
    assert_eq!(conflicts.len(), 2, "{conflicts:?}");
    assert_eq!(conflicts[0]["kind"], "edit_project");
    assert_eq!(conflicts[0]["payload"]["name"], "Mine, renamed", "the local version is kept");
    assert_eq!(conflicts[0]["server_version"], Value::Null, "the server has no version any more");
    assert_eq!(conflicts[1]["kind"], "delete_project");
    assert_eq!(conflicts[1]["server_version"]["name"], "Kept");
    // The server's version wins meanwhile.
    let mirror = local(&m).await;
    assert!(!mirror.contains_key(&id));
    assert_eq!(mirror[&keep]["name"], "Kept");
    assert!(mirror[&keep]["conflict"].as_str().unwrap().contains("admins"), "{}", mirror[&keep]);
    let status = m.json(&["status", "--json"]).await;
    assert_eq!(status["conflicts"], 2);
    // Retrying the same refused delete is refused again; discarding resolves it.
    let retried = m.run(&["resolve", conflicts[1]["id"].as_str().unwrap(), "--retry"]).await;
    assert!(retried.status.success(), "{}", stderr(&retried));
    assert_eq!(m.json(&["conflicts", "--json"]).await.as_array().unwrap().len(), 2);
    for c in m.json(&["conflicts", "--json"]).await.as_array().unwrap() {
        m.ok(&["resolve", c["id"].as_str().unwrap(), "--discard"]).await;
    }
    assert_eq!(m.json(&["conflicts", "--json"]).await, serde_json::json!([]));
    m.ok(&["sync"]).await;
    let server = backend.projects(&owner_token).await;
    assert_eq!(server.keys().collect::<Vec<_>>(), local(&m).await.keys().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_on_one_machine_never_see_each_others_rows() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    backend.signup("fay@one.test", "One").await;
    backend.signup("gus@two.test", "Two").await;
    let wav = tone_wav(keyring.dir.path(), "t.wav", 0.5);
    let wav = wav.to_str().unwrap();
    let m = Machine::new(&keyring, &backend.base);
    assert!(m.login("fay@one.test").await.status.success());
    let fay =
        m.ok(&["project", "create", "--name", "Fay's secret", "--prompt", "p", "--audio", wav]).await.trim().to_owned();
    let fay_dir = m.mirror_path().parent().unwrap().to_owned();
    m.ok(&["logout"]).await;
    assert_eq!(m.run(&["projects"]).await.status.code(), Some(3), "signed out: nothing is shown");

    assert!(m.login("gus@two.test").await.status.success());
    let seen = local(&m).await;
    assert!(!seen.contains_key(&fay), "another account's rows must never be shown");
    assert!(seen.is_empty());
    let gus = m.ok(&["project", "create", "--name", "Gus's", "--prompt", "p", "--audio", wav]).await.trim().to_owned();
    assert_eq!(m.run(&["generations", &fay]).await.status.code(), Some(7));
    m.ok(&["logout", "--forget"]).await;
    assert!(fay_dir.exists(), "signing out without --forget keeps the local data");

    assert!(m.login("fay@one.test").await.status.success());
    let seen = local(&m).await;
    assert_eq!(seen.keys().collect::<Vec<_>>(), vec![&fay]);
    assert!(!seen.contains_key(&gus));
    m.ok(&["logout", "--forget"]).await;
    assert!(!fay_dir.exists(), "--forget deletes the account's mirror");
    let accounts = std::fs::read_dir(m.data.join("accounts")).unwrap().count();
    assert_eq!(accounts, 0, "both accounts forgotten");
}
