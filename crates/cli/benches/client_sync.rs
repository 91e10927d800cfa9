//! `cargo xtask bench` (client): the initial sync of 10,000 projects and 100,000 generations into
//! an empty mirror, as the `resonance` process does it (rows/s, wall time, peak RSS by GNU
//! time), and an incremental sync of one change against that mirror, both in-process through
//! resonance-client and as a whole `resonance sync` process. Targets: ≥ 50,000 rows/s, an
//! incremental sync under 50 ms, client peak RSS under 150 MB.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use resonance_client::{Client, DataDir};
use uuid::Uuid;

const PROJECTS: i64 = 10_000;
const GENERATIONS_PER_PROJECT: i64 = 10;

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let (_, owner) = backend.signup("bench@example.com", "Bench").await;
    let org: Uuid = owner["user"]["organization_id"].as_str().unwrap().parse().unwrap();
    let user: Uuid = owner["user"]["id"].as_str().unwrap().parse().unwrap();
    let m = Machine::new(&keyring, &backend.base);
    let login = m.login("bench@example.com").await;
    assert!(login.status.success(), "{}", stderr(&login));
    backend.add_projects(org, user, "Project", PROJECTS).await;
    sqlx::query(
        "INSERT INTO generations (project_id, organization_id, user_id, seed, generation_number, status, video_url)
         SELECT p.id, $1, $2, p.id::text || '-' || g, g, 'completed', 'https://cdn.example/' || p.id || '/' || g || '.mp4'
         FROM projects p, generate_series(1, $3) g",
    )
    .bind(org)
    .bind(user)
    .bind(GENERATIONS_PER_PROJECT)
    .execute(&backend.owner)
    .await
    .unwrap();
    sqlx::query("VACUUM ANALYZE").execute(&backend.owner).await.unwrap();
    let rows = PROJECTS * (1 + GENERATIONS_PER_PROJECT);

    // The initial sync, as its own process, measured by GNU time.
    let mut c = m.command(&["sync"]);
    c.env("RESONANCE_LOG", "warn");
    let program = c.as_std().get_program().to_owned();
    let mut timed = tokio::process::Command::new("/usr/bin/time");
    timed.arg("-f").arg("%e %M").arg(&program).arg("sync");
    timed.envs(keyring.env()).env("RESONANCE_DATA_DIR", &m.data).env("RESONANCE_SERVER", &m.server);
    let out = timed.output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let last = stderr(&out).lines().last().unwrap_or_default().to_owned();
    let mut parts = last.split_whitespace();
    let wall: f64 = parts.next().unwrap().parse().unwrap();
    let rss_mb = parts.next().unwrap().parse::<f64>().unwrap() / 1024.0;
    let rate = rows as f64 / wall;
    println!(
        "client bench: initial sync of {rows} rows ({PROJECTS} projects + {} generations) into an empty mirror: {wall:.2} s, {rate:.0} rows/s (target >= 50,000: {}), peak RSS {rss_mb:.0} MB (target < 150: {})",
        PROJECTS * GENERATIONS_PER_PROJECT,
        if rate >= 50_000.0 { "met" } else { "NOT met" },
        if rss_mb < 150.0 { "met" } else { "NOT met" }
    );
    let local: i64 = rusqlite::Connection::open(m.mirror_path())
        .unwrap()
        .query_row("SELECT (SELECT count(*) FROM projects) + (SELECT count(*) FROM generations)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(local, rows, "every row arrived");

    // Incremental: one change on the server, then a sync.
    let mut in_process = Vec::new();
    let mut whole_process = Vec::new();
    for env in [keyring.env()] {
        for (k, v) in env {
            // The in-process client talks to the same keyring as the CLI.
            std::env::set_var(k, v);
        }
    }
    let client = Client::open(DataDir::resolve(Some(m.data.clone())).unwrap()).unwrap();
    for i in 0..30 {
        sqlx::query("UPDATE projects SET name = $1 WHERE id = (SELECT id FROM projects ORDER BY id LIMIT 1)")
            .bind(format!("renamed {i}"))
            .execute(&backend.owner)
            .await
            .unwrap();
        let started = Instant::now();
        let report = client.sync().await.unwrap();
        in_process.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(report.upserts, 1, "one change, one row");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The whole-process runs find the mirror closed, as a creator's shell would.
    drop(client);
    for i in 0..10 {
        sqlx::query("UPDATE projects SET name = $1 WHERE id = (SELECT id FROM projects ORDER BY id LIMIT 1)")
            .bind(format!("renamed again {i}"))
            .execute(&backend.owner)
            .await
            .unwrap();
        let started = Instant::now();
        let out = m.run(&["sync"]).await;
        whole_process.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(out.status.success());
    }
    // Where a whole process's time goes: starting and opening the mirror, without the network.
    let mut local_only = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        assert!(m.run(&["status"]).await.status.success());
        local_only.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let p95 = percentile(in_process.clone(), 0.95);
    println!(
        "client bench: incremental sync of one change: in-process p50 {:.1} ms, p95 {p95:.1} ms (target < 50: {}); whole `resonance sync` process p50 {:.1} ms, of which a `resonance status` process (start, open the mirror) p50 {:.1} ms",
        percentile(in_process, 0.5),
        if p95 < 50.0 { "met" } else { "NOT met" },
        percentile(whole_process, 0.5),
        percentile(local_only, 0.5)
    );
}
