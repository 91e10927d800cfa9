//! The desktop app in a real window: Xvfb for a display, dunst as the notification daemon and
//! dbus-monitor recording what was sent to it (both on the keyring's private session bus), and
//! tauri-driver (with WebKitWebDriver) to drive the app. Dropped, everything stops.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::Keyring;

pub struct Desktop {
    pub display: String,
    /// The environment the app runs in (bus, home, display, data, server).
    env: Vec<(String, String)>,
    /// tauri-driver's address, for `WebDriver::launch`.
    pub driver: String,
    /// The app's data directory (mirror, media cache, previews).
    pub data: PathBuf,
    monitor_log: PathBuf,
    /// Where the app's "browser" writes the URLs it was given.
    opened: PathBuf,
    children: Vec<Child>,
}

/// The app binary `cargo xtask test` built (or RESONANCE_DESKTOP_BIN).
pub fn app_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("RESONANCE_DESKTOP_BIN") {
        return PathBuf::from(p);
    }
    // target/debug/deps/<test> → target/debug/resonance-desktop
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().and_then(Path::parent).unwrap();
    let bin = debug.join("resonance-desktop");
    assert!(bin.exists(), "{} is missing: build it first (`cargo xtask test` does)", bin.display());
    bin
}

/// An X display of our own (Xvfb on a free display number), stopped when dropped.
pub struct Display {
    pub name: String,
    child: Option<Child>,
}

impl Display {
    pub fn start() -> Self {
        // Xvfb picks a free display and writes its number to the pipe.
        let mut xvfb = spawn(
            Command::new("Xvfb")
                .args(["-displayfd", "1", "-screen", "0", "1280x900x24", "-nolisten", "tcp"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
            "Xvfb",
        );
        let mut number = String::new();
        let mut out = xvfb.stdout.take().unwrap();
        let mut byte = [0u8; 1];
        while out.read(&mut byte).map(|n| n == 1).unwrap_or(false) && byte[0] != b'\n' {
            number.push(byte[0] as char);
        }
        assert!(!number.trim().is_empty(), "Xvfb did not report its display");
        Self { name: format!(":{}", number.trim()), child: Some(xvfb) }
    }

    fn into_child(mut self) -> Child {
        self.child.take().unwrap()
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn(cmd: &mut Command, what: &str) -> Child {
    cmd.spawn().unwrap_or_else(|e| {
        panic!("{what} cannot start ({e}): run the tests with `cargo xtask test`, which installs it")
    })
}

impl Desktop {
    /// A display, a notification daemon and tauri-driver, for an app that talks to `server`.
    pub fn start(keyring: &Keyring, server: &str) -> Self {
        let mut children = Vec::new();
        let display = Display::start();
        let name = display.name.clone();
        children.push(display.into_child());
        let display = name;

        let mut env = keyring.env();
        let data = keyring.dir.path().join("desktop-data");
        std::fs::create_dir_all(&data).unwrap();
        let monitor_log = keyring.dir.path().join("notifications.log");
        children.push(spawn(
            Command::new("dbus-monitor")
                .args(["--session", "interface='org.freedesktop.Notifications',member='Notify'"])
                .envs(env.clone())
                .stdout(std::fs::File::create(&monitor_log).unwrap())
                .stderr(Stdio::null()),
            "dbus-monitor",
        ));
        children.push(spawn(
            Command::new("dunst")
                .envs(env.clone())
                .env("DISPLAY", &display)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "dunst",
        ));
        // The "browser": an xdg-open that writes down what it was asked to open, and the
        // WebKit and JavaScriptCore settings it was started with (`opened-env.log`).
        let bin = keyring.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let opened = keyring.dir.path().join("opened-urls.log");
        let opened_env = keyring.dir.path().join("opened-env.log");
        let script = bin.join("xdg-open");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\nenv | grep -E '^(WEBKIT_|JSC_)' >> '{}'\nexit 0\n",
                opened.display(),
                opened_env.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        env.extend([
            ("PATH".to_owned(), path),
            ("DISPLAY".to_owned(), display.clone()),
            ("RESONANCE_DATA_DIR".to_owned(), data.display().to_string()),
            ("RESONANCE_SERVER".to_owned(), server.to_owned()),
            // Uploads in many small pieces, so that their progress can be watched.
            ("RESONANCE_UPLOAD_CHUNK_BYTES".to_owned(), (64 << 10).to_string()),
        ]);
        let port = free_port();
        let native = free_port();
        let driver_bin = std::env::var_os("RESONANCE_TAURI_DRIVER").map(PathBuf::from).unwrap_or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver")).unwrap()
        });
        children.push(spawn(
            Command::new(driver_bin)
                .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
                .envs(env.clone())
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit()),
            "tauri-driver",
        ));
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { display, env, driver: format!("http://127.0.0.1:{port}"), data, monitor_log, opened, children }
    }

    /// A PNG of the app's window (menu bar included; the whole screen when it is hidden), as the
    /// creator sees it. WebKitWebDriver's own screenshot hangs under Xvfb.
    pub fn screenshot(&self, path: &Path) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        // The app's window alone (its menu bar included), else the whole screen.
        let window = self.window_id("Resonance");
        let status = Command::new("import")
            .args(["-window", if window.is_empty() { "root" } else { window.as_str() }])
            .arg(path)
            .env("DISPLAY", &self.display)
            .status()
            .unwrap_or_else(|e| panic!("imagemagick's import is needed for screenshots: {e}"));
        assert!(status.success(), "the screenshot {} failed", path.display());
    }

    /// Launches the app a second time, as a creator double-clicking it again would, and waits for
    /// it to exit (it should hand over to the running one); `None` if it is still running after
    /// `timeout`, in which case it is killed.
    pub fn launch_again(&self, app: &Path, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.launch_with(app, &[], timeout)
    }

    /// Opens `link` as the system does when one is clicked: the app started again with the link
    /// as its only argument (the `.desktop` file's `%u`); it hands the link to the running app and
    /// exits. `None` if it is still running after `timeout`.
    pub fn open_link(&self, app: &Path, link: &str, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.launch_with(app, &[link], timeout)
    }

    /// Opens `link` (as `open_link`) and asserts that its launch handed it over and exited.
    pub fn hand_over(&self, app: &Path, link: &str) {
        let handed = self.open_link(app, link, Duration::from_secs(15));
        assert!(handed.is_some_and(|s| s.success()), "the link's launch hands over and exits: {handed:?}");
    }

    /// Opens `link` as a desktop environment does: `gio open`, which finds the handler of the
    /// link's scheme among the installed `.desktop` files and runs its `Exec` line. Asserts that
    /// gio found one and started it.
    pub fn open_with_system(&self, link: &str) {
        let out =
            Command::new("gio").args(["open", link]).envs(self.env.clone()).output().unwrap_or_else(|e| {
                panic!("gio (libglib2.0-bin) is needed: run the tests with `cargo xtask test` ({e})")
            });
        assert!(out.status.success(), "gio open {link}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Kills the app running on this desktop (SIGKILL, as a crash or a power cut ends it: no
    /// clean-up runs); returns how many processes were killed. Only this desktop's app: other
    /// tests' apps run from the same binary with another data directory.
    pub fn kill_app(&self) -> usize {
        let mine = format!("RESONANCE_DATA_DIR={}", self.data.display());
        let mut killed = 0;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let dir = entry.path();
            let is_app = std::fs::read_link(dir.join("exe"))
                .ok()
                .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().starts_with("resonance-desktop")))
                .unwrap_or(false);
            let env = std::fs::read(dir.join("environ")).unwrap_or_default();
            if is_app && env.split(|b| *b == 0).any(|v| v == mine.as_bytes()) {
                let pid = entry.file_name().to_string_lossy().into_owned();
                if Command::new("kill").args(["-KILL", &pid]).status().is_ok_and(|s| s.success()) {
                    killed += 1;
                }
            }
        }
        killed
    }

    fn launch_with(&self, app: &Path, args: &[&str], timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut child = spawn(
            Command::new(app).args(args).envs(self.env.clone()).stdout(Stdio::null()).stderr(Stdio::null()),
            "the app",
        );
        let started = std::time::Instant::now();
        while started.elapsed() < timeout {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Whether a window titled `title` is mapped (shown) on the display.
    pub fn window_visible(&self, title: &str) -> bool {
        !self.window_id(title).is_empty()
    }

    fn window_id(&self, title: &str) -> String {
        let out = Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", &format!("^{title}$")])
            .env("DISPLAY", &self.display)
            .output()
            .unwrap_or_else(|e| panic!("xdotool is needed: run the tests with `cargo xtask test` ({e})"));
        String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().trim().to_owned()
    }

    /// Waits until the window titled `title` is shown (or hidden, `shown` false), at most
    /// `timeout`; whether it got there.
    pub async fn wait_window(&self, title: &str, shown: bool, timeout: Duration) -> bool {
        let started = std::time::Instant::now();
        while self.window_visible(title) != shown {
            if started.elapsed() > timeout {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(125)).await;
        }
        true
    }

    /// Waits until a notification sent so far mentions `needle`, at most `timeout`; returns what
    /// was sent (as `notifications`), for the caller's assertions.
    pub async fn wait_for_notification(&self, needle: &str, timeout: Duration) -> String {
        let started = std::time::Instant::now();
        loop {
            let told = self.notifications();
            if told.contains(needle) || started.elapsed() > timeout {
                return told;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Asks the window titled `title` to close, as a window manager's close button does: the
    /// ICCCM `WM_DELETE_WINDOW` message (no window manager runs here; xdotool can only destroy).
    pub fn close_window(&self, title: &str) {
        use x11rb::connection::Connection;
        use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt, EventMask};
        let id: u32 = self.window_id(title).parse().unwrap_or_else(|_| panic!("no visible window is titled {title}"));
        let (conn, _) =
            x11rb::connect(Some(&self.display)).unwrap_or_else(|e| panic!("cannot open {}: {e}", self.display));
        let atom = |name: &[u8]| conn.intern_atom(false, name).unwrap().reply().unwrap().atom;
        let (protocols, delete) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW"));
        let event = ClientMessageEvent::new(32, id, protocols, [delete, x11rb::CURRENT_TIME, 0, 0, 0]);
        conn.send_event(false, id, EventMask::NO_EVENT, event).unwrap().check().unwrap();
        conn.flush().unwrap();
    }

    /// Clicks the newest notification, as a creator would (dunst's default action).
    pub fn click_notification(&self) {
        let status = Command::new("dunstctl")
            .args(["action", "0"])
            .envs(self.env.clone())
            .status()
            .unwrap_or_else(|e| panic!("dunstctl cannot run: {e}"));
        assert!(status.success(), "dunstctl could not invoke the notification's action");
    }

    /// Moves the keyboard focus off the window titled `title` and back onto it, as switching to
    /// the browser and back does (no window manager runs: xdotool sets the X input focus).
    pub fn refocus(&self, title: &str) {
        let xdotool = |args: &[&str]| -> String {
            let out = Command::new("xdotool")
                .args(args)
                .env("DISPLAY", &self.display)
                .output()
                .unwrap_or_else(|e| panic!("xdotool is needed: run the tests with `cargo xtask test` ({e})"));
            assert!(out.status.success(), "xdotool {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_owned()
        };
        let root = xdotool(&["search", "--maxdepth", "0", "--name", ""]);
        let window = xdotool(&["search", "--onlyvisible", "--name", &format!("^{title}$")]);
        assert!(!window.is_empty(), "no visible window is titled {title}");
        xdotool(&["windowfocus", &root]);
        std::thread::sleep(Duration::from_millis(500));
        xdotool(&["windowfocus", &window]);
    }

    /// Answers the save dialog titled `title` (GTK's file chooser, the app's own window) with
    /// `path`, as a person would: types it into the name field and presses Enter.
    pub fn answer_save_dialog(&self, title: &str, path: &Path) {
        let xdotool = |args: &[&str]| -> (bool, String) {
            let out = Command::new("xdotool")
                .args(args)
                .env("DISPLAY", &self.display)
                .output()
                .unwrap_or_else(|e| panic!("xdotool is needed: run the tests with `cargo xtask test` ({e})"));
            (out.status.success(), String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_owned())
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let window = loop {
            let (found, window) = xdotool(&["search", "--onlyvisible", "--name", &format!("^{title}$")]);
            if found && !window.is_empty() {
                break window;
            }
            assert!(std::time::Instant::now() < deadline, "no save dialog titled {title} appeared");
            std::thread::sleep(Duration::from_millis(200));
        };
        // Let the dialog finish drawing and put the focus in its name field.
        std::thread::sleep(Duration::from_millis(800));
        xdotool(&["windowfocus", "--sync", &window]);
        xdotool(&["key", "ctrl+a"]);
        let typed = path.to_str().expect("a UTF-8 path");
        assert!(xdotool(&["type", "--delay", "20", typed]).0, "xdotool could not type the path");
        std::thread::sleep(Duration::from_millis(300));
        xdotool(&["key", "Return"]);
    }

    /// The URLs the app asked the system to open in the browser, oldest first.
    pub fn opened_urls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.opened).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// The WebKit and JavaScriptCore settings (`WEBKIT_*`, `JSC_*`) in the environment of the
    /// programs the app asked to open something, one `NAME=value` a line.
    pub fn opened_env(&self) -> String {
        std::fs::read_to_string(self.opened.with_file_name("opened-env.log")).unwrap_or_default()
    }

    /// What dbus-monitor saw sent to the notification daemon.
    pub fn notifications(&self) -> String {
        std::fs::read_to_string(&self.monitor_log).unwrap_or_default()
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What the screen showed when the test failed, beside the other screenshots.
            let dir =
                std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
            self.screenshot(&dir.join("e2e-screenshots/failure.png"));
        }
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
