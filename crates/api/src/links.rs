//! `resonance://` links: what the desktop app opens when the system hands it one (an invitation
//! in an e-mail, a project or video named in a message, the return from Stripe's pages). The
//! grammar lives here, once, for the app that reads links and the server that writes them.
//! Invariant: a link either names exactly one thing, or is refused with a reason a person can
//! act on; nothing is ever guessed from a malformed one.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::parse_invite_code;

pub const SCHEME: &str = "resonance";
/// Longer than any link this grammar makes; anything longer is refused unread.
pub const MAX_LINK_CHARS: usize = 2048;

/// Which Stripe page the browser came back from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum BillingReturn {
    /// Checkout finished: the new plan arrives with Stripe's events.
    Checkout,
    /// Checkout was left without paying: nothing changed.
    CheckoutCanceled,
    /// The Billing Portal (plan changed, card updated, or canceled).
    Portal,
}

impl BillingReturn {
    pub const ALL: [BillingReturn; 3] = [Self::Checkout, Self::CheckoutCanceled, Self::Portal];

    /// The name in the link and in the return page's `from=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Checkout => "checkout",
            Self::CheckoutCanceled => "checkout-canceled",
            Self::Portal => "portal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

/// One thing a `resonance://` link asks the app to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppLink {
    /// `resonance://invite/CODE`: join an organization.
    Invite { code: String },
    /// `resonance://project/ID`
    Project { id: Uuid },
    /// `resonance://generation/ID`: a video, shown on its project.
    Generation { id: Uuid },
    /// `resonance://billing/checkout|checkout-canceled|portal`: back from Stripe.
    Billing { from: BillingReturn },
}

/// Why a link was not opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("This is not a Resonance link (they start with resonance://).")]
    NotOurs,
    #[error("This Resonance link is too long to be one of ours.")]
    TooLong,
    #[error("Resonance does not know links to “{0}”; it may come from a newer version.")]
    Unknown(String),
    #[error("This Resonance link is incomplete or damaged ({0}); copy the whole link again.")]
    Malformed(String),
}

impl AppLink {
    /// Reads a link as the system hands it over. Letter case of the scheme and the kind do not
    /// matter; a trailing slash, a query or a fragment are ignored except for the parts named.
    pub fn parse(text: &str) -> Result<Self, LinkError> {
        let text = text.trim();
        if text.chars().count() > MAX_LINK_CHARS {
            return Err(LinkError::TooLong);
        }
        let Some((scheme, rest)) = text.split_once("://") else { return Err(LinkError::NotOurs) };
        if !scheme.eq_ignore_ascii_case(SCHEME) {
            return Err(LinkError::NotOurs);
        }
        let rest = rest.split(['?', '#']).next().unwrap_or_default().trim_end_matches('/');
        let mut parts = rest.split('/');
        let kind = parts.next().unwrap_or_default().to_ascii_lowercase();
        let value = parts.next().unwrap_or_default();
        if parts.next().is_some() {
            return Err(LinkError::Malformed("it has more parts than it should".into()));
        }
        let id = |what: &str| {
            Uuid::parse_str(value).map_err(|_| LinkError::Malformed(format!("the {what} id is not an id")))
        };
        match kind.as_str() {
            "invite" => parse_invite_code(value)
                .map(|code| Self::Invite { code })
                .map_err(|_| LinkError::Malformed("the invitation code is missing or cut".into())),
            "project" => Ok(Self::Project { id: id("project")? }),
            "generation" => Ok(Self::Generation { id: id("video")? }),
            "billing" => BillingReturn::parse(value)
                .map(|from| Self::Billing { from })
                .ok_or_else(|| LinkError::Malformed(format!("no billing page is called “{value}”"))),
            "" => Err(LinkError::Malformed("it names nothing".into())),
            other => Err(LinkError::Unknown(other.to_owned())),
        }
    }

    /// The link, as the server writes it into e-mails and pages.
    pub fn to_url(&self) -> String {
        match self {
            Self::Invite { code } => format!("{SCHEME}://invite/{code}"),
            Self::Project { id } => format!("{SCHEME}://project/{id}"),
            Self::Generation { id } => format!("{SCHEME}://generation/{id}"),
            Self::Billing { from } => format!("{SCHEME}://billing/{}", from.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "Zx3_-abcDEF0123456789abcdefghijklmnopqrstu";

    #[test]
    fn every_kind_of_link_reads_back_what_it_was_made_from() {
        let id = Uuid::new_v4();
        let links = [
            AppLink::Invite { code: CODE.into() },
            AppLink::Project { id },
            AppLink::Generation { id },
            AppLink::Billing { from: BillingReturn::Checkout },
            AppLink::Billing { from: BillingReturn::CheckoutCanceled },
            AppLink::Billing { from: BillingReturn::Portal },
        ];
        for link in links {
            assert_eq!(AppLink::parse(&link.to_url()), Ok(link.clone()), "{}", link.to_url());
        }
    }

    #[test]
    fn case_trailing_slashes_queries_and_spaces_do_not_matter() {
        let id = Uuid::new_v4();
        assert_eq!(AppLink::parse(&format!(" Resonance://Project/{id}/?utm=mail#top \n")), Ok(AppLink::Project { id }));
        assert_eq!(
            AppLink::parse(&format!("resonance://invite/{CODE}?from=mail")),
            Ok(AppLink::Invite { code: CODE.into() })
        );
    }

    #[test]
    fn links_that_are_not_ours_unknown_or_damaged_are_refused_with_a_reason() {
        for (text, want) in [
            ("https://example.com/project/1", LinkError::NotOurs),
            ("resonance:project/1", LinkError::NotOurs),
            ("resonance://settings/danger", LinkError::Unknown("settings".into())),
        ] {
            assert_eq!(AppLink::parse(text), Err(want), "{text}");
        }
        for text in [
            "resonance://",
            "resonance://project/",
            "resonance://project/not-an-id",
            "resonance://generation/1234",
            "resonance://invite/",
            "resonance://invite/has spaces",
            "resonance://billing/refund",
            &format!("resonance://project/{}/delete", Uuid::new_v4()),
        ] {
            assert!(matches!(AppLink::parse(text), Err(LinkError::Malformed(_))), "{text}: {:?}", AppLink::parse(text));
        }
        assert_eq!(AppLink::parse(&format!("resonance://invite/{}", "a".repeat(3000))), Err(LinkError::TooLong));
        let message = AppLink::parse("resonance://project/x").unwrap_err().to_string();
        assert!(message.contains("copy the whole link"), "{message}");
    }
}
