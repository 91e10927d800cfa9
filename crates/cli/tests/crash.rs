//! Crash safety: `resonance` is killed with SIGKILL at random points while it queues, sends and
//! pulls, again and again. Afterwards the mirror passes `PRAGMA integrity_check`, no queued
//! change is lost, none is applied twice on the server, and the server equals the mirror.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use uuid::Uuid;

const ROUNDS: usize = 60;

/// A small, seeded generator: the run prints its seed, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_client_at_random_points_loses_nothing_and_applies_nothing_twice() {
    let seed = std::env::var("RESONANCE_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    println!("crash test seed: {seed} (replay with RESONANCE_CRASH_SEED={seed})");
    let mut rng = Lcg(seed);
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let (token, owner) = backend.signup("hal@example.com", "Hal").await;
    let org: Uuid = owner["user"]["organization_id"].as_str().unwrap().parse().unwrap();
    let user: Uuid = owner["user"]["id"].as_str().unwrap().parse().unwrap();
    // Enough rows that pulls take several pages and some time.
    let seeded: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO projects (organization_id, user_id, name, prompt, audio_path)
         SELECT $1, $2, 'seeded ' || g, 'p', 'a.mp3' FROM generate_series(1, 2000) g RETURNING id",
    )
    .bind(org)
    .bind(user)
    .fetch_all(&backend.owner)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO generations (project_id, organization_id, user_id, seed, generation_number)
         SELECT p.id, $1, $2, p.id::text || '-' || g, g FROM projects p, generate_series(1, 5) g",
    )
    .bind(org)
    .bind(user)
    .execute(&backend.owner)
    .await
    .unwrap();
    let wav = tone_wav(keyring.dir.path(), "t.wav", 0.3);
    let wav = wav.to_str().unwrap().to_owned();
    let m = Machine::new(&keyring, &backend.base);
    assert!(m.login("hal@example.com").await.status.success());

    // What each round asked for, and whether the command finished before its kill.
    let mut creates: BTreeMap<String, bool> = BTreeMap::new();
    let mut edits: BTreeMap<String, bool> = BTreeMap::new();
    let mut killed = 0;
    let mut round = 0;
    while round < ROUNDS || (killed < 30 && round < 4 * ROUNDS) {
        let (args, label): (Vec<String>, String) = match round % 3 {
            0 => {
                let name = format!("crash-{round}");
                let args = ["project", "create", "--name", &name, "--prompt", "p", "--audio", &wav];
                (args.iter().map(|s| s.to_string()).collect(), name)
            }
            1 => {
                let name = format!("edit-{round}");
                let target = seeded[rng.next(seeded.len() as u64) as usize].to_string();
                (["project", "edit", &target, "--name", &name].iter().map(|s| s.to_string()).collect(), name)
            }
            _ => {
                // Something new on the server for the pull to bring: a few thousand changed rows.
                sqlx::query("UPDATE generations SET render_time_seconds = $1 WHERE random() < 0.4")
                    .bind(round as i32)
                    .execute(&backend.owner)
                    .await
                    .unwrap();
                (vec!["sync".to_owned()], String::new())
            }
        };
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = m.command(&argv).spawn().unwrap();
        let delay = Duration::from_millis(5 + rng.next(200));
        let finished = tokio::select! {
            status = child.wait() => status.unwrap().success(),
            _ = tokio::time::sleep(delay) => {
                child.start_kill().unwrap();
                let _ = child.wait().await;
                killed += 1;
                false
            }
        };
        match round % 3 {
            0 => {
                creates.insert(label, finished);
            }
            1 => {
                edits.insert(label, finished);
            }
            _ => {}
        }
        round += 1;
    }
    println!("{killed} of {round} commands were killed mid-way");
    assert!(killed >= 30, "at least 30 rounds must end in a kill for this test to mean anything ({killed})");

    // One uninterrupted sync: everything still queued goes, everything new comes.
    m.ok(&["sync"]).await;
    let status = m.json(&["status", "--json"]).await;
    assert_eq!((status["pending_changes"].as_u64(), status["conflicts"].as_u64()), (Some(0), Some(0)), "{status}");
    {
        let conn = rusqlite::Connection::open(m.mirror_path()).unwrap();
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok", "the mirror must survive every kill intact");
        let queued: i64 = conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0)).unwrap();
        assert_eq!(queued, 0);
    }
    // Each write reached the server at most once, and every command that finished reached it.
    let logged = |message: String| {
        let pool = backend.owner.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM system_logs WHERE message = $1")
                .bind(message)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    for (name, finished) in &creates {
        let n = logged(format!("Created project \u{201c}{name}\u{201d}")).await;
        assert!(n <= 1, "{name} was created {n} times on the server");
        if *finished {
            assert_eq!(n, 1, "{name} finished locally and must not be lost");
        }
    }
    for (name, finished) in &edits {
        let n = logged(format!("Edited project \u{201c}{name}\u{201d}")).await;
        assert!(n <= 1, "the edit {name} was applied {n} times on the server");
        if *finished {
            assert_eq!(n, 1, "the edit {name} finished locally and must not be lost");
        }
    }
    // And the server equals the mirror.
    let server = backend.projects_all(&token).await;
    let mirror: BTreeMap<String, String> = m
        .json(&["projects", "--json"])
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_owned(), p["name"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(server, mirror, "after the final sync the mirror equals the server");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM generations").fetch_one(&backend.owner).await.unwrap();
    let local: i64 = rusqlite::Connection::open(m.mirror_path())
        .unwrap()
        .query_row("SELECT count(*) FROM generations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(local, rows);
}
