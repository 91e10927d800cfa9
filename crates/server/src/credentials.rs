//! Password hashing (argon2id), access tokens (HS256 JWTs) and refresh tokens. Invariant: only
//! hashes of passwords and refresh tokens are stored; a refresh token's successor is derived
//! from it with the server key, so a duplicate exchange within the grace window can be answered
//! with the very same successor without keeping any token in clear.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
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
            encoding: secret.encoding().clone(),
            decoding: secret.decoding().clone(),
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

    /// A share link's token: the link's id (32 hex digits) and 128 bits of
    /// HMAC-SHA256(server key, "share-link" || id), URL-safe. Only this server makes one that
    /// [`Keys::share_link_of`] takes, so link ids cannot be tried.
    pub fn share_token(&self, link: Uuid) -> String {
        let mut token = link.simple().to_string();
        if let Some(mac) = self.share_mac(link) {
            token.push_str(&URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..SHARE_MAC_BYTES]));
        }
        token
    }

    /// The link a share token names, if this server signed it.
    pub fn share_link_of(&self, token: &str) -> Option<Uuid> {
        let (id, signature) = (token.get(..32)?, token.get(32..)?);
        let link = Uuid::try_parse(id).ok()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        if signature.len() != SHARE_MAC_BYTES || id != link.simple().to_string() {
            return None;
        }
        self.share_mac(link)?.verify_truncated_left(&signature).ok().map(|()| link)
    }

    fn share_mac(&self, link: Uuid) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.bytes()).ok()?;
        mac.update(b"share-link\0");
        mac.update(link.as_bytes());
        Some(mac)
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

/// How much of a share link's HMAC its token carries: 128 bits.
const SHARE_MAC_BYTES: usize = 16;

/// 256 random bits, URL-safe: refresh tokens and invitation tokens.
pub fn new_opaque_token() -> String {
    let bytes: [u8; 32] = rand::random();
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

/// argon2's working memory (19 MiB at the default setting), one per slot, reused by every hash
/// the slot computes: a flood of sign-ins allocates nothing, so memory does not grow with it
/// (freed blocks of that size would stay with the allocator).
type Memory = Vec<argon2::Block>;

/// Password hashing's share of the machine: one argon2 at a time per core, each with its own
/// working memory, the rest waiting in line for at most `wait`, then answered 503 with
/// Retry-After. So a flood of sign-ins costs bounded memory and leaves the other requests their
/// share of the cores.
#[derive(Debug, Clone)]
pub struct PasswordSlots {
    slots: std::sync::Arc<tokio::sync::Semaphore>,
    memory: std::sync::Arc<std::sync::Mutex<Vec<Memory>>>,
    wait: Duration,
}

impl PasswordSlots {
    pub fn new(slots: usize, wait: Duration) -> Self {
        let slots = slots.max(1);
        Self {
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(slots)),
            memory: std::sync::Arc::new(std::sync::Mutex::new(Vec::with_capacity(slots))),
            wait,
        }
    }

    /// One slot per core.
    pub fn per_core(wait: Duration) -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get), wait)
    }

    /// A slot, and its memory (made the first time the slot is used).
    async fn take(&self) -> Result<Slot> {
        let busy = || Error::RetryLater {
            code: resonance_api::ErrorCode::Unavailable,
            message: "The server is busy signing others in; try again in a few seconds.".into(),
            after_seconds: self.wait.as_secs().max(1),
        };
        let permit = match tokio::time::timeout(self.wait, std::sync::Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => return Err(busy()),
        };
        let memory = self.memory.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop().unwrap_or_default();
        Ok(Slot { memory, pool: std::sync::Arc::clone(&self.memory), _permit: permit })
    }

    /// Hashes on a blocking thread that holds the slot until argon2 is done, even when the
    /// request that asked has gone away meanwhile.
    pub async fn hash(&self, password: String) -> Result<String> {
        let mut slot = self.take().await?;
        blocking(move || hash_with(&mut slot.memory, &password)).await
    }

    /// Verifies like [`Self::hash`]. With no stored hash (unknown e-mail) it verifies against a
    /// fixed hash anyway, so both failures take the same time.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool> {
        let mut slot = self.take().await?;
        blocking(move || {
            let ok = verify_with(&mut slot.memory, &password, stored.as_deref().unwrap_or(dummy_hash()))?;
            Ok(ok && stored.is_some())
        })
        .await
    }
}

/// A taken slot: its memory goes back to the pool, and the permit is returned, when it drops.
struct Slot {
    memory: Memory,
    pool: std::sync::Arc<std::sync::Mutex<Vec<Memory>>>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let memory = std::mem::take(&mut self.memory);
        self.pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(memory);
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| Error::PasswordHash(e.to_string()))?
}

fn hash_error(e: impl std::fmt::Display) -> Error {
    Error::PasswordHash(e.to_string())
}

/// The argon2 output of `password` with `argon`'s parameters, in `memory` (grown if needed).
fn compute(
    argon: &Argon2<'_>,
    memory: &mut Memory,
    password: &str,
    salt: &[u8],
    len: usize,
) -> Result<argon2::password_hash::Output> {
    let blocks = argon.params().block_count();
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::default());
    }
    let blocks = memory.get_mut(..blocks).ok_or_else(|| hash_error("argon2 memory"))?;
    argon2::password_hash::Output::init_with(len, |out| {
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut *blocks)
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(hash_error)
}

/// 16 random bytes (the salt size password-hash recommends) from the thread's CSPRNG.
fn fresh_salt() -> Result<SaltString> {
    let bytes: [u8; 16] = rand::random();
    SaltString::encode_b64(&bytes).map_err(hash_error)
}

/// A new PHC string (`$argon2id$v=19$m=…`) for `password`, with a fresh salt.
fn hash_with(memory: &mut Memory, password: &str) -> Result<String> {
    let argon = hasher();
    let salt = fresh_salt()?;
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut salt_bytes).map_err(hash_error)?;
    let output = compute(&argon, memory, password, raw_salt, argon2::Params::DEFAULT_OUTPUT_LEN)?;
    let hash = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: argon.params().try_into().map_err(hash_error)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored` (compared in constant time).
fn verify_with(memory: &mut Memory, password: &str, stored: &str) -> Result<bool> {
    let parsed = PasswordHash::new(stored).map_err(hash_error)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return Ok(false) };
    let algorithm = argon2::Algorithm::try_from(parsed.algorithm).map_err(hash_error)?;
    let version = match parsed.version {
        Some(v) => argon2::Version::try_from(v).map_err(hash_error)?,
        None => argon2::Version::default(),
    };
    let params = argon2::Params::try_from(&parsed).map_err(hash_error)?;
    let argon = Argon2::new(algorithm, version, params);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut salt_bytes).map_err(hash_error)?;
    Ok(compute(&argon, memory, password, raw_salt, expected.len())? == expected)
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let Ok(salt) = fresh_salt() else { return String::new() };
        hasher().hash_password(b"resonance timing equaliser", &salt).map(|h| h.to_string()).unwrap_or_default()
    })
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
    fn share_tokens_name_their_link_only_when_this_server_signed_them() {
        let k = keys();
        let link = Uuid::new_v4();
        let token = k.share_token(link);
        assert_eq!(token.len(), 32 + 22);
        assert_eq!(k.share_link_of(&token), Some(link));
        let other = Keys::new(&JwtSecret::parse(&"x".repeat(32)).unwrap(), Duration::from_secs(60));
        assert_eq!(other.share_link_of(&token), None, "another server's key");
        let forged = format!("{}{}", Uuid::new_v4().simple(), &token[32..]);
        assert_eq!(k.share_link_of(&forged), None, "another link's signature");
        let mut flipped = token.clone().into_bytes();
        flipped[40] = if flipped[40] == b'A' { b'B' } else { b'A' };
        assert_eq!(k.share_link_of(std::str::from_utf8(&flipped).unwrap()), None, "a tampered signature");
        assert_eq!(k.share_link_of(&token[..50]), None, "a cut token");
        assert_eq!(k.share_link_of(&token.to_uppercase()), None, "the id as written, only");
        assert_eq!(k.share_link_of(""), None);
        assert_eq!(k.share_link_of("é".repeat(40).as_str()), None, "not a hexadecimal id");
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

    #[test]
    fn hashes_made_in_a_slots_memory_are_standard_argon2id() {
        use argon2::password_hash::PasswordVerifier;
        let mut memory = Memory::new();
        let ours = hash_with(&mut memory, "correct horse").unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(hasher().verify_password(b"correct horse", &parsed).is_ok(), "the standard verifier accepts ours");
        let salt = fresh_salt().unwrap();
        let standard = hasher().hash_password(b"battery staple", &salt).unwrap().to_string();
        assert!(verify_with(&mut memory, "battery staple", &standard).unwrap(), "ours accepts the standard's");
        assert!(!verify_with(&mut memory, "battery stapler", &standard).unwrap());
        assert!(!verify_with(&mut memory, "correct horsf", &ours).unwrap());
        assert_eq!(memory.len(), 19 * 1024, "the slot's memory is the one 19 MiB block set, reused");
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
