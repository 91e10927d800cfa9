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
use resonance_server::config::DatabaseUrl;
use resonance_server::{Db, Settings};
use serde_json::{json, Value};
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";

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

/// The server (`resonance_server::test_support`) storing uploads in a directory of its own; it
/// can be stopped and started again at the same address.
pub struct Backend {
    server: resonance_server::test_support::TestServer,
    /// The object-storage directory uploads land in.
    pub storage: tempfile::TempDir,
}

impl std::ops::Deref for Backend {
    type Target = resonance_server::test_support::TestServer;
    fn deref(&self) -> &Self::Target {
        &self.server
    }
}

impl std::ops::DerefMut for Backend {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.server
    }
}

impl Backend {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut Settings)) -> Self {
        let storage = tempfile::tempdir().unwrap();
        let objects = resonance_server::objects::open(storage.path().to_str().unwrap()).unwrap();
        let server = resonance_server::test_support::TestServer::start_with(|settings| {
            settings.storage = objects;
            tune(settings);
        })
        .await;
        Self { server, storage }
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
    /// A project made through the API from `project` (its fields but the audio's), with `track`
    /// uploaded as its audio and `footage` after it in order, then rendered by a worker with
    /// `generate`'s options; returns once the render is complete, as (project id, generation).
    pub async fn rendered_project(
        &self,
        token: &str,
        mut project: Value,
        track: &Path,
        footage: &[&Path],
        generate: Value,
    ) -> (String, Value) {
        let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
        project["audio_path"] = json!(name(track));
        let (status, made) = self.call(reqwest::Method::POST, "/v1/projects", Some(token), Some(project)).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let id = made["id"].as_str().unwrap().to_owned();
        self.upload(token, &id, &std::fs::read(track).unwrap(), &name(track), "audio").await;
        for f in footage {
            self.upload(token, &id, &std::fs::read(f).unwrap(), &name(f), "footage").await;
        }
        let started = self
            .http
            .post(format!("{}/v1/projects/{id}/generations", self.base))
            .bearer_auth(token)
            .header("Idempotency-Key", Uuid::new_v4().to_string())
            .json(&generate)
            .send()
            .await
            .unwrap();
        assert!(started.status().is_success(), "{:?}", started.text().await);
        let generation: Value = started.json().await.unwrap();
        let path = format!("/v1/projects/{id}/generations");
        for _ in 0..720 {
            let (_, list) = self.call(reqwest::Method::GET, &path, Some(token), None).await;
            let now = list.as_array().and_then(|l| l.iter().find(|g| g["id"] == generation["id"]).cloned());
            match now.as_ref().and_then(|g| g["status"].as_str()) {
                Some("completed") => return (id, now.unwrap_or_default()),
                Some("failed") => panic!("the render failed: {now:?}"),
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
        panic!("the render did not finish in three minutes");
    }

    /// A render worker on this backend's database and storage, stopped when the handle is
    /// dropped or aborted.
    pub async fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        let db = Db::connect_worker(&DatabaseUrl::parse(&self.db_url).unwrap(), 4).await.unwrap();
        let storage = self.settings().storage.clone();
        let settings =
            resonance_server::worker::WorkerSettings { idle_poll: Duration::from_millis(100), ..Default::default() };
        tokio::spawn(resonance_server::worker::run(db, storage, settings, std::future::pending()))
    }

    pub fn db_url(&self) -> String {
        self.db_url.clone()
    }

    pub fn storage_handle(&self) -> std::sync::Arc<dyn object_store::ObjectStore> {
        self.settings().storage.clone()
    }

    /// Every project's name, by id, straight from the database (all pages, any count).
    pub async fn projects_all(&self, _token: &str) -> std::collections::BTreeMap<String, String> {
        let rows: Vec<(Uuid, String)> =
            sqlx::query_as("SELECT id, name FROM projects").fetch_all(&self.owner).await.unwrap();
        rows.into_iter().map(|(id, name)| (id.to_string(), name)).collect()
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
