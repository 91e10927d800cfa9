//! Accounts and sessions: sign-up, password sign-in with throttling, refresh-token rotation with
//! reuse detection and a grace window, and sign-out. Invariants: wrong e-mail and wrong password
//! are indistinguishable (same answer, same work); a refresh token works once, except that within
//! the grace window a duplicate exchange gets the same successor; presenting a token after that
//! revokes its whole session.

use std::time::Duration;

use chrono::{DateTime, Utc};
use resonance_api::auth::{InvitationPreview, SignUpAccepted, SignUpRequest, TokenResponse};
use resonance_api::model::{LogStatus, Role};
use resonance_api::{ErrorCode, Sensitive};
use serde_json::json;
use uuid::Uuid;

use super::logs::{self, Entry};
use super::members;
use crate::credentials::{new_opaque_token, token_hash, Keys, PasswordSlots};
use crate::db::{act_as, Caller, Db, Tx};
use crate::error::{Error, Result};

/// Failed sign-ins for one e-mail from one client address within [`FAILURE_WINDOW_MINUTES`]
/// before that client is answered 429 for that e-mail. Counted per address, so a stranger's
/// wrong guesses do not lock the account's owner out.
pub const MAX_FAILURES: i64 = 10;
/// Failed sign-ins for one e-mail from all addresses together before 429 for everyone: a
/// ceiling only a distributed guessing attack reaches.
pub const MAX_FAILURES_PER_EMAIL: i64 = 100;
pub const FAILURE_WINDOW_MINUTES: i64 = 15;

/// A password sign-in as it arrives.
pub struct SignIn<'a> {
    pub email: &'a str,
    pub password: &'a Sensitive<String>,
    /// The client's address, which failures are counted under.
    pub client: std::net::IpAddr,
}

#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub refresh_ttl: Duration,
    pub grace: Duration,
}

fn wrong_credentials() -> Error {
    Error::refused(ErrorCode::InvalidCredentials, "Wrong e-mail or password.")
}

fn invalid_refresh(message: &str) -> Error {
    Error::refused(ErrorCode::InvalidRefreshToken, message)
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

async fn record(
    tx: &mut Tx,
    user_id: Option<Uuid>,
    action: &str,
    status: LogStatus,
    message: &str,
    details: serde_json::Value,
) -> Result<()> {
    sqlx::query("SELECT auth_private.record_auth_event($1, $2, $3, $4, $5)")
        .bind(user_id)
        .bind(action)
        .bind(status.as_str())
        .bind(message)
        .bind(sqlx::types::Json(details))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn start_session(tx: &mut Tx, user_id: Uuid, policy: SessionPolicy) -> Result<(Uuid, String)> {
    let session_id: Uuid = sqlx::query_scalar("INSERT INTO auth.sessions (user_id) VALUES ($1) RETURNING id")
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?;
    let token = new_opaque_token();
    store_refresh_token(tx, session_id, &token, None, policy).await?;
    Ok((session_id, token))
}

/// Stores a refresh token's hash, valid for the policy's lifetime from now.
async fn store_refresh_token(
    tx: &mut Tx,
    session_id: Uuid,
    token: &str,
    parent: Option<i64>,
    policy: SessionPolicy,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO auth.refresh_tokens (session_id, token_hash, parent_id, expires_at) \
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(session_id)
    .bind(token_hash(token))
    .bind(parent)
    .bind(seconds(policy.refresh_ttl))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Builds the token answer; switches the transaction to the user for the RLS-checked profile read.
async fn answer(tx: &mut Tx, keys: &Keys, user_id: Uuid, session_id: Uuid, refresh: String) -> Result<TokenResponse> {
    act_as(tx, user_id, session_id).await?;
    let user = members::user(tx, user_id).await?;
    Ok(TokenResponse {
        access_token: Sensitive::new(keys.issue_access(user_id, session_id)?),
        refresh_token: Sensitive::new(refresh),
        token_type: "bearer".into(),
        expires_in: i64::try_from(keys.access_ttl().as_secs()).unwrap_or(i64::MAX),
        user,
    })
}

fn is_unique_violation(e: &Error) -> bool {
    matches!(e, Error::Database(sqlx::Error::Database(d)) if d.code().as_deref() == Some("23505"))
}

/// How a sign-up was answered.
pub enum SignedUp {
    /// Signed in at once: an invitation, or a server that does not verify e-mail.
    Tokens(TokenResponse),
    /// A new organization on a server that verifies e-mail: the same answer whether or not the
    /// address already had an account; the e-mail says which.
    Accepted(SignUpAccepted),
}

/// E-mail verification for sign-ups: whether mail goes out, and where its links lead.
pub struct Verification<'a> {
    pub mail: &'a crate::mail::MailSettings,
    /// This server's public address (`https://host`), for links in e-mail.
    pub base_url: &'a str,
}

fn accepted(email: &str) -> SignUpAccepted {
    SignUpAccepted { message: format!("We sent a message to {email}: open it to confirm the address, then sign in.") }
}

pub async fn sign_up(
    db: &Db,
    keys: &Keys,
    slots: &PasswordSlots,
    policy: SessionPolicy,
    verification: &Verification<'_>,
    req: &SignUpRequest,
) -> Result<SignedUp> {
    req.validate()?;
    // Hashed whatever follows, so every answer costs the same.
    let hash = slots.hash(req.password.reveal().clone()).await?;
    let mut tx = db.begin_auth().await?;
    if let (true, Some(org), None) = (verification.mail.is_configured(), &req.organization_name, &req.invite_token) {
        let inserted: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO auth.users (email, encrypted_password) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&req.email)
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(user_id) = inserted else {
            crate::mail::queue(
                &mut tx,
                &req.email,
                "Your Resonance account",
                "Someone, perhaps you, tried to create a Resonance account with this address. You already \
                 have one: sign in with it in Resonance Desktop.\n\nIf it was not you, you need do nothing.",
            )
            .await?;
            tx.commit().await?;
            return Ok(SignedUp::Accepted(accepted(&req.email)));
        };
        sqlx::query("SELECT auth_private.create_organization_with_owner($1, $2, $3, $4)")
            .bind(user_id)
            .bind(&req.email)
            .bind(&req.name)
            .bind(org)
            .execute(&mut *tx)
            .await?;
        let token = new_opaque_token();
        sqlx::query("INSERT INTO auth.email_verifications (token_hash, user_id) VALUES ($1, $2)")
            .bind(token_hash(&token))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let body = format!(
            "Welcome to Resonance, {}.\n\nConfirm this address to start making videos:\n{}/v1/auth/verify?token={token}\n\n\
             The link works for 7 days. If you did not sign up, you need do nothing.",
            req.name, verification.base_url
        );
        crate::mail::queue(&mut tx, &req.email, "Confirm your e-mail for Resonance", &body).await?;
        let message = format!("{} created the organization (e-mail to confirm)", req.name);
        record(&mut tx, Some(user_id), "auth.sign_up", LogStatus::Success, &message, json!({})).await?;
        tx.commit().await?;
        tracing::info!(%user_id, "signed up; the e-mail address is to be confirmed");
        return Ok(SignedUp::Accepted(accepted(&req.email)));
    }
    // An invitation, or no e-mail to verify with: the account counts as verified.
    let user_id: Uuid = sqlx::query_scalar(
        "INSERT INTO auth.users (email, encrypted_password, email_verified_at) VALUES ($1, $2, now()) RETURNING id",
    )
    .bind(&req.email)
    .bind(hash)
    .fetch_one(&mut *tx)
    .await
    .map_err(Error::from)
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::refused(ErrorCode::EmailTaken, "An account with this e-mail already exists; sign in instead.")
        } else {
            e
        }
    })?;
    let (action, message) = match (&req.organization_name, &req.invite_token) {
        (Some(org), _) => {
            sqlx::query("SELECT auth_private.create_organization_with_owner($1, $2, $3, $4)")
                .bind(user_id)
                .bind(&req.email)
                .bind(&req.name)
                .bind(org)
                .execute(&mut *tx)
                .await?;
            ("auth.sign_up", format!("{} created the organization", req.name))
        }
        (None, Some(invite)) => {
            // As `validate` read it: a pasted link or padded code is the code itself.
            let code = resonance_api::auth::parse_invite_code(invite.reveal())?;
            sqlx::query("SELECT auth_private.accept_invitation($1, $2, $3, $4)")
                .bind(token_hash(&code))
                .bind(user_id)
                .bind(&req.email)
                .bind(&req.name)
                .execute(&mut *tx)
                .await?;
            ("member.join", format!("{} joined by invitation", req.name))
        }
        (None, None) => {
            return Err(Error::invalid("organization_name", "is required unless you sign up with an invite_token"))
        }
    };
    let (session_id, refresh) = start_session(&mut tx, user_id, policy).await?;
    record(&mut tx, Some(user_id), action, LogStatus::Success, &message, json!({ "session_id": session_id })).await?;
    let response = answer(&mut tx, keys, user_id, session_id, refresh).await?;
    tx.commit().await?;
    tracing::info!(%user_id, "signed up");
    Ok(SignedUp::Tokens(response))
}

/// What an invitation code leads to, for the invitee to see before signing up with it. The
/// same answer for a code never made, used or expired: the inviter can send a new one.
pub async fn invitation_preview(db: &Db, code: &str) -> Result<InvitationPreview> {
    let code = resonance_api::auth::parse_invite_code(code)?;
    let mut tx = db.begin_auth().await?;
    let row: Option<(String, String, String, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT * FROM auth_private.invitation_preview($1)")
            .bind(token_hash(&code))
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    let Some((organization_name, email, role, invited_by, expires_at)) = row else {
        return Err(Error::not_found("This invitation is unknown, already used or expired: ask for a new one."));
    };
    let role =
        Role::parse(&role).ok_or_else(|| Error::Invariant(format!("an invitation has the unknown role {role:?}")))?;
    Ok(InvitationPreview { organization_name, email, role, invited_by, expires_at })
}

/// Confirms an account's e-mail address with the token its message carried; false when the
/// token is unknown, used or expired.
pub async fn verify_email(db: &Db, token: &str) -> Result<bool> {
    let mut tx = db.begin_auth().await?;
    let user: Option<Uuid> = sqlx::query_scalar(
        "DELETE FROM auth.email_verifications WHERE token_hash = $1 AND expires_at > now() RETURNING user_id",
    )
    .bind(token_hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user_id) = user else { return Ok(false) };
    sqlx::query("UPDATE auth.users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    record(&mut tx, Some(user_id), "auth.verify_email", LogStatus::Success, "Confirmed the e-mail address", json!({}))
        .await?;
    tx.commit().await?;
    Ok(true)
}

fn too_many_failures() -> Error {
    Error::refused(
        ErrorCode::TooManyAttempts,
        format!(
            "Too many failed sign-in attempts for this e-mail; wait {FAILURE_WINDOW_MINUTES} minutes and try again."
        ),
    )
}

/// Counts this attempt as a failure before the password is checked (it is uncounted if the
/// password is right), under a lock on the e-mail, so a burst of attempts can never check more
/// passwords than the limits allow. `false` when a limit is reached.
async fn claim_attempt(tx: &mut Tx, email_key: &str, client: &str) -> Result<bool> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('sign-in:' || $1, 0))")
        .bind(email_key)
        .execute(&mut **tx)
        .await?;
    let (from_client, in_all): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE client = $2), count(*) FROM auth.sign_in_failures \
         WHERE email_key = $1 AND attempted_at > now() - make_interval(mins => $3::int)",
    )
    .bind(email_key)
    .bind(client)
    .bind(FAILURE_WINDOW_MINUTES)
    .fetch_one(&mut **tx)
    .await?;
    if from_client >= MAX_FAILURES || in_all >= MAX_FAILURES_PER_EMAIL {
        return Ok(false);
    }
    sqlx::query("INSERT INTO auth.sign_in_failures (email_key, client) VALUES ($1, $2)")
        .bind(email_key)
        .bind(client)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

pub async fn sign_in(
    db: &Db,
    keys: &Keys,
    slots: &PasswordSlots,
    policy: SessionPolicy,
    attempt: &SignIn<'_>,
) -> Result<TokenResponse> {
    let email_key = attempt.email.trim().to_lowercase();
    // No account has an address Postgres cannot store: it is a wrong e-mail like any other.
    if email_key.contains('\0') {
        return Err(wrong_credentials());
    }
    let client = attempt.client.to_string();
    let mut tx = db.begin_auth().await?;
    if !claim_attempt(&mut tx, &email_key, &client).await? {
        return Err(too_many_failures());
    }
    let account: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, encrypted_password FROM auth.users WHERE lower(email) = $1")
            .bind(&email_key)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?; // hold no connection while argon2 works

    let (user_id, stored) = match account {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    let ok = slots.verify(attempt.password.reveal().clone(), stored).await?;
    let mut tx = db.begin_auth().await?;
    let Some(user_id) = user_id.filter(|_| ok) else {
        // The failure was counted by the claim. Only an account's own failures are logged
        // (in its organization's activity); unknown e-mails leave no row anyone could pile up.
        if user_id.is_some() {
            record(&mut tx, user_id, "auth.sign_in", LogStatus::Warning, "Failed sign-in: wrong password", json!({}))
                .await?;
        }
        tx.commit().await?;
        return Err(wrong_credentials());
    };
    let state: String =
        sqlx::query_scalar("SELECT auth_private.membership_state($1)").bind(user_id).fetch_one(&mut *tx).await?;
    if state != "active" {
        tx.commit().await?;
        return Err(crate::db::membership_ended());
    }
    sqlx::query("DELETE FROM auth.sign_in_failures WHERE email_key = $1 AND client = $2")
        .bind(&email_key)
        .bind(&client)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE auth.users SET last_sign_in_at = now() WHERE id = $1").bind(user_id).execute(&mut *tx).await?;
    let (session_id, refresh) = start_session(&mut tx, user_id, policy).await?;
    record(
        &mut tx,
        Some(user_id),
        "auth.sign_in",
        LogStatus::Success,
        "Signed in",
        json!({ "session_id": session_id }),
    )
    .await?;
    let response = answer(&mut tx, keys, user_id, session_id, refresh).await?;
    tx.commit().await?;
    Ok(response)
}

#[derive(sqlx::FromRow)]
struct PresentedToken {
    id: i64,
    session_id: Uuid,
    user_id: Uuid,
    expires_at: DateTime<Utc>,
    rotated_at: Option<DateTime<Utc>>,
    session_revoked: bool,
    now: DateTime<Utc>,
}

pub async fn refresh(db: &Db, keys: &Keys, policy: SessionPolicy, token: &Sensitive<String>) -> Result<TokenResponse> {
    let token = token.reveal();
    let mut tx = db.begin_auth().await?;
    // Locking the session serializes racing refreshes of one session.
    let t: Option<PresentedToken> = sqlx::query_as(
        "SELECT rt.id, rt.session_id, s.user_id, rt.expires_at, rt.rotated_at, \
                s.revoked_at IS NOT NULL AS session_revoked, now() AS now \
         FROM auth.refresh_tokens rt JOIN auth.sessions s ON s.id = rt.session_id \
         WHERE rt.token_hash = $1 FOR UPDATE OF rt, s",
    )
    .bind(token_hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(t) = t else {
        return Err(invalid_refresh("This sign-in is no longer valid; sign in again."));
    };
    // Removal first: a removed member's devices are told so whatever became of the session.
    let state: String =
        sqlx::query_scalar("SELECT auth_private.membership_state($1)").bind(t.user_id).fetch_one(&mut *tx).await?;
    if state != "active" {
        revoke_session(&mut tx, t.session_id, "member_removed").await?;
        tx.commit().await?;
        return Err(crate::db::membership_ended());
    }
    if t.session_revoked {
        return Err(invalid_refresh("This session was signed out; sign in again."));
    }
    if t.expires_at <= t.now {
        return Err(invalid_refresh("This session has expired; sign in again."));
    }
    let successor = keys.successor(token);
    match t.rotated_at {
        None => {
            store_refresh_token(&mut tx, t.session_id, &successor, Some(t.id), policy).await?;
            sqlx::query("UPDATE auth.refresh_tokens SET rotated_at = now() WHERE id = $1")
                .bind(t.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE auth.sessions SET refreshed_at = now() WHERE id = $1")
                .bind(t.session_id)
                .execute(&mut *tx)
                .await?;
        }
        Some(rotated) => {
            let within_grace = (t.now - rotated).to_std().map(|age| age <= policy.grace).unwrap_or(true);
            let successor_unused: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM auth.refresh_tokens WHERE token_hash = $1 AND parent_id = $2 AND rotated_at IS NULL)",
            )
            .bind(token_hash(&successor))
            .bind(t.id)
            .fetch_one(&mut *tx)
            .await?;
            if !(within_grace && successor_unused) {
                revoke_session(&mut tx, t.session_id, "reuse_detected").await?;
                record(
                    &mut tx,
                    Some(t.user_id),
                    "auth.refresh_reuse",
                    LogStatus::Warning,
                    "A replaced sign-in token was presented again; the session was ended",
                    json!({ "session_id": t.session_id }),
                )
                .await?;
                tx.commit().await?;
                tracing::warn!(user_id = %t.user_id, session_id = %t.session_id, "refresh token reuse: session revoked");
                return Err(invalid_refresh(
                    "This sign-in was already used and replaced, so the session was ended for safety; sign in again.",
                ));
            }
        }
    }
    record(
        &mut tx,
        Some(t.user_id),
        "auth.refresh",
        LogStatus::Success,
        "Renewed a sign-in",
        json!({ "session_id": t.session_id }),
    )
    .await?;
    let response = answer(&mut tx, keys, t.user_id, t.session_id, successor).await?;
    tx.commit().await?;
    Ok(response)
}

async fn revoke_session(tx: &mut Tx, session_id: Uuid, reason: &str) -> Result<()> {
    sqlx::query(
        "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(session_id)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn sign_out(tx: &mut Tx, caller: &Caller) -> Result<()> {
    sqlx::query("SELECT auth_private.end_session()").execute(&mut **tx).await?;
    logs::append(
        tx,
        caller,
        Entry::success("auth.sign_out", "Signed out").details(json!({ "session_id": caller.session_id })),
    )
    .await
}
