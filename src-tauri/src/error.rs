//! The one error shape that crosses to the UI: `{code, message}`, with `code` from an enum the
//! UI branches on (never on the message text). Invariant: messages come from the client's
//! errors, which never carry a token, a password or a signed URL.

use resonance_client::ClientError;
use serde::Serialize;

/// What kind of failure, for the UI to decide what to offer (sign in again, retry, fix a field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Not signed in, or the session ended: show the sign-in screen.
    SignedOut,
    WrongCredentials,
    /// No OS keyring to keep the session in.
    NoKeyring,
    /// The server cannot be reached: the change waits, the UI says it is offline.
    Offline,
    /// The server refused (role, quota, subscription, validation, conflict); `api_code` says which.
    Refused,
    /// The server failed.
    Server,
    /// A field is not valid (`field` names it), or the audio file cannot be used.
    Invalid,
    NotFound,
    /// The server serves only newer apps: update this one (the message says how).
    UpdateRequired,
    /// The local database or a file on this computer failed.
    Local,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct CommandError {
    pub code: ErrorKind,
    pub message: String,
    pub field: Option<String>,
    /// The server's own code when it refused.
    pub api_code: Option<resonance_api::ErrorCode>,
}

impl CommandError {
    pub fn local(message: impl Into<String>) -> Self {
        Self { code: ErrorKind::Local, message: message.into(), field: None, api_code: None }
    }
}

impl From<ClientError> for CommandError {
    fn from(e: ClientError) -> Self {
        let message = e.to_string();
        let (code, field, api_code) = match &e {
            ClientError::NotSignedIn | ClientError::SignedOut | ClientError::Removed { .. } => {
                (ErrorKind::SignedOut, None, None)
            }
            ClientError::WrongCredentials => (ErrorKind::WrongCredentials, None, None),
            ClientError::NoKeyring(_) => (ErrorKind::NoKeyring, None, None),
            ClientError::Offline { .. } => (ErrorKind::Offline, None, None),
            ClientError::Refused { code, field, .. } => (ErrorKind::Refused, field.clone(), Some(*code)),
            ClientError::Server { .. } | ClientError::UntrustedLink { .. } => (ErrorKind::Server, None, None),
            ClientError::Invalid { field, .. } => (ErrorKind::Invalid, Some(field.clone()), None),
            ClientError::NotFound { .. } => (ErrorKind::NotFound, None, None),
            ClientError::UpdateRequired { .. } => (ErrorKind::UpdateRequired, None, None),
            ClientError::MirrorTooNew { .. }
            | ClientError::Mirror(_)
            | ClientError::Io(_)
            | ClientError::Data(_)
            | ClientError::Export(_) => (ErrorKind::Local, None, None),
        };
        Self { code, message, field, api_code }
    }
}

pub type CmdResult<T> = Result<T, CommandError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_gets_a_code_to_branch_on_and_the_field_to_point_at() {
        let e = CommandError::from(ClientError::Invalid { field: "name".into(), message: "must not be empty".into() });
        assert_eq!(e.code, ErrorKind::Invalid);
        assert_eq!(e.field.as_deref(), Some("name"), "the UI must know which field to mark");
        let e = CommandError::from(ClientError::Refused {
            status: 402,
            code: resonance_api::ErrorCode::QuotaExceeded,
            message: "This month's 3 generations are used.".into(),
            field: None,
        });
        assert_eq!((e.code, e.api_code), (ErrorKind::Refused, Some(resonance_api::ErrorCode::QuotaExceeded)));
        let e = CommandError::from(ClientError::Offline { server: "http://x".into(), reason: "refused".into() });
        assert_eq!(e.code, ErrorKind::Offline);
    }
}
