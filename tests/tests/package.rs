//! The Linux packages of the desktop app, as `cargo xtask package --debug` makes them (`cargo
//! xtask test` makes them before the tests): the `.rpm` read with `rpm -qlp` and `rpm2cpio`, and
//! the `.deb` installed with dpkg, registered as the handler of `resonance://` links, started from
//! `/usr/bin` in a real window, and handed a link the way a desktop opens one (gio runs the
//! `.desktop` file's `Exec` line). Installing changes the machine: it runs only when `cargo xtask
//! test` runs as root (which sets `RESONANCE_INSTALL_PACKAGES=1`, as on CI) and no `resonance`
//! package is installed already, and the package is removed again afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use resonance_e2e::desktop::{app_binary, Desktop};
use resonance_e2e::webdriver::WebDriver;
use resonance_e2e::{Backend, Keyring};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const SHORT: Duration = Duration::from_secs(20);
const ICONS: [&str; 3] = ["32x32", "128x128", "512x512"];

/// The one package of this version with `extension` in the bundle directory of the app binary.
fn package(kind: &str, extension: &str) -> PathBuf {
    let dir = app_binary().parent().unwrap().join("bundle").join(kind);
    let found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} cannot be read ({e}): run `cargo xtask package --debug`", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with(extension) && name.contains(VERSION)
        })
        .collect();
    assert_eq!(found.len(), 1, "one .{extension} of version {VERSION} in {}: {found:?}", dir.display());
    found.into_iter().next().unwrap()
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?} cannot run ({e}): `cargo xtask test` installs it"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a desktop entry must say for links to reach the app: the scheme and the `%u` that passes
/// the link on, and nothing `desktop-file-validate` objects to.
fn assert_opens_links(entry: &str, file: &Path) {
    assert!(entry.lines().any(|l| l == "MimeType=x-scheme-handler/resonance"), "{entry}");
    assert!(entry.lines().any(|l| l == "Exec=resonance-desktop %u"), "{entry}");
    assert!(entry.lines().any(|l| l == "Icon=resonance-desktop"), "{entry}");
    output(Command::new("desktop-file-validate").arg(file));
}

#[test]
fn the_rpm_holds_the_app_its_link_handler_and_icons() {
    let rpm = package("rpm", ".rpm");
    let files = output(Command::new("rpm").arg("-qlp").arg(&rpm));
    let files: Vec<&str> = files.lines().collect();
    assert!(files.contains(&"/usr/bin/resonance-desktop"), "{files:?}");
    assert!(files.contains(&"/usr/share/applications/Resonance.desktop"), "{files:?}");
    for size in ICONS {
        let icon = format!("/usr/share/icons/hicolor/{size}/apps/resonance-desktop.png");
        assert!(files.contains(&icon.as_str()), "{icon} missing: {files:?}");
    }
    let version = output(Command::new("rpm").args(["-qp", "--queryformat", "%{NAME} %{VERSION}"]).arg(&rpm));
    assert_eq!(version, format!("resonance {VERSION}"));
    // The binary's packed relocations (DT_RELR) need glibc 2.36: an older system refuses the
    // package instead of an app that cannot start.
    let requires = output(Command::new("rpm").arg("-qpR").arg(&rpm));
    assert!(requires.lines().any(|l| l.trim() == "glibc >= 2.36"), "{requires}");

    let dir = tempfile::tempdir().unwrap();
    let entry = output(Command::new("sh").arg("-c").arg(format!(
        "rpm2cpio '{}' | cpio -i --quiet --to-stdout ./usr/share/applications/Resonance.desktop",
        rpm.display()
    )));
    let file = dir.path().join("Resonance.desktop");
    std::fs::write(&file, &entry).unwrap();
    assert_opens_links(&entry, &file);
}

/// The package installed for the test's length: removed again when dropped, pass or fail (a
/// failed install included).
struct Installed;

impl Installed {
    /// `None`, said on stderr, when this machine is not one to install on.
    fn deb(deb: &Path) -> Option<Self> {
        if std::env::var_os("RESONANCE_INSTALL_PACKAGES").is_none_or(|v| v != "1") {
            eprintln!("not installing the .deb: set RESONANCE_INSTALL_PACKAGES=1 (cargo xtask test does as root)");
            return None;
        }
        let already = Command::new("dpkg-query").args(["-W", "-f", "${Status}", "resonance"]).output();
        if already.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("installed")) {
            eprintln!("not installing the .deb: a resonance package is installed on this machine already");
            return None;
        }
        let installed = Self;
        output(Command::new("dpkg").arg("-i").arg(deb).env("DEBIAN_FRONTEND", "noninteractive"));
        Some(installed)
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["-r", "resonance"]).output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deb_installs_starts_and_opens_resonance_links() {
    let deb = package("deb", ".deb");
    let depends = output(Command::new("dpkg-deb").args(["-f"]).arg(&deb).arg("Depends"));
    assert!(depends.split(", ").any(|d| d == "libc6 (>= 2.36)"), "the binary's DT_RELR needs glibc 2.36: {depends}");
    let Some(_installed) = Installed::deb(&deb) else { return };
    let status = output(Command::new("dpkg-query").args(["-W", "-f", "${Status} ${Version}", "resonance"]));
    assert_eq!(status, format!("install ok installed {VERSION}"));
    let listed = output(Command::new("dpkg").args(["-L", "resonance"]));
    for size in ICONS {
        let icon = format!("/usr/share/icons/hicolor/{size}/apps/resonance-desktop.png");
        assert!(listed.lines().any(|l| l == icon), "{icon} missing: {listed}");
    }
    let installed = Path::new("/usr/bin/resonance-desktop");
    assert!(listed.lines().any(|l| Path::new(l) == installed), "{listed}");
    let entry_file = Path::new("/usr/share/applications/Resonance.desktop");
    assert_opens_links(&std::fs::read_to_string(entry_file).unwrap(), entry_file);
    // Registered (dpkg's trigger ran update-desktop-database): the scheme's handler is the app.
    let handler = output(Command::new("gio").args(["mime", "x-scheme-handler/resonance"]).env("LC_ALL", "C.UTF-8"));
    let default = handler.lines().next().unwrap_or_default();
    assert!(default.starts_with("Default application") && default.ends_with(": Resonance.desktop"), "{handler}");

    // Started from where the package put it, in a window, against a real server.
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let desktop = Desktop::start(&keyring, &backend.base);
    let wd = WebDriver::launch(&desktop.driver, installed).await;
    wd.wait_for("[data-screen=sign-in]", SHORT).await;
    assert!(desktop.wait_window("Resonance", true, SHORT).await, "the installed app shows its window");

    // A link opened the desktop's way reaches the running app through the installed entry: the
    // handler starts, hands the link over and exits, and the app answers it.
    desktop.open_with_system("resonance://project/not-a-project");
    let refused = wd.wait_for("[data-notice=error]", SHORT).await;
    let text = wd.text(&refused).await;
    assert!(text.contains("incomplete or damaged"), "{text}");
    let shots = app_binary().parent().unwrap().parent().unwrap().join("e2e-screenshots");
    desktop.screenshot(&shots.join("package-installed-link.png"));
    wd.close().await;
}
