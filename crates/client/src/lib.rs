//! resonance-client: everything Resonance Desktop does that is not UI, usable and tested without
//! Tauri. The session lives in the OS keyring; every past project and generation is in a local
//! SQLite mirror per account; changes made offline wait in an outbox and reach the server later,
//! in order, once each.

pub mod accounts;
pub mod client;
pub mod diagnostics;
pub mod drafts;
pub mod engine;
pub mod error;
pub mod export;
pub mod footage;
pub mod http;
pub mod keyring;
pub mod links;
pub mod look;
pub mod media;
pub mod mirror;
pub mod outbox;
pub mod preview;
pub mod samples;
pub mod session;
pub mod sync;
pub mod uploader;
pub mod uploads;
pub mod watcher;

pub use accounts::{Account, DataDir, KnownServers, DEFAULT_SERVER};
pub use client::{Client, SignedUp};
pub use error::{ClientError, ErrorKind, Result};
pub use mirror::{LocalProject, Mirror, ProjectPage};
pub use sync::{SyncState, SyncStatus};
