//! `resonance://` links: the one the app was started with, and those a second launch hands over.
//! What a link opens is decided by `resonance_client::links`; this brings the window forward,
//! syncs after a billing return, and tells the UI. A link is never logged (an invitation's code
//! is a secret).

use std::sync::Arc;

use resonance_client::links::{self, LinkAction};
use tauri::{AppHandle, Manager};
use tauri_specta::Event;

use super::State;
use crate::error::CmdResult;
use crate::events::LinkOpened;
use crate::state::{lock, AppState};

/// What the link the app was started with opens (once; `None` when there was none).
#[tauri::command]
#[specta::specta]
pub async fn launch_link(state: State<'_>) -> CmdResult<Option<LinkAction>> {
    let Some(text) = lock(&state.launch_link).take() else { return Ok(None) };
    Ok(Some(decide(&state, &text).await))
}

async fn decide(state: &Arc<AppState>, text: &str) -> LinkAction {
    let action = links::open(&*state.client.read().await, text);
    if matches!(action, LinkAction::Billing { .. }) {
        // Back from Stripe: the plan shown must be Stripe's latest, now.
        state.sync_now();
    }
    tracing::info!(action = action_name(&action), "a link was opened");
    action
}

fn action_name(action: &LinkAction) -> &'static str {
    match action {
        LinkAction::Join { .. } => "join",
        LinkAction::Show { .. } => "show",
        LinkAction::Billing { .. } => "billing",
        LinkAction::Refused { .. } => "refused",
    }
}

/// A link handed over while the app runs: the window comes forward, then the UI is told.
pub fn opened(app: &AppHandle, text: String) {
    crate::notifier::focus_main(app);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Some(state) = app.try_state::<Arc<AppState>>().map(|s| s.inner().clone()) else { return };
        let action = decide(&state, &text).await;
        if let Err(e) = (LinkOpened { action }).emit(&app) {
            tracing::warn!(error = %e, "the UI could not be told of a link");
        }
    });
}
