//! `/v1/events`: the organization's generation, project and progress events live over SSE,
//! replayed after `Last-Event-ID`, a `gap` when what was missed is gone, and nothing of another
//! organization.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use serde_json::{json, Value};
use uuid::Uuid;

/// (event name, id, data) of the SSE events read until `done` says enough, or `wait` passes.
async fn read_events(
    resp: reqwest::Response,
    wait: Duration,
    done: impl Fn(&[(String, Option<i64>, Value)]) -> bool,
) -> Vec<(String, Option<i64>, Value)> {
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while !done(&events) {
        let Ok(Some(Ok(bytes))) = tokio::time::timeout_at(deadline, stream.next()).await else { break };
        buf.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut name, mut id, mut data) = (String::from("message"), None, String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if line_is_comment(&block) {
                continue;
            }
            events.push((name, id, serde_json::from_str(&data).unwrap_or(Value::String(data))));
        }
    }
    events
}

fn line_is_comment(block: &str) -> bool {
    block.lines().all(|l| l.starts_with(':') || l.is_empty())
}

async fn subscribe(s: &TestServer, token: &str, last: Option<i64>) -> reqwest::Response {
    let mut req = s.http.get(format!("{}/v1/events", s.base)).bearer_auth(token);
    if let Some(last) = last {
        req = req.header("Last-Event-ID", last.to_string());
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    resp
}

#[tokio::test]
async fn events_arrive_live_resume_after_an_id_and_stay_in_their_organization() {
    let s = TestServer::start().await;
    let org = s.organization("ev").await;
    let other = s.organization("elsewhere").await;
    let (_, p) = s.post("/v1/projects", &org.developer.access, new_project("Live")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    let mine = subscribe(&s, &org.viewer.access, None).await;
    let theirs = subscribe(&s, &other.viewer.access, None).await;
    // Give both streams a moment to be listening.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let resp = s
        .http
        .post(format!("{}/v1/projects/{project}/generations", s.base))
        .bearer_auth(&org.developer.access)
        .header("Idempotency-Key", Uuid::new_v4().to_string())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let generation: Value = resp.json().await.unwrap();
    let gid = generation["id"].as_str().unwrap().to_owned();
    // A render's progress, as the worker publishes it.
    for progress in [0.25f32, 0.5] {
        sqlx::query("UPDATE render.jobs SET progress = $1").bind(progress).execute(&s.owner).await.unwrap();
    }
    let events =
        read_events(mine, Duration::from_secs(20), |e| e.iter().filter(|x| x.0 == "progress").count() >= 2).await;
    let names: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert!(names.contains(&"generation") && names.contains(&"project"), "{names:?}");
    let started = events.iter().find(|e| e.0 == "generation").unwrap();
    assert_eq!((started.2["subject_id"].as_str(), started.2["status"].as_str()), (Some(gid.as_str()), Some("pending")));
    let queued = events.iter().find(|e| e.0 == "project").unwrap();
    assert_eq!(queued.2["status"], "queued");
    let progress: Vec<f64> =
        events.iter().filter(|e| e.0 == "progress").filter_map(|e| e.2["progress"].as_f64()).collect();
    assert_eq!(progress, vec![0.25, 0.5]);
    for (name, _, data) in &events {
        assert_eq!(data["kind"], name.as_str(), "the data names what its event is");
    }
    assert!(
        events.iter().filter(|e| e.0 == "progress").all(|e| e.2.get("status").is_none()),
        "a progress event says how far the render is, not the job's state: {events:?}"
    );
    let ids: Vec<i64> = events.iter().filter_map(|e| e.1).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids only grow: {ids:?}");
    let other_events = read_events(theirs, Duration::from_secs(1), |_| false).await;
    assert!(other_events.is_empty(), "another organization hears nothing: {other_events:?}");

    // Resumed after the first event: the rest is replayed.
    let resumed = read_events(subscribe(&s, &org.viewer.access, Some(ids[0])).await, Duration::from_secs(20), |e| {
        e.len() >= ids.len() - 1
    })
    .await;
    let replayed: Vec<i64> = resumed.iter().filter_map(|e| e.1).collect();
    assert_eq!(replayed, ids[1..].to_vec());
    // Resumed after events that are no longer kept: a gap, so the client syncs.
    sqlx::query("DELETE FROM events").execute(&s.owner).await.unwrap();
    // All of them pruned, nothing new yet: still a gap (the missed ones are gone).
    let pruned =
        read_events(subscribe(&s, &org.viewer.access, Some(ids[0])).await, Duration::from_secs(20), |e| !e.is_empty())
            .await;
    assert_eq!(pruned.first().map(|e| e.0.as_str()), Some("gap"), "{pruned:?}");
    sqlx::query("UPDATE render.jobs SET progress = 0.75").execute(&s.owner).await.unwrap();
    let after_gap =
        read_events(subscribe(&s, &org.viewer.access, Some(ids[0])).await, Duration::from_secs(20), |e| !e.is_empty())
            .await;
    assert_eq!(after_gap[0].0, "gap");
}

#[tokio::test]
async fn a_graceful_shutdown_ends_open_event_streams_instead_of_waiting_for_them() {
    let s = TestServer::start().await;
    let org = s.organization("bye").await;
    let stream = subscribe(&s, &org.viewer.access, None).await;
    let reader = tokio::spawn(async move {
        let mut body = stream.bytes_stream();
        while let Some(Ok(_)) = body.next().await {}
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A stream that follows forever must not hold the shutdown open (it did: the desktop's
    // watcher kept a server that was told to stop answering nothing, forever).
    tokio::time::timeout(Duration::from_secs(30), s.shutdown())
        .await
        .expect("the server must finish shutting down while a client follows /v1/events");
    tokio::time::timeout(Duration::from_secs(30), reader).await.expect("the stream ends").unwrap();
}

/// Two transactions that emit for one organization and commit in the other order than they
/// began: the live stream gets both, its ids growing, with no `gap`. Ids are the organization's
/// own (another organization's events do not move them), so `Last-Event-ID: 0` replays from the
/// first without a `gap`, and an id this numbering never gave (a client of the old global ids)
/// gets a `gap` and then what is new.
#[tokio::test]
async fn events_committed_out_of_order_all_arrive_numbered_per_organization() {
    let s = TestServer::start().await;
    let org = s.organization("order").await;
    let other = s.organization("noise").await;
    let emit = "SELECT auth_private.emit_event($1, 'project', $2, $2, $3, NULL)";
    for _ in 0..3 {
        sqlx::query(emit).bind(other.id).bind(Uuid::new_v4()).bind("queued").execute(&s.owner).await.unwrap();
    }
    let live = subscribe(&s, &org.viewer.access, Some(0)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A emits first; B emits after A and tries to commit first.
    let mut a = s.owner.begin().await.unwrap();
    sqlx::query(emit).bind(org.id).bind(Uuid::new_v4()).bind("analyzing").execute(&mut *a).await.unwrap();
    let pool = s.owner.clone();
    let org_id = org.id;
    let b = tokio::spawn(async move {
        let mut b = pool.begin().await.unwrap();
        sqlx::query(emit).bind(org_id).bind(Uuid::new_v4()).bind("rendering").execute(&mut *b).await.unwrap();
        b.commit().await.unwrap();
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.commit().await.unwrap();
    b.await.unwrap();
    let events = read_events(live, Duration::from_secs(20), |e| e.len() >= 2).await;
    let names: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["project", "project"], "both events, no gap: {events:?}");
    let ids: Vec<i64> = events.iter().filter_map(|e| e.1).collect();
    assert_eq!(ids, [1, 2], "the organization's own numbers, in commit order");
    let mut statuses: Vec<&str> = events.iter().filter_map(|e| e.2["status"].as_str()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["analyzing", "rendering"]);
    // From the start: a replay, not a gap.
    let replay =
        read_events(subscribe(&s, &org.viewer.access, Some(0)).await, Duration::from_secs(20), |e| e.len() >= 2).await;
    assert_eq!(
        replay.iter().map(|e| (e.0.as_str(), e.1)).collect::<Vec<_>>(),
        [("project", Some(1)), ("project", Some(2))]
    );
    // An id this numbering never gave: a gap, then the next event.
    let stale = subscribe(&s, &org.viewer.access, Some(1000)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    sqlx::query(emit).bind(org.id).bind(Uuid::new_v4()).bind("completed").execute(&s.owner).await.unwrap();
    let after = read_events(stale, Duration::from_secs(20), |e| e.len() >= 2).await;
    assert_eq!(after.iter().map(|e| (e.0.as_str(), e.1)).collect::<Vec<_>>(), [("gap", None), ("project", Some(3))]);
}

/// An event this server cannot read (here a status no vocabulary holds) is not dropped in
/// silence: the live stream says `gap`, and so does a stream resumed over it, so their clients
/// catch up through sync.
#[tokio::test]
async fn an_event_the_server_cannot_read_becomes_a_gap() {
    let s = TestServer::start().await;
    let org = s.organization("odd").await;
    let live = subscribe(&s, &org.viewer.access, Some(0)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    sqlx::query("SELECT auth_private.emit_event($1, 'project', $2, $2, 'reticulating', NULL)")
        .bind(org.id)
        .bind(Uuid::new_v4())
        .execute(&s.owner)
        .await
        .unwrap();
    let seen = read_events(live, Duration::from_secs(20), |e| !e.is_empty()).await;
    assert_eq!(seen.first().map(|e| e.0.as_str()), Some("gap"), "live: {seen:?}");
    let resumed =
        read_events(subscribe(&s, &org.viewer.access, Some(0)).await, Duration::from_secs(20), |e| !e.is_empty()).await;
    assert_eq!(resumed.first().map(|e| e.0.as_str()), Some("gap"), "resumed: {resumed:?}");
}
