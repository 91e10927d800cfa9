//! The commands the UI calls, one module per screen's concern. Each is a few lines: take the
//! arguments, call `resonance-client`, map the error.

pub mod account;
pub mod audio;
pub mod drafts;
pub mod footage;
pub mod generations;
pub mod links;
pub mod look;
pub mod projects;
pub mod session;
pub mod settings;
pub mod uploads;

use std::sync::Arc;

/// The app state as commands receive it.
pub type State<'a> = tauri::State<'a, Arc<crate::state::AppState>>;
