//! Billing: Stripe's webhook (signature, then meaning), and the Checkout and Billing Portal
//! sessions owners open from the desktop. What the events do to an organization is applied by
//! `storage::billing`, as the `resonance_billing` role.

pub mod event;
pub mod signature;
pub mod stripe;

use crate::config::StripeSettings;

/// The billing side of the server's state.
#[derive(Clone)]
pub struct Billing {
    pub settings: StripeSettings,
    /// Present when an API key is configured.
    pub api: Option<stripe::StripeApi>,
}

impl Billing {
    pub fn new(settings: StripeSettings) -> Self {
        let api = settings.api_key.clone().map(|key| stripe::StripeApi::new(&settings.api_base, key));
        Self { settings, api }
    }
}

/// What the creator is told when this server sells nothing.
pub const NOT_CONFIGURED: &str = "Billing is not configured on this server.";
