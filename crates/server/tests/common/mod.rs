//! Test harness: a fresh database per test in the Postgres that `cargo xtask test` starts
//! (RESONANCE_TEST_DATABASE_URL), migrated, with the real server on 127.0.0.1:0.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod stripe;

use reqwest::{Method, StatusCode};
use resonance_server::{Db, Settings};
use serde_json::{json, Value};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

// Each test crate uses some of these.
#[allow(unused_imports)]
pub use resonance_server::test_support::{cluster_url, fresh_database, SECRET};

pub const PASSWORD: &str = "correct horse battery staple";

/// The shared test server (`resonance_server::test_support`) with the arrangements these tests
/// make through it.
pub struct TestServer(resonance_server::test_support::TestServer);

impl std::ops::Deref for TestServer {
    type Target = resonance_server::test_support::TestServer;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for TestServer {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self(resonance_server::test_support::TestServer::start().await)
    }

    pub async fn start_with(tune: impl FnOnce(&mut Settings)) -> Self {
        Self(resonance_server::test_support::TestServer::start_with(tune).await)
    }

    pub async fn serve_on(db_url: String, db: Db, tune: impl FnOnce(&mut Settings)) -> Self {
        Self(resonance_server::test_support::TestServer::serve_on(db_url, db, tune).await)
    }

    /// Stops the server and waits for it to finish in-flight requests.
    pub async fn shutdown(self) {
        self.0.shutdown().await;
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Signs up a new organization's owner.
    pub async fn signup(&self, email: &str, organization: &str) -> Session {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/auth/signup",
                None,
                Some(json!({"email": email, "password": PASSWORD, "name": email, "organization_name": organization})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Session::from(&body)
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "password", "email": email, "password": password})),
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "refresh_token", "refresh_token": refresh_token})),
        )
        .await
    }

    /// Invites `email` with `role` as `admin` and signs the invitee up.
    pub async fn add_member(&self, admin: &Session, email: &str, role: &str) -> Session {
        let (status, inv) = self.post("/v1/members", &admin.access, json!({"email": email, "role": role})).await;
        assert_eq!(status, StatusCode::CREATED, "{inv}");
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/auth/signup",
                None,
                Some(json!({"email": email, "password": PASSWORD, "name": email, "invite_token": inv["invite_token"]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Session::from(&body)
    }

    /// An organization with one member of each role.
    pub async fn organization(&self, tag: &str) -> Org {
        let owner = self.signup(&format!("owner@{tag}.test"), &format!("Org {tag}")).await;
        let admin = self.add_member(&owner, &format!("admin@{tag}.test"), "admin").await;
        let developer = self.add_member(&owner, &format!("developer@{tag}.test"), "developer").await;
        let viewer = self.add_member(&owner, &format!("viewer@{tag}.test"), "viewer").await;
        Org { id: owner.organization_id, owner, admin, developer, viewer }
    }

    /// A generation of `project`, inserted directly (starting generations is the render pipeline's).
    pub async fn insert_generation(&self, org: &Org, project: Uuid, seed: &str, number: i32) -> Uuid {
        sqlx::query_scalar(
            "INSERT INTO generations (project_id, organization_id, user_id, seed, generation_number) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(project)
        .bind(org.id)
        .bind(org.developer.user_id)
        .bind(seed)
        .bind(number)
        .fetch_one(&self.owner)
        .await
        .unwrap()
    }

    /// `POST /v1/projects/{project}/generations` with the given Idempotency-Key.
    /// A footage item of `project` (a finished footage upload and its row), written as the owner:
    /// a 2-second 320×240 clip whose file is not stored.
    pub async fn insert_footage(&self, org: &Org, project: Uuid, name: &str) -> Uuid {
        let id = Uuid::new_v4();
        let sha = format!("{:064x}", id.as_u128());
        let key = format!("{}/{project}/footage/{id}/source.mp4", org.id);
        sqlx::query(
            "INSERT INTO uploads (id, organization_id, project_id, user_id, length, \"offset\", state, object_key, sha256, \
               duration, expires_at, purpose) VALUES ($1, $2, $3, $4, 1000, 1000, 'complete', $5, $6, 2, now(), 'footage')",
        )
        .bind(id)
        .bind(org.id)
        .bind(project)
        .bind(org.developer.user_id)
        .bind(&key)
        .bind(&sha)
        .execute(&self.owner)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO footage (id, organization_id, project_id, user_id, kind, filename, object_key, poster_key, sha256, \
               size, duration, width, height, codec, position) \
             VALUES ($1, $2, $3, $4, 'video', $5, $6, $7, $8, 1000, 2, 320, 240, 'h264', \
               (SELECT coalesce(max(position) + 1, 0) FROM footage WHERE project_id = $3))",
        )
        .bind(id)
        .bind(org.id)
        .bind(project)
        .bind(org.developer.user_id)
        .bind(name)
        .bind(&key)
        .bind(key.replace("source.mp4", "poster.jpg"))
        .bind(&sha)
        .execute(&self.owner)
        .await
        .unwrap();
        id
    }

    pub async fn start_generation(&self, token: &str, project: &str, key: Uuid, body: Value) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(format!("{}/v1/projects/{project}/generations", self.base))
            .bearer_auth(token)
            .header("Idempotency-Key", key.to_string())
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Uploads `bytes` as `project`'s audio through tus in one chunk; the stored object's key.
    pub async fn upload_audio(&self, token: &str, project: &str, bytes: &[u8]) -> String {
        self.upload(token, project, bytes, "track.wav", "audio").await;
        let (_, p) = self.get(&format!("/v1/projects/{project}"), token).await;
        p["audio_path"].as_str().unwrap().to_owned()
    }

    /// Uploads `bytes` as footage of `project` named `name`, in one chunk; the item's id.
    pub async fn upload_footage(&self, token: &str, project: &str, bytes: &[u8], name: &str) -> String {
        let location = self.upload(token, project, bytes, name, "footage").await;
        location.rsplit('/').next().unwrap().to_owned()
    }

    /// A transaction as the server's request role with this user's claims (no session check).
    pub async fn as_app(&self, user: Option<Uuid>) -> Transaction<'static, Postgres> {
        let mut tx = self.owner.begin().await.unwrap();
        let claims = user.map(|u| json!({"sub": u, "role": "authenticated"}).to_string()).unwrap_or_default();
        sqlx::query("SELECT set_config('role', 'resonance_app', true), set_config('request.jwt.claims', $1, true)")
            .bind(claims)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user_id: Uuid,
    pub organization_id: Uuid,
}

impl From<&Value> for Session {
    fn from(body: &Value) -> Self {
        Self {
            access: body["access_token"].as_str().expect("access_token").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
            user_id: body["user"]["id"].as_str().unwrap().parse().unwrap(),
            organization_id: body["user"]["organization_id"].as_str().unwrap().parse().unwrap(),
        }
    }
}

pub struct Org {
    pub id: Uuid,
    pub owner: Session,
    pub admin: Session,
    pub developer: Session,
    pub viewer: Session,
}

impl Org {
    pub fn by_role(&self, role: &str) -> &Session {
        match role {
            "owner" => &self.owner,
            "admin" => &self.admin,
            "developer" => &self.developer,
            "viewer" => &self.viewer,
            other => panic!("no role {other}"),
        }
    }
}

pub fn new_project(name: &str) -> Value {
    json!({"name": name, "prompt": "neon rain on a night highway", "audio_path": format!("{name}.flac"), "audio_duration": 183.5})
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// Every file below `dir` (object storage on disk), however deep.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                out.extend(files_under(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// A 16-bit PCM WAV file of `samples` (interleaved when `channels` > 1).
pub fn wav_file(samples: &[i16], channels: u16, rate: u32) -> Vec<u8> {
    resonance_audio::wav::pcm16_file(samples, channels, rate)
}
