//! A loopback HTTP server for the audio and video the webview plays. WebKitGTK's media player
//! (GStreamer) cannot read Tauri's custom `asset:` scheme (WebKit bug 146351), but plays HTTP
//! with range requests, so seeking works without loading whole files into memory. Invariants:
//! it listens on 127.0.0.1 only, and serves only the files the app registered, each under an
//! unguessable random name; anything else is 404.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use uuid::Uuid;

#[derive(Clone, Default)]
struct Files {
    by_token: Arc<Mutex<HashMap<String, PathBuf>>>,
}

pub struct MediaServer {
    base: String,
    files: Files,
}

impl MediaServer {
    /// Binds a free port on 127.0.0.1 and serves until the app exits.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let files = Files::default();
        let app = axum::Router::new().route("/media/{token}", axum::routing::get(serve)).with_state(files.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the media server stopped");
            }
        });
        Ok(Self { base, files })
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

async fn serve(State(files): State<Files>, UrlPath(token): UrlPath<String>, request: Request) -> Response {
    let path = files.by_token.lock().unwrap_or_else(|p| p.into_inner()).get(&token).cloned();
    let Some(path) = path else { return StatusCode::NOT_FOUND.into_response() };
    match tower_http::services::ServeFile::new(path).oneshot(request).await {
        Ok(resp) => resp.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
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
}
