//! A Postgres cluster that xtask owns: created with initdb in a directory of its own, on a free
//! loopback port, started and stopped with pg_ctl. Invariant: a throwaway cluster is stopped and
//! its directory removed when the guard drops, whatever way the run ends short of SIGKILL.
//!
//! initdb refuses to run as root, so as root the cluster belongs to the `postgres` system user
//! (created by Debian's postgresql package) and every server command runs through runuser.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::system::{is_root, run};

pub struct Cluster {
    bin: PathBuf,
    root: PathBuf,
    pub port: u16,
    throwaway: bool,
    running: bool,
}

/// The newest installed server's bin directory (Debian keeps them in /usr/lib/postgresql/N/bin).
pub fn find_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(l.local_addr()?.port())
}

impl Cluster {
    /// A fresh cluster in a new temporary directory, removed again on drop. Tuned for tests:
    /// no fsync (a crash loses nothing we want).
    pub fn throwaway() -> Result<Self> {
        let bin = find_bin_dir().context("PostgreSQL server binaries not found (apt-get install postgresql)")?;
        let root = std::env::temp_dir().join(format!("resonance-pg-{}-{}", std::process::id(), free_port()?));
        std::fs::create_dir_all(&root)?;
        let mut c = Self { bin, root, port: free_port()?, throwaway: true, running: false };
        c.init()?;
        c.start(&["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])?;
        Ok(c)
    }

    /// The development cluster: kept in `root` across runs, created on first use.
    pub fn persistent(root: &Path, port: u16) -> Result<Self> {
        let bin = find_bin_dir().context("PostgreSQL server binaries not found (apt-get install postgresql)")?;
        std::fs::create_dir_all(root)?;
        let mut c = Self { bin, root: root.to_owned(), port, throwaway: false, running: false };
        if !c.data_dir().join("PG_VERSION").exists() {
            c.init()?;
        }
        c.start(&[])?;
        Ok(c)
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// `postgres://postgres@127.0.0.1:PORT/DB` (trust authentication on loopback only).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn pg(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn init(&mut self) -> Result<()> {
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&self.root))?;
        }
        let mut c = self.pg("initdb");
        c.arg("-D").arg(self.data_dir()).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]);
        c.stdout(std::process::Stdio::null());
        run(&mut c).context("initdb failed")
    }

    fn start(&mut self, extra: &[&str]) -> Result<()> {
        let mut options =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200", self.port, self.root.display());
        for o in extra {
            options.push(' ');
            options.push_str(o);
        }
        let mut c = self.pg("pg_ctl");
        c.arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.root.join("postgres.log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(options)
            .arg("start");
        c.stdout(std::process::Stdio::null());
        if let Err(e) = run(&mut c) {
            let log = std::fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default();
            bail!("Postgres did not start: {e}\n{log}");
        }
        self.running = true;
        self.wait_ready()
    }

    fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("Postgres is not accepting connections on port {}", self.port)
    }

    /// Runs SQL through psql as the superuser.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(database))
            .args(["-c", sql])
            .output()
            .context("cannot run psql")?;
        if !out.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn psql_path(&self) -> PathBuf {
        self.bin.join("psql")
    }

    /// What stops this cluster (and removes a throwaway one's directory) from another thread,
    /// such as a signal handler's, when the process will end without dropping it.
    pub fn stopper(&self) -> impl Fn() + Send + 'static {
        let mut c = self.pg("pg_ctl");
        c.arg("-D").arg(self.data_dir()).args(["-m", "fast", "-w", "stop"]);
        c.stdout(std::process::Stdio::null());
        let stop = std::sync::Mutex::new(c);
        let remove = self.throwaway.then(|| self.root.clone());
        move || {
            if let Ok(mut c) = stop.lock() {
                let _ = c.status();
            }
            if let Some(root) = &remove {
                let _ = std::fs::remove_dir_all(root);
            }
        }
    }

    pub fn stop(&mut self) {
        if self.running {
            let mut c = self.pg("pg_ctl");
            c.arg("-D").arg(self.data_dir()).args(["-m", "fast", "-w", "stop"]);
            c.stdout(std::process::Stdio::null());
            if let Err(e) = run(&mut c) {
                eprintln!("warning: could not stop Postgres cleanly: {e}");
            }
            self.running = false;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        if self.throwaway {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}
