//! The plans an organization can be on, as data: the one catalog the server's billing, the
//! database's generation check and the desktop's Account & plan screen all read. Invariant: plan
//! ids are stable (they are stored in `organizations.subscription_plan`), and every plan's limit
//! is what `generations_limit` is set to when an organization moves onto it.

use serde::{Deserialize, Serialize};

use crate::model::{AspectRatio, Organization, Resolution, SubscriptionStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Plan {
    /// Stored in `organizations.subscription_plan`.
    pub id: &'static str,
    pub name: &'static str,
    /// Generations an organization may start per billing period (a calendar month on `free`).
    pub monthly_generations: i32,
    /// The highest resolution a generation on this plan may render.
    pub max_resolution: Resolution,
    /// The list price, for display (Stripe's price decides what is charged).
    pub monthly_price_usd: u32,
    /// Whether it is bought through Stripe Checkout (the free plan is not).
    pub paid: bool,
    /// Footage items (clips and stills) an organization may keep across its projects.
    pub footage_items: u32,
    /// Bytes of footage an organization may keep.
    pub footage_bytes: u64,
}

/// Every plan, cheapest first.
pub const PLANS: [Plan; 3] = [
    Plan {
        id: "free",
        name: "Free",
        monthly_generations: 3,
        max_resolution: Resolution::R1080p,
        monthly_price_usd: 0,
        paid: false,
        footage_items: 20,
        footage_bytes: 1 << 30,
    },
    Plan {
        id: "creator",
        name: "Creator",
        monthly_generations: 50,
        max_resolution: Resolution::R1440p,
        monthly_price_usd: 19,
        paid: true,
        footage_items: 200,
        footage_bytes: 20 << 30,
    },
    Plan {
        id: "studio",
        name: "Studio",
        monthly_generations: 250,
        max_resolution: Resolution::R2160p,
        monthly_price_usd: 79,
        paid: true,
        footage_items: 1000,
        footage_bytes: 200 << 30,
    },
];

/// The plan a new organization starts on, and the one it returns to when its subscription ends.
pub const FREE: &Plan = &PLANS[0];

impl Plan {
    pub fn by_id(id: &str) -> Option<&'static Plan> {
        PLANS.iter().find(|p| p.id == id)
    }

    /// The plan an organization is on: its `subscription_plan`, the free plan when that is
    /// missing or unknown.
    pub fn of(org: &Organization) -> &'static Plan {
        org.subscription_plan.as_deref().and_then(Plan::by_id).unwrap_or(FREE)
    }

    /// Whether the plan renders `resolution` in `aspect`: the frame's long edge is compared
    /// with the long edge of the plan's resolution in 16:9 (a Free plan's 1080p is 1920 pixels,
    /// so it renders 1080p in every shape, and 1440p squares too, but no 1440p 9:16).
    pub fn allows(&self, resolution: Resolution, aspect: AspectRatio) -> bool {
        resolution.long_edge(aspect) <= self.max_resolution.long_edge(AspectRatio::Landscape)
    }
}

/// Whether the organization has a Stripe subscription that has not ended (active, trialing, past
/// due or unpaid). Such an organization changes plans in the Billing Portal: a second checkout
/// would bill it twice, so the server refuses one and the desktop offers none.
pub fn has_live_subscription(org: &Organization) -> bool {
    org.stripe_subscription_id.is_some() && org.subscription_status != Some(SubscriptionStatus::Canceled)
}

/// `POST /v1/billing/checkout`: the paid plan to subscribe to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub plan: String,
}

/// A Stripe-hosted page to open in the browser (Checkout or the Billing Portal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BillingSession {
    pub url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_free_plan_is_the_seed_default_of_three_a_month() {
        assert_eq!((FREE.id, FREE.monthly_generations, FREE.paid), ("free", 3, false));
    }

    #[test]
    fn plans_grow_in_limit_and_resolution_and_ids_are_unique() {
        for pair in PLANS.windows(2) {
            assert!(pair[0].monthly_generations < pair[1].monthly_generations);
            assert!(pair[0].max_resolution.rank() <= pair[1].max_resolution.rank());
            assert!(pair[0].monthly_price_usd < pair[1].monthly_price_usd);
            assert!(pair[0].footage_items < pair[1].footage_items);
            assert!(pair[0].footage_bytes < pair[1].footage_bytes);
        }
        for p in &PLANS {
            assert_eq!(Plan::by_id(p.id), Some(p));
        }
        assert_eq!(Plan::by_id("enterprise"), None);
    }

    #[test]
    fn an_organizations_plan_and_live_subscription() {
        let mut org: Organization = serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000001", "name": "Org", "slug": null,
            "stripe_customer_id": null, "stripe_subscription_id": null, "subscription_status": "trialing",
            "subscription_plan": "enterprise", "trial_ends_at": null, "generations_this_month": 0,
            "generations_limit": 3, "settings": null, "created_at": null, "updated_at": null
        }))
        .unwrap();
        assert_eq!(Plan::of(&org).id, "free", "an unknown plan id is the free plan");
        assert!(!has_live_subscription(&org), "a trial without Stripe");
        org.subscription_plan = Some("studio".into());
        org.stripe_subscription_id = Some("sub_1".into());
        org.subscription_status = Some(SubscriptionStatus::PastDue);
        assert_eq!(Plan::of(&org).id, "studio");
        assert!(has_live_subscription(&org), "a past-due subscription is still live");
        org.subscription_status = Some(SubscriptionStatus::Canceled);
        assert!(!has_live_subscription(&org), "a canceled one is not");
    }

    #[test]
    fn resolution_limits() {
        use AspectRatio::*;
        assert!(FREE.allows(Resolution::R1080p, Landscape));
        assert!(!FREE.allows(Resolution::R1440p, Landscape));
        assert!(Plan::by_id("studio").is_some_and(|p| p.allows(Resolution::R2160p, Landscape)));
        // The long edge decides: 1080p 9:16 is 1920 high, a 1440p square 1440 wide.
        assert!(FREE.allows(Resolution::R1080p, Vertical));
        assert!(FREE.allows(Resolution::R1440p, Square));
        assert!(FREE.allows(Resolution::R1440p, Portrait), "1440×1800 is within 1920");
        assert!(!FREE.allows(Resolution::R1440p, Vertical));
        assert!(!FREE.allows(Resolution::R2160p, Square));
    }
}
