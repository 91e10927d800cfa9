//! The OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows):
//! the only place a session's tokens are kept, under the app's service name and the account's
//! user id. Invariant: when the keyring cannot be used, nothing is stored anywhere else; the
//! caller gets `NoKeyring` and tells the user.

use chrono::{DateTime, Utc};
use resonance_api::Sensitive;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{ClientError, Result};

/// The keyring service name every entry of the app is stored under.
pub const SERVICE: &str = "dev.resonance.desktop";

/// What the keyring holds for one account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tokens {
    #[serde(serialize_with = "Sensitive::expose")]
    pub access_token: Sensitive<String>,
    #[serde(serialize_with = "Sensitive::expose")]
    pub refresh_token: Sensitive<String>,
    /// When the access token expires, by this machine's clock.
    pub access_expires_at: DateTime<Utc>,
}

impl Tokens {
    /// True when the two hold the same access token (one was refreshed into the other, or not).
    pub fn same_access(&self, other: &Tokens) -> bool {
        self.access_token.reveal() == other.access_token.reveal()
    }
}

fn entry(user: Uuid) -> Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, &user.to_string()).map_err(unavailable)
}

fn unavailable(e: keyring::Error) -> ClientError {
    // keyring's messages name the platform failure, never the secret.
    ClientError::NoKeyring(e.to_string())
}

/// Stores the account's tokens, replacing what was there.
pub fn store(user: Uuid, tokens: &Tokens) -> Result<()> {
    let json = serde_json::to_string(tokens)?;
    entry(user)?.set_password(&json).map_err(unavailable)
}

/// The account's tokens, or `None` when the keyring has none for it.
pub fn load(user: Uuid) -> Result<Option<Tokens>> {
    match entry(user)?.get_password() {
        Ok(json) => match serde_json::from_str(&json) {
            Ok(tokens) => Ok(Some(tokens)),
            // Not ours, or from an incompatible version: treat as signed out.
            Err(_) => Ok(None),
        },
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(unavailable(e)),
    }
}

/// Removes the account's tokens; removing what is not there is not an error.
pub fn delete(user: Uuid) -> Result<()> {
    match entry(user)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(unavailable(e)),
    }
}

/// Checks that a keyring answers, before a password is sent anywhere.
pub fn check() -> Result<()> {
    match entry(Uuid::nil())?.get_password() {
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(unavailable(e)),
    }
}
