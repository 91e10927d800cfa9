//! The one error shape that crosses to the UI: `{code, message}`, with `code` from an enum the
//! UI branches on (never on the message text). Invariant: messages come from the client's
//! errors, which never carry a token, a password or a signed URL.

use resonance_client::ClientError;
use serde::Serialize;

pub use resonance_client::ErrorKind;

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
        let (field, api_code) = match &e {
            ClientError::Refused { code, field, .. } => (field.clone(), Some(*code)),
            ClientError::Invalid { field, .. } => (Some(field.clone()), None),
            _ => (None, None),
        };
        let code = e.kind();
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
