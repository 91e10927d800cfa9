//! The signed-in session: sign in, refresh, sign out, and the one authenticated request function
//! every call goes through. Invariants:
//! - tokens live in the OS keyring and in this process's memory, nowhere else;
//! - a refresh is single-flight in the process (the token mutex) and across processes of the app
//!   (a file lock, then the keyring is read again: another process may have refreshed already);
//! - a 401 leads to one refresh and one retry; a refused refresh ends the session (`SignedOut`),
//!   it never loops;
//! - an answer that the account was removed from its organization (`membership_ended`) deletes
//!   the account's tokens and everything this machine keeps of the organization for it (the
//!   outbox with the mirror, so no queued edit is tried again), and every later call says why.

use std::path::PathBuf;

use chrono::{Duration, Utc};
use reqwest::Method;
use resonance_api::auth::{
    InvitationLookup, InvitationPreview, Me, SignUpAccepted, SignUpRequest, TokenRequest, TokenResponse,
};
use resonance_api::{ErrorCode, Sensitive};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::accounts::{Account, DataDir};
use crate::error::{ClientError, Result};
use crate::http::{Http, Payload};
use crate::keyring::{self, Tokens};

/// Refresh this long before the access token's expiry, so a request never carries a token that
/// expires in flight.
const EXPIRY_MARGIN_SECONDS: i64 = 30;

/// How a sign-up ended.
#[derive(Debug)]
pub enum SignUp {
    /// The account exists and is signed in here.
    SignedIn(Box<Session>),
    /// The server sent a message to confirm the address; sign in after opening its link.
    ConfirmEmail { message: String },
}

pub struct Session {
    http: Http,
    account: Account,
    data: DataDir,
    lock_path: PathBuf,
    tokens: tokio::sync::Mutex<Option<Tokens>>,
    /// Set once the server said this account was removed from its organization.
    removed: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("account", &self.account.email).field("server", &self.http.server()).finish()
    }
}

/// Runs a keyring call off the async threads (Secret Service calls block on D-Bus).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ClientError::Internal(format!("a keyring call failed: {e}")))?
}

fn tokens_from(resp: &TokenResponse) -> Tokens {
    Tokens {
        access_token: resp.access_token.clone(),
        refresh_token: resp.refresh_token.clone(),
        access_expires_at: Utc::now() + Duration::seconds(resp.expires_in.max(0)),
    }
}

impl Session {
    /// Signs in with a password. The keyring is checked first, so a machine without one is told
    /// so before a password leaves it; if storing the tokens still fails, the new session is
    /// revoked on the server rather than kept anywhere else.
    pub async fn sign_in(http: Http, data: &DataDir, email: &str, password: Sensitive<String>) -> Result<Self> {
        blocking(keyring::check).await?;
        let request = TokenRequest::Password { email: email.trim().to_owned(), password };
        let body = serde_json::to_value(&request)?;
        let resp = match http.send(Method::POST, "/v1/auth/token", None, Some(&body), None).await {
            Ok(resp) => resp,
            Err(ClientError::Refused { code: ErrorCode::InvalidCredentials, .. }) => {
                return Err(ClientError::WrongCredentials)
            }
            Err(e) => return Err(e),
        };
        Self::start(http, data, read_json(resp).await?).await
    }

    /// Creates an account (a new organization, or joining one with an invitation code) and,
    /// unless the server first wants the e-mail address confirmed, signs it in. Checked here
    /// first, so a form's mistakes are named without a round trip and the keyring is known to
    /// work before an account exists.
    pub async fn sign_up(http: Http, data: &DataDir, mut request: SignUpRequest) -> Result<SignUp> {
        request.email = request.email.trim().to_owned();
        request.name = request.name.trim().to_owned();
        request.organization_name = request.organization_name.map(|o| o.trim().to_owned());
        if let Some(code) = &request.invite_token {
            let code = resonance_api::auth::parse_invite_code(code.reveal())?;
            request.invite_token = Some(Sensitive::new(code));
        }
        request.validate()?;
        blocking(keyring::check).await?;
        let body = serde_json::to_value(&request)?;
        let resp = http.send(Method::POST, "/v1/auth/signup", None, Some(&body), None).await?;
        if resp.status() == reqwest::StatusCode::ACCEPTED {
            let accepted: SignUpAccepted = read_json(resp).await?;
            return Ok(SignUp::ConfirmEmail { message: accepted.message });
        }
        let session = Self::start(http, data, read_json(resp).await?).await?;
        tracing::info!(user = %session.account.user_id, "signed up");
        Ok(SignUp::SignedIn(Box::new(session)))
    }

    /// What an invitation code leads to, asked of `http`'s server before signing up with it.
    pub async fn invitation(http: &Http, code: &str) -> Result<InvitationPreview> {
        let code = resonance_api::auth::parse_invite_code(code)?;
        let body = serde_json::to_value(InvitationLookup { invite_token: Sensitive::new(code) })?;
        read_json(http.send(Method::POST, "/v1/auth/invitation", None, Some(&body), None).await?).await
    }

    /// A session from a fresh token pair: who it is (`/v1/me`), tokens into the keyring (or the
    /// session revoked on the server when that fails), and this account made the current one.
    async fn start(http: Http, data: &DataDir, token: TokenResponse) -> Result<Self> {
        let tokens = tokens_from(&token);
        let me: Me =
            read_json(http.send(Method::GET, "/v1/me", Some(tokens.access_token.reveal()), None, None).await?).await?;
        let account = Account {
            user_id: me.user.id,
            email: me.user.email.clone(),
            name: me.user.name.clone(),
            organization_id: me.organization.id,
            organization_name: me.organization.name.clone(),
            role: me.role,
            server: http.server().to_owned(),
        };
        let stored = tokens.clone();
        let user = account.user_id;
        if let Err(e) = blocking(move || keyring::store(user, &stored)).await {
            let _ = http.send(Method::POST, "/v1/auth/logout", Some(tokens.access_token.reveal()), None, None).await;
            return Err(e);
        }
        data.set_current(&account)?;
        tracing::info!(user = %account.user_id, "signed in");
        Ok(Self::with_tokens(http, data, account, Some(tokens)))
    }

    /// The session of the signed-in account; its tokens are read from the keyring when first needed.
    pub fn resume(http: Http, data: &DataDir, account: Account) -> Self {
        Self::with_tokens(http, data, account, None)
    }

    fn with_tokens(http: Http, data: &DataDir, account: Account, tokens: Option<Tokens>) -> Self {
        let lock_path = data.session_lock_path(account.user_id);
        Self {
            http,
            account,
            data: data.clone(),
            lock_path,
            tokens: tokio::sync::Mutex::new(tokens),
            removed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    fn removed_error(&self) -> ClientError {
        ClientError::Removed { organization: self.account.organization_name.clone() }
    }

    /// The server said this account was removed: its tokens and this machine's copy of the
    /// organization's data for it are deleted (once; a failure to delete is logged and the
    /// answer stays the same).
    async fn removed(&self) -> ClientError {
        use std::sync::atomic::Ordering;
        if !self.removed.swap(true, Ordering::SeqCst) {
            let (data, account) = (self.data.clone(), self.account.clone());
            let wiped = blocking(move || {
                keyring::delete(account.user_id)?;
                data.forget_removed(&account)
            })
            .await;
            match wiped {
                Ok(()) => {
                    tracing::info!(user = %self.account.user_id, "removed from the organization; its local data was deleted")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "removed from the organization; some local data could not be deleted")
                }
            }
        }
        self.removed_error()
    }

    /// A request's answer, with a removal turned into [`Self::removed`].
    async fn checked(&self, answer: Result<reqwest::Response>) -> Result<reqwest::Response> {
        match answer {
            Err(ClientError::Refused { code: ErrorCode::MembershipEnded, .. }) => Err(self.removed().await),
            other => other,
        }
    }

    /// This session's tokens, for removing from anything shown to people (a diagnostics report);
    /// none when there are none.
    pub async fn secrets_for_redaction(&self) -> Vec<String> {
        match self.current().await {
            Ok(t) => vec![t.access_token.reveal().clone(), t.refresh_token.reveal().clone()],
            Err(_) => Vec::new(),
        }
    }

    /// The current tokens, from memory or the keyring; `SignedOut` when there are none.
    async fn current(&self) -> Result<Tokens> {
        if self.removed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(self.removed_error());
        }
        let mut guard = self.tokens.lock().await;
        if let Some(t) = guard.as_ref() {
            return Ok(t.clone());
        }
        let user = self.account.user_id;
        let loaded = blocking(move || keyring::load(user)).await?.ok_or(ClientError::SignedOut)?;
        *guard = Some(loaded.clone());
        Ok(loaded)
    }

    /// Replaces `stale` with fresh tokens, once, however many callers ask at the same time.
    async fn refresh(&self, stale: &Tokens) -> Result<Tokens> {
        let mut guard = self.tokens.lock().await;
        if let Some(now) = guard.as_ref() {
            if !now.same_access(stale) {
                return Ok(now.clone()); // refreshed by another task meanwhile
            }
        }
        // Another process of the app may be refreshing the same session: take the account's
        // lock, then look at the keyring again.
        let lock_path = self.lock_path.clone();
        let lock = blocking(move || {
            if let Some(dir) = lock_path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path)?;
            file.lock()?;
            Ok(file)
        })
        .await?;
        let user = self.account.user_id;
        let in_keyring = blocking(move || keyring::load(user)).await?;
        let result = match in_keyring {
            None => Err(ClientError::SignedOut),
            Some(k) if !k.same_access(stale) => Ok(k),
            Some(k) => self.refresh_with_server(&k).await,
        };
        drop(lock);
        match result {
            Ok(fresh) => {
                *guard = Some(fresh.clone());
                Ok(fresh)
            }
            Err(e) => {
                if e.needs_sign_in() {
                    *guard = None;
                }
                Err(e)
            }
        }
    }

    async fn refresh_with_server(&self, current: &Tokens) -> Result<Tokens> {
        let request = TokenRequest::RefreshToken { refresh_token: current.refresh_token.clone() };
        let body = serde_json::to_value(&request)?;
        match self.checked(self.http.send(Method::POST, "/v1/auth/token", None, Some(&body), None).await).await {
            Ok(resp) => {
                let fresh = tokens_from(&read_json::<TokenResponse>(resp).await?);
                let (user, stored) = (self.account.user_id, fresh.clone());
                blocking(move || keyring::store(user, &stored)).await?;
                tracing::debug!("session refreshed");
                Ok(fresh)
            }
            Err(ClientError::Refused { status: 401, .. }) => {
                // Revoked, expired or reused: this session is over. Forget it so no process loops.
                let user = self.account.user_id;
                blocking(move || keyring::delete(user)).await?;
                tracing::info!("the session was refused; signed out");
                Err(ClientError::SignedOut)
            }
            Err(e) => Err(e),
        }
    }

    /// Sends an authenticated request with a JSON body (or none).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        idempotency_key: Option<Uuid>,
    ) -> Result<reqwest::Response> {
        self.request_with(method, path, body.map_or(Payload::None, Payload::Json), &[], idempotency_key).await
    }

    /// Sends an authenticated request: refreshes an access token about to expire, and after a
    /// 401 refreshes once and retries once. Every authenticated call of the client comes here.
    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        payload: Payload<'_>,
        headers: &[(&str, String)],
        idempotency_key: Option<Uuid>,
    ) -> Result<reqwest::Response> {
        let mut tokens = self.current().await?;
        if tokens.access_expires_at - Duration::seconds(EXPIRY_MARGIN_SECONDS) <= Utc::now() {
            tokens = self.refresh(&tokens).await?;
        }
        let first = self
            .checked(
                self.http
                    .send_with(
                        method.clone(),
                        path,
                        Some(tokens.access_token.reveal()),
                        payload.clone(),
                        headers,
                        idempotency_key,
                    )
                    .await,
            )
            .await;
        match first {
            Err(ClientError::Refused { status: 401, .. }) => {
                let fresh = self.refresh(&tokens).await?;
                let again = self
                    .checked(
                        self.http
                            .send_with(
                                method,
                                path,
                                Some(fresh.access_token.reveal()),
                                payload,
                                headers,
                                idempotency_key,
                            )
                            .await,
                    )
                    .await;
                match again {
                    Err(ClientError::Refused { status: 401, .. }) => Err(ClientError::SignedOut),
                    other => other,
                }
            }
            other => other,
        }
    }

    /// An authenticated GET whose answer is JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        read_json(self.request(Method::GET, path, None, None).await?).await
    }

    /// Ends the session on the server (when reachable) and forgets its tokens here.
    pub async fn sign_out(&self) -> Result<()> {
        if let Ok(tokens) = self.current().await {
            if let Err(e) =
                self.http.send(Method::POST, "/v1/auth/logout", Some(tokens.access_token.reveal()), None, None).await
            {
                tracing::info!(error = %e, "could not end the session on the server; forgetting it here anyway");
            }
        }
        *self.tokens.lock().await = None;
        let user = self.account.user_id;
        blocking(move || keyring::delete(user)).await
    }
}

/// Reads a JSON body; a body that does not parse is the server's failure, not the user's.
pub async fn read_json<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T> {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(|e| ClientError::Server { status, message: e.to_string() })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ClientError::Server { status, message: format!("the answer could not be read: {e}") })
}
