//! Share links through the API and as a visitor without an account would use them: who may make
//! and turn off a link, what a plain HTTP client gets (the page, the video, byte ranges), what a
//! tampered, expired, revoked or another organization's link answers, the activity log, and the
//! rate per address.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use object_store::ObjectStoreExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

/// A finished generation of a new project of `org`'s developer, with a real one-second MP4 in
/// `store` where the worker puts renders.
async fn finished_video(s: &TestServer, org: &Org, store: &Arc<dyn object_store::ObjectStore>) -> (Uuid, Vec<u8>) {
    let (status, p) = s.post("/v1/projects", &org.developer.access, new_project("Night drive")).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let project: Uuid = p["id"].as_str().unwrap().parse().unwrap();
    let generation = s.insert_generation(org, project, &format!("share-{}", Uuid::new_v4().simple()), 1).await;
    sqlx::query("UPDATE generations SET status = 'completed', completed_at = now() WHERE id = $1")
        .bind(generation)
        .execute(&s.owner)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=d=1:s=160x90:r=24", "-pix_fmt", "yuv420p"])
        .arg(&file)
        .status()
        .unwrap();
    assert!(made.success());
    let bytes = std::fs::read(&file).unwrap();
    let key = object_store::path::Path::from(format!("{}/{project}/renders/{generation}.mp4", org.id));
    store.put(&key, bytes.clone().into()).await.unwrap();
    (generation, bytes)
}

fn token_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

async fn visit(url: &str, range: Option<&str>) -> reqwest::Response {
    // A plain client: no token, no cookies.
    let mut req = reqwest::Client::new().get(url);
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_share_link_plays_to_anyone_until_it_expires_or_is_turned_off() {
    let store: Arc<dyn object_store::ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let s = TestServer::start_with({
        let store = Arc::clone(&store);
        move |settings| settings.storage = store
    })
    .await;
    let org = s.organization("share").await;
    let (generation, bytes) = finished_video(&s, &org, &store).await;
    let links = format!("/v1/generations/{generation}/share-links");

    // Who may share: admins and owners, and the member who started the generation.
    let second = s.add_member(&org.owner, "second-dev@share.test", "developer").await;
    for (who, session, expected) in [
        ("viewer", &org.viewer, StatusCode::FORBIDDEN),
        ("another developer", &second, StatusCode::FORBIDDEN),
        ("admin", &org.admin, StatusCode::CREATED),
        ("the author", &org.developer, StatusCode::CREATED),
    ] {
        let (status, body) = s.post(&links, &session.access, json!({"days": 7})).await;
        assert_eq!(status, expected, "{who}: {body}");
    }
    let (status, err) = s.post(&links, &org.developer.access, json!({"days": 2})).await;
    assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("days")), "{err}");
    let (_, p) = s.post("/v1/projects", &org.developer.access, new_project("Unfinished")).await;
    let pending = s.insert_generation(&org, p["id"].as_str().unwrap().parse().unwrap(), "share-pending", 1).await;
    let (status, err) =
        s.post(&format!("/v1/generations/{pending}/share-links"), &org.admin.access, json!({"days": 1})).await;
    assert_eq!(status, StatusCode::CONFLICT, "only a finished video is shared: {err}");

    let (status, link) = s.post(&links, &org.developer.access, json!({"days": 1})).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    assert_eq!(link["state"], "active");
    let url = link["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/v1/shared/", s.base)), "{url}");
    let lifetime = chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap()).unwrap()
        - chrono::DateTime::parse_from_rfc3339(link["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(lifetime.num_hours(), 24);

    // A visitor without an account: the page, the video, a byte range.
    let page = visit(&url, None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    assert!(html.contains("<video") && html.contains("Night drive"), "{html}");
    let video = visit(&format!("{url}/video"), None).await;
    assert_eq!((video.status(), video.headers()["content-type"].to_str().unwrap()), (StatusCode::OK, "video/mp4"));
    assert_eq!(video.bytes().await.unwrap().to_vec(), bytes, "the rendered file, whole");
    let part = visit(&format!("{url}/video"), Some("bytes=100-199")).await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"].to_str().unwrap(), format!("bytes 100-199/{}", bytes.len()));
    assert_eq!(part.bytes().await.unwrap().to_vec(), bytes[100..200].to_vec());

    // A token this server did not sign is no link at all: another id with this signature, a
    // changed signature, a made-up one.
    let token = token_of(&url);
    let mut changed = token.to_owned().into_bytes();
    let last = changed.len() - 1;
    changed[last] = if changed[last] == b'A' { b'B' } else { b'A' };
    for forged in [
        format!("{}{}", Uuid::new_v4().simple(), &token[32..]),
        String::from_utf8(changed).unwrap(),
        Uuid::new_v4().simple().to_string(),
    ] {
        let page = visit(&format!("{}/v1/shared/{forged}", s.base), None).await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "{forged}");
        let video = visit(&format!("{}/v1/shared/{forged}/video", s.base), None).await;
        assert_eq!(video.status(), StatusCode::NOT_FOUND, "{forged}");
    }

    // Another organization cannot see, share or turn off this generation's links.
    let other = s.organization("other").await;
    let (status, _) = s.get(&links, &other.owner.access).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.post(&links, &other.owner.access, json!({"days": 30})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let link_id = link["id"].as_str().unwrap();
    let (status, _) = s.delete(&format!("/v1/share-links/{link_id}"), &other.owner.access).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Turned off: by the author (not by a viewer), for good; revoking again changes nothing.
    let (status, _) =
        s.call(Method::DELETE, &format!("/v1/share-links/{link_id}"), Some(&org.viewer.access), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, revoked) = s.delete(&format!("/v1/share-links/{link_id}"), &org.developer.access).await;
    assert_eq!((status, revoked["state"].as_str()), (StatusCode::OK, Some("revoked")), "{revoked}");
    let (status, again) = s.delete(&format!("/v1/share-links/{link_id}"), &org.admin.access).await;
    assert_eq!((status, &again["revoked_at"]), (StatusCode::OK, &revoked["revoked_at"]));
    let (status, _) = s.delete(&format!("/v1/share-links/{link_id}"), &org.viewer.access).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer learns nothing by revoking a revoked link");
    // Its revocation is the record: not rewritten, even in SQL by one who may revoke.
    let mut tx = s.as_app(Some(org.admin.user_id)).await;
    let rewritten = sqlx::query("UPDATE share_links SET revoked_at = now() - interval '1 day' WHERE id = $1")
        .bind(Uuid::parse_str(link_id).unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(rewritten.rows_affected(), 0);
    tx.rollback().await.unwrap();
    assert_eq!(visit(&url, None).await.status(), StatusCode::GONE);
    let gone = visit(&format!("{url}/video"), None).await;
    assert_eq!(gone.status(), StatusCode::GONE);
    assert_eq!(gone.json::<Value>().await.unwrap()["error"]["code"], "share_link_gone");

    // Expired: its time is up, whatever the URL says.
    let (_, lasting) = s.post(&links, &org.admin.access, json!({"days": 30})).await;
    let lasting_url = lasting["url"].as_str().unwrap().to_owned();
    assert_eq!(visit(&lasting_url, None).await.status(), StatusCode::OK);
    sqlx::query(
        "UPDATE share_links SET created_at = now() - interval '31 days', expires_at = now() - interval '1 day' WHERE id = $1",
    )
    .bind(Uuid::parse_str(lasting["id"].as_str().unwrap()).unwrap())
    .execute(&s.owner)
    .await
    .unwrap();
    assert_eq!(visit(&lasting_url, None).await.status(), StatusCode::GONE);
    assert_eq!(visit(&format!("{lasting_url}/video"), None).await.status(), StatusCode::GONE);

    // The members' list says each link's state; the activity log has every create and revoke.
    let (status, list) = s.get(&links, &org.viewer.access).await;
    assert_eq!(status, StatusCode::OK);
    let states: Vec<&str> = list.as_array().unwrap().iter().map(|l| l["state"].as_str().unwrap()).collect();
    assert_eq!(states.len(), 4, "{list}");
    assert_eq!(states.iter().filter(|s| **s == "revoked").count(), 1);
    assert_eq!(states.iter().filter(|s| **s == "expired").count(), 1);
    let (_, logs) = s.get("/v1/system-logs?limit=1000", &org.owner.access).await;
    let count = |action: &str| logs.as_array().unwrap().iter().filter(|l| l["action_type"] == action).count();
    assert_eq!((count("share_link.create"), count("share_link.revoke")), (4, 1), "{logs}");

    // Deleting the generation ends its links.
    let live =
        list.as_array().unwrap().iter().find(|l| l["state"] == "active").unwrap()["url"].as_str().unwrap().to_owned();
    assert_eq!(visit(&live, None).await.status(), StatusCode::OK);
    // A page promises a video: with its file gone from storage the link leads nowhere.
    let p0: Uuid = sqlx::query_scalar("SELECT project_id FROM generations WHERE id = $1")
        .bind(generation)
        .fetch_one(&s.owner)
        .await
        .unwrap();
    let key = object_store::path::Path::from(format!("{}/{}/renders/{generation}.mp4", org.id, p0));
    store.delete(&key).await.unwrap();
    assert_eq!(visit(&live, None).await.status(), StatusCode::NOT_FOUND);
    store.put(&key, bytes.clone().into()).await.unwrap();
    assert_eq!(visit(&live, None).await.status(), StatusCode::OK);
    sqlx::query("DELETE FROM generations WHERE id = $1").bind(generation).execute(&s.owner).await.unwrap();
    assert_eq!(visit(&live, None).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn shared_videos_are_served_at_a_bounded_rate_per_address() {
    let store: Arc<dyn object_store::ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let s = TestServer::start_with({
        let store = Arc::clone(&store);
        move |settings| {
            settings.storage = store;
            settings.share_per_minute = 3;
        }
    })
    .await;
    let org = s.organization("rate").await;
    let (generation, _) = finished_video(&s, &org, &store).await;
    let (_, link) =
        s.post(&format!("/v1/generations/{generation}/share-links"), &org.admin.access, json!({"days": 1})).await;
    let url = link["url"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(visit(url, None).await.status(), StatusCode::OK);
    }
    let busy = visit(url, None).await;
    assert_eq!(busy.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(busy.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let video = visit(&format!("{url}/video"), None).await;
    assert_eq!(video.status(), StatusCode::TOO_MANY_REQUESTS, "the video counts too");
}
