//! Account & plan, members, and the organization's activity: read from the mirror; member
//! changes go to the server (admins only).

use resonance_api::model::{Organization, Role, SystemLog, User};
use resonance_api::plans::{has_live_subscription, Plan, FREE, PLANS};
use resonance_client::Account;
use serde::Serialize;
use uuid::Uuid;

use super::State;
use crate::error::CmdResult;

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AccountOverview {
    pub account: Account,
    pub organization: Option<Organization>,
    /// Whole days left of the trial (0 on its last day), when trialing.
    pub trial_days_left: Option<i64>,
    pub members: Vec<User>,
    /// The plan the organization is on, and every plan (cheapest first), from the catalog.
    pub plan: Plan,
    pub plans: Vec<Plan>,
    /// A Stripe subscription that has not ended: plans change through Manage billing, not Upgrade.
    pub subscribed: bool,
}

/// Days left until `ends`, counting a started day as a day.
pub fn days_left(ends: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> i64 {
    let secs = (ends - now).num_seconds();
    if secs <= 0 {
        0
    } else {
        (secs + 86_399) / 86_400
    }
}

#[tauri::command]
#[specta::specta]
pub async fn account(state: State<'_>) -> CmdResult<AccountOverview> {
    let client = state.client.read().await;
    let organization = client.organization()?;
    let trial_days_left = organization
        .as_ref()
        .filter(|o| o.subscription_status == Some(resonance_api::model::SubscriptionStatus::Trialing))
        .and_then(|o| o.trial_ends_at)
        .map(|t| days_left(t, chrono::Utc::now()));
    let plan = *organization.as_ref().map_or(FREE, Plan::of);
    let subscribed = organization.as_ref().is_some_and(has_live_subscription);
    Ok(AccountOverview {
        account: client.account()?.clone(),
        organization,
        trial_days_left,
        members: client.members()?,
        plan,
        plans: PLANS.to_vec(),
        subscribed,
    })
}

/// Opens Stripe Checkout for a paid plan in the browser (owners). The plan shown here changes
/// when Stripe confirms the payment and the server's change arrives through sync.
#[tauri::command]
#[specta::specta]
pub async fn upgrade(app: tauri::AppHandle, state: State<'_>, plan: String) -> CmdResult<()> {
    let url = state.client.read().await.billing_checkout(&plan).await?;
    open_in_browser(&app, &url)
}

/// Opens Stripe's Billing Portal in the browser (owners): change plan or card, see invoices, cancel.
#[tauri::command]
#[specta::specta]
pub async fn manage_billing(app: tauri::AppHandle, state: State<'_>) -> CmdResult<()> {
    let url = state.client.read().await.billing_portal().await?;
    open_in_browser(&app, &url)
}

/// The session URL lets whoever holds it pay or manage billing: it is opened, never logged.
fn open_in_browser(app: &tauri::AppHandle, url: &str) -> CmdResult<()> {
    crate::webkit_env::open(app, url)
        .map_err(|e| crate::error::CommandError::local(format!("The browser could not be opened: {e}")))
}

#[tauri::command]
#[specta::specta]
pub async fn activity(state: State<'_>, limit: u32) -> CmdResult<Vec<SystemLog>> {
    Ok(state.client.read().await.activity(limit.clamp(1, 1000))?)
}

/// An invitation as the admin sees it once: the code to hand to the invitee.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct InvitationView {
    pub email: String,
    pub role: Role,
    pub expires_at: String,
    pub invite_code: Option<String>,
}

#[tauri::command]
#[specta::specta]
pub async fn invite_member(state: State<'_>, email: String, role: Role) -> CmdResult<InvitationView> {
    let client = state.client.read().await;
    let invitation = client.invite_member(email.trim(), role).await?;
    state.sync_now();
    Ok(InvitationView {
        email: invitation.email,
        role: invitation.role,
        expires_at: invitation.expires_at.to_rfc3339(),
        invite_code: invitation.invite_token.map(resonance_api::Sensitive::into_inner),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn change_role(state: State<'_>, user: Uuid, role: Role) -> CmdResult<()> {
    Ok(state.client.read().await.change_role(user, role).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn remove_member(state: State<'_>, user: Uuid) -> CmdResult<()> {
    Ok(state.client.read().await.remove_member(user).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_days_count_a_started_day() {
        let now = chrono::Utc::now();
        assert_eq!(days_left(now + chrono::Duration::days(14), now), 14);
        assert_eq!(days_left(now + chrono::Duration::hours(30), now), 2);
        assert_eq!(days_left(now + chrono::Duration::minutes(5), now), 1);
        assert_eq!(days_left(now - chrono::Duration::days(1), now), 0, "an ended trial has no days left");
    }
}
