//! Signing in and out, and who is signed in.

use resonance_api::Sensitive;
use resonance_client::Account;
use tauri::AppHandle;

use super::State;
use crate::error::CmdResult;

/// Who is signed in, if anyone, and the server the sign-in screen offers.
#[derive(Debug, Clone, serde::Serialize, specta::Type)]
pub struct SessionInfo {
    pub account: Option<Account>,
    pub default_server: String,
}

/// The server new sign-ins go to unless changed under "Advanced".
pub fn default_server() -> String {
    std::env::var("RESONANCE_SERVER").unwrap_or_else(|_| "http://127.0.0.1:8787".into())
}

#[tauri::command]
#[specta::specta]
pub async fn session(state: State<'_>) -> CmdResult<SessionInfo> {
    let client = state.client.read().await;
    Ok(SessionInfo { account: client.account().ok().cloned(), default_server: default_server() })
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
