//! A loopback HTTP server for the audio and video the webview plays. WebKitGTK's media player
//! (GStreamer) cannot read Tauri's custom `asset:` scheme (WebKit bug 146351), but plays HTTP
//! with range requests, so seeking works without loading whole files into memory. Invariants:
//! it listens on 127.0.0.1 only, and serves only the files the app registered, each under an
//! unguessable random name; anything else is 404.
//!
//! It also serves the live look preview's frames (`/look/<secret>?track=…&t=…`), raw RGBA bytes a
//! canvas takes as they are: a Tauri command's answer would be JSON, far too slow for 24 frames
//! a second. The drawing itself is `resonance_client::look`; this only translates.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use resonance_api::model::StylePreference;
use resonance_client::look::LookPreview;
use resonance_client::ClientError;
use resonance_visuals::ProjectLook;
use tower::ServiceExt;
use uuid::Uuid;

#[derive(Clone, Default)]
struct Files {
    by_token: Arc<Mutex<HashMap<String, PathBuf>>>,
}

pub struct MediaServer {
    base: String,
    files: Files,
    look_secret: String,
    /// The tracks and plan of the live look preview.
    pub looks: Arc<LookPreview>,
}

#[derive(Clone)]
struct Shared {
    files: Files,
    looks: Arc<LookPreview>,
    look_secret: String,
}

/// A look preview frame request: the look, the seed, the time and the size.
#[derive(Debug, serde::Deserialize)]
struct LookQuery {
    track: String,
    seed: String,
    #[serde(default)]
    prompt: String,
    style: StylePreference,
    intensity: f64,
    footage: f64,
    t: f64,
    w: u32,
    h: u32,
}

impl MediaServer {
    /// Binds a free port on 127.0.0.1 and serves until the app exits.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let files = Files::default();
        let looks = Arc::new(LookPreview::default());
        let look_secret = Uuid::new_v4().simple().to_string();
        let shared = Shared { files: files.clone(), looks: looks.clone(), look_secret: look_secret.clone() };
        let app = axum::Router::new()
            .route("/media/{token}", axum::routing::get(serve))
            .route("/look/{secret}", axum::routing::get(look_frame))
            .with_state(shared);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the media server stopped");
            }
        });
        Ok(Self { base, files, look_secret, looks })
    }

    /// Where the webview fetches look preview frames (add the `LookQuery` parameters).
    pub fn look_url(&self) -> String {
        format!("{}/look/{}", self.base, self.look_secret)
    }

    /// The URL the webview plays `path` from (the same URL for the same file).
    pub fn url_for(&self, path: &Path) -> String {
        let mut map = self.files.by_token.lock().unwrap_or_else(|p| p.into_inner());
        let token = match map.iter().find(|(_, p)| p.as_path() == path) {
            Some((t, _)) => t.clone(),
            None => {
                let t = Uuid::new_v4().simple().to_string();
                map.insert(t.clone(), path.to_path_buf());
                t
            }
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // The file name after the token only helps a media player guess the type.
        format!(
            "{}/media/{token}?name={}",
            self.base,
            name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "_")
        )
    }
}

async fn serve(State(shared): State<Shared>, UrlPath(token): UrlPath<String>, request: Request) -> Response {
    let path = shared.files.by_token.lock().unwrap_or_else(|p| p.into_inner()).get(&token).cloned();
    let Some(path) = path else { return StatusCode::NOT_FOUND.into_response() };
    match tower_http::services::ServeFile::new(path).oneshot(request).await {
        Ok(resp) => resp.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The webview's page (tauri://localhost) fetches across origins: the secret in the path, not
/// the origin, is what keeps other pages out.
fn cors() -> (header::HeaderName, &'static str) {
    (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
}

async fn look_frame(
    State(shared): State<Shared>,
    UrlPath(secret): UrlPath<String>,
    query: Result<Query<LookQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if secret != shared.look_secret {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, e.body_text()).into_response(),
    };
    let look =
        ProjectLook { prompt: q.prompt, style: q.style, effect_intensity: q.intensity, footage_visibility: q.footage };
    let looks = shared.looks.clone();
    let drawn = tokio::task::spawn_blocking(move || looks.frame_rgba(&q.track, &look, &q.seed, q.t, q.w, q.h)).await;
    let headers = [(header::CONTENT_TYPE, "application/octet-stream"), (header::CACHE_CONTROL, "no-store"), cors()];
    match drawn {
        Ok(Ok(rgba)) => (headers, rgba).into_response(),
        Ok(Err(e @ ClientError::NotFound { .. })) => (StatusCode::NOT_FOUND, [cors()], e.to_string()).into_response(),
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, [cors()], e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, [cors()], e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_registered_files_are_served_and_ranges_work() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("clip.wav");
        std::fs::write(&file, b"0123456789").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("secret.txt"), b"private").unwrap_or_else(|e| panic!("{e}"));
        let server = MediaServer::start().await.unwrap_or_else(|e| panic!("{e}"));
        let url = server.url_for(&file);
        assert_eq!(url, server.url_for(&file), "one URL per file");
        assert!(url.starts_with("http://127.0.0.1:"), "loopback only: {url}");
        let http = reqwest::Client::new();
        let part = http.get(&url).header("Range", "bytes=2-5").send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(part.status(), 206, "seeking needs range requests");
        assert_eq!(part.bytes().await.unwrap_or_default().as_ref(), b"2345");
        let base = url.split("/media/").next().unwrap_or_default().to_owned();
        for guess in
            ["/media/secret.txt", "/media/../secret.txt", "/secret.txt", "/media/00000000000000000000000000000000"]
        {
            let r = http.get(format!("{base}{guess}")).send().await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.status(), 404, "{guess} must not be served");
        }
    }

    #[tokio::test]
    async fn look_frames_are_raw_rgba_behind_the_secret() {
        let server = MediaServer::start().await.unwrap_or_else(|e| panic!("{e}"));
        let analysis: resonance_audio::Analysis = serde_json::from_value(serde_json::json!({
            "duration_seconds": 4.0, "frames": 176400, "sample_rate": 44100, "channels": 1, "bit_depth": 16,
            "codec": "pcm", "container": "wav", "sha256": "x", "tags": {"title": null, "artist": null, "album": null},
            "has_cover_art": false, "warnings": [], "tempo_bpm": 120.0, "tempo_confidence": 0.9,
            "beats": [0.5, 1.0], "downbeats": [0.5], "sections": [], "energy": [0.5, 0.6],
            "energy_hop_seconds": 0.1, "loudness_lufs": null, "true_peak_dbtp": null
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        server.looks.remember("track-1", analysis, std::sync::Arc::default());
        let http = reqwest::Client::new();
        let ask = |base: String, track: &str, w: u32| {
            let url = format!(
                "{base}?track={track}&seed=s1&prompt=neon%20rain&style=retro&intensity=0.5&footage=0.6&t=1.2&w={w}&h=27"
            );
            let http = http.clone();
            async move { http.get(url).send().await.unwrap_or_else(|e| panic!("{e}")) }
        };
        let frame = ask(server.look_url(), "track-1", 48).await;
        assert_eq!(frame.status(), 200);
        assert_eq!(frame.headers()["access-control-allow-origin"], "*", "the webview's page fetches across origins");
        let bytes = frame.bytes().await.unwrap_or_default();
        assert_eq!(bytes.len(), 48 * 27 * 4);
        assert!(bytes.chunks_exact(4).any(|p| p[0] > 10 || p[1] > 10 || p[2] > 10), "a drawn frame, not a black one");
        assert_eq!(ask(server.look_url(), "track-2", 48).await.status(), 404, "a track never previewed");
        assert_eq!(ask(server.look_url(), "track-1", 50_000).await.status(), 400, "too large a frame");
        let wrong = server.look_url().replace("/look/", "/look/0");
        assert_eq!(ask(wrong, "track-1", 48).await.status(), 404, "the secret is needed");
    }
}
