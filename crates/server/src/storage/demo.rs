//! The demo organization `cargo xtask dev` starts with: one member of each role, created through
//! the same sign-up and invitation code real users go through. Idempotent: an existing demo
//! account is left as it is.

use std::time::Duration;

use resonance_api::auth::{InviteMember, SignUpRequest};
use resonance_api::model::Role;
use resonance_api::{ErrorCode, Sensitive};

use super::accounts::{self, SessionPolicy};
use super::members;
use crate::config::JwtSecret;
use crate::credentials::{new_opaque_token, Keys, PasswordSlots};
use crate::db::Db;
use crate::error::{Error, Result};

/// (role, e-mail, password) of each demo account.
pub async fn seed(db: &Db, email_domain: &str) -> Result<Vec<(Role, String, String)>> {
    let secret = JwtSecret::parse(&new_opaque_token()).map_err(Error::Invariant)?;
    let keys = Keys::new(&secret, Duration::from_secs(60));
    let policy = SessionPolicy { refresh_ttl: Duration::from_secs(60), grace: Duration::from_secs(0) };
    let slots = PasswordSlots::per_core(Duration::from_secs(60));
    // The demo's accounts are signed in at once: no e-mail to confirm.
    let no_mail = crate::mail::MailSettings::default();
    let verification = accounts::Verification { mail: &no_mail, base_url: "" };
    let account = |role: Role| (role, format!("{role}@{email_domain}"), format!("resonance-{role}-demo"));
    let owner = account(Role::Owner);
    let signed_up = accounts::sign_up(
        db,
        &keys,
        &slots,
        policy,
        &verification,
        &SignUpRequest {
            email: owner.1.clone(),
            password: Sensitive::new(owner.2.clone()),
            name: "Olivia Owner".into(),
            organization_name: Some("Resonance Demo".into()),
            invite_token: None,
        },
    )
    .await;
    let mut created = vec![owner.clone()];
    let owner_tokens = match signed_up {
        Ok(accounts::SignedUp::Tokens(t)) => t,
        Ok(accounts::SignedUp::Accepted(_)) => {
            return Err(Error::Invariant("a sign-up without e-mail was not signed in".into()))
        }
        Err(Error::Refused { code: ErrorCode::EmailTaken, .. }) => {
            let password = Sensitive::new(owner.2.clone());
            let attempt = accounts::SignIn {
                email: &owner.1,
                password: &password,
                client: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            };
            accounts::sign_in(db, &keys, &slots, policy, &attempt).await?
        }
        Err(e) => return Err(e),
    };
    let claims = keys.verify_access(owner_tokens.access_token.reveal()).map_err(|e| Error::Invariant(e.to_string()))?;
    for (role, name) in [(Role::Admin, "Ada Admin"), (Role::Developer, "Dev Developer"), (Role::Viewer, "Vic Viewer")] {
        let acct = account(role);
        let (mut tx, caller) = db.begin_for(&claims).await?;
        let existing = members::list(&mut tx, &caller).await?.into_iter().any(|u| u.email == acct.1);
        if !existing {
            let invitation =
                members::invite(&mut tx, &caller, &InviteMember { email: acct.1.clone(), role }, None).await?;
            tx.commit().await?;
            accounts::sign_up(
                db,
                &keys,
                &slots,
                policy,
                &verification,
                &SignUpRequest {
                    email: acct.1.clone(),
                    password: Sensitive::new(acct.2.clone()),
                    name: name.into(),
                    organization_name: None,
                    invite_token: invitation.invite_token,
                },
            )
            .await?;
        }
        created.push(acct);
    }
    Ok(created)
}
