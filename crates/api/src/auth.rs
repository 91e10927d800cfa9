//! Sign-up, tokens, the caller's own profile, and member management requests. Invariant: every
//! password and token is a [`Sensitive`] that only reaches the wire through an explicit opt-in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::FieldError;
use crate::model::{Organization, Role, User};
use crate::Sensitive;

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 1024;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const PERSON_NAME_MAX_CHARS: usize = 120;

/// Creates an account. With `organization_name`, a new organization with the caller as owner;
/// with `invite_token`, joins the organization that invited this e-mail, with the invited role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignUpRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 254,
            pattern = r"^[^\s\u0000-\u001F\u007F-\u009F]+@[^\s@.\u0000-\u001F\u007F-\u009F][^\s@\u0000-\u001F\u007F-\u009F]*\.[^\s@\u0000-\u001F\u007F-\u009F]*[^\s@.\u0000-\u001F\u007F-\u009F]$"
        )
    )]
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 10, max_length = 1024))]
    #[serde(serialize_with = "Sensitive::expose")]
    pub password: Sensitive<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 120,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    pub name: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 120,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    #[serde(default)]
    pub organization_name: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, min_length = 1, max_length = 200, pattern = r"^[A-Za-z0-9_-]+$")
    )]
    #[serde(default, serialize_with = "Sensitive::expose_option", skip_serializing_if = "Option::is_none")]
    pub invite_token: Option<Sensitive<String>>,
}

/// The answer to a sign-up on a server that verifies e-mail addresses: the same whether or not
/// the address already had an account (what happens next is told by e-mail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignUpAccepted {
    pub message: String,
}

/// `grant_type` is `password` (with `email` and `password`) or `refresh_token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "grant_type", rename_all = "snake_case")]
pub enum TokenRequest {
    Password {
        email: String,
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        #[serde(serialize_with = "Sensitive::expose")]
        password: Sensitive<String>,
    },
    RefreshToken {
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        #[serde(serialize_with = "Sensitive::expose")]
        refresh_token: Sensitive<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[serde(serialize_with = "Sensitive::expose")]
    pub access_token: Sensitive<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[serde(serialize_with = "Sensitive::expose")]
    pub refresh_token: Sensitive<String>,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: User,
}

/// `GET /v1/me`: who the caller is and what their organization may do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub user: User,
    pub role: Role,
    /// Includes plan, subscription status, trial end and the month's generation usage and limit.
    pub organization: Organization,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InviteMember {
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 254,
            pattern = r"^[^\s\u0000-\u001F\u007F-\u009F]+@[^\s@.\u0000-\u001F\u007F-\u009F][^\s@\u0000-\u001F\u007F-\u009F]*\.[^\s@\u0000-\u001F\u007F-\u009F]*[^\s@.\u0000-\u001F\u007F-\u009F]$"
        )
    )]
    pub email: String,
    pub role: Role,
}

/// A pending invitation. `invite_token` is present only in the answer that created it: hand it
/// to the invitee, who signs up with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invitation {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub role: Role,
    pub invited_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[serde(default, serialize_with = "Sensitive::expose_option", skip_serializing_if = "Option::is_none")]
    pub invite_token: Option<Sensitive<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    pub role: Role,
}

/// Trims and lower-cases nothing: e-mails are stored as typed and compared case-insensitively.
pub fn validate_email(email: &str) -> Result<(), FieldError> {
    let e = email.trim();
    if e.len() != email.len() {
        return Err(FieldError::new("email", "must not start or end with spaces"));
    }
    if e.chars().count() > EMAIL_MAX_CHARS {
        return Err(FieldError::new("email", format!("must be at most {EMAIL_MAX_CHARS} characters")));
    }
    let Some((local, domain)) = e.rsplit_once('@') else {
        return Err(FieldError::new("email", "must be an e-mail address like name@example.com"));
    };
    if local.is_empty()
        || domain.is_empty()
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || e.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(FieldError::new("email", "must be an e-mail address like name@example.com"));
    }
    Ok(())
}

pub fn validate_password(password: &str) -> Result<(), FieldError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(FieldError::new("password", format!("must be at least {PASSWORD_MIN_CHARS} characters")));
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(FieldError::new("password", format!("must be at most {PASSWORD_MAX_CHARS} characters")));
    }
    Ok(())
}

pub fn validate_person_name(field: &'static str, name: &str, max: usize) -> Result<(), FieldError> {
    if name.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if name.chars().count() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(())
}

/// `POST /v1/auth/invitation`: what an invitation code leads to, asked before signing up with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InvitationLookup {
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[A-Za-z0-9_-]+$")
    )]
    #[serde(serialize_with = "Sensitive::expose")]
    pub invite_token: Sensitive<String>,
}

/// What a person invited sees before joining: who invites them, where, with which role, and the
/// address the invitation is for (the account must be made with it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct InvitationPreview {
    pub organization_name: String,
    pub email: String,
    pub role: Role,
    /// The inviter's name (or e-mail when they have no name).
    pub invited_by: String,
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub expires_at: DateTime<Utc>,
}

/// Codes are 43 URL-safe characters; anything much longer is not one.
pub const INVITE_CODE_MAX_CHARS: usize = 200;

/// An invitation code as pasted: surrounding spaces and a `resonance://invite/` prefix (someone
/// pasting the whole link) are dropped; what remains must look like a code.
pub fn parse_invite_code(text: &str) -> Result<String, FieldError> {
    let t = text.trim();
    let t = t.strip_prefix("resonance://invite/").unwrap_or(t).trim_end_matches('/');
    if t.is_empty() {
        return Err(FieldError::new("invite_token", "paste the invitation code you were sent"));
    }
    if t.chars().count() > INVITE_CODE_MAX_CHARS
        || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(FieldError::new(
            "invite_token",
            "is not an invitation code (letters, digits, - and _ only): copy the whole code from the message",
        ));
    }
    Ok(t.to_owned())
}

impl SignUpRequest {
    /// Every rule the request breaks, in the form's order, so a form can show them all as the
    /// person types (`validate` stops at the first).
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if let Err(e) = validate_person_name("name", &self.name, PERSON_NAME_MAX_CHARS) {
            problems.push(e);
        }
        if let Err(e) = validate_email(&self.email) {
            problems.push(e);
        }
        if let Err(e) = validate_password(self.password.reveal()) {
            problems.push(e);
        }
        if let Err(e) = self.organization_or_invitation() {
            problems.push(e);
        }
        problems
    }

    fn organization_or_invitation(&self) -> Result<(), FieldError> {
        match (&self.organization_name, &self.invite_token) {
            (Some(org), None) => validate_person_name("organization_name", org, PERSON_NAME_MAX_CHARS),
            (None, Some(code)) => parse_invite_code(code.reveal()).map(|_| ()),
            (Some(_), Some(_)) => Err(FieldError::new(
                "organization_name",
                "give either organization_name (new organization) or invite_token (join one), not both",
            )),
            (None, None) => {
                Err(FieldError::new("organization_name", "is required unless you sign up with an invite_token"))
            }
        }
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        validate_email(&self.email)?;
        validate_password(self.password.reveal())?;
        validate_person_name("name", &self.name, PERSON_NAME_MAX_CHARS)?;
        self.organization_or_invitation()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_passwords_are_refused() {
        assert_eq!(validate_password("123456789").unwrap_err().field, "password");
        assert!(validate_password("1234567890").is_ok());
    }

    #[test]
    fn emails_are_checked_for_shape() {
        for bad in ["", "plain", "a@b", "@example.com", "a@.com", " a@example.com", "a b@example.com"] {
            assert!(validate_email(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(validate_email("Ana.Rivera+music@example.co.uk").is_ok());
    }

    #[test]
    fn token_requests_are_tagged_by_grant_type() {
        let r: TokenRequest =
            serde_json::from_str(r#"{"grant_type":"password","email":"a@example.com","password":"p"}"#).unwrap();
        assert!(matches!(r, TokenRequest::Password { .. }));
        let r: TokenRequest = serde_json::from_str(r#"{"grant_type":"refresh_token","refresh_token":"t"}"#).unwrap();
        assert!(matches!(r, TokenRequest::RefreshToken { .. }));
        assert!(format!("{r:?}").contains("<redacted>"));
        assert!(serde_json::from_str::<TokenRequest>(r#"{"grant_type":"magic"}"#).is_err());
    }

    #[test]
    fn sign_up_needs_exactly_one_of_org_or_invite() {
        let mut s = SignUpRequest {
            email: "a@example.com".into(),
            password: Sensitive::new("correct horse".into()),
            name: "Ana".into(),
            organization_name: None,
            invite_token: None,
        };
        assert_eq!(s.validate().unwrap_err().field, "organization_name");
        s.organization_name = Some("Band".into());
        assert!(s.validate().is_ok());
        s.invite_token = Some(Sensitive::new("x".into()));
        assert!(s.validate().is_err());
        s.organization_name = None;
        assert!(s.validate().is_ok());
        s.invite_token = Some(Sensitive::new("not a code".into()));
        assert_eq!(s.validate().unwrap_err().field, "invite_token");
    }

    #[test]
    fn problems_lists_every_broken_rule_in_the_forms_order() {
        let s = SignUpRequest {
            email: "ana@".into(),
            password: Sensitive::new("short".into()),
            name: " ".into(),
            organization_name: Some(String::new()),
            invite_token: None,
        };
        let fields: Vec<_> = s.problems().iter().map(|p| p.field).collect();
        assert_eq!(fields, ["name", "email", "password", "organization_name"]);
        assert!(s.problems()[2].message.contains(&PASSWORD_MIN_CHARS.to_string()));
        let fine = SignUpRequest {
            email: "ana@example.com".into(),
            password: Sensitive::new("ten chars!".into()),
            name: "Ana".into(),
            organization_name: Some("Band".into()),
            invite_token: None,
        };
        assert!(fine.problems().is_empty());
    }

    #[test]
    fn invite_codes_are_read_from_a_code_or_a_whole_link() {
        let code = "Zx3_-abcDEF0123456789abcdefghijklmnopqrstu";
        assert_eq!(parse_invite_code(code).unwrap(), code);
        assert_eq!(parse_invite_code(&format!("  {code}\n")).unwrap(), code);
        assert_eq!(parse_invite_code(&format!("resonance://invite/{code}/")).unwrap(), code);
        for bad in ["", "   ", "resonance://invite/", "abc def", "abc/def", "cod\u{e9}", &"a".repeat(201)] {
            assert_eq!(parse_invite_code(bad).unwrap_err().field, "invite_token", "{bad:?}");
        }
    }
}
