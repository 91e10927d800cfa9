//! Share links: a link that plays one finished video without an account. Signed, expiring after
//! 1, 7 or 30 days, revocable. Invariant: a link's state is decided by its times alone
//! ([`ShareLinkState::at`]), the same way on the server and in the desktop.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How long a new link works: one day, a week or a month (30 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub enum ShareLifetime {
    OneDay,
    SevenDays,
    ThirtyDays,
}

impl ShareLifetime {
    pub const ALL: [ShareLifetime; 3] = [Self::OneDay, Self::SevenDays, Self::ThirtyDays];

    pub fn days(self) -> u32 {
        match self {
            Self::OneDay => 1,
            Self::SevenDays => 7,
            Self::ThirtyDays => 30,
        }
    }
}

impl TryFrom<u32> for ShareLifetime {
    type Error = String;

    fn try_from(days: u32) -> Result<Self, Self::Error> {
        Self::ALL.into_iter().find(|l| l.days() == days).ok_or_else(|| format!("must be 1, 7 or 30 (days), not {days}"))
    }
}

impl From<ShareLifetime> for u32 {
    fn from(l: ShareLifetime) -> u32 {
        l.days()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ShareLifetime {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let days: Vec<u32> = Self::ALL.iter().map(|l| l.days()).collect();
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .enum_values(Some(days))
            .description(Some("Days the link works: 1, 7 or 30."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ShareLifetime {}

/// `POST /v1/generations/{id}/share-links`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewShareLink {
    pub days: ShareLifetime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum ShareLinkState {
    /// Plays the video.
    Active,
    /// Its time is up: answers 410.
    Expired,
    /// Turned off by an admin or the video's author: answers 410.
    Revoked,
}

impl ShareLinkState {
    pub fn at(expires_at: DateTime<Utc>, revoked_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        if revoked_at.is_some() {
            Self::Revoked
        } else if now >= expires_at {
            Self::Expired
        } else {
            Self::Active
        }
    }
}

/// A share link as its organization's members see it; `url` opens the player page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ShareLink {
    pub id: Uuid,
    pub generation_id: Uuid,
    pub url: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub state: ShareLinkState,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn lifetimes_are_one_seven_or_thirty_days() {
        for (days, lifetime) in
            [(1, ShareLifetime::OneDay), (7, ShareLifetime::SevenDays), (30, ShareLifetime::ThirtyDays)]
        {
            assert_eq!(serde_json::from_value::<ShareLifetime>(serde_json::json!(days)).ok(), Some(lifetime));
            assert_eq!(serde_json::to_value(lifetime).ok(), Some(serde_json::json!(days)));
        }
        for days in [0, 2, 31, 365] {
            let err = serde_json::from_value::<NewShareLink>(serde_json::json!({ "days": days })).unwrap_err();
            assert!(err.to_string().contains("must be 1, 7 or 30"), "{days}: {err}");
        }
    }

    #[test]
    fn a_link_is_revoked_else_expired_at_its_time_else_active() {
        let now = Utc::now();
        let later = now + Duration::hours(1);
        assert_eq!(ShareLinkState::at(later, None, now), ShareLinkState::Active);
        assert_eq!(ShareLinkState::at(now, None, now), ShareLinkState::Expired);
        assert_eq!(ShareLinkState::at(later, Some(now), now), ShareLinkState::Revoked);
        assert_eq!(ShareLinkState::at(now - Duration::hours(1), Some(now), now), ShareLinkState::Revoked);
    }
}
