//! `cargo xtask dev | test | bench`: sets up what Resonance needs on this machine and runs it.
//!
//! - `dev` starts the development Postgres (kept between runs), migrates, seeds the demo
//!   organization (printing its accounts) and runs resonance-server on 127.0.0.1:8787 with a
//!   render worker beside it.
//! - `test` installs what is missing, starts a throwaway Postgres, runs clippy, rustdoc and every test.
//! - `bench`: the same Postgres set-up, then the benchmarks, which print their figures.
//! - `bindings`: regenerates the UI's TypeScript bindings from the desktop's Rust commands.
//! - `package`: builds the desktop app's installable .deb.

#[cfg(test)]
mod cycles;
mod postgres;
mod supervise;
mod sweep;
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
        Some("bindings") => bindings(),
        Some("package") => package(&args[1..]),
        // For xtask's own test of `dev`'s stopping (tests/dev_stops.rs): three stand-in children.
        Some("supervise-demo") => supervise_demo(args.get(1).map(PathBuf::from)),
        _ => {
            eprintln!("usage: cargo xtask <dev | test [-- test filter] | bench | bindings | package [--debug]>");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

/// The checkout `cargo xtask` was run in. Read at run time (`cargo run` sets the variable): with
/// one shared target directory, the `xtask` binary may have been built from another checkout,
/// whose path a compile-time value would name (CI's clone and a developer's tree share
/// `~/.cache/resonance/target`).
fn workspace_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(workspace_root());
    c
}

/// What every command needs: Postgres, runuser, libopus (with pkg-config to find it), which
/// `resonance-audio` links to decode Opus, and ffmpeg: the worker encodes with it, the server
/// and the desktop judge footage with ffprobe, and the desktop exports with it.
fn ensure_machine() -> Result<()> {
    ensure_packages(&[
        ("ffmpeg", &|| have("ffmpeg") && have("ffprobe")),
        ("postgresql", &|| postgres::find_bin_dir().is_some()),
        ("util-linux", &|| have("runuser")),
        ("pkg-config", &|| have("pkg-config")),
        ("libopus-dev", &|| Command::new("pkg-config").args(["--exists", "opus"]).status().is_ok_and(|s| s.success())),
    ])
}

/// What building and testing the client needs besides Postgres: libdbus to build the keyring
/// (Secret Service) support, a session bus and GNOME Keyring for the tests' real Secret Service,
/// `secret-tool` to look into it (ffmpeg, which encodes the audio test corpus, every command has).
fn ensure_test_tools() -> Result<()> {
    ensure_packages(&[
        ("pkg-config", &|| have("pkg-config")),
        ("libdbus-1-dev", &|| {
            Command::new("pkg-config").args(["--exists", "dbus-1"]).status().is_ok_and(|s| s.success())
        }),
        ("dbus", &|| have("dbus-daemon") && have("dbus-send")),
        ("gnome-keyring", &|| have("gnome-keyring-daemon")),
        ("libsecret-tools", &|| have("secret-tool")),
    ])
}

/// What building the desktop app needs (WebKitGTK and friends, Node.js for the UI), and what
/// running it in a window needs (GStreamer's codecs for the media players, a keyring).
fn ensure_desktop_build() -> Result<()> {
    let pc = |lib: &'static str| {
        move || Command::new("pkg-config").args(["--exists", lib]).status().is_ok_and(|s| s.success())
    };
    ensure_packages(&[
        ("pkg-config", &|| have("pkg-config")),
        ("libwebkit2gtk-4.1-dev", &pc("webkit2gtk-4.1")),
        ("libsoup-3.0-dev", &pc("libsoup-3.0")),
        ("libjavascriptcoregtk-4.1-dev", &pc("javascriptcoregtk-4.1")),
        ("libgtk-3-dev", &pc("gtk+-3.0")),
        ("librsvg2-dev", &pc("librsvg-2.0")),
        ("libayatana-appindicator3-dev", &pc("ayatana-appindicator3-0.1")),
        ("libxdo-dev", &|| std::path::Path::new("/usr/include/xdo.h").exists()),
        ("libssl-dev", &pc("openssl")),
        ("libopus-dev", &pc("opus")),
        ("gstreamer1.0-plugins-good", &|| gst_plugin("libgstisomp4.so")),
        ("gstreamer1.0-libav", &|| gst_plugin("libgstlibav.so")),
        ("nodejs", &|| have("node")),
        ("npm", &|| have("npm")),
    ])
}

fn gst_plugin(file: &str) -> bool {
    std::path::Path::new("/usr/lib/x86_64-linux-gnu/gstreamer-1.0").join(file).exists()
        || std::path::Path::new("/usr/lib/aarch64-linux-gnu/gstreamer-1.0").join(file).exists()
}

/// What driving the real window in tests needs: a display server, the WebDriver pieces, a
/// notification daemon, ImageMagick for screenshots, and xdotool to move the focus.
fn ensure_desktop_test_tools() -> Result<()> {
    ensure_packages(&[
        ("xvfb", &|| have("Xvfb")),
        ("webkit2gtk-driver", &|| have("WebKitWebDriver")),
        ("dunst", &|| have("dunst")),
        ("imagemagick", &|| have("import")),
        ("xdotool", &|| have("xdotool")),
        // The package test: the .rpm is read with rpm and cpio, the .deb's desktop entry checked
        // and registered by desktop-file-utils, and the link opened through gio (GLib's).
        ("file", &|| have("file")),
        ("rpm", &|| have("rpm") && have("rpm2cpio")),
        ("cpio", &|| have("cpio")),
        ("desktop-file-utils", &|| have("desktop-file-validate") && have("update-desktop-database")),
        ("libglib2.0-bin", &|| have("gio")),
    ])?;
    if tauri_driver().is_none() {
        eprintln!("xtask: installing tauri-driver");
        run(cargo().args(["install", "--locked", "--quiet", "tauri-driver"])).context("cannot install tauri-driver")?;
    }
    Ok(())
}

fn tauri_driver() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    let cargo_home = std::env::var_os("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|| home.join(".cargo"));
    let bin = cargo_home.join("bin/tauri-driver");
    bin.exists().then_some(bin)
}

fn npm(args: &[&str]) -> Command {
    let mut c = Command::new("npm");
    c.args(args).current_dir(workspace_root().join("ui"));
    c
}

/// Installs the UI's packages (as locked) when they are missing or the lock file changed.
fn ui_install() -> Result<()> {
    let ui = workspace_root().join("ui");
    let stamp = ui.join("node_modules/.package-lock.json");
    let stale = match (std::fs::metadata(&stamp), std::fs::metadata(ui.join("package-lock.json"))) {
        (Ok(installed), Ok(lock)) => installed.modified()? < lock.modified()?,
        _ => true,
    };
    if stale {
        eprintln!("xtask: npm ci (ui)");
        run(&mut npm(&["ci", "--no-audit", "--no-fund", "--loglevel=error"])).context("npm ci failed in ui/")?;
    }
    Ok(())
}

/// Builds the UI into ui/dist (which the desktop app embeds).
fn ui_build() -> Result<()> {
    ui_install()?;
    eprintln!("xtask: ui build");
    run(&mut npm(&["run", "--silent", "build", "--", "--logLevel", "warn"])).context("the UI does not build")
}

fn bindings() -> Result<()> {
    ensure_desktop_build()?;
    // The desktop crate compiles against a built UI, any: a UI that already uses what the new
    // bindings will export cannot build until they are written.
    if !workspace_root().join("ui/dist/index.html").exists() {
        ui_build()?;
    }
    run(cargo()
        .args(["test", "--quiet", "-p", "resonance-desktop", "--lib", "the_committed_typescript_bindings"])
        .env("RESONANCE_UPDATE_BINDINGS", "1"))?;
    eprintln!("xtask: wrote ui/src/lib/bindings.ts");
    Ok(())
}

/// The desktop app's Linux packages, a `.deb` and an `.rpm` (the binary, the `.desktop` file that
/// registers the `resonance://` scheme, the icons), under `<target>/release/bundle/`. With
/// `--debug`, of the debug build instead, under `<target>/debug/bundle/`: seconds instead of a
/// whole-program-optimised build, which is what the tests install.
fn package(args: &[String]) -> Result<()> {
    let debug = match args {
        [] => false,
        [flag] if flag == "--debug" => true,
        _ => bail!("usage: cargo xtask package [--debug]"),
    };
    ensure_desktop_build()?;
    ensure_packages(&[("file", &|| have("file"))])?;
    ui_build()?;
    if debug {
        run(cargo().args(["build", "--quiet", "--locked", "-p", "resonance-desktop"]))?;
        bundle_debug_build()?;
    } else {
        run(tauri_cli().args(["build", "--bundles", "deb,rpm", "--ci"])).context("tauri build failed")?;
    }
    let bundle = target_dir().join(if debug { "debug/bundle" } else { "release/bundle" });
    eprintln!("xtask: the .deb is in {}, the .rpm in {}", bundle.join("deb").display(), bundle.join("rpm").display());
    Ok(())
}

/// The UI's copy of the Tauri CLI (an npm package: no Rust build of it), run from the checkout.
fn tauri_cli() -> Command {
    let mut c = Command::new(workspace_root().join("ui/node_modules/.bin/tauri"));
    c.current_dir(workspace_root()).env("CI", "true");
    c
}

/// Packages the debug build already made (`tauri bundle`: no compiling).
fn bundle_debug_build() -> Result<()> {
    run(tauri_cli().args(["bundle", "--debug", "--bundles", "deb,rpm", "--ci"])).context("tauri bundle failed")
}

/// Signs in as the demo developer (through the CLI, which shares the app's data directory and
/// keyring, so the app opens signed in) and, the first time, adds the sample projects with their
/// renders queued (`resonance samples --generate`: tracks made by resonance-audio, CC0), so a
/// newcomer sees videos, waveforms and a gallery at once. Failures are said, not fatal: the
/// backend runs without them.
fn sign_in_and_seed_samples() {
    let server = format!("http://{DEV_LISTEN}");
    let cli = target_dir().join("debug/resonance");
    let login = || -> Result<bool> {
        let mut login = Command::new(&cli)
            .args(["--server", &server, "login", "developer@demo.resonance.local", "--password-stdin"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .context("cannot run resonance login")?;
        if let Some(mut stdin) = login.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(b"resonance-developer-demo\n");
        }
        Ok(login.wait()?.success())
    };
    match login() {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            eprintln!("xtask: could not sign in as the demo developer (is a keyring running?); sign in in the app");
            return;
        }
    }
    eprintln!("xtask: sample projects (rendered by the worker in the background)");
    let seeded = Command::new(&cli).args(["samples", "--generate"]).stdout(std::process::Stdio::null()).status();
    if !seeded.is_ok_and(|s| s.success()) {
        eprintln!("xtask: the sample projects could not be added (see above); the app works without them");
    }
}

/// Opens the app (signed in by `sign_in_and_seed_samples`); returns its process.
fn open_desktop() -> Result<Option<std::process::Child>> {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!("xtask: no display: not opening the desktop app (the backend keeps running)");
        return Ok(None);
    }
    let app = supervise::own_group(
        Command::new(target_dir().join("debug/resonance-desktop"))
            .env("RESONANCE_SERVER", format!("http://{DEV_LISTEN}")),
    )
    .spawn()
    .context("cannot start the desktop app")?;
    Ok(Some(app))
}

fn dev() -> Result<()> {
    ensure_machine()?;
    ensure_desktop_build()?;
    ui_build()?;
    let data = if system::is_root() { PathBuf::from("/var/lib/resonance-dev") } else { workspace_root().join(".dev") };
    let mut cluster = Cluster::persistent(&data.join("postgres"), DEV_PORT)?;
    let stop = stop_flag()?;
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
    sweep::make_room(&target_dir())?;
    run(cargo().args([
        "build",
        "--quiet",
        "-p",
        "resonance-server",
        "-p",
        "resonance-cli",
        "-p",
        "resonance-desktop",
    ]))?;
    let server = target_dir().join("debug").join("resonance-server");
    run(Command::new(&server).args(["migrate", "--database-url", &url]))?;
    run(Command::new(&server).args(["demo-seed", "--database-url", &url]))?;
    let storage = data.join("storage");
    println!(
        "\nPostgres: {url}\nAPI:      http://{DEV_LISTEN}/v1  (OpenAPI at /v1/openapi.json)\nStorage:  {}\nCtrl-C stops everything.\n",
        storage.display()
    );
    let mut children = supervise::Children::default();
    let serve = supervise::own_group(
        Command::new(&server)
            .args(["serve", "--database-url", &url, "--listen", DEV_LISTEN])
            .arg("--storage")
            .arg(&storage)
            .env("RESONANCE_JWT_SECRET", &secret),
    )
    .spawn()
    .context("cannot start resonance-server")?;
    children.add("server", serve);
    let worker = supervise::own_group(
        Command::new(&server)
            .args(["worker", "--database-url", &url, "--name", "dev-worker", "--storage"])
            .arg(&storage),
    )
    .spawn()
    .context("cannot start the render worker")?;
    children.add("worker", worker);
    std::thread::sleep(std::time::Duration::from_millis(500));
    sign_in_and_seed_samples();
    if let Some(app) = open_desktop()? {
        children.add("app", app);
    }
    run_until_stopped(children, &stop, || cluster.stop())
}

/// Set when xtask is told to stop: Ctrl-C, or a SIGINT, SIGTERM or SIGHUP sent to it alone.
fn stop_flag() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;
    Ok(stop)
}

/// Runs until told to stop or until the server exits, then stops the app, the worker and the
/// server, in that order, and then what `after` stops (Postgres).
fn run_until_stopped(
    mut children: supervise::Children,
    stop: &std::sync::atomic::AtomicBool,
    after: impl FnOnce(),
) -> Result<()> {
    let exited = children.wait(stop, "server")?;
    children.stop_all(std::time::Duration::from_secs(10));
    after();
    match exited {
        Some(status) if !status.success() => bail!("resonance-server exited with {status}"),
        _ => Ok(()),
    }
}

/// `dev`'s supervision with three stand-in children (shells named server, worker and app that
/// write their name to `DIR/stopped` when they get SIGTERM) and "postgres" written last for the
/// cluster. Writes `DIR/ready` once all are up.
fn supervise_demo(dir: Option<PathBuf>) -> Result<()> {
    let Some(dir) = dir else { bail!("usage: cargo xtask supervise-demo DIR") };
    let stop = stop_flag()?;
    let log = dir.join("stopped");
    let mut children = supervise::Children::default();
    for name in ["server", "worker", "app"] {
        children.add(name, supervise::stand_in(&dir, name, false)?);
    }
    std::fs::write(dir.join("ready"), b"")?;
    run_until_stopped(children, &stop, || {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).create(true).open(&log) {
            let _ = writeln!(f, "postgres");
        }
    })
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
    ensure_desktop_build()?;
    ensure_desktop_test_tools()?;
    let started = std::time::Instant::now();
    let since = std::time::SystemTime::now();
    sweep::make_room(&target_dir())?;
    ui_install()?;
    eprintln!("xtask: ui check and unit tests");
    run(&mut npm(&["run", "--silent", "check"])).context("svelte-check found problems in ui/")?;
    run(&mut npm(&["run", "--silent", "test"])).context("the UI's unit tests failed")?;
    ui_build()?;
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
    let mut units = sweep::Units::default();
    sweep::units_of(
        cargo()
            .args(["clippy", "--workspace", "--all-targets", "--locked", "--quiet", sweep::MESSAGES])
            .args(["--", "-D", "warnings"]),
        &mut units,
    )
    .context("clippy found problems")?;
    eprintln!("xtask: rustdoc");
    sweep::units_of(
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--locked", "--quiet", sweep::MESSAGES])
            .env("RUSTDOCFLAGS", "-D warnings"),
        &mut units,
    )
    .context("rustdoc found problems (a broken, ambiguous or private link in a doc comment)")?;
    // The end-to-end suite drives the app binary.
    sweep::units_of(
        cargo().args(["build", "--quiet", "--locked", "-p", "resonance-desktop", sweep::MESSAGES]),
        &mut units,
    )?;
    // The package test installs the .deb and reads the .rpm of that build.
    eprintln!("xtask: packages of the debug build");
    bundle_debug_build()?;
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
    let python = python_tools()?;
    tests.env("RESONANCE_MOTO_SERVER", &python.moto);
    tests.env("RESONANCE_SCHEMATHESIS", &python.schemathesis);
    tests.env("RESONANCE_DESKTOP_BIN", target_dir().join("debug/resonance-desktop"));
    if system::is_root() {
        // The package test may install the .deb (and removes it again).
        tests.env("RESONANCE_INSTALL_PACKAGES", "1");
    }
    if let Some(driver) = tauri_driver() {
        tests.env("RESONANCE_TAURI_DRIVER", driver);
    }
    // Ctrl-C, or a SIGTERM or SIGHUP to xtask alone (a supervisor's, `timeout`'s): the tests are
    // told to stop and the throwaway Postgres goes with them, instead of running on unowned.
    let tests_pid = std::sync::Arc::new(std::sync::Mutex::new(None::<u32>));
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let (tests_pid, stop_cluster, interrupted) = (tests_pid.clone(), cluster.stopper(), interrupted.clone());
        let installed = ctrlc::set_handler(move || {
            interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
            let Some(pid) = tests_pid.lock().ok().and_then(|p| *p) else {
                // The tests have ended, and their Postgres with them: nothing is left to stop.
                std::process::exit(130);
            };
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            stop_cluster();
            eprintln!("xtask: interrupted; the tests and their Postgres were stopped");
            std::process::exit(130);
        });
        if let Err(e) = installed {
            eprintln!("xtask: warning: no signal handler ({e}): an interrupted run may leave Postgres running");
        }
    }
    let result = tests.spawn().with_context(|| "cannot start the tests").and_then(|mut child| {
        if let Ok(mut pid) = tests_pid.lock() {
            *pid = Some(child.id());
        }
        let status = child.wait()?;
        while interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            // The handler is stopping Postgres and will end the process: leave the cluster to it.
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // Finished: a later interrupt has no tests to stop (and the pid may be another's soon).
        if let Ok(mut pid) = tests_pid.lock() {
            *pid = None;
        }
        if !status.success() {
            bail!("{:?} {:?} failed with {status}", tests.get_program(), tests.get_args().collect::<Vec<_>>());
        }
        Ok(())
    });
    drop(cluster);
    eprintln!("xtask: test run took {:.0?}", started.elapsed());
    sweep_after(units, since);
    result.context("tests failed")
}

/// Removes from the target directory what this run's builds (`units` so far, then the test
/// binaries and xtask itself) did not use. Skipped, with a message, if a build failed.
fn sweep_after(mut units: sweep::Units, since: std::time::SystemTime) {
    let listed = sweep::units_of(
        cargo().args(["test", "--workspace", "--locked", "--no-run", "--quiet", sweep::MESSAGES]),
        &mut units,
    )
    .and_then(|()| {
        sweep::units_of(cargo().args(["build", "--locked", "--quiet", "-p", "xtask", sweep::MESSAGES]), &mut units)
    });
    if let Err(e) = listed {
        eprintln!("xtask: the target directory is not swept: {e:#}");
        return;
    }
    let used = units.len();
    match sweep::sweep(&target_dir(), units, since) {
        Ok(freed) => eprintln!(
            "xtask: swept {:.1} GiB of build output that none of this run's {used} units uses",
            freed as f64 / f64::from(1u32 << 30)
        ),
        Err(e) => eprintln!("xtask: the target directory is not swept: {e:#}"),
    }
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
        // The rhythm ground-truth corpus: mma writes the MIDI, fluidsynth plays it.
        ("mma", &|| have("mma")),
        ("fluidsynth", &|| have("fluidsynth")),
        ("fluid-soundfont-gm", &|| std::path::Path::new("/usr/share/sounds/sf2/FluidR3_GM.sf2").exists()),
    ])?;
    ensure_desktop_build()?;
    ensure_desktop_test_tools()?;
    ui_build()?;
    // The desktop start is measured on the app as shipped (release profile).
    sweep::make_room(&target_dir())?;
    run(cargo().args(["build", "--release", "--locked", "--quiet", "-p", "resonance-desktop"]))?;
    let music = bench_music();
    let cluster = Cluster::throwaway()?;
    for (package, bench) in [
        ("resonance-server", "sync_pull"),
        ("resonance-server", "flood"),
        ("resonance-server", "render"),
        ("resonance-cli", "client_sync"),
        ("resonance-cli", "pipeline"),
        ("resonance-audio", "analyze"),
        ("resonance-audio", "rhythm_truth"),
        ("resonance-e2e", "desktop_start"),
        ("resonance-e2e", "desktop_preview"),
    ] {
        let mut c = cargo();
        c.args(["bench", "--locked", "-p", package, "--bench", bench]);
        if !args.is_empty() {
            c.arg("--").args(args.iter().skip_while(|a| *a == "--"));
        }
        c.env("RESONANCE_TEST_DATABASE_URL", cluster.url("postgres")).env("RESONANCE_PSQL", cluster.psql_path());
        c.env("RESONANCE_DESKTOP_BIN", target_dir().join("release/resonance-desktop"));
        if let Some(dir) = &music {
            c.env("RESONANCE_BENCH_MUSIC", dir);
        }
        run(&mut c).with_context(|| format!("benchmark {bench} failed"))?;
    }
    Ok(())
}

/// The Python tools the tests run, from PyPI into a virtual environment kept under
/// `~/.cache/resonance/venv` (pinned; installed once): moto's S3 server, a real S3 API for the
/// scale-out test, and Schemathesis, the API fuzzer. Their paths, for the tests.
fn python_tools() -> Result<PythonTools> {
    ensure_packages(&[
        ("python3", &|| have("python3")),
        ("python3-venv", &|| {
            Command::new("python3").args(["-c", "import venv, ensurepip"]).status().is_ok_and(|s| s.success())
        }),
    ])?;
    let home = std::env::var_os("HOME").map(PathBuf::from).context("HOME is not set")?;
    let venv = home.join(".cache/resonance/venv");
    let tools = PythonTools { moto: venv.join("bin/moto_server"), schemathesis: venv.join("bin/schemathesis") };
    // What was installed, so a change of the pins installs again (a venv left by another
    // version would otherwise be used as it is).
    let stamp = venv.join("resonance-tools");
    let wanted = PYTHON_TOOLS.join("\n");
    let current = std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted);
    if !current || !tools.moto.exists() || !tools.schemathesis.exists() {
        eprintln!("xtask: installing moto and Schemathesis (for the scale-out and fuzz tests) into {}", venv.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv)).context("could not make a Python venv")?;
        run(Command::new(venv.join("bin/pip")).args(["install", "--quiet"]).args(PYTHON_TOOLS))
            .context("could not install the tests' Python tools from PyPI")?;
        std::fs::write(&stamp, wanted).context("could not note the installed Python tools")?;
    }
    Ok(tools)
}

struct PythonTools {
    moto: PathBuf,
    schemathesis: PathBuf,
}

/// Pinned, so every machine tests against the same S3 server and fuzzes the same way.
const PYTHON_TOOLS: [&str; 2] = ["moto[server]==5.2.5", "schemathesis==4.32.5"];
