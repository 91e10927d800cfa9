//! Password hashing (argon2id), access tokens (HS256 JWTs) and refresh tokens. Invariant: only
//! hashes of passwords and refresh tokens are stored; a refresh token's successor is derived
//! from it with the server key, so a duplicate exchange within the grace window can be answered
//! with the very same successor without keeping any token in clear.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::JwtSecret;
use crate::error::{Error, Result};

const AUDIENCE: &str = "authenticated";
const ISSUER: &str = "resonance";

/// The claims of an access token; Postgres sees them as `request.jwt.claims`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id (`auth.uid()`).
    pub sub: Uuid,
    /// The session id (`auth.sid()`): revoking the session ends the token at once.
    pub sid: Uuid,
    pub aud: String,
    pub iss: String,
    /// Supabase's convention: the Postgres-facing role of a signed-in user.
    pub role: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
}

#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    secret: JwtSecret,
    access_ttl: Duration,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

impl Keys {
    pub fn new(secret: &JwtSecret, access_ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.bytes()),
            decoding: DecodingKey::from_secret(secret.bytes()),
            secret: secret.clone(),
            access_ttl,
        }
    }

    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    pub fn issue_access(&self, user_id: Uuid, session_id: Uuid) -> Result<String> {
        let now = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(self.access_ttl.as_secs()).unwrap_or(900);
        let claims = AccessClaims {
            sub: user_id,
            sid: session_id,
            aud: AUDIENCE.into(),
            iss: ISSUER.into(),
            role: AUDIENCE.into(),
            iat: now,
            exp: now + ttl,
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&[AUDIENCE]);
        v.set_issuer(&[ISSUER]);
        v.leeway = 5;
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &v).map(|d| d.claims).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })
    }

    /// The successor of a refresh token: HMAC-SHA256(server key, "refresh-successor" || token).
    pub fn successor(&self, refresh_token: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail; fall back to a fresh token anyway.
        match Hmac::<Sha256>::new_from_slice(self.secret.bytes()) {
            Ok(mut mac) => {
                mac.update(b"refresh-successor\0");
                mac.update(refresh_token.as_bytes());
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            }
            Err(_) => new_opaque_token(),
        }
    }
}

/// 256 random bits, URL-safe: refresh tokens and invitation tokens.
pub fn new_opaque_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored in place of an opaque token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn hasher() -> Argon2<'static> {
    // argon2id, OWASP's second recommended setting: 19 MiB, 2 passes, 1 lane.
    Argon2::default()
}

/// Password hashing's share of the machine: one argon2 at a time per core (each takes 19 MiB
/// and tens of milliseconds by design), the rest waiting in line for at most `wait`, then
/// answered 503 with Retry-After. So a flood of sign-ins costs bounded memory and leaves the
/// other requests their share of the cores.
#[derive(Debug, Clone)]
pub struct PasswordSlots {
    slots: std::sync::Arc<tokio::sync::Semaphore>,
    wait: Duration,
}

impl PasswordSlots {
    pub fn new(slots: usize, wait: Duration) -> Self {
        Self { slots: std::sync::Arc::new(tokio::sync::Semaphore::new(slots.max(1))), wait }
    }

    /// One slot per core.
    pub fn per_core(wait: Duration) -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get), wait)
    }

    async fn take(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        let busy = || Error::RetryLater {
            code: resonance_api::ErrorCode::Unavailable,
            message: "The server is busy signing others in; try again in a few seconds.".into(),
            after_seconds: self.wait.as_secs().max(1),
        };
        match tokio::time::timeout(self.wait, std::sync::Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(busy()),
        }
    }

    /// Hashes on a blocking thread that holds the slot until argon2 is done, even when the
    /// request that asked has gone away meanwhile.
    pub async fn hash(&self, password: String) -> Result<String> {
        let permit = self.take().await?;
        blocking(move || {
            let _permit = permit;
            hash_now(&password)
        })
        .await
    }

    /// Verifies like [`Self::hash`]. With no stored hash (unknown e-mail) it verifies against a
    /// fixed hash anyway, so both failures take the same time.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool> {
        let permit = self.take().await?;
        blocking(move || {
            let _permit = permit;
            verify_now(&password, stored.as_deref())
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| Error::PasswordHash(e.to_string()))?
}

fn hash_now(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::PasswordHash(e.to_string()))
}

fn verify_now(password: &str, stored: Option<&str>) -> Result<bool> {
    let dummy;
    let encoded = match stored {
        Some(s) => s,
        None => {
            dummy = dummy_hash();
            dummy.as_str()
        }
    };
    let parsed = PasswordHash::new(encoded).map_err(|e| Error::PasswordHash(e.to_string()))?;
    let ok = hasher().verify_password(password.as_bytes(), &parsed).is_ok();
    Ok(ok && stored.is_some())
}

fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            hasher().hash_password(b"resonance timing equaliser", &salt).map(|h| h.to_string()).unwrap_or_default()
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new(&JwtSecret::parse(&"k".repeat(32)).unwrap(), Duration::from_secs(60))
    }

    #[test]
    fn access_tokens_round_trip_and_reject_tampering() {
        let k = keys();
        let (u, s) = (Uuid::new_v4(), Uuid::new_v4());
        let t = k.issue_access(u, s).unwrap();
        let c = k.verify_access(&t).unwrap();
        assert_eq!((c.sub, c.sid), (u, s));
        let other = Keys::new(&JwtSecret::parse(&"x".repeat(32)).unwrap(), Duration::from_secs(60));
        assert_eq!(other.verify_access(&t).unwrap_err(), TokenError::Invalid);
        assert_eq!(k.verify_access("not.a.jwt").unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn expired_tokens_are_told_apart() {
        let k = keys();
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            sub: Uuid::new_v4(),
            sid: Uuid::new_v4(),
            aud: AUDIENCE.into(),
            iss: ISSUER.into(),
            role: AUDIENCE.into(),
            iat: now - 120,
            exp: now - 60,
        };
        let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.encoding).unwrap();
        assert_eq!(k.verify_access(&t).unwrap_err(), TokenError::Expired);
    }

    #[test]
    fn successors_are_deterministic_per_key_and_token() {
        let k = keys();
        let t = new_opaque_token();
        assert_eq!(k.successor(&t), k.successor(&t));
        assert_ne!(k.successor(&t), k.successor(&new_opaque_token()));
        let other = Keys::new(&JwtSecret::parse(&"x".repeat(32)).unwrap(), Duration::from_secs(60));
        assert_ne!(k.successor(&t), other.successor(&t));
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let slots = PasswordSlots::new(1, Duration::from_secs(5));
        let h = slots.hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(slots.verify("correct horse battery".into(), Some(h.clone())).await.unwrap());
        assert!(!slots.verify("wrong horse battery".into(), Some(h)).await.unwrap());
        assert!(!slots.verify("anything at all".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_hash_that_waits_too_long_for_a_slot_is_told_when_to_retry() {
        let slots = PasswordSlots::new(1, Duration::from_millis(50));
        let held = std::sync::Arc::clone(&slots.slots).acquire_owned().await.unwrap();
        match slots.verify("pw".into(), None).await {
            Err(Error::RetryLater { code, after_seconds, .. }) => {
                assert_eq!(code, resonance_api::ErrorCode::Unavailable);
                assert!(after_seconds >= 1, "Retry-After is at least a second");
            }
            other => panic!("a full pool must answer 503 with Retry-After, got {other:?}"),
        }
        drop(held);
        assert!(!slots.verify("pw".into(), None).await.unwrap(), "a free slot verifies again");
    }
}
