//! `cargo xtask dev` owns its children: a SIGINT or SIGTERM sent to xtask alone (an IDE's stop
//! button, a supervisor), not to its process group, stops the app, the worker, the server and
//! then Postgres, in that order. Run through `xtask supervise-demo`, which supervises stand-in
//! children exactly as `dev` does its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-dev-stops-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stopped_by(signal: &str) -> Vec<String> {
    let dir = scratch(signal);
    let mut xtask = Command::new(env!("CARGO_BIN_EXE_xtask")).arg("supervise-demo").arg(&dir).spawn().unwrap();
    let since = Instant::now();
    while !dir.join("ready").exists() {
        assert!(since.elapsed() < Duration::from_secs(30), "the stand-in children did not start");
        assert!(xtask.try_wait().unwrap().is_none(), "xtask exited before its children were up");
        std::thread::sleep(Duration::from_millis(20));
    }
    // To xtask's pid alone: its children are in groups of their own and get nothing from us.
    assert!(Command::new("kill").args([&format!("-{signal}"), &xtask.id().to_string()]).status().unwrap().success());
    let status = xtask.wait().unwrap();
    assert!(status.success(), "xtask stopped cleanly on SIG{signal}: {status}");
    let order = std::fs::read_to_string(dir.join("stopped")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    order.lines().map(str::to_owned).collect()
}

#[test]
fn a_sigterm_or_sigint_to_xtask_alone_stops_the_app_the_worker_the_server_and_postgres_in_order() {
    for signal in ["TERM", "INT"] {
        assert_eq!(stopped_by(signal), ["app", "worker", "server", "postgres"], "after SIG{signal}");
    }
}
