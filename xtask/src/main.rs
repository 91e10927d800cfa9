//! `cargo xtask dev | test | bench`: sets up what Resonance needs on this machine and runs it.
//!
//! - `dev` starts the development Postgres (kept between runs), migrates, seeds the demo
//!   organization (printing its accounts) and runs resonance-server on 127.0.0.1:8787 with a
//!   render worker beside it.
//! - `test` installs what is missing, starts a throwaway Postgres, runs clippy and every test.
//! - `bench`: the same Postgres set-up, then the benchmarks, which print their figures.

mod postgres;
mod system;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use postgres::Cluster;
use system::{ensure_packages, have, run};

const DEV_PORT: u16 = 54329;
const DEV_LISTEN: &str = "127.0.0.1:8787";

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let args = argv.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("dev") => dev(),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <dev | test [-- test filter] | bench>");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(workspace_root());
    c
}

fn ensure_machine() -> Result<()> {
    ensure_packages(&[("postgresql", &|| postgres::find_bin_dir().is_some()), ("util-linux", &|| have("runuser"))])
}

/// What building and testing the client needs besides Postgres: libdbus to build the keyring
/// (Secret Service) support, a session bus and GNOME Keyring for the tests' real Secret Service,
/// `secret-tool` to look into it, and ffmpeg to encode the audio test corpus.
fn ensure_test_tools() -> Result<()> {
    ensure_packages(&[
        ("pkg-config", &|| have("pkg-config")),
        ("libdbus-1-dev", &|| {
            Command::new("pkg-config").args(["--exists", "dbus-1"]).status().is_ok_and(|s| s.success())
        }),
        ("dbus", &|| have("dbus-daemon") && have("dbus-send")),
        ("gnome-keyring", &|| have("gnome-keyring-daemon")),
        ("libsecret-tools", &|| have("secret-tool")),
        ("ffmpeg", &|| have("ffmpeg")),
    ])
}

fn dev() -> Result<()> {
    ensure_machine()?;
    let data = if system::is_root() { PathBuf::from("/var/lib/resonance-dev") } else { workspace_root().join(".dev") };
    let mut cluster = Cluster::persistent(&data.join("postgres"), DEV_PORT)?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, std::sync::atomic::Ordering::SeqCst))
            .context("cannot install the Ctrl-C handler")?;
    }
    if cluster.psql("postgres", "SELECT 1 FROM pg_database WHERE datname = 'resonance'")?.trim().is_empty() {
        cluster.psql("postgres", "CREATE DATABASE resonance")?;
    }
    let url = cluster.url("resonance");
    let secret_file = data.join("jwt-secret");
    let secret = match std::fs::read_to_string(&secret_file) {
        Ok(s) if s.trim().len() >= 32 => s.trim().to_owned(),
        _ => {
            let s = random_hex(32)?;
            std::fs::write(&secret_file, &s)?;
            s
        }
    };
    run(cargo().args(["build", "--quiet", "-p", "resonance-server"]))?;
    let server = target_dir().join("debug").join("resonance-server");
    run(Command::new(&server).args(["migrate", "--database-url", &url]))?;
    run(Command::new(&server).args(["demo-seed", "--database-url", &url]))?;
    let storage = data.join("storage");
    println!(
        "\nPostgres: {url}\nAPI:      http://{DEV_LISTEN}/v1  (OpenAPI at /v1/openapi.json)\nStorage:  {}\nCtrl-C stops everything.\n",
        storage.display()
    );
    let mut worker = Command::new(&server)
        .args(["worker", "--database-url", &url, "--name", "dev-worker", "--storage"])
        .arg(&storage)
        .spawn()
        .context("cannot start the render worker")?;
    let mut child = Command::new(&server)
        .args(["serve", "--database-url", &url, "--listen", DEV_LISTEN])
        .arg("--storage")
        .arg(&storage)
        .env("RESONANCE_JWT_SECRET", &secret)
        .spawn()
        .context("cannot start resonance-server")?;
    loop {
        if let Some(status) = child.try_wait()? {
            // The worker got the terminal's SIGINT too; make sure it is gone before Postgres.
            if worker.try_wait()?.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(500));
                let _ = worker.kill();
            }
            let _ = worker.wait();
            cluster.stop();
            if stop.load(std::sync::atomic::Ordering::SeqCst) || status.success() {
                return Ok(());
            }
            bail!("resonance-server exited with {status}");
        }
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            // The server got the same SIGINT from the terminal; give it a moment to drain.
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

fn test(filter: &[String]) -> Result<()> {
    ensure_machine()?;
    ensure_test_tools()?;
    let started = std::time::Instant::now();
    if cargo()
        .args(["fmt", "--version"])
        .stdout(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
    {
        eprintln!("xtask: rustfmt");
        run(cargo().args(["fmt", "--all", "--check"])).context("code is not formatted: run `cargo fmt --all`")?;
    }
    eprintln!("xtask: clippy");
    run(cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--quiet", "--", "-D", "warnings"]))
        .context("clippy found problems")?;
    let cluster = Cluster::throwaway()?;
    eprintln!("xtask: throwaway Postgres on port {}", cluster.port);
    let mut tests = if have_nextest() {
        let mut c = cargo();
        c.args(["nextest", "run", "--workspace", "--locked", "--no-fail-fast"]);
        c
    } else {
        let mut c = cargo();
        c.args(["test", "--workspace", "--locked", "--no-fail-fast"]);
        c
    };
    if !filter.is_empty() {
        tests.args(filter.iter().skip_while(|a| *a == "--"));
    }
    tests.env("RESONANCE_TEST_DATABASE_URL", cluster.url("postgres"));
    let result = run(&mut tests);
    drop(cluster);
    eprintln!("xtask: test run took {:.0?}", started.elapsed());
    result.context("tests failed")
}

fn have_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Real music for the tempo agreement bench: the Ogg Vorbis soundtracks of two free games in
/// Debian (Extreme Tux Racer, Frozen Bubble), fetched once with `apt-get download` (no install)
/// and unpacked under ~/.cache/resonance/bench-music. `None`, with a warning, when that fails.
fn bench_music() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    let dir = home.join(".cache/resonance/bench-music");
    let unpacked = dir.join("unpacked");
    if unpacked.is_dir() {
        return Some(unpacked);
    }
    let fetch = || -> Result<()> {
        let debs = dir.join("debs");
        std::fs::create_dir_all(&debs)?;
        run(Command::new("apt-get")
            .args(["download", "-q", "extremetuxracer-data", "frozen-bubble-data"])
            .current_dir(&debs))?;
        let partial = dir.join("unpacking");
        for deb in std::fs::read_dir(&debs)? {
            run(Command::new("dpkg-deb").arg("-x").arg(deb?.path()).arg(&partial))?;
        }
        std::fs::rename(&partial, &unpacked)?;
        std::fs::remove_dir_all(&debs)?;
        Ok(())
    };
    match fetch() {
        Ok(()) => Some(unpacked),
        Err(e) => {
            eprintln!("xtask: warning: no real music for the tempo agreement bench: {e:#}");
            None
        }
    }
}

fn bench(args: &[String]) -> Result<()> {
    ensure_machine()?;
    ensure_test_tools()?;
    ensure_packages(&[
        ("time", &|| std::path::Path::new("/usr/bin/time").exists()),
        ("aubio-tools", &|| have("aubio")),
        ("curl", &|| have("curl")),
    ])?;
    let music = bench_music();
    let cluster = Cluster::throwaway()?;
    for (package, bench) in [
        ("resonance-server", "sync_pull"),
        ("resonance-cli", "client_sync"),
        ("resonance-cli", "pipeline"),
        ("resonance-audio", "analyze"),
    ] {
        let mut c = cargo();
        c.args(["bench", "--locked", "-p", package, "--bench", bench]);
        if !args.is_empty() {
            c.arg("--").args(args.iter().skip_while(|a| *a == "--"));
        }
        c.env("RESONANCE_TEST_DATABASE_URL", cluster.url("postgres")).env("RESONANCE_PSQL", cluster.psql_path());
        if let Some(dir) = &music {
            c.env("RESONANCE_BENCH_MUSIC", dir);
        }
        run(&mut c).with_context(|| format!("benchmark {bench} failed"))?;
    }
    Ok(())
}
