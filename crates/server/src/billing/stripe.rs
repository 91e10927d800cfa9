//! The two Stripe API calls the server makes: a Checkout Session and a Billing Portal session.
//! Invariant: the API key travels only in the Authorization header, and neither the key nor the
//! returned session URL (which lets whoever holds it pay or manage billing) is logged.

use std::time::Duration;

use serde_json::Value;

use crate::config::Secret;

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
    #[error("Stripe refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("Stripe answered without a session URL")]
    NoUrl,
}

#[derive(Clone)]
pub struct StripeApi {
    http: reqwest::Client,
    base: String,
    key: Secret,
}

impl StripeApi {
    pub fn new(base: &str, key: Secret) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("resonance-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { http, base: base.trim_end_matches('/').to_owned(), key }
    }

    /// `POST /v1/checkout/sessions`; returns the session's URL.
    pub async fn checkout_session(&self, form: &[(String, String)]) -> Result<String, StripeError> {
        self.session("/v1/checkout/sessions", form).await
    }

    /// `POST /v1/billing_portal/sessions`; returns the session's URL.
    pub async fn portal_session(&self, form: &[(String, String)]) -> Result<String, StripeError> {
        self.session("/v1/billing_portal/sessions", form).await
    }

    async fn session(&self, path: &str, form: &[(String, String)]) -> Result<String, StripeError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.key.expose())
            .form(form)
            .send()
            .await
            .map_err(|e| StripeError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let message = body.pointer("/error/message").and_then(Value::as_str).unwrap_or("no message").to_owned();
            return Err(StripeError::Refused { status: status.as_u16(), message });
        }
        body.get("url").and_then(Value::as_str).map(str::to_owned).ok_or(StripeError::NoUrl)
    }
}
