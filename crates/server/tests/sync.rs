//! The change feed: replaying it equals the database, deletes and cascades included, and no
//! transaction that commits late is ever skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use rand::{RngExt, SeedableRng};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

type State = BTreeMap<(String, String), Value>;

/// A client that replays the feed into a map, as the desktop mirror will.
struct Replica {
    state: State,
    cursor: Option<String>,
    pages: usize,
}

impl Replica {
    fn new() -> Self {
        Self { state: State::new(), cursor: None, pages: 0 }
    }

    /// Pulls until `has_more` is false; returns how many changes arrived.
    async fn pull(&mut self, s: &TestServer, token: &str, limit: u32) -> usize {
        let mut n = 0;
        loop {
            let path = match &self.cursor {
                Some(c) => format!("/v1/sync?limit={limit}&cursor={c}"),
                None => format!("/v1/sync?limit={limit}"),
            };
            let (status, page) = s.get(&path, token).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            assert_eq!(page["reset"], false, "an in-date cursor must not reset");
            self.pages += 1;
            for c in page["changes"].as_array().unwrap() {
                n += 1;
                let key = (c["table"].as_str().unwrap().to_owned(), c["id"].as_str().unwrap().to_owned());
                match c["op"].as_str().unwrap() {
                    "upsert" => {
                        self.state.insert(key, c["row"].clone());
                    }
                    "delete" => {
                        self.state.remove(&key);
                    }
                    other => panic!("unknown op {other}"),
                }
            }
            self.cursor = Some(page["cursor"].as_str().unwrap().to_owned());
            if page["has_more"] == false {
                return n;
            }
        }
    }
}

impl Replica {
    /// Pulls until `done` holds. The feed withholds changes while any older writing transaction
    /// anywhere in the cluster is open (other tests run beside this one), so "at once" means
    /// "as soon as those end": bounded here at 30 s.
    async fn pull_until(&mut self, s: &TestServer, token: &str, done: impl Fn(&Self) -> bool) -> usize {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut n = self.pull(s, token, 1000).await;
        while !done(self) {
            assert!(std::time::Instant::now() < deadline, "the feed did not catch up within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
            n += self.pull(s, token, 1000).await;
        }
        n
    }

    /// Pulls until the replica equals the database, then asserts it in detail.
    async fn settle(&mut self, s: &TestServer, token: &str, org: Uuid) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            self.pull(s, token, 1000).await;
            let db = database_state(s, org).await;
            if same(&self.state, &db) || std::time::Instant::now() > deadline {
                assert_same(&self.state, &db);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The organization's rows as Postgres has them, rendered as the feed renders them.
async fn database_state(s: &TestServer, org: Uuid) -> State {
    let mut state = State::new();
    for (table, col) in [
        ("organizations", "id"),
        ("users", "organization_id"),
        ("projects", "organization_id"),
        ("generations", "organization_id"),
        ("system_logs", "organization_id"),
    ] {
        let rows: Vec<(Uuid, sqlx::types::Json<Value>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT t.id, row_to_json(t)::jsonb FROM {table} t WHERE t.{col} = $1"
        )))
        .bind(org)
        .fetch_all(&s.owner)
        .await
        .unwrap();
        for (id, row) in rows {
            state.insert((table.to_owned(), id.to_string()), row.0);
        }
    }
    state
}

/// A row as its typed wire struct, so equal rows compare equal whatever their JSON spelling.
fn typed(key: &(String, String), row: &Value) -> resonance_api::sync::Row {
    let change = json!({"table": key.0, "op": "upsert", "id": key.1, "row": row});
    let change: resonance_api::sync::Change =
        serde_json::from_value(change).unwrap_or_else(|e| panic!("{key:?} does not decode into the wire type: {e}"));
    change.row.unwrap()
}

fn same(replayed: &State, db: &State) -> bool {
    replayed.len() == db.len() && db.iter().all(|(k, v)| replayed.get(k).is_some_and(|r| typed(k, r) == typed(k, v)))
}

fn assert_same(replayed: &State, db: &State) {
    let missing: Vec<_> = db.keys().filter(|k| !replayed.contains_key(*k)).collect();
    let extra: Vec<_> = replayed.keys().filter(|k| !db.contains_key(*k)).collect();
    assert!(missing.is_empty(), "the replica misses {} rows, e.g. {:?}", missing.len(), missing.first());
    assert!(extra.is_empty(), "the replica kept {} deleted rows, e.g. {:?}", extra.len(), extra.first());
    for (k, v) in db {
        assert_eq!(typed(k, &replayed[k]), typed(k, v), "row {k:?} differs");
    }
}

#[tokio::test]
async fn the_feed_carries_every_column_of_every_table() {
    let s = TestServer::start().await;
    for (table, columns) in resonance_server::storage::sync::COLUMNS {
        let in_db: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&s.owner)
        .await
        .unwrap();
        let on_wire: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        assert_eq!(in_db, on_wire, "the feed's columns of {table} must match the table");
    }
}

#[tokio::test]
async fn a_full_pull_then_increments_replay_the_database() {
    let s = TestServer::start().await;
    let org = s.organization("sync").await;
    let token = &org.developer.access;
    let mut replica = Replica::new();
    for i in 0..25 {
        s.post("/v1/projects", token, new_project(&format!("track-{i}"))).await;
    }
    replica.pull(&s, token, 7).await;
    assert!(replica.pages >= 4, "a small limit must page");
    replica.settle(&s, token, org.id).await;

    // One change: the next pull brings exactly it (and its log line).
    let (_, p) = s.get("/v1/projects?limit=1", token).await;
    let id = p[0]["id"].as_str().unwrap();
    s.patch(&format!("/v1/projects/{id}"), token, json!({"name": "renamed"})).await;
    let key = ("projects".to_owned(), id.to_owned());
    let before = replica.state.clone();
    let n = replica.pull_until(&s, token, |r| r.state[&key]["name"] == "renamed").await;
    assert!(n >= 2, "one project update and one log entry at least");
    // What changed is exactly that project and one new log line; anything else the pull carried
    // (the log re-delivering what the initial scan already read) was identical.
    let changed: Vec<&(String, String)> =
        replica.state.iter().filter(|(k, v)| before.get(*k) != Some(*v)).map(|(k, _)| k).collect();
    assert_eq!(changed.len(), 2, "changed: {changed:?}");
    assert!(changed.contains(&&key));
    assert!(changed.iter().any(|(t, _)| t == "system_logs"));
    assert_eq!(before.len() + 1, replica.state.len(), "only the log line is new");
    // Once drained, nothing new: an empty page that keeps the cursor.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while replica.pull(&s, token, 1000).await > 0 {
        assert!(std::time::Instant::now() < deadline, "the feed did not drain");
    }
    let before = replica.cursor.clone();
    assert_eq!(replica.pull(&s, token, 1000).await, 0);
    assert_eq!(replica.cursor, before, "an empty page must keep the cursor");
}

#[tokio::test]
async fn deletes_and_cascades_arrive_as_tombstones() {
    let s = TestServer::start().await;
    let org = s.organization("tomb").await;
    let (_, p) = s.post("/v1/projects", &org.developer.access, new_project("doomed")).await;
    let pid: Uuid = p["id"].as_str().unwrap().parse().unwrap();
    for (number, seed) in ["s1", "s2", "s3"].into_iter().enumerate() {
        s.insert_generation(&org, pid, seed, i32::try_from(number).unwrap() + 1).await;
    }
    let mut replica = Replica::new();
    let generations = |r: &Replica| r.state.keys().filter(|(t, _)| t == "generations").count();
    replica.pull_until(&s, &org.viewer.access, |r| generations(r) == 3).await;

    let (status, _) = s.delete(&format!("/v1/projects/{pid}"), &org.admin.access).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let project = ("projects".to_owned(), pid.to_string());
    replica.pull_until(&s, &org.viewer.access, |r| !r.state.contains_key(&project)).await;
    assert_eq!(generations(&replica), 0, "cascaded deletes must reach the replica with the project's");
    // The project's log lines survive with their link cleared.
    replica.settle(&s, &org.viewer.access, org.id).await;
}

#[tokio::test]
async fn a_transaction_that_commits_late_is_not_skipped() {
    let s = TestServer::start().await;
    let org = s.organization("late").await;
    let mut replica = Replica::new();
    replica.pull(&s, &org.owner.access, 1000).await;

    let insert = "INSERT INTO projects (organization_id, user_id, name, prompt, audio_path) VALUES ($1, auth.uid(), $2, 'p', 'a') RETURNING id";
    // The early transaction writes first (lower ids everywhere) but commits last.
    let mut early = s.as_app(Some(org.developer.user_id)).await;
    let early_id: Uuid = sqlx::query_scalar(insert).bind(org.id).bind("early").fetch_one(&mut *early).await.unwrap();
    let mut late = s.as_app(Some(org.developer.user_id)).await;
    let late_id: Uuid = sqlx::query_scalar(insert).bind(org.id).bind("late").fetch_one(&mut *late).await.unwrap();
    late.commit().await.unwrap();

    // While `early` is open, the feed holds back everything after it rather than skip it.
    replica.pull(&s, &org.owner.access, 1000).await;
    let has = |r: &Replica, id: Uuid| r.state.contains_key(&("projects".to_owned(), id.to_string()));
    assert!(!has(&replica, late_id), "a change after an open transaction must wait for it");

    early.commit().await.unwrap();
    replica.pull_until(&s, &org.owner.access, |r| has(r, late_id)).await;
    assert!(has(&replica, early_id), "the late-committing transaction was skipped");
    replica.settle(&s, &org.owner.access, org.id).await;
}

#[tokio::test]
async fn unknown_and_expired_cursors_reset() {
    let s = TestServer::start().await;
    let org = s.organization("reset").await;
    let token = &org.admin.access;
    for cursor in ["garbage", "djEuMTIzLjEuMQ"] {
        let (status, page) = s.get(&format!("/v1/sync?cursor={cursor}"), token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["reset"], true, "cursor {cursor} must reset");
        assert_eq!(page["changes"], json!([]));
    }
    let mut replica = Replica::new();
    replica.pull(&s, token, 1000).await;
    let old_cursor = replica.cursor.clone().unwrap();
    let (_, p) = s.post("/v1/projects", token, new_project("short-lived")).await;
    s.delete(&format!("/v1/projects/{}", p["id"].as_str().unwrap()), token).await;
    // The tombstone is forgotten: a cursor from before it can no longer be continued safely.
    let pruned: i64 =
        sqlx::query_scalar("SELECT sync.prune_tombstones(interval '0')").fetch_one(&s.owner).await.unwrap();
    assert!(pruned >= 1);
    let (_, page) = s.get(&format!("/v1/sync?cursor={old_cursor}"), token).await;
    assert_eq!(page["reset"], true, "a cursor older than the pruned tombstones must reset");
    // A fresh pull after the pruning pages normally, even through cursors behind the horizon.
    let mut fresh = Replica::new();
    fresh.pull(&s, token, 2).await;
    assert!(fresh.pages > 3);
    fresh.settle(&s, token, org.id).await;
    // Limits are checked.
    let (status, _) = s.get("/v1/sync?limit=0", token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = s.get("/v1/sync?limit=10001", token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// One writer: 500 changes in short transactions that overlap the other writers' and commit in
/// a shuffled order (each sleeps a random while before committing; some hold on much longer).
async fn writer(s: &TestServer, org: Uuid, user: Uuid, seed: u64, changes: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut mine: Vec<Uuid> = Vec::new();
    let mut done = 0;
    while done < changes {
        let mut tx = s.as_app(Some(user)).await;
        let in_this_tx = rng.random_range(1..=3).min(changes - done);
        for _ in 0..in_this_tx {
            let roll: u32 = rng.random_range(0..100);
            if mine.is_empty() || roll < 45 {
                let id: Uuid = sqlx::query_scalar(
                    "INSERT INTO projects (organization_id, user_id, name, prompt, audio_path) \
                     VALUES ($1, auth.uid(), $2, 'prompt', 'a.flac') RETURNING id",
                )
                .bind(org)
                .bind(format!("w{seed}-{done}"))
                .fetch_one(&mut *tx)
                .await
                .unwrap();
                mine.push(id);
            } else if roll < 70 {
                let id = mine[rng.random_range(0..mine.len())];
                sqlx::query("UPDATE projects SET name = $2, effect_intensity = $3::float8::numeric WHERE id = $1")
                    .bind(id)
                    .bind(format!("w{seed}-{done}-edit"))
                    .bind(rng.random_range(0.0..1.0_f64))
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            } else if roll < 90 {
                let id = mine[rng.random_range(0..mine.len())];
                sqlx::query("INSERT INTO generations (project_id, organization_id, user_id, seed) VALUES ($1, $2, auth.uid(), $3)")
                    .bind(id)
                    .bind(org)
                    .bind(Uuid::new_v4().to_string())
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            } else {
                let id = mine.swap_remove(rng.random_range(0..mine.len()));
                sqlx::query("DELETE FROM projects WHERE id = $1").bind(id).execute(&mut *tx).await.unwrap();
            }
            done += 1;
        }
        let hold = if rng.random_range(0..100) < 5 { rng.random_range(20..60) } else { rng.random_range(0..4) };
        tokio::time::sleep(Duration::from_millis(hold)).await;
        tx.commit().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_overlapping_writers_and_a_paging_reader_agree_with_the_database() {
    const WRITERS: u64 = 8;
    const CHANGES: usize = 500;
    let s = std::sync::Arc::new(TestServer::start().await);
    let org = s.organization("race").await;
    let (org_id, admin) = (org.id, org.admin.user_id);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let s = s.clone();
            tokio::spawn(async move { writer(&s, org_id, admin, w, CHANGES).await })
        })
        .collect();
    let mut replica = Replica::new();
    let mut pulls = 0;
    while writers.iter().any(|w| !w.is_finished()) {
        replica.pull(&s, &org.viewer.access, 50).await;
        pulls += 1;
    }
    for w in writers {
        w.await.unwrap();
    }
    assert!(pulls > 3, "the reader must have paged while the writers wrote (pulled {pulls} times)");
    let projects = database_state(&s, org.id).await.keys().filter(|(t, _)| t == "projects").count();
    assert!(projects > 100, "the writers must have left work behind ({projects} projects)");
    replica.settle(&s, &org.viewer.access, org.id).await;
}

#[tokio::test]
async fn the_cursor_headers_repeat_the_body() {
    let s = TestServer::start().await;
    let org = s.organization("head").await;
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let mut req = s.http.get(format!("{}/v1/sync", s.base)).bearer_auth(&org.owner.access).query(&[("limit", "3")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let resp = req.send().await.unwrap();
        let header = |n: &str| resp.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
        let (h_cursor, h_more) = (header("resonance-sync-cursor"), header("resonance-sync-has-more"));
        let body: Value = resp.json().await.unwrap();
        assert_eq!(h_cursor.as_deref(), body["cursor"].as_str(), "the cursor header must equal the body's");
        assert_eq!(h_more.as_deref(), Some(if body["has_more"] == true { "true" } else { "false" }));
        if body["has_more"] == false {
            return;
        }
        cursor = h_cursor;
    }
    panic!("the pull did not end");
}
