//! The server's error type and its translation to the wire's `{"error": {code, message}}`.
//! Invariant: a response never carries SQL text, a stack trace or a secret; database failures
//! that are not the user's to act on are logged in full and answered with a generic message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use resonance_api::error::FieldError;
use resonance_api::{ErrorBody, ErrorCode, ErrorDetail};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An answer for the user: the request is refused for a reason they can act on.
    #[error("{code:?}: {message}")]
    Refused { code: ErrorCode, message: String, field: Option<String> },
    /// Refused for now, with when to try again (`Retry-After`): a busy server (503) or a client
    /// over its rate (429).
    #[error("{code:?}: {message} (retry after {after_seconds} s)")]
    RetryLater { code: ErrorCode, message: String, after_seconds: u64 },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("password hashing: {0}")]
    PasswordHash(String),
    #[error("token signing: {0}")]
    TokenSigning(#[from] jsonwebtoken::errors::Error),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Something the code guarantees did not hold: a bug, logged in full.
    #[error("internal invariant broken: {0}")]
    Invariant(String),
    /// Object storage failed (a full disk, an unreachable bucket).
    #[error("object storage: {0}")]
    Storage(#[from] object_store::Error),
    #[error("file: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Refused { code, message: message.into(), field: None }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::refused(ErrorCode::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::refused(ErrorCode::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::refused(ErrorCode::Conflict, message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::refused(ErrorCode::BadRequest, message)
    }
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = format!("{field}: {}", message.into());
        Self::Refused { code: ErrorCode::ValidationFailed, message, field: Some(field) }
    }

    /// What the client is told. Database errors raised on purpose by our SQL (custom SQLSTATEs,
    /// RLS refusals, constraint violations) become refusals; anything else is internal.
    pub fn detail(&self) -> ErrorDetail {
        match self {
            Self::Refused { code, message, field } => {
                ErrorDetail { code: *code, message: message.clone(), field: field.clone() }
            }
            Self::RetryLater { code, message, .. } => {
                ErrorDetail { code: *code, message: message.clone(), field: None }
            }
            Self::Database(e) => database_detail(e),
            Self::PasswordHash(_) | Self::TokenSigning(_) | Self::Json(_) | Self::Invariant(_) | Self::Io(_) => {
                internal()
            }
            Self::Storage(_) => ErrorDetail {
                code: ErrorCode::Unavailable,
                message: "Storage is not available right now; retry later.".into(),
                field: None,
            },
        }
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Self::invalid(e.field, e.message)
    }
}

fn internal() -> ErrorDetail {
    ErrorDetail {
        code: ErrorCode::Internal,
        message: "Something went wrong on the server; it has been logged.".into(),
        field: None,
    }
}

fn database_detail(e: &sqlx::Error) -> ErrorDetail {
    let refused = |code, message: &str, field: Option<String>| ErrorDetail { code, message: message.to_owned(), field };
    match e {
        sqlx::Error::Database(db) => {
            let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match code.as_str() {
                // Raised by our own functions, with messages written for users.
                "RZ403" => match pg.and_then(|p| p.hint()) {
                    Some("email_unverified") => refused(ErrorCode::EmailUnverified, db.message(), None),
                    _ => refused(ErrorCode::Forbidden, db.message(), None),
                },
                "RZ404" => refused(ErrorCode::NotFound, db.message(), None),
                "RZ409" => refused(ErrorCode::Conflict, db.message(), None),
                // Generation refusals name their reason in the hint.
                "RZ402" => {
                    let code = match pg.and_then(|p| p.hint()) {
                        Some("trial_ended") => ErrorCode::TrialEnded,
                        Some("quota_exceeded") => ErrorCode::QuotaExceeded,
                        Some("plan_limit") => ErrorCode::PlanLimit,
                        _ => ErrorCode::SubscriptionInactive,
                    };
                    refused(code, db.message(), None)
                }
                "RZ422" => match pg.and_then(|p| p.hint()) {
                    Some("idempotency_key_reused") => refused(ErrorCode::IdempotencyKeyReused, db.message(), None),
                    hint => refused(ErrorCode::ValidationFailed, db.message(), hint.map(str::to_owned)),
                },
                // Row-level security or a missing grant: the role does not allow this write.
                "42501" => refused(ErrorCode::Forbidden, "Your role does not allow this change.", None),
                "23505" => refused(ErrorCode::Conflict, "That already exists.", None),
                "23503" => refused(ErrorCode::Conflict, "That refers to something that does not exist.", None),
                "23514" => {
                    let field = db.constraint().map(constraint_field);
                    refused(ErrorCode::ValidationFailed, "A value is out of its allowed range.", field)
                }
                // Text Postgres cannot keep (U+0000): the request's fault, whichever field it was.
                "22021" | "22P05" => {
                    refused(ErrorCode::ValidationFailed, "Text must not contain the NUL character (U+0000).", None)
                }
                "57014" => refused(ErrorCode::Unavailable, "The database took too long; try again.", None),
                _ => internal(),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            refused(ErrorCode::Unavailable, "The server cannot reach its database right now; try again shortly.", None)
        }
        _ => internal(),
    }
}

/// `projects_effect_intensity_check` → `effect_intensity`.
fn constraint_field(constraint: &str) -> String {
    let trimmed = constraint.strip_suffix("_check").unwrap_or(constraint);
    for table in ["organizations_", "users_", "projects_", "generations_", "system_logs_", "invitations_", "footage_"] {
        if let Some(rest) = trimmed.strip_prefix(table) {
            return rest.to_owned();
        }
    }
    trimmed.to_owned()
}

pub fn error_response(detail: ErrorDetail) -> Response {
    let status = StatusCode::from_u16(detail.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(ErrorBody { error: detail })).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
    }
    response
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let detail = self.detail();
        if let Self::RetryLater { after_seconds, .. } = &self {
            let mut response = error_response(detail);
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(*after_seconds));
            return response;
        }
        if detail.code == ErrorCode::Internal || detail.code == ErrorCode::Unavailable {
            tracing::error!(error = %self, "request failed");
        }
        error_response(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_names_map_to_fields() {
        assert_eq!(constraint_field("projects_effect_intensity_check"), "effect_intensity");
        assert_eq!(constraint_field("organizations_subscription_status_check"), "subscription_status");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = Error::Json(serde_json::from_str::<u8>("x").unwrap_err());
        let d = e.detail();
        assert_eq!(d.code, ErrorCode::Internal);
        assert!(!d.message.contains("expected"));
    }
}
