//! Where each account's data lives on this machine, and which account is signed in. Invariant:
//! every account has a directory of its own (its mirror, its lock), so signing in as someone
//! else never shows the previous account's rows; nothing here is secret.

use std::path::{Path, PathBuf};

use resonance_api::model::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{ClientError, Result};

/// The signed-in account, as the server described it at sign-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Account {
    pub user_id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub role: Role,
    /// The server this account belongs to.
    pub server: String,
}

const SERVERS_FILE: &str = "servers.json";

/// The server a first sign-in goes to: chosen when the app is built (`RESONANCE_DEFAULT_SERVER`,
/// e.g. the hosted service for a release), else a backend on this machine (`cargo xtask dev`).
pub const DEFAULT_SERVER: &str = match option_env!("RESONANCE_DEFAULT_SERVER") {
    Some(server) => server,
    None => "http://127.0.0.1:8787",
};

/// Which server each e-mail signed in to here, and the last one used: the sign-in form's server
/// field keeps its value per account. Addresses are compared without letter case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct KnownServers {
    pub last: Option<String>,
    /// (e-mail, server), the most recently used first.
    pub accounts: Vec<(String, String)>,
}

impl KnownServers {
    /// Most accounts one machine remembers.
    const MAX: usize = 50;

    pub fn remember(&mut self, email: &str, server: &str) {
        self.accounts.retain(|(e, _)| !e.eq_ignore_ascii_case(email));
        self.accounts.insert(0, (email.to_owned(), server.to_owned()));
        self.accounts.truncate(Self::MAX);
        self.last = Some(server.to_owned());
    }

    /// The server `email` signed in to here, else the last one used.
    pub fn for_email(&self, email: &str) -> Option<&str> {
        let email = email.trim();
        self.accounts
            .iter()
            .find(|(e, _)| e.eq_ignore_ascii_case(email))
            .map(|(_, s)| s.as_str())
            .or(self.last.as_deref())
    }
}

/// Where decoded previews of local tracks are written: `<data dir>/previews` (shared by the
/// accounts of this computer, removed with the last one).
pub fn previews_dir(data_root: &Path) -> PathBuf {
    data_root.join("previews")
}

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// `explicit` (a flag or `RESONANCE_DATA_DIR`), else the platform's data directory.
    pub fn resolve(explicit: Option<PathBuf>) -> Result<Self> {
        let root = match explicit {
            Some(dir) => dir,
            None => dirs::data_dir().map(|d| d.join("resonance")).ok_or_else(|| {
                ClientError::Io(std::io::Error::other(
                    "this system has no data directory; pass --data-dir or set RESONANCE_DATA_DIR",
                ))
            })?,
        };
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn account_dir(&self, user: Uuid) -> PathBuf {
        self.root.join("accounts").join(user.to_string())
    }

    pub fn mirror_path(&self, user: Uuid) -> PathBuf {
        self.account_dir(user).join("mirror.sqlite")
    }

    /// The lock processes of the app take around a token refresh.
    pub fn session_lock_path(&self, user: Uuid) -> PathBuf {
        self.account_dir(user).join("session.lock")
    }

    fn current_path(&self) -> PathBuf {
        self.root.join("current-account.json")
    }

    pub fn current(&self) -> Result<Option<Account>> {
        match std::fs::read(self.current_path()) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes `account` the signed-in one (written whole or not at all), and remembers its server
    /// for the next sign-in with its e-mail.
    pub fn set_current(&self, account: &Account) -> Result<()> {
        std::fs::create_dir_all(self.account_dir(account.user_id))?;
        self.write_whole("current-account.json", &serde_json::to_vec_pretty(account)?)?;
        let mut servers = self.servers();
        servers.remember(&account.email, &account.server);
        // Only saves typing: a failure to write it never fails a sign-in.
        if let Err(e) = serde_json::to_vec_pretty(&servers)
            .map_err(ClientError::from)
            .and_then(|b| self.write_whole(SERVERS_FILE, &b))
        {
            tracing::warn!(error = %e, "the servers list could not be saved");
        }
        Ok(())
    }

    fn write_whole(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let tmp = self.root.join(format!("{name}.tmp"));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, self.root.join(name))?;
        Ok(())
    }

    /// Forgets which server `email` used here (signing out with its data removed); logged, never
    /// failing, like the list itself.
    pub fn forget_server(&self, email: &str) {
        let mut servers = self.servers();
        servers.accounts.retain(|(e, _)| !e.eq_ignore_ascii_case(email));
        if let Err(e) = serde_json::to_vec_pretty(&servers)
            .map_err(ClientError::from)
            .and_then(|b| self.write_whole(SERVERS_FILE, &b))
        {
            tracing::warn!(error = %e, "the servers list could not be saved");
        }
    }

    /// The servers accounts signed in to on this machine (none when the file is missing or
    /// unreadable: it only saves typing).
    pub fn servers(&self) -> KnownServers {
        std::fs::read(self.root.join(SERVERS_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    pub fn clear_current(&self) -> Result<()> {
        match std::fs::remove_file(self.current_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes what this machine keeps of an organization for an account removed from it: the
    /// account's directory (mirror with its outbox, media cache, session lock), the audio
    /// previews, and the pointer to it as the current account.
    pub fn forget_removed(&self, account: &Account) -> Result<()> {
        if self.current()?.is_some_and(|c| c.user_id == account.user_id) {
            self.clear_current()?;
        }
        self.forget(account.user_id)?;
        match std::fs::remove_dir_all(previews_dir(&self.root)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes everything this machine keeps for the account: its mirror and its cache.
    pub fn forget(&self, user: Uuid) -> Result<()> {
        match std::fs::remove_dir_all(self.account_dir(user)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_account_round_trips_and_each_account_has_its_own_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::resolve(Some(dir.path().to_owned())).unwrap();
        assert_eq!(data.current().unwrap(), None);
        let account = Account {
            user_id: Uuid::new_v4(),
            email: "a@example.com".into(),
            name: None,
            organization_id: Uuid::new_v4(),
            organization_name: "A".into(),
            role: Role::Owner,
            server: "http://127.0.0.1:1".into(),
        };
        data.set_current(&account).unwrap();
        assert_eq!(data.current().unwrap(), Some(account.clone()));
        assert_ne!(data.mirror_path(account.user_id), data.mirror_path(Uuid::new_v4()));
        std::fs::write(data.mirror_path(account.user_id), b"x").unwrap();
        data.forget(account.user_id).unwrap();
        assert!(!data.account_dir(account.user_id).exists());
        data.clear_current().unwrap();
        assert_eq!(data.current().unwrap(), None);
    }

    #[test]
    fn each_accounts_server_is_remembered_without_letter_case_and_the_last_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::resolve(Some(dir.path().to_owned())).unwrap();
        assert_eq!(data.servers(), KnownServers::default());
        let mut account = Account {
            user_id: Uuid::new_v4(),
            email: "Ana@Example.com".into(),
            name: None,
            organization_id: Uuid::new_v4(),
            organization_name: "Band".into(),
            role: Role::Owner,
            server: "https://eu.resonance.example".into(),
        };
        data.set_current(&account).unwrap();
        account.email = "bo@example.com".into();
        account.server = "http://127.0.0.1:8787".into();
        data.set_current(&account).unwrap();
        let servers = data.servers();
        assert_eq!(servers.for_email(" ana@example.COM "), Some("https://eu.resonance.example"));
        assert_eq!(servers.for_email("bo@example.com"), Some("http://127.0.0.1:8787"));
        assert_eq!(servers.for_email("new@example.com"), Some("http://127.0.0.1:8787"), "the last one used");
        // Signing in again moves the account to the front, once.
        account.email = "ana@example.com".into();
        account.server = "https://us.resonance.example".into();
        data.set_current(&account).unwrap();
        let servers = data.servers();
        assert_eq!(servers.accounts.len(), 2);
        assert_eq!(servers.for_email("ANA@example.com"), Some("https://us.resonance.example"));
        data.forget_server("Ana@example.com");
        assert_eq!(data.servers().accounts.len(), 1, "a forgotten account's address is gone");
        std::fs::write(dir.path().join("servers.json"), b"{not json").unwrap();
        assert_eq!(data.servers(), KnownServers::default(), "an unreadable file only costs typing");
    }
}
