//! An upload's states: on the client, as its mirror keeps them and as a creator sees them (both
//! shells and the UI use these); and on the server, as it receives the bytes. Outside the SQL
//! (whose CHECK constraints a test pins to these), nothing else spells them.

use serde::{Deserialize, Serialize};

/// An upload as the client's mirror keeps it (`uploads.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum UploadState {
    /// To be sent (again): when the project is on the server and the network is up.
    Pending,
    /// Paused by its creator; it stays paused across restarts until resumed.
    Paused,
    /// Every byte is on the server.
    Done,
    /// Refused by the server; it is not tried again.
    Failed,
}

impl UploadState {
    pub const ALL: [UploadState; 4] = [Self::Pending, Self::Paused, Self::Done, Self::Failed];

    /// As it is stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paused => "paused",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    /// How a stored upload is shown before anything happens to it in this run: a pending one
    /// waits for its turn, the project or the network.
    pub fn phase(self) -> UploadPhase {
        match self {
            Self::Pending => UploadPhase::Waiting,
            Self::Paused => UploadPhase::Paused,
            Self::Done => UploadPhase::Done,
            Self::Failed => UploadPhase::Failed,
        }
    }
}

/// Where the server stands with an upload (the server's `uploads.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferState {
    /// Taking chunks until every byte is there (and, unfinished, until it expires).
    Receiving,
    /// Every byte arrived and the file was kept.
    Complete,
    /// The whole file was refused (not audio, not footage, no room, a wrong checksum).
    Failed,
    /// Cancelled by its sender, or expired unfinished: nothing of it is kept.
    Terminated,
}

impl TransferState {
    pub const ALL: [TransferState; 4] = [Self::Receiving, Self::Complete, Self::Failed, Self::Terminated];

    /// As it is stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receiving => "receiving",
            Self::Complete => "complete",
            Self::Failed => "failed",
            Self::Terminated => "terminated",
        }
    }
}

from_spelling!(UploadState: "upload state", TransferState: "transfer state");

/// Read from a database column of text.
impl TryFrom<String> for TransferState {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// An upload as a creator sees it: its stored state, and what is happening to it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum UploadPhase {
    /// Waits for its turn, for its project to reach the server, or for the network.
    Waiting,
    /// Bytes are going out.
    Sending,
    Paused,
    /// Every byte is on the server (a footage upload is then checked before it is listed).
    Done,
    /// Refused; the message says why.
    Failed,
    /// Canceled by its creator: nothing of it is kept.
    Canceled,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_states_read_back_and_unknown_ones_are_refused() {
        for state in TransferState::ALL {
            assert_eq!(TransferState::try_from(state.as_str().to_owned()), Ok(state));
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        assert!("received".parse::<TransferState>().is_err());
    }

    #[test]
    fn stored_states_read_back_and_unknown_ones_are_refused() {
        for state in UploadState::ALL {
            assert_eq!(state.as_str().parse::<UploadState>(), Ok(state));
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        assert!("sending".parse::<UploadState>().is_err());
    }

    #[test]
    fn a_pending_upload_is_shown_waiting() {
        assert_eq!(UploadState::Pending.phase(), UploadPhase::Waiting);
        assert_eq!(UploadState::Paused.phase(), UploadPhase::Paused);
    }
}
