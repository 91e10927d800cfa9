//! What opening a `resonance://` link does, decided once for every shell: the grammar is
//! `resonance_api::links`; this turns a link into the one thing to show, against what this
//! computer knows (who is signed in, what the mirror holds). Nothing here changes any data.

use resonance_api::links::{AppLink, BillingReturn};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::client::Client;

/// What the app does with a link it was handed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum LinkAction {
    /// Join an organization with this code. `signed_in_as` names the account signed in here
    /// now (joining makes a new account, so the shell offers to sign out first).
    Join { code: String, signed_in_as: Option<String> },
    /// Show a project (and one of its videos).
    Show { project_id: Uuid, generation_id: Option<Uuid> },
    /// Back from Stripe: show the plan (the shell syncs at once).
    Billing { from: BillingReturn },
    /// Nothing is opened; say why.
    Refused { message: String },
}

impl LinkAction {
    fn refused(message: impl Into<String>) -> Self {
        Self::Refused { message: message.into() }
    }
}

/// Decides what `text` (a link as the system handed it over) opens.
pub fn open(client: &Client, text: &str) -> LinkAction {
    let link = match AppLink::parse(text) {
        Ok(link) => link,
        Err(e) => return LinkAction::refused(e.to_string()),
    };
    let signed_in = client.account().ok();
    match link {
        AppLink::Invite { code } => LinkAction::Join { code, signed_in_as: signed_in.map(|a| a.email.clone()) },
        AppLink::Billing { from } if signed_in.is_some() => LinkAction::Billing { from },
        AppLink::Project { .. } | AppLink::Generation { .. } | AppLink::Billing { .. } if signed_in.is_none() => {
            LinkAction::refused("Sign in first, then open the link again.")
        }
        AppLink::Project { id } => match client.project(id) {
            Ok(_) => LinkAction::Show { project_id: id, generation_id: None },
            Err(_) => LinkAction::refused(not_here("project")),
        },
        AppLink::Generation { id } => {
            match client.mirror().ok().and_then(|m| m.generation(id).ok().flatten()).and_then(|g| g.project_id) {
                Some(project_id) => LinkAction::Show { project_id, generation_id: Some(id) },
                None => LinkAction::refused(not_here("video")),
            }
        }
        AppLink::Billing { from } => LinkAction::Billing { from },
    }
}

fn not_here(what: &str) -> String {
    format!(
        "This {what} is not among your organization's projects on this computer: it may belong to another \
         organization, have been deleted, or not be synced yet (try again after a sync)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Account, DataDir};
    use resonance_api::model::Role;

    const CODE: &str = "Zx3_-abcDEF0123456789abcdefghijklmnopqrstu";

    fn client(dir: &std::path::Path, signed_in: bool) -> Client {
        let data = DataDir::resolve(Some(dir.to_owned())).unwrap();
        if signed_in {
            data.set_current(&Account {
                user_id: Uuid::new_v4(),
                email: "ana@example.com".into(),
                name: Some("Ana".into()),
                organization_id: Uuid::new_v4(),
                organization_name: "Band".into(),
                role: Role::Owner,
                server: "http://127.0.0.1:9".into(),
            })
            .unwrap();
        }
        Client::open(data).unwrap()
    }

    #[test]
    fn signed_out_only_an_invitation_opens_and_damaged_links_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let c = client(dir.path(), false);
        assert_eq!(
            open(&c, &format!("resonance://invite/{CODE}")),
            LinkAction::Join { code: CODE.into(), signed_in_as: None }
        );
        for link in [format!("resonance://project/{}", Uuid::new_v4()), "resonance://billing/portal".into()] {
            assert_eq!(open(&c, &link), LinkAction::refused("Sign in first, then open the link again."), "{link}");
        }
        let LinkAction::Refused { message } = open(&c, "resonance://project/12") else { panic!("opened") };
        assert!(message.contains("incomplete or damaged"), "{message}");
        let LinkAction::Refused { message } = open(&c, "resonance://wipe/all") else { panic!("opened") };
        assert!(message.contains("“wipe”"), "{message}");
    }

    #[test]
    fn signed_in_a_link_shows_what_the_mirror_holds_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let c = client(dir.path(), true);
        let new: resonance_api::projects::NewProject = serde_json::from_value(
            serde_json::json!({"name": "Night Drive", "prompt": "neon rain", "audio_path": "a.wav"}),
        )
        .unwrap();
        let project = c.create_project(new).unwrap();
        assert_eq!(
            open(&c, &format!("resonance://project/{}", project.id)),
            LinkAction::Show { project_id: project.id, generation_id: None }
        );
        for link in
            [format!("resonance://project/{}", Uuid::new_v4()), format!("resonance://generation/{}", Uuid::new_v4())]
        {
            let LinkAction::Refused { message } = open(&c, &link) else { panic!("{link} opened") };
            assert!(message.contains("not among your organization's projects"), "{message}");
        }
        assert_eq!(
            open(&c, &format!("resonance://invite/{CODE}")),
            LinkAction::Join { code: CODE.into(), signed_in_as: Some("ana@example.com".into()) }
        );
        assert_eq!(open(&c, "resonance://billing/checkout"), LinkAction::Billing { from: BillingReturn::Checkout });
    }
}
