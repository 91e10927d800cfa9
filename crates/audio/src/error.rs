//! The ways audio input fails, as a user or operator can act on them. Invariant: every failure
//! has exactly one `ErrorKind`, whose name is the CLI's `error: <kind>: <message>` contract.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The file has no bytes.
    Empty,
    /// The bytes are not a media file we recognise.
    NotAudio,
    /// A recognised container whose codec we cannot decode (Opus, for instance).
    UnsupportedCodec,
    /// The file ends before any audio could be decoded.
    Truncated,
    /// The file is damaged: nothing in it decodes.
    Corrupt,
    /// Reading the file failed.
    Io,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::NotAudio => "not_audio",
            Self::UnsupportedCodec => "unsupported_codec",
            Self::Truncated => "truncated",
            Self::Corrupt => "corrupt",
            Self::Io => "io",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct AudioError {
    pub kind: ErrorKind,
    pub message: String,
}

impl AudioError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

impl From<std::io::Error> for AudioError {
    fn from(e: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, e.to_string())
    }
}

pub type Result<T, E = AudioError> = std::result::Result<T, E>;
