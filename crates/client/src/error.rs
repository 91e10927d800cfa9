//! What can go wrong in the client, each variant something the user or the sync engine can act
//! on: sign in again, wait for the network, fix a field, resolve a conflict. Invariant: no
//! message carries a token, a password or a signed URL.

use resonance_api::ErrorCode;

/// What kind of failure, for a shell to decide what to offer (sign in again, retry, fix a field)
/// and for the mirror to store beside a failed change. The UI branches on it, never on a
/// message's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Not signed in, or the session ended: show the sign-in screen.
    SignedOut,
    WrongCredentials,
    /// No OS keyring to keep the session in.
    NoKeyring,
    /// The server cannot be reached: the change waits, the UI says it is offline.
    Offline,
    /// The server refused (role, quota, subscription, validation, conflict); its code says which.
    Refused,
    /// The server failed.
    Server,
    /// A field is not valid, or the audio file cannot be used.
    Invalid,
    NotFound,
    /// The server serves only newer apps: update this one (the message says how).
    UpdateRequired,
    /// The local database or a file on this computer failed, or is damaged.
    Local,
    /// A bug or a crash inside Resonance.
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 11] = [
        Self::SignedOut,
        Self::WrongCredentials,
        Self::NoKeyring,
        Self::Offline,
        Self::Refused,
        Self::Server,
        Self::Invalid,
        Self::NotFound,
        Self::UpdateRequired,
        Self::Local,
        Self::Internal,
    ];

    /// The stored spelling (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedOut => "signed_out",
            Self::WrongCredentials => "wrong_credentials",
            Self::NoKeyring => "no_keyring",
            Self::Offline => "offline",
            Self::Refused => "refused",
            Self::Server => "server",
            Self::Invalid => "invalid",
            Self::NotFound => "not_found",
            Self::UpdateRequired => "update_required",
            Self::Local => "local",
            Self::Internal => "internal",
        }
    }
}

impl std::str::FromStr for ErrorKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("unknown error kind {s:?}"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("Not signed in. Sign in first (resonance login EMAIL).")]
    NotSignedIn,
    #[error("You were signed out (the session ended or was revoked). Sign in again.")]
    SignedOut,
    /// The server says this account was removed from its organization; what this computer kept
    /// of the organization for it has been deleted.
    #[error(
        "You were removed from {organization}, so this computer's copy of its projects, videos and unsent edits was deleted. Ask an admin to invite you again."
    )]
    Removed { organization: String },
    #[error("Wrong e-mail or password.")]
    WrongCredentials,
    #[error(
        "No OS keyring is available ({0}). Resonance keeps your session only in the keyring, never in a \
         plain file: unlock or start your keyring (GNOME Keyring, KWallet, Keychain, Credential Manager) and sign in again."
    )]
    NoKeyring(String),
    #[error("The server at {server} cannot be reached ({reason}).")]
    Offline { server: String, reason: String },
    /// The server refused the request for good (validation, role, conflict, not found).
    #[error("{message}")]
    Refused { status: u16, code: ErrorCode, message: String, field: Option<String> },
    /// The server failed (5xx) or answered something this client cannot read.
    #[error("The server failed ({status}): {message}")]
    Server { status: u16, message: String },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A link from the server that this app will not open (billing pages are Stripe's, https).
    #[error("The server sent a billing link that does not lead to Stripe ({shown}); it was not opened.")]
    UntrustedLink { shown: String },
    #[error("No {what} {id} here.")]
    NotFound { what: &'static str, id: String },
    /// The server serves only newer apps; the message (the server's) says how to update.
    /// Nothing is sent until then: queued changes and uploads wait, as when offline.
    #[error("{message}")]
    UpdateRequired { message: String },
    #[error(
        "This computer's Resonance data was written by a newer version (local schema {found}; this version knows {known}). Update Resonance."
    )]
    MirrorTooNew { found: i64, known: i64 },
    /// An export could not be made on this machine (no ffmpeg, a video it cannot read, a full
    /// disk); nothing was left at the destination.
    #[error("{0}")]
    Export(String),
    #[error("The local database failed: {0}")]
    Mirror(#[from] rusqlite::Error),
    #[error("A file could not be read or written: {0}")]
    Io(#[from] std::io::Error),
    /// What this computer keeps is not what this version wrote (a row it cannot read).
    #[error("This computer's Resonance data is damaged: {0}")]
    Corrupt(String),
    /// A bug or a crash inside Resonance (a task that panicked, a library that would not start).
    #[error("Something went wrong inside Resonance: {0}")]
    Internal(String),
    #[error("Unexpected data: {0}")]
    Data(#[from] serde_json::Error),
}

impl ClientError {
    /// A decoding failure of `path`, as the user is told it.
    pub fn not_audio(path: &std::path::Path, e: resonance_audio::AudioError) -> Self {
        Self::Invalid {
            field: "audio".into(),
            message: format!("{} is not audio we can use ({}: {})", path.display(), e.kind, e.message),
        }
    }

    /// Worth retrying later as it is (the network, a failing server), as opposed to a refusal.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Offline { .. } => true,
            Self::Server { status, .. } => *status >= 500 || *status == 429,
            Self::Refused { code, .. } => {
                matches!(code, ErrorCode::TooManyAttempts | ErrorCode::Unavailable | ErrorCode::BillingUnavailable)
            }
            _ => false,
        }
    }

    /// The kind of failure, for storing and for the UI to branch on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NotSignedIn | Self::SignedOut | Self::Removed { .. } => ErrorKind::SignedOut,
            Self::WrongCredentials => ErrorKind::WrongCredentials,
            Self::NoKeyring(_) => ErrorKind::NoKeyring,
            Self::Offline { .. } => ErrorKind::Offline,
            Self::Refused { .. } => ErrorKind::Refused,
            Self::Server { .. } | Self::UntrustedLink { .. } => ErrorKind::Server,
            Self::Invalid { .. } => ErrorKind::Invalid,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::UpdateRequired { .. } => ErrorKind::UpdateRequired,
            Self::MirrorTooNew { .. }
            | Self::Mirror(_)
            | Self::Io(_)
            | Self::Data(_)
            | Self::Export(_)
            | Self::Corrupt(_) => ErrorKind::Local,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The user has to sign in (again) before anything else works.
    pub fn needs_sign_in(&self) -> bool {
        matches!(self, Self::NotSignedIn | Self::SignedOut | Self::Removed { .. })
    }

    /// This app is too old for the server: nothing works until it is updated.
    pub fn needs_update(&self) -> bool {
        matches!(self, Self::UpdateRequired { .. })
    }

    /// Nothing can be sent until the user acts (signs in again, updates the app): work stops
    /// and is kept as it is, never marked refused or failed.
    pub fn waits_for_user(&self) -> bool {
        self.needs_sign_in() || self.needs_update()
    }
}

impl From<resonance_api::error::FieldError> for ClientError {
    fn from(e: resonance_api::error::FieldError) -> Self {
        Self::Invalid { field: e.field.to_owned(), message: e.message }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::ErrorKind;

    #[test]
    fn an_error_kind_is_stored_as_it_is_serialised_and_read_back() {
        for kind in ErrorKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap_or_default(), kind.as_str());
            assert_eq!(kind.as_str().parse::<ErrorKind>(), Ok(kind));
        }
        assert!("gone".parse::<ErrorKind>().is_err());
    }
}
