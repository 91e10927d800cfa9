//! Keeping the shared target directory (`~/.cache/resonance/target`, kept between CI runs) from
//! filling the disk. Cargo never deletes a unit it no longer uses: every change to the
//! dependency graph, a flag or the toolchain gives units new hashes, and the old ones stay
//! (here ~5 GB a run, 45 GB after a few weeks). A CI run once failed as a full disk fails: a database
//! write, a video and the test runner's own output failed together, in a run that passes here.
//!
//! Invariants:
//! - after `cargo xtask test`, `debug/` keeps only the units cargo reported for this run's
//!   builds (clippy's, the test binaries', the desktop app's, xtask's), and anything written
//!   during the run; everything else in `deps/`, `examples/`, `build/`, `.fingerprint/` and
//!   `incremental/` is removed. A removed unit is rebuilt if it is ever needed again: cargo's
//!   fingerprint for it is removed with it, so nothing half-present is left.
//! - before a build, if the target's disk has less than `MIN_FREE` left, `debug/incremental`
//!   goes first (rustc rebuilds it when needed), then the whole of `debug/`.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::SystemTime;

use anyhow::{bail, Context, Result};

/// The free space a test run needs: its new units (~5 GB when every crate is rebuilt), the
/// throwaway Postgres and the tests' videos and corpora.
const MIN_FREE: u64 = 10 << 30;

/// Bytes free on the file system holding `path` (`df`, from coreutils), if it can be read.
fn free_bytes(path: &Path) -> Option<u64> {
    let out = Command::new("df").args(["--output=avail", "-B1"]).arg(path).output().ok()?;
    String::from_utf8_lossy(&out.stdout).lines().nth(1)?.trim().parse().ok()
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 30)
}

/// Before building: makes room if the target's disk is nearly full.
pub fn make_room(target: &Path) -> Result<()> {
    let debug = target.join("debug");
    let Some(free) = free_bytes(if target.exists() { target } else { Path::new(".") }) else {
        return Ok(());
    };
    eprintln!("xtask: {:.1} GiB free on the target directory's disk", gib(free));
    if free >= MIN_FREE || !debug.exists() {
        return Ok(());
    }
    for (what, dir) in [("incremental caches", debug.join("incremental")), ("debug build", debug.clone())] {
        if dir.exists() {
            eprintln!("xtask: less than {:.0} GiB free: removing the {what} ({})", gib(MIN_FREE), dir.display());
            std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
        }
        if free_bytes(target).is_some_and(|f| f >= MIN_FREE) {
            return Ok(());
        }
    }
    if free_bytes(target).is_some_and(|f| f < MIN_FREE) {
        eprintln!("xtask: warning: still less than {:.0} GiB free; the run may fail for want of space", gib(MIN_FREE));
    }
    Ok(())
}

/// The option that makes cargo report every unit of a build (built now or already fresh) as JSON
/// on standard output, while its diagnostics still go, rendered, to standard error.
pub const MESSAGES: &str = "--message-format=json-render-diagnostics";

/// Runs `cargo`, which must have been given `MESSAGES`, and adds the units it reports to `keep`.
pub fn units_of(cargo: &mut Command, keep: &mut Units) -> Result<()> {
    let out = cargo
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot start {:?}", cargo.get_program()))?;
    if !out.status.success() {
        bail!("{:?} {:?} failed with {}", cargo.get_program(), cargo.get_args().collect::<Vec<_>>(), out.status);
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        keep.add_message(line);
    }
    Ok(())
}

/// The units a run used, by the hash cargo appends to their names.
#[derive(Default)]
pub struct Units {
    hashes: HashSet<String>,
    /// Paths of uplifted binaries (`debug/resonance-desktop`): hard links of a unit in `deps/`,
    /// whose hash is found by inode.
    uplifted: Vec<std::path::PathBuf>,
}

impl Units {
    fn add_message(&mut self, line: &str) {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else { return };
        let paths = match msg["reason"].as_str() {
            Some("compiler-artifact") => msg["filenames"].as_array().cloned().unwrap_or_default(),
            Some("build-script-executed") => vec![msg["out_dir"].clone()],
            _ => return,
        };
        for p in paths.iter().filter_map(|p| p.as_str()).map(Path::new) {
            // `build/<unit>-<hash>/out` and `build/<unit>-<hash>/build-script-build` name the
            // unit by their directory.
            let named = p.components().rev().find_map(|c| hash_of(c.as_os_str().to_str()?).map(str::to_owned));
            match named {
                Some(h) => {
                    self.hashes.insert(h);
                }
                None => self.uplifted.push(p.to_owned()),
            }
        }
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }
}

/// The 16-hex-digit hash in a unit's file or directory name (`libserde-0123456789abcdef.rlib`,
/// `engine-0123456789abcdef`, `ring-0123456789abcdef`), if it has one.
fn hash_of(name: &str) -> Option<&str> {
    name.match_indices('-').rev().find_map(|(i, _)| {
        let h = name.get(i + 1..i + 17)?;
        let end = name.as_bytes().get(i + 17);
        (h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) && matches!(end, None | Some(b'.')))
            .then_some(h)
    })
}

/// Removes from `target/debug` every unit that is neither in `keep` nor written since `since`.
/// Returns the bytes freed.
pub fn sweep(target: &Path, mut keep: Units, since: SystemTime) -> Result<u64> {
    let debug = target.join("debug");
    let deps = debug.join("deps");
    // Uplifted binaries share an inode with their unit in deps/.
    let inodes: HashSet<u64> =
        keep.uplifted.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.ino()).collect();
    if !inodes.is_empty() {
        for entry in std::fs::read_dir(&deps).into_iter().flatten().flatten() {
            if entry.metadata().is_ok_and(|m| inodes.contains(&m.ino())) {
                if let Some(h) = hash_of(&entry.file_name().to_string_lossy()) {
                    keep.hashes.insert(h.to_owned());
                }
            }
        }
    }
    let mut freed = 0;
    for dir in ["deps", "examples", "build", ".fingerprint", "incremental"] {
        for entry in std::fs::read_dir(debug.join(dir)).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let used = match hash_of(&name) {
                Some(h) => keep.hashes.contains(h),
                // incremental/<crate>-<session hash> names no unit: kept if written this run.
                None if dir == "incremental" => false,
                None => true,
            };
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            if used || meta.modified().is_ok_and(|m| m >= since) {
                continue;
            }
            let size = size_of(&path);
            let removed = if meta.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            match removed {
                Ok(()) => freed += size,
                Err(e) => eprintln!("xtask: cannot remove {}: {e}", path.display()),
            }
        }
    }
    Ok(freed)
}

fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).into_iter().flatten().flatten().map(|e| size_of(&e.path())).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_hashes_are_read_from_names() {
        assert_eq!(hash_of("libserde-0123456789abcdef.rlib"), Some("0123456789abcdef"));
        assert_eq!(hash_of("engine-0123456789abcdef"), Some("0123456789abcdef"));
        assert_eq!(hash_of("engine-0123456789abcdef.d"), Some("0123456789abcdef"));
        assert_eq!(hash_of("resonance-desktop-14ab5da1345ca6c4"), Some("14ab5da1345ca6c4"));
        assert_eq!(hash_of("resonance_server-0ae7838kjpfsb"), None);
        assert_eq!(hash_of("resonance-desktop"), None);
        assert_eq!(hash_of("libfoo-0123456789ABCDEF.rlib"), None);
        assert_eq!(hash_of("foo-0123456789abcdef0"), None);
    }

    #[test]
    fn messages_name_units_and_uplifted_binaries() {
        let mut u = Units::default();
        u.add_message(r#"{"reason":"compiler-artifact","filenames":["/t/debug/deps/libring-32ca3fcedcc19540.rlib","/t/debug/deps/libring-32ca3fcedcc19540.rmeta"]}"#);
        u.add_message(
            r#"{"reason":"compiler-artifact","filenames":["/t/debug/build/ring-4fb3893f62c8a082/build-script-build"]}"#,
        );
        u.add_message(r#"{"reason":"build-script-executed","out_dir":"/t/debug/build/ring-1111111111111111/out"}"#);
        u.add_message(r#"{"reason":"compiler-artifact","filenames":["/t/debug/resonance-desktop"]}"#);
        u.add_message(r#"{"reason":"build-finished","success":true}"#);
        u.add_message("not json");
        let mut hashes: Vec<&str> = u.hashes.iter().map(String::as_str).collect();
        hashes.sort_unstable();
        assert_eq!(hashes, ["1111111111111111", "32ca3fcedcc19540", "4fb3893f62c8a082"]);
        assert_eq!(u.uplifted, [std::path::PathBuf::from("/t/debug/resonance-desktop")]);
    }

    #[test]
    fn a_sweep_keeps_used_and_new_units_and_removes_the_rest() {
        let root = std::env::temp_dir().join(format!("xtask-sweep-{}", std::process::id()));
        let debug = root.join("debug");
        for d in ["deps", "build/ring-1111111111111111/out", ".fingerprint/old-2222222222222222", "incremental/x-abc"] {
            std::fs::create_dir_all(debug.join(d)).unwrap();
        }
        let write = |p: &str| std::fs::write(debug.join(p), b"12345678").unwrap();
        write("deps/libkept-1111111111111111.rlib");
        write("deps/old-2222222222222222");
        write("deps/old-2222222222222222.d");
        write("deps/bin-3333333333333333");
        std::fs::hard_link(debug.join("deps/bin-3333333333333333"), debug.join("bin")).unwrap();
        // Everything above counts as old: the run "started" after it was written.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let since = SystemTime::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write("deps/new-4444444444444444");
        let mut keep = Units::default();
        keep.add_message(&format!(
            r#"{{"reason":"build-script-executed","out_dir":"{}"}}"#,
            debug.join("build/ring-1111111111111111/out").display()
        ));
        keep.add_message(&format!(
            r#"{{"reason":"compiler-artifact","filenames":["{}"]}}"#,
            debug.join("bin").display()
        ));
        let freed = sweep(&root, keep, since).unwrap();
        let exists = |p: &str| debug.join(p).exists();
        assert!(exists("deps/libkept-1111111111111111.rlib") && exists("build/ring-1111111111111111/out"));
        assert!(exists("deps/bin-3333333333333333") && exists("bin"), "an uplifted binary keeps its unit");
        assert!(exists("deps/new-4444444444444444"), "what the run wrote stays");
        assert!(!exists("deps/old-2222222222222222") && !exists("deps/old-2222222222222222.d"));
        assert!(!exists(".fingerprint/old-2222222222222222") && !exists("incremental/x-abc"));
        assert_eq!(freed, 16);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
