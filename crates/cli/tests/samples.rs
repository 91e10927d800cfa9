//! `resonance samples`: the sample projects a first run shows (what `cargo xtask dev` seeds),
//! made through the real client path against the real server: tracks made here, uploaded whole,
//! credited, renders queued once, and nothing added twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_are_added_once_with_their_tracks_and_renders() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let (token, _) = backend.signup("sam@example.com", "Sam").await;
    let m = Machine::new(&keyring, &backend.base);
    assert!(m.login("sam@example.com").await.status.success());

    let first = m.ok(&["samples", "--generate"]).await;
    assert_eq!(first.lines().count(), 3, "one project id a sample: {first}");
    let projects = backend.projects(&token).await;
    let mut names: Vec<&str> = projects.values().map(|p| p["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["Neon Drive", "Slow Tide", "Spark Circuit"]);
    for p in projects.values() {
        assert!(p["description"].as_str().unwrap().contains("CC0"), "credited: {p}");
        assert_eq!(p["resolution"], "720p");
        assert!(p["audio_duration"].as_f64().unwrap() > 20.0, "{p}");
    }
    let complete: i64 = sqlx::query_scalar("SELECT count(*) FROM uploads WHERE state = 'complete'")
        .fetch_one(&backend.owner)
        .await
        .unwrap();
    assert_eq!(complete, 3, "every track reached the server whole");
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM generations").fetch_one(&backend.owner).await.unwrap();
    assert_eq!(queued, 3, "one render queued a sample");

    // Again: nothing added, nothing charged twice.
    let out = m.run(&["samples", "--generate"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).trim().is_empty(), "{}", stdout(&out));
    assert_eq!(stderr(&out).matches("is already here").count(), 3, "{}", stderr(&out));
    assert_eq!(backend.projects(&token).await.len(), 3);
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM generations").fetch_one(&backend.owner).await.unwrap();
    assert_eq!(queued, 3);
}
