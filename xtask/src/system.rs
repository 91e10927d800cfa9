//! Running commands and installing what is missing. Invariant: as root, missing Debian packages
//! are installed with apt-get; otherwise the exact command to run is printed and xtask stops.

use std::process::Command;

use anyhow::{bail, Context, Result};

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} {:?} failed with {status}", cmd.get_program(), cmd.get_args().collect::<Vec<_>>());
    }
    Ok(())
}

pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Makes sure each (package, is-present check) holds, installing the missing packages at once.
pub fn ensure_packages(wanted: &[(&str, &dyn Fn() -> bool)]) -> Result<()> {
    let missing: Vec<&str> =
        wanted.iter().filter(|(p, present)| !present() && !dpkg_installed(p)).map(|(p, _)| *p).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    if !is_root() {
        bail!("missing packages: {list}\nInstall them with:\n  sudo apt-get update && sudo apt-get install -y {list}");
    }
    eprintln!("xtask: installing {list}");
    run(Command::new("apt-get").arg("update").arg("-qq"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
    .with_context(|| format!("apt-get could not install {list}"))
}
