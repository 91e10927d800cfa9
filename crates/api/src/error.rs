//! The one error shape that crosses the wire: `{"error": {"code", "message", "field"?}}`.
//! Invariant: clients branch on `code` (a closed enum), never on `message`, and each code maps to
//! exactly one HTTP status.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed (bad JSON, bad query string, bad id).
    BadRequest,
    /// The endpoint does not answer this method; the `Allow` header lists those it does.
    MethodNotAllowed,
    /// The `Idempotency-Key` was already used with another request or another body.
    IdempotencyKeyReused,
    /// No valid access token was presented.
    Unauthenticated,
    /// The access token has expired: refresh it and retry.
    TokenExpired,
    /// The session was signed out, revoked, or the member was removed: sign in again.
    SessionRevoked,
    /// Wrong e-mail or wrong password (deliberately indistinguishable).
    InvalidCredentials,
    /// The refresh token is unknown, expired or revoked: sign in again.
    InvalidRefreshToken,
    /// The caller's role does not allow this.
    Forbidden,
    /// The caller was removed from the organization: a client deletes what it keeps of the
    /// organization's data for this account, and never sends its queued edits.
    MembershipEnded,
    /// The account's e-mail address is not verified yet: open the link that was sent to it.
    EmailUnverified,
    NotFound,
    /// The e-mail address already has an account.
    EmailTaken,
    /// The request conflicts with the current state (e.g. removing the last owner).
    Conflict,
    /// A field failed validation; `field` names it.
    ValidationFailed,
    /// Too many failed sign-in attempts, or too many requests from one address; wait and retry
    /// (`Retry-After` says how long).
    TooManyAttempts,
    /// The request body is larger than the server accepts.
    PayloadTooLarge,
    /// The organization's subscription is not active (past due, canceled, unpaid).
    SubscriptionInactive,
    /// The free trial is over and there is no active subscription.
    TrialEnded,
    /// This month's generations are used up.
    QuotaExceeded,
    /// The plan does not include this (e.g. a resolution above the plan's highest).
    PlanLimit,
    /// This server has no Stripe key: checkout and the billing portal are unavailable.
    BillingNotConfigured,
    /// Stripe could not be reached or refused the request; retry later.
    BillingUnavailable,
    /// A tus request without `Tus-Resumable: 1.0.0`.
    TusVersionUnsupported,
    /// A tus chunk whose `Upload-Checksum` does not match its bytes.
    ChecksumMismatch,
    /// The upload expired before it was finished; start a new one.
    UploadExpired,
    /// The share link expired or was turned off.
    ShareLinkGone,
    /// A tus chunk not sent as `application/offset+octet-stream`.
    WrongContentType,
    /// The uploaded file is not audio that can be decoded.
    NotAudio,
    /// The uploaded file is not footage that can be decoded (a clip or a still of a kind we take).
    NotFootage,
    /// This app is older than the server accepts (`GET /v1/health` names the oldest it does):
    /// update it; the message says how.
    ClientOutdated,
    /// The server cannot reach its database right now; retry later.
    Unavailable,
    /// Something failed on the server; the operator's log has the details.
    Internal,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::MethodNotAllowed => 405,
            Self::Unauthenticated
            | Self::TokenExpired
            | Self::SessionRevoked
            | Self::InvalidCredentials
            | Self::InvalidRefreshToken => 401,
            Self::Forbidden | Self::MembershipEnded | Self::EmailUnverified => 403,
            Self::NotFound => 404,
            Self::EmailTaken | Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::SubscriptionInactive | Self::TrialEnded | Self::QuotaExceeded | Self::PlanLimit => 402,
            Self::BillingNotConfigured => 501,
            Self::BillingUnavailable => 502,
            Self::TusVersionUnsupported => 412,
            Self::ChecksumMismatch => 460,
            Self::UploadExpired | Self::ShareLinkGone => 410,
            Self::WrongContentType => 415,
            Self::NotAudio | Self::NotFootage | Self::IdempotencyKeyReused => 422,
            Self::ValidationFailed => 422,
            Self::TooManyAttempts => 429,
            Self::ClientOutdated => 426,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// For `validation_failed`: the request field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A field that failed validation, with a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_on_the_wire() {
        assert_eq!(serde_json::to_string(&ErrorCode::TooManyAttempts).unwrap(), r#""too_many_attempts""#);
        assert_eq!(ErrorCode::TooManyAttempts.http_status(), 429);
        assert_eq!(ErrorCode::ValidationFailed.http_status(), 422);
    }

    #[test]
    fn field_is_omitted_when_absent() {
        let body = ErrorBody {
            error: ErrorDetail { code: ErrorCode::NotFound, message: "no such project".into(), field: None },
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":{"code":"not_found","message":"no such project"}}"#
        );
    }
}
