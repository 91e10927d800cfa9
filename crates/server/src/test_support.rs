//! The real server for tests (feature `test-support`): a fresh database per server in the
//! Postgres that `cargo xtask test` starts (`RESONANCE_TEST_DATABASE_URL`), migrated, served on
//! a local port that can be closed and opened again at the same address. Used by the server's
//! own integration tests and by the desktop's and the CLI's (`tests/`), so both start the same
//! server the same way.
//!
//! A test harness: a setup that cannot be done is a failed test, so this module panics where
//! the server's code would return an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::{DatabaseUrl, JwtSecret};
use crate::{serve, Db, Settings};

/// The token signing key of every test server.
pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// Connections of the server's own pool.
const POOL: u32 = 20;

/// The test cluster's URL (its `postgres` database, as its superuser).
pub fn cluster_url() -> String {
    std::env::var("RESONANCE_TEST_DATABASE_URL")
        .expect("RESONANCE_TEST_DATABASE_URL is not set: run the tests with `cargo xtask test`, which starts Postgres")
}

/// Creates an empty database in the test cluster and returns its URL (as the superuser).
pub async fn fresh_database() -> String {
    let admin = cluster_url();
    let name = format!("t_{}", Uuid::new_v4().simple());
    let pool = PgPoolOptions::new().max_connections(1).connect(&admin).await.expect("connect to the test cluster");
    // The name is ours (a UUID's hex), never input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
    pool.close().await;
    let slash = admin.rfind('/').expect("RESONANCE_TEST_DATABASE_URL names a database");
    format!("{}/{name}", &admin[..slash])
}

/// One server on its own database.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub db_url: String,
    /// The superuser's pool on the test database, for arranging and inspecting state.
    pub owner: PgPool,
    pub http: reqwest::Client,
    port: u16,
    settings: Settings,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server on a fresh, migrated database, with settings `tune` changed.
    pub async fn start_with(tune: impl FnOnce(&mut Settings)) -> Self {
        let db_url = fresh_database().await;
        let db = Db::connect(&DatabaseUrl::parse(&db_url).unwrap(), POOL).await.unwrap();
        db.migrate().await.unwrap();
        Self::serve_on(db_url, db, tune).await
    }

    /// A server on a database the caller prepared.
    pub async fn serve_on(db_url: String, db: Db, tune: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Settings::new(JwtSecret::parse(SECRET).unwrap());
        // Every test signs its members in from one address; the rate is tested on its own.
        settings.auth_per_minute = 1_000_000;
        tune(&mut settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let owner = PgPoolOptions::new().max_connections(12).connect(&db_url).await.unwrap();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let mut this = Self {
            base: format!("http://127.0.0.1:{port}"),
            db_url,
            owner,
            http,
            port,
            settings,
            stop: None,
            task: None,
        };
        this.serve(listener, db);
        this
    }

    fn serve(&mut self, listener: tokio::net::TcpListener, db: Db) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let settings = self.settings.clone();
        self.task = Some(tokio::spawn(async move {
            serve(db, settings, listener, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        }));
        self.stop = Some(stop);
    }

    /// The settings the server runs with (its storage, to read what was stored).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Changes the settings the server has from its next `restart` on.
    pub fn tune(&mut self, f: impl FnOnce(&mut Settings)) {
        f(&mut self.settings);
    }

    /// Stops answering once in-flight requests are done: the port is closed, as when the
    /// network is gone.
    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }

    /// Serves again at the same address.
    pub async fn restart(&mut self) {
        let db = Db::connect(&DatabaseUrl::parse(&self.db_url).unwrap(), POOL).await.unwrap();
        let mut listener = None;
        for _ in 0..100 {
            match tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        self.serve(listener.expect("the port came free again"), db);
    }

    /// Stops the server for good and waits for it to finish in-flight requests.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    /// Uploads `bytes` through tus in one chunk for `project`, named `name`, as `purpose`
    /// (`audio` or `footage`); the upload's location (`/v1/uploads/ID`).
    pub async fn upload(&self, token: &str, project: &str, bytes: &[u8], name: &str, purpose: &str) -> String {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let created = self
            .http
            .post(format!("{}/v1/uploads", self.base))
            .bearer_auth(token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", bytes.len().to_string())
            .header(
                "Upload-Metadata",
                format!("project_id {},filename {},purpose {}", b64(project), b64(name), b64(purpose)),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED, "{name}");
        let location = created.headers()["location"].to_str().unwrap().to_owned();
        let sent = self
            .http
            .patch(format!("{}{location}", self.base))
            .bearer_auth(token)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", "0")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::NO_CONTENT, "{name}: {}", sent.text().await.unwrap_or_default());
        location
    }

    /// One request; the answer's status and its body as JSON (`Null` when empty, a string when
    /// it is not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
