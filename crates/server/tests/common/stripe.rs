//! A stand-in for Stripe's API (which cannot run here): records each Checkout and Billing Portal
//! session request and answers as Stripe does, or refuses as Stripe does for an unknown price.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

/// What the stand-in was sent: which session, the Authorization header, the form.
pub type StripeRequest = (String, String, Vec<(String, String)>);

/// Stands in for Stripe's API: records each request, answers like Stripe.
#[derive(Clone, Default)]
pub struct FakeStripe {
    pub requests: Arc<Mutex<Vec<StripeRequest>>>,
    pub refuse: Arc<Mutex<bool>>,
}

impl FakeStripe {
    pub async fn start(&self) -> String {
        use axum::extract::State;
        use axum::http::HeaderMap;
        use axum::response::IntoResponse;
        async fn session(
            State((fake, kind)): State<(FakeStripe, &'static str)>,
            headers: HeaderMap,
            body: String,
        ) -> axum::response::Response {
            let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            fake.requests.lock().unwrap().push((kind.to_owned(), auth.clone(), form));
            if auth != "Bearer sk_test_resonance" {
                return (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": {"type": "invalid_request_error",
                    "message": "Invalid API Key provided: sk_test_****"}})),
                )
                    .into_response();
            }
            if *fake.refuse.lock().unwrap() {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": {"type": "invalid_request_error",
                    "message": "No such price: 'price_creator_test'"}})),
                )
                    .into_response();
            }
            let id = format!("{}_test_{}", if kind == "checkout" { "cs" } else { "bps" }, Uuid::new_v4().simple());
            let url = if kind == "checkout" {
                format!("https://checkout.stripe.com/c/pay/{id}")
            } else {
                format!("https://billing.stripe.com/p/session/{id}")
            };
            axum::Json(json!({"id": id, "object": kind, "url": url})).into_response()
        }
        let app = axum::Router::new()
            .route("/v1/checkout/sessions", axum::routing::post(session).with_state((self.clone(), "checkout")))
            .route("/v1/billing_portal/sessions", axum::routing::post(session).with_state((self.clone(), "portal")));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }
}
