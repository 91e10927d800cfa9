//! The caller's profile, their organization, and its members and invitations. Invariant: only
//! admins manage members, only owners grant or revoke `owner`, an organization always keeps an
//! owner, and nobody — whatever their role — writes the billing and usage columns through here.

use chrono::{DateTime, Utc};
use resonance_api::auth::{validate_email, validate_person_name, Invitation, InviteMember, Me, PERSON_NAME_MAX_CHARS};
use resonance_api::model::{Organization, Role, User};
use resonance_api::Sensitive;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::logs::{self, Entry};
use super::{fetch_all_json, fetch_one_json};
use crate::credentials::{new_opaque_token, token_hash};
use crate::db::{Caller, Tx};
use crate::error::{Error, Result};

/// Columns only the server's billing code may change (Stripe, plan, trial, usage).
pub const BILLING_COLUMNS: [&str; 7] = [
    "stripe_customer_id",
    "stripe_subscription_id",
    "subscription_status",
    "subscription_plan",
    "trial_ends_at",
    "generations_this_month",
    "generations_limit",
];

pub async fn user(tx: &mut Tx, id: Uuid) -> Result<User> {
    fetch_one_json(tx, sqlx::query_scalar("SELECT to_jsonb(u) FROM users u WHERE u.id = $1").bind(id))
        .await?
        .ok_or_else(|| Error::not_found("No such member in your organization."))
}

pub async fn organization(tx: &mut Tx, caller: &Caller) -> Result<Organization> {
    fetch_one_json(
        tx,
        sqlx::query_scalar("SELECT to_jsonb(o) FROM organizations o WHERE o.id = $1").bind(caller.organization_id),
    )
    .await?
    .ok_or_else(|| Error::not_found("Your organization no longer exists."))
}

pub async fn me(tx: &mut Tx, caller: &Caller) -> Result<Me> {
    Ok(Me { user: user(tx, caller.user_id).await?, role: caller.role, organization: organization(tx, caller).await? })
}

/// Admins rename the organization or change its settings; billing fields are refused for all.
pub async fn update_organization(tx: &mut Tx, caller: &Caller, patch: &Map<String, Value>) -> Result<Organization> {
    if let Some(field) = patch.keys().find(|k| BILLING_COLUMNS.contains(&k.as_str())) {
        return Err(Error::forbidden(format!(
            "{field} is managed by billing and cannot be changed here; owners use Manage billing."
        )));
    }
    if !caller.role.can_manage_members() {
        return Err(Error::forbidden("Only admins and owners can change the organization."));
    }
    if let Some(field) = patch.keys().find(|k| !["name", "slug", "settings"].contains(&k.as_str())) {
        return Err(Error::invalid(field.clone(), "is not a field you can change"));
    }
    let name = match patch.get("name") {
        None => None,
        Some(Value::String(s)) => {
            validate_person_name("name", s, PERSON_NAME_MAX_CHARS)?;
            Some(s.clone())
        }
        Some(_) => return Err(Error::invalid("name", "must be a string")),
    };
    let slug = match patch.get("slug") {
        None => None,
        Some(Value::String(s))
            if (3..=48).contains(&s.len())
                && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            Some(s.clone())
        }
        Some(_) => return Err(Error::invalid("slug", "must be 3 to 48 characters of a-z, 0-9 and -")),
    };
    let settings = match patch.get("settings") {
        None => None,
        Some(v @ Value::Object(_)) if holds_nul(v) => {
            return Err(Error::invalid("settings", "must not contain the NUL character (\\u0000) in a key or a string"))
        }
        Some(v @ Value::Object(_)) => Some(sqlx::types::Json(v.clone())),
        Some(_) => return Err(Error::invalid("settings", "must be a JSON object")),
    };
    let org = fetch_one_json::<Organization>(
        tx,
        sqlx::query_scalar(
            "UPDATE organizations SET name = coalesce($2, name), slug = coalesce($3, slug), \
             settings = coalesce($4, settings) WHERE id = $1 RETURNING to_jsonb(organizations.*)",
        )
        .bind(caller.organization_id)
        .bind(name)
        .bind(slug)
        .bind(settings),
    )
    .await?
    .ok_or_else(|| Error::not_found("Your organization no longer exists."))?;
    let fields: Vec<&String> = patch.keys().collect();
    logs::append(
        tx,
        caller,
        Entry::success("organization.update", "Changed the organization").details(json!({ "fields": fields })),
    )
    .await?;
    Ok(org)
}

/// Whether any key or string in `value` holds U+0000, which Postgres cannot keep in `jsonb`.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Active members, oldest first.
pub async fn list(tx: &mut Tx, _caller: &Caller) -> Result<Vec<User>> {
    fetch_all_json(
        tx,
        sqlx::query_scalar(
            "SELECT to_jsonb(u) FROM users u WHERE NOT auth_private.is_removed(u.id) ORDER BY u.created_at, u.id",
        ),
    )
    .await
}

/// Invites `invite.email`. With `emailed_from` (this server's public address, when it sends
/// e-mail) the token goes to the invitee by e-mail and not to the inviter, so accepting it shows
/// the invitee owns the address; otherwise the inviter hands it over.
pub async fn invite(
    tx: &mut Tx,
    caller: &Caller,
    invite: &InviteMember,
    emailed_from: Option<&str>,
) -> Result<Invitation> {
    if !caller.role.can_manage_members() {
        return Err(Error::forbidden("Only admins and owners can invite members."));
    }
    if invite.role == Role::Owner && caller.role != Role::Owner {
        return Err(Error::forbidden("Only an owner can invite another owner."));
    }
    validate_email(&invite.email)?;
    let already: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM users u WHERE lower(u.email) = lower($1) AND NOT auth_private.is_removed(u.id))",
    )
    .bind(&invite.email)
    .fetch_one(&mut **tx)
    .await?;
    if already {
        return Err(Error::conflict(format!("{} is already a member of this organization.", invite.email)));
    }
    let token = new_opaque_token();
    let row: (Uuid, DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO invitations (organization_id, email, role, token_hash, invited_by) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at, expires_at",
    )
    .bind(caller.organization_id)
    .bind(&invite.email)
    .bind(invite.role.as_str())
    .bind(token_hash(&token))
    .bind(caller.user_id)
    .fetch_one(&mut **tx)
    .await?;
    logs::append(
        tx,
        caller,
        Entry::success("member.invite", format!("Invited {} as {}", invite.email, invite.role))
            .details(json!({ "invitation_id": row.0, "email": invite.email, "role": invite.role })),
    )
    .await?;
    Ok(Invitation {
        id: row.0,
        organization_id: caller.organization_id,
        email: invite.email.clone(),
        role: invite.role,
        invited_by: caller.user_id,
        created_at: row.1,
        expires_at: row.2,
        invite_token: match emailed_from {
            Some(base) => {
                let body = format!(
                    "You are invited to join an organization on Resonance as {}.\n\n\
                     With Resonance Desktop installed, open this link:\n{}\n\n\
                     Or open Resonance Desktop, choose \u{201c}Join with an invitation\u{201d} and paste this code:\n{token}\n\n\
                     The server is {base}. The code works once, for 7 days. If you did not expect this, you need do nothing.",
                    invite.role,
                    resonance_api::links::AppLink::Invite { code: token.clone() }.to_url(),
                );
                crate::mail::queue(tx, &invite.email, "You are invited to Resonance", &body).await?;
                None
            }
            None => Some(Sensitive::new(token)),
        },
    })
}

pub async fn change_role(tx: &mut Tx, caller: &Caller, member: Uuid, role: Role) -> Result<User> {
    if !caller.role.can_manage_members() {
        return Err(Error::forbidden("Only admins and owners can change roles."));
    }
    let updated = fetch_one_json::<User>(
        tx,
        sqlx::query_scalar(
            "UPDATE users SET role = $2 WHERE id = $1 AND NOT auth_private.is_removed(id) RETURNING to_jsonb(users.*)",
        )
        .bind(member)
        .bind(role.as_str()),
    )
    .await?
    .ok_or_else(|| Error::not_found("No such member in your organization."))?;
    logs::append(
        tx,
        caller,
        Entry::success("member.role", format!("Made {} {}", updated.email, role))
            .details(json!({ "member_id": member, "role": role })),
    )
    .await?;
    Ok(updated)
}

pub async fn remove(tx: &mut Tx, caller: &Caller, member: Uuid) -> Result<()> {
    if !caller.role.can_manage_members() {
        return Err(Error::forbidden("Only admins and owners can remove members."));
    }
    let removed = user(tx, member).await?;
    sqlx::query("SELECT auth_private.remove_member($1)").bind(member).execute(&mut **tx).await?;
    logs::append(
        tx,
        caller,
        Entry::success("member.remove", format!("Removed {}", removed.email))
            .details(json!({ "member_id": member, "email": removed.email })),
    )
    .await
}
