//! The `resonance` CLI's side of the test harness: a machine's `resonance` run as a child
//! process, as a creator's script would. The keyring, backend and worker come from
//! `resonance-e2e`, shared with the desktop's end-to-end suite.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Output, Stdio};

pub use resonance_e2e::{tone_wav, Backend, Keyring, PASSWORD};
use serde_json::Value;
use uuid::Uuid;

/// One machine's `resonance`: its keyring session, data directory and server address.
pub struct Machine<'k> {
    pub keyring: &'k Keyring,
    pub data: PathBuf,
    pub server: String,
}

impl<'k> Machine<'k> {
    pub fn new(keyring: &'k Keyring, server: &str) -> Self {
        let data = keyring.dir.path().join(format!("data-{}", Uuid::new_v4().simple()));
        Self { keyring, data, server: server.to_owned() }
    }

    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_resonance"));
        c.args(args)
            .envs(self.keyring.env())
            .env("RESONANCE_DATA_DIR", &self.data)
            .env("RESONANCE_SERVER", &self.server)
            .env("RESONANCE_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "resonance {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub async fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args).await).unwrap()
    }

    pub async fn login(&self, email: &str) -> Output {
        let mut c = self.command(&["login", email, "--password-stdin"]);
        c.stdin(Stdio::piped());
        let mut child = c.spawn().unwrap();
        {
            use tokio::io::AsyncWriteExt;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(format!("{PASSWORD}\n").as_bytes()).await.unwrap();
        }
        child.wait_with_output().await.unwrap()
    }

    /// The mirror's file of the signed-in account.
    pub fn mirror_path(&self) -> PathBuf {
        let current: Value =
            serde_json::from_slice(&std::fs::read(self.data.join("current-account.json")).unwrap()).unwrap();
        self.data.join("accounts").join(current["user_id"].as_str().unwrap()).join("mirror.sqlite")
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
