//! Signing in and out, and who is signed in.

use resonance_api::auth::{InvitationPreview, SignUpRequest};
use resonance_api::Sensitive;
use resonance_client::{Account, Client, KnownServers, SignedUp, DEFAULT_SERVER};
use tauri::AppHandle;

use super::State;
use crate::error::CmdResult;

/// Who is signed in, if anyone, and the servers the sign-in screen offers.
#[derive(Debug, Clone, serde::Serialize, specta::Type)]
pub struct SessionInfo {
    pub account: Option<Account>,
    /// For an e-mail this machine has not seen and no server used before.
    pub default_server: String,
    /// The server each account signed in to here, and the last one used: the form fills the
    /// server in from the e-mail typed.
    pub known_servers: KnownServers,
}

/// `RESONANCE_SERVER` (a developer's or a test's backend), else the server this build names.
pub fn default_server() -> String {
    std::env::var("RESONANCE_SERVER").unwrap_or_else(|_| DEFAULT_SERVER.to_owned())
}

#[tauri::command]
#[specta::specta]
pub async fn session(state: State<'_>) -> CmdResult<SessionInfo> {
    let client = state.client.read().await;
    Ok(SessionInfo {
        account: client.account().ok().cloned(),
        default_server: default_server(),
        known_servers: client.known_servers(),
    })
}

/// The sign-up form as typed: a new organization's name, or an invitation code (not both).
#[derive(Debug, Clone, serde::Deserialize, specta::Type)]
pub struct SignUpForm {
    pub email: String,
    pub password: String,
    pub name: String,
    pub organization_name: Option<String>,
    pub invite_code: Option<String>,
}

impl SignUpForm {
    fn request(self) -> SignUpRequest {
        SignUpRequest {
            email: self.email,
            password: Sensitive::new(self.password),
            name: self.name,
            organization_name: self.organization_name,
            invite_token: self.invite_code.map(Sensitive::new),
        }
    }
}

/// A rule the form breaks, for the form to show beside its field as the person types.
#[derive(Debug, Clone, PartialEq, serde::Serialize, specta::Type)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// Every rule the sign-up form breaks now: the server's own rules (`resonance-api`), checked
/// here without a round trip.
#[tauri::command]
#[specta::specta]
pub fn sign_up_problems(form: SignUpForm) -> Vec<Problem> {
    form.request().problems().into_iter().map(|p| Problem { field: p.field.to_owned(), message: p.message }).collect()
}

/// What an invitation code leads to on `server`, shown before joining.
#[tauri::command]
#[specta::specta]
pub async fn invitation(server: String, code: String) -> CmdResult<InvitationPreview> {
    Ok(Client::invitation(server.trim(), &code).await?)
}

/// Creates the account and, unless its address must be confirmed first, signs it in here.
#[tauri::command]
#[specta::specta]
pub async fn sign_up(app: AppHandle, state: State<'_>, server: String, form: SignUpForm) -> CmdResult<SignedUp> {
    state.stop_background();
    let result = state.client.write().await.sign_up(server.trim(), form.request()).await;
    // Whoever was signed in before stays so when the new account is not signed in.
    state.start_background(&app).await;
    Ok(result?)
}

#[tauri::command]
#[specta::specta]
pub async fn sign_in(
    app: AppHandle,
    state: State<'_>,
    server: String,
    email: String,
    password: String,
) -> CmdResult<Account> {
    state.stop_background();
    let account = state.client.write().await.sign_in(server.trim(), email.trim(), Sensitive::new(password)).await?;
    tracing::info!(user = %account.user_id, "signed in");
    state.start_background(&app).await;
    Ok(account)
}

/// Signs out; with `forget`, this account's local data (mirror, media cache) is removed too.
#[tauri::command]
#[specta::specta]
pub async fn sign_out(state: State<'_>, forget: bool) -> CmdResult<()> {
    state.stop_background();
    let result = state.client.write().await.sign_out(forget).await;
    match result {
        // Offline: the tokens are gone from this machine all the same.
        Err(e) if e.is_transient() => {
            tracing::warn!(error = %e, "signed out here; the server could not be told");
            Ok(())
        }
        other => Ok(other?),
    }
}
