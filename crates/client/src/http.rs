//! The one way the client talks HTTP: every request gets the app's version, a timeout, and a
//! status classified into a `ClientError` the caller can act on. Tokens are added by
//! `Session::request`; nothing here logs a header or a body.

use std::time::Duration;

use rand::RngExt;
use reqwest::{Method, StatusCode};
use resonance_api::{ErrorBody, ErrorCode};
use uuid::Uuid;

use crate::error::{ClientError, Result};

pub const USER_AGENT: &str = concat!("resonance-client/", env!("CARGO_PKG_VERSION"));

/// A request's body.
#[derive(Debug, Clone)]
pub enum Payload<'a> {
    None,
    Json(&'a serde_json::Value),
    /// Raw bytes (a tus chunk); cheap to clone for a retry.
    Octets(bytes::Bytes),
}

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    server: String,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").field("server", &self.server).finish()
    }
}

impl Http {
    pub fn new(server: &str) -> Result<Self> {
        let server = server.trim_end_matches('/').to_owned();
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(ClientError::Invalid {
                field: "server".into(),
                message: format!("{server:?} is not an http:// or https:// URL"),
            });
        }
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(5))
            // Per read, not per request: uploads, downloads and the event stream last as long as
            // bytes keep coming (the event stream sends a keep-alive every 15 s).
            .read_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ClientError::Internal(format!("the HTTP client would not start: {e}")))?;
        Ok(Self { client, server })
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends one request with a JSON body (or none); `Ok` only for a 2xx answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&serde_json::Value>,
        idempotency_key: Option<Uuid>,
    ) -> Result<reqwest::Response> {
        let payload = body.map_or(Payload::None, Payload::Json);
        self.send_with(method, path, bearer, payload, &[], idempotency_key).await
    }

    /// Sends one request with any body and extra headers; `Ok` only for a 2xx answer.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        payload: Payload<'_>,
        headers: &[(&str, String)],
        idempotency_key: Option<Uuid>,
    ) -> Result<reqwest::Response> {
        let mut req = self.client.request(method, format!("{}{path}", self.server));
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key.to_string());
        }
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        req = match payload {
            Payload::None => req,
            Payload::Json(body) => req.json(body),
            Payload::Octets(bytes) => req.body(bytes),
        };
        let resp = req.send().await.map_err(|e| self.offline(&e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.offline(&e))?;
        Err(classify(status, &bytes))
    }

    fn offline(&self, e: &reqwest::Error) -> ClientError {
        let reason = if e.is_timeout() {
            "timed out".to_owned()
        } else if e.is_connect() {
            "connection refused or no route".to_owned()
        } else {
            // reqwest's text names the URL; ours carry no secrets (tokens travel in headers).
            e.to_string()
        };
        ClientError::Offline { server: self.server.clone(), reason }
    }
}

/// Backoff: the first retry after about this long, doubling up to the cap.
const BACKOFF_BASE_SECONDS: f64 = 2.0;
const BACKOFF_CAP_SECONDS: f64 = 900.0;

/// The delay before attempt `attempts + 1`: exponential, capped, with jitter (half to all of it),
/// so many clients coming back online do not retry in step.
pub fn backoff(attempts: u32) -> chrono::Duration {
    let full = (BACKOFF_BASE_SECONDS * 2f64.powi(attempts.saturating_sub(1).min(30) as i32)).min(BACKOFF_CAP_SECONDS);
    let jittered = rand::rng().random_range(full / 2.0..=full);
    chrono::Duration::milliseconds((jittered * 1000.0) as i64)
}

/// A non-2xx answer as an error: the server's own `{code, message}` when it sent one.
pub fn classify(status: StatusCode, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) if error.code == ErrorCode::ClientOutdated => {
            ClientError::UpdateRequired { message: error.message }
        }
        // 5xx answers the server wrote for the user (its database is away, billing is off or
        // Stripe is) are refusals with a message, not failures of the server.
        Ok(ErrorBody { error })
            if status.is_client_error()
                || matches!(
                    error.code,
                    ErrorCode::Unavailable | ErrorCode::BillingNotConfigured | ErrorCode::BillingUnavailable
                ) =>
        {
            ClientError::Refused {
                status: status.as_u16(),
                code: error.code,
                message: error.message,
                field: error.field,
            }
        }
        Ok(ErrorBody { error }) => ClientError::Server { status: status.as_u16(), message: error.message },
        Err(_) => ClientError::Server {
            status: status.as_u16(),
            message: status.canonical_reason().unwrap_or("unexpected answer").to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hosted server is https: the client must open it with a TLS handshake, whatever crate
    /// features the rest of a build happens to turn on (the app and the CLI are built alone;
    /// before reqwest's `rustls` was a workspace feature they could not speak TLS at all).
    #[tokio::test]
    async fn an_https_server_is_spoken_to_in_tls() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let first_bytes = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 3];
            socket.read_exact(&mut head).await.unwrap();
            // The socket stays open, so the client waits for an answer and cannot end first.
            (head, socket)
        });
        let http = Http::new(&format!("https://127.0.0.1:{port}")).unwrap();
        // No TLS answers, so the request fails; what matters is what it sent first.
        let sent =
            tokio::time::timeout(Duration::from_secs(10), http.send(Method::GET, "/v1/health", None, None, None));
        let (head, _socket) = tokio::select! {
            first = first_bytes => first.unwrap(),
            answer = sent => panic!("the request ended before it reached the server: {answer:?}"),
        };
        // A TLS record of type handshake (22), version 3.x: a ClientHello.
        assert_eq!(head[0], 22, "the client sent {head:?}, not a TLS handshake");
        assert_eq!(head[1], 3);
    }

    #[test]
    fn backoff_doubles_from_two_seconds_to_fifteen_minutes_with_jitter() {
        // (attempts, the full delay in seconds): each waits between half of it and all of it.
        for (attempts, full) in [(1, 2.0), (2, 4.0), (3, 8.0), (9, 512.0), (10, 900.0), (40, 900.0)] {
            for _ in 0..20 {
                let waited = backoff(attempts).num_milliseconds() as f64 / 1000.0;
                assert!(
                    (full / 2.0..=full).contains(&waited),
                    "attempt {attempts}: {waited} s, not in [{}, {full}]",
                    full / 2.0
                );
            }
        }
        let samples: std::collections::HashSet<i64> = (0..20).map(|_| backoff(6).num_milliseconds()).collect();
        assert!(samples.len() > 1, "retries must not all wait the same time");
    }

    #[test]
    fn statuses_are_classified() {
        let refused = classify(
            StatusCode::UNPROCESSABLE_ENTITY,
            br#"{"error":{"code":"validation_failed","message":"name: must not be empty","field":"name"}}"#,
        );
        assert!(
            matches!(&refused, ClientError::Refused { status: 422, code: ErrorCode::ValidationFailed, field: Some(f), .. } if f == "name")
        );
        assert!(!refused.is_transient());
        let failed = classify(StatusCode::BAD_GATEWAY, b"<html>proxy error</html>");
        assert!(matches!(failed, ClientError::Server { status: 502, .. }));
        assert!(failed.is_transient());
        let busy =
            classify(StatusCode::SERVICE_UNAVAILABLE, br#"{"error":{"code":"unavailable","message":"db down"}}"#);
        assert!(busy.is_transient());
        let no_billing = classify(
            StatusCode::NOT_IMPLEMENTED,
            br#"{"error":{"code":"billing_not_configured","message":"Billing is not configured on this server."}}"#,
        );
        assert_eq!(no_billing.to_string(), "Billing is not configured on this server.");
        assert!(!no_billing.is_transient());
        let stripe_away = classify(
            StatusCode::BAD_GATEWAY,
            br#"{"error":{"code":"billing_unavailable","message":"Stripe cannot be reached right now."}}"#,
        );
        assert!(matches!(stripe_away, ClientError::Refused { code: ErrorCode::BillingUnavailable, .. }));
        assert!(stripe_away.is_transient());
        assert!(Http::new("ftp://example.com").is_err());
    }
}
