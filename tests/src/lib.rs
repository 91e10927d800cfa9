//! Test harness for Resonance's integration and end-to-end tests: a real Secret Service
//! (gnome-keyring-daemon on a private D-Bus session bus), the real server on a real Postgres (a
//! fresh database per test, in the cluster that `cargo xtask test` starts) with a real render
//! worker, and, for the desktop, the app in a real window under Xvfb driven over WebDriver
//! (`desktop`, `webdriver`). Everything a test starts is stopped when its value is dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod desktop;
pub mod webdriver;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use resonance_server::config::{DatabaseUrl, JwtSecret};
use resonance_server::{serve, Db, Settings};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";
const SECRET: &str = "cli-test-secret-cli-test-secret-0123456789";

/// A private D-Bus session with an unlocked GNOME Keyring, in its own temporary home.
pub struct Keyring {
    pub dir: tempfile::TempDir,
    bus: Child,
    keyring: Child,
}

impl Keyring {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home", "run"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let address = format!("unix:path={}", dir.path().join("bus").display());
        let bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", &format!("--address={address}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon is needed: run the tests with `cargo xtask test`, which installs it");
        let socket = dir.path().join("bus");
        for _ in 0..100 {
            if socket.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .envs(Self::env_of(dir.path(), &address))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon is needed: run the tests with `cargo xtask test`, which installs it");
        {
            use std::io::Write;
            let mut stdin = keyring.stdin.take().unwrap();
            stdin.write_all(b"keyring-password").unwrap();
        }
        let this = Self { dir, bus, keyring };
        // Ready when the Secret Service owns its name on the bus.
        for _ in 0..200 {
            let out = Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .envs(this.env())
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return this;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the Secret Service did not come up");
    }

    fn env_of(dir: &Path, address: &str) -> Vec<(String, String)> {
        vec![
            ("DBUS_SESSION_BUS_ADDRESS".into(), address.into()),
            ("HOME".into(), dir.join("home").display().to_string()),
            ("XDG_RUNTIME_DIR".into(), dir.join("run").display().to_string()),
            ("XDG_DATA_HOME".into(), dir.join("home/.local/share").display().to_string()),
        ]
    }

    pub fn env(&self) -> Vec<(String, String)> {
        Self::env_of(self.dir.path(), &format!("unix:path={}", self.dir.path().join("bus").display()))
    }

    /// Every secret the app stored, as `secret-tool` shows them.
    pub fn secrets(&self) -> Vec<String> {
        let out = Command::new("secret-tool")
            .args(["search", "--all", "--unlock", "service", resonance_client::keyring::SERVICE])
            .envs(self.env())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        text.lines().filter_map(|l| l.strip_prefix("secret = ")).map(str::to_owned).collect()
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.keyring.wait();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

fn cluster_url() -> String {
    std::env::var("RESONANCE_TEST_DATABASE_URL")
        .expect("RESONANCE_TEST_DATABASE_URL is not set: run the tests with `cargo xtask test`, which starts Postgres")
}

/// Stands in for Stripe's API, which cannot run here: answers `POST /v1/checkout/sessions` and
/// `POST /v1/billing_portal/sessions` as Stripe does (a session with its `url`), for the key
/// `sk_test_resonance` only.
pub struct StripeStandIn {
    pub base: String,
    pub key: &'static str,
    task: tokio::task::JoinHandle<()>,
}

impl StripeStandIn {
    pub async fn start() -> Self {
        async fn session(headers: axum::http::HeaderMap, uri: axum::http::Uri) -> (StatusCode, axum::Json<Value>) {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer sk_test_resonance") {
                let error = json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}});
                return (StatusCode::UNAUTHORIZED, axum::Json(error));
            }
            let id = Uuid::new_v4().simple();
            let url = if uri.path().contains("checkout") {
                format!("https://checkout.stripe.com/c/pay/cs_test_{id}")
            } else {
                format!("https://billing.stripe.com/p/session/test_{id}")
            };
            (StatusCode::OK, axum::Json(json!({"id": id.to_string(), "url": url})))
        }
        let app = axum::Router::new()
            .route("/v1/checkout/sessions", axum::routing::post(session))
            .route("/v1/billing_portal/sessions", axum::routing::post(session));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, key: "sk_test_resonance", task }
    }
}

impl Drop for StripeStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The server on a fixed local port, which can be stopped and started again at the same address.
pub struct Backend {
    pub base: String,
    /// The object-storage directory uploads land in.
    pub storage: tempfile::TempDir,
    port: u16,
    settings: Settings,
    db_url: String,
    pub owner: PgPool,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Backend {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut Settings)) -> Self {
        let storage = tempfile::tempdir().unwrap();
        let mut settings = Settings::new(JwtSecret::parse(SECRET).unwrap());
        settings.storage = resonance_server::objects::open(storage.path().to_str().unwrap()).unwrap();
        // Every test signs in from one address; the rate is the server's tests' to check.
        settings.auth_per_minute = 1_000_000;
        tune(&mut settings);
        let admin = cluster_url();
        let name = format!("c_{}", Uuid::new_v4().simple());
        let pool = PgPoolOptions::new().max_connections(1).connect(&admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
        pool.close().await;
        let db_url = format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]);
        let db = Db::connect(&DatabaseUrl::parse(&db_url).unwrap(), 16).await.unwrap();
        db.migrate().await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let owner = PgPoolOptions::new().max_connections(4).connect(&db_url).await.unwrap();
        let mut this = Self {
            base: format!("http://127.0.0.1:{port}"),
            storage,
            port,
            settings,
            db_url,
            owner,
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

    /// Changes the settings the server has from its next `restart` on.
    pub fn tune(&mut self, f: impl FnOnce(&mut Settings)) {
        f(&mut self.settings);
    }

    /// Delivers a Stripe event to the webhook, signed now with `secret` as Stripe signs it;
    /// returns the outcome the server answered.
    pub async fn deliver_stripe_event(&self, secret: &str, event: &Value) -> String {
        let body = event.to_string();
        let header = resonance_server::billing::signature::sign(
            body.as_bytes(),
            secret.as_bytes(),
            chrono::Utc::now().timestamp(),
        );
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/billing/stripe/webhook", self.base))
            .header("Stripe-Signature", header)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "the webhook refused the event");
        let v: Value = resp.json().await.unwrap();
        v["outcome"].as_str().unwrap_or_default().to_owned()
    }

    /// Stops answering: the port is closed, as when the network is gone.
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
        let db = Db::connect(&DatabaseUrl::parse(&self.db_url).unwrap(), 16).await.unwrap();
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

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = reqwest::Client::new().request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
    }

    /// Writes `count` completed projects of `user` in `organization` straight into the
    /// database, as fixtures for long lists (sync picks them up like any other change). They
    /// are named "{prefix} 0001" onwards, a minute apart with the last the newest, and project
    /// n's prompt ends in "music video, number n".
    pub async fn add_projects(&self, organization: Uuid, user: Uuid, prefix: &str, count: i64) {
        sqlx::query(
            "INSERT INTO projects (organization_id, user_id, name, prompt, audio_path, description, audio_duration,
                                   status, updated_at)
             SELECT $1, $2, $3 || ' ' || lpad(g::text, greatest(4, length($4::text)), '0'),
                    'a prompt of a realistic length for a music video, number ' || g, 'track ' || g || '.mp3',
                    'notes ' || g, 120 + g % 120, 'completed', now() - ($4 - g) * interval '1 minute'
             FROM generate_series(1, $4) g",
        )
        .bind(organization)
        .bind(user)
        .bind(prefix)
        .bind(count)
        .execute(&self.owner)
        .await
        .unwrap();
    }

    /// Signs up the owner of a new organization; returns (access token, body).
    pub async fn signup(&self, email: &str, organization: &str) -> (String, Value) {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/v1/auth/signup",
                None,
                Some(json!({"email": email, "password": PASSWORD, "name": email, "organization_name": organization})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (body["access_token"].as_str().unwrap().to_owned(), body)
    }

    /// Signs in with a password; returns the access token (the answer must be a success).
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let (status, body) = self.password_grant(email, password).await;
        assert!(status.is_success(), "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// `POST /v1/auth/token` with a password, as it answered.
    pub async fn password_grant(&self, email: &str, password: &str) -> (StatusCode, Value) {
        let body = json!({"grant_type": "password", "email": email, "password": password});
        self.call(reqwest::Method::POST, "/v1/auth/token", None, Some(body)).await
    }

    /// Invites `email` with `role` into the inviter's organization; returns the invitation code.
    pub async fn invite(&self, inviter: &str, email: &str, role: &str) -> String {
        let (status, inv) = self
            .call(reqwest::Method::POST, "/v1/members", Some(inviter), Some(json!({"email": email, "role": role})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{inv}");
        inv["invite_token"].as_str().expect("a server without e-mail hands the code to the inviter").to_owned()
    }

    /// Invites `email` with `role` into the inviter's organization and signs them up.
    pub async fn add_member(&self, inviter: &str, email: &str, role: &str) -> (String, Value) {
        let code = self.invite(inviter, email, role).await;
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/v1/auth/signup",
                None,
                Some(json!({"email": email, "password": PASSWORD, "name": email, "invite_token": code})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (body["access_token"].as_str().unwrap().to_owned(), body)
    }

    /// The organization's projects as the server has them, by id.
    pub async fn projects(&self, token: &str) -> std::collections::BTreeMap<String, Value> {
        let (status, list) = self.call(reqwest::Method::GET, "/v1/projects?limit=1000", Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list.as_array().unwrap().iter().map(|p| (p["id"].as_str().unwrap().to_owned(), p.clone())).collect()
    }
}

impl Backend {
    /// A render worker on this backend's database and storage, stopped when the handle is
    /// dropped or aborted.
    pub async fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        let db = Db::connect_worker(&DatabaseUrl::parse(&self.db_url).unwrap(), 4).await.unwrap();
        let storage = self.settings.storage.clone();
        let settings =
            resonance_server::worker::WorkerSettings { idle_poll: Duration::from_millis(100), ..Default::default() };
        tokio::spawn(resonance_server::worker::run(db, storage, settings, std::future::pending()))
    }

    pub fn db_url(&self) -> String {
        self.db_url.clone()
    }

    pub fn storage_handle(&self) -> std::sync::Arc<dyn object_store::ObjectStore> {
        self.settings.storage.clone()
    }

    /// Every project's name, by id, straight from the database (all pages, any count).
    pub async fn projects_all(&self, _token: &str) -> std::collections::BTreeMap<String, String> {
        let rows: Vec<(Uuid, String)> =
            sqlx::query_as("SELECT id, name FROM projects").fetch_all(&self.owner).await.unwrap();
        rows.into_iter().map(|(id, name)| (id.to_string(), name)).collect()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A short WAV (a 440 Hz tone) for `project create --audio`.
pub fn tone_wav(dir: &Path, name: &str, seconds: f64) -> PathBuf {
    let rate = 44_100u32;
    let frames = (f64::from(rate) * seconds) as u32;
    let samples: Vec<i16> = (0..frames)
        .map(|i| ((f64::from(i) / f64::from(rate) * 440.0 * std::f64::consts::TAU).sin() * 12_000.0) as i16)
        .collect();
    let wav = resonance_audio::wav::pcm16_file(&samples, 1, rate);
    let path = dir.join(name);
    std::fs::write(&path, wav).unwrap();
    path
}
