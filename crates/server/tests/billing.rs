//! Billing against the real server and Postgres: Stripe's webhook with payloads signed the way
//! Stripe signs them, the plan and usage it drives, the monthly reset under two instances, and
//! Checkout / Billing Portal sessions with and without a Stripe key.
//!
//! Stripe's API itself cannot run here (no network beyond package registries), so the
//! checkout tests point the server at a small HTTP stand-in that answers as Stripe's
//! `/v1/checkout/sessions` and `/v1/billing_portal/sessions` do and records what it was sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::stripe::FakeStripe;
use common::*;
use reqwest::StatusCode;
use resonance_server::billing::signature::sign;
use resonance_server::config::{PriceMap, Secret};
use serde_json::{json, Value};
use uuid::Uuid;

const WHSEC: &str = "whsec_resonance_test_0123456789";
const PRICES: &str = "creator=price_creator_test,studio=price_studio_test";

fn with_webhook(settings: &mut resonance_server::Settings) {
    settings.stripe.webhook_secret = Some(Secret::parse(WHSEC).unwrap());
    settings.stripe.prices = PriceMap::parse(PRICES).unwrap();
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Posts `body` to the webhook with the given Stripe-Signature header (None: no header).
async fn deliver_raw(s: &TestServer, body: &[u8], header: Option<String>) -> (StatusCode, Value) {
    let mut req = s.http.post(format!("{}/v1/billing/stripe/webhook", s.base)).body(body.to_vec());
    req = req.header("content-type", "application/json");
    if let Some(h) = header {
        req = req.header("Stripe-Signature", h);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Delivers an event signed now with the endpoint secret; returns the outcome.
async fn deliver(s: &TestServer, event: &Value) -> String {
    let body = event.to_string();
    let (status, resp) = deliver_raw(s, body.as_bytes(), Some(sign(body.as_bytes(), WHSEC.as_bytes(), now()))).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert_eq!(resp["received"], true);
    resp["outcome"].as_str().unwrap().to_owned()
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({"id": id, "object": "event", "api_version": "2025-03-31.basil", "type": kind, "created": created,
           "livemode": false, "data": {"object": object}})
}

/// A subscription object as Stripe sends it (API 2025-03-31: the period is on the item).
fn subscription(id: &str, org: Option<Uuid>, status: &str, price: &str, period: (i64, i64)) -> Value {
    let metadata = org.map(|o| json!({"organization_id": o})).unwrap_or(json!({}));
    json!({"id": id, "object": "subscription", "customer": format!("cus_{id}"), "status": status,
           "metadata": metadata, "cancel_at_period_end": false, "trial_end": null,
           "items": {"object": "list", "data": [{"id": format!("si_{id}"), "price": {"id": price, "object": "price"},
               "current_period_start": period.0, "current_period_end": period.1}]}})
}

#[derive(Debug, PartialEq)]
struct Billing {
    status: String,
    plan: String,
    limit: i32,
    used: i32,
    customer: Option<String>,
    subscription: Option<String>,
}

async fn billing(s: &TestServer, org: Uuid) -> Billing {
    let (status, plan, limit, used, customer, subscription): (
        String,
        String,
        i32,
        i32,
        Option<String>,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT subscription_status, subscription_plan, generations_limit, generations_this_month, \
             stripe_customer_id, stripe_subscription_id FROM organizations WHERE id = $1",
    )
    .bind(org)
    .fetch_one(&s.owner)
    .await
    .unwrap();
    Billing { status, plan, limit, used, customer, subscription }
}

async fn set_used(s: &TestServer, org: Uuid, used: i32) {
    sqlx::query("UPDATE organizations SET generations_this_month = $2 WHERE id = $1")
        .bind(org)
        .bind(used)
        .execute(&s.owner)
        .await
        .unwrap();
}

async fn recorded_events(s: &TestServer) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM billing.stripe_events").fetch_one(&s.owner).await.unwrap()
}

/// A billing period that began yesterday (at midnight UTC, so it is the same all through a test).
fn month() -> (i64, i64) {
    let start = now() / 86_400 * 86_400 - 86_400;
    (start, start + 30 * 86_400)
}

/// The period after it.
fn next_month() -> (i64, i64) {
    let (_, end) = month();
    (end, end + 31 * 86_400)
}

#[tokio::test]
async fn only_correctly_signed_recent_payloads_are_read() {
    let s = TestServer::start_with(with_webhook).await;
    let owner = s.signup("owner@sig.test", "Signed").await;
    let org = owner.organization_id;
    let body = event(
        "evt_sig_1",
        "customer.subscription.updated",
        now(),
        subscription("sub_sig", Some(org), "active", "price_studio_test", month()),
    )
    .to_string();
    let bytes = body.as_bytes();
    let before = billing(&s, org).await;

    let tampered = body.replace("price_studio_test", "price_creator_test");
    let cases: Vec<(&str, &[u8], Option<String>)> = vec![
        ("no header", bytes, None),
        ("tampered body", tampered.as_bytes(), Some(sign(bytes, WHSEC.as_bytes(), now()))),
        ("wrong secret", bytes, Some(sign(bytes, b"whsec_someone_else", now()))),
        ("stale timestamp", bytes, Some(sign(bytes, WHSEC.as_bytes(), now() - 301))),
        ("from the future", bytes, Some(sign(bytes, WHSEC.as_bytes(), now() + 301))),
        ("v0 only", bytes, Some(sign(bytes, WHSEC.as_bytes(), now()).replace("v1=", "v0="))),
        ("garbage header", bytes, Some("definitely not a signature".into())),
    ];
    for (what, payload, header) in cases {
        let (status, resp) = deliver_raw(&s, payload, header).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {resp}");
        assert_eq!(error_code(&resp), "bad_request", "{what}");
    }
    // Signed, but not JSON: refused after verification, still 400 and nothing recorded.
    let junk = b"{not json";
    let (status, _) = deliver_raw(&s, junk, Some(sign(junk, WHSEC.as_bytes(), now()))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(recorded_events(&s).await, 0, "nothing refused may be recorded");
    assert_eq!(billing(&s, org).await, before, "nothing refused may change the organization");

    // Several v1 signatures (a secret being rolled): one match is enough.
    let good = sign(bytes, WHSEC.as_bytes(), now());
    let rolled = format!("{},v1={}", good.replacen("v1=", &format!("v1={},v1=", "0".repeat(64)), 1), "f".repeat(64));
    let (status, resp) = deliver_raw(&s, bytes, Some(rolled)).await;
    assert_eq!((status, resp["outcome"].as_str()), (StatusCode::OK, Some("applied")), "{resp}");
    let after = billing(&s, org).await;
    assert_eq!((after.status.as_str(), after.plan.as_str(), after.limit), ("active", "studio", 250));

    // A server without the secret refuses everything, saying why.
    let bare = TestServer::start().await;
    let (status, resp) = deliver_raw(&bare, bytes, Some(sign(bytes, WHSEC.as_bytes(), now()))).await;
    assert_eq!((status.as_u16(), error_code(&resp)), (501, "billing_not_configured"), "{resp}");
}

#[tokio::test]
async fn every_event_id_is_processed_once_even_when_redelivered_concurrently() {
    let s = TestServer::start_with(with_webhook).await;
    let org = s.signup("owner@once.test", "Once").await.organization_id;
    let first = event(
        "evt_once_1",
        "customer.subscription.created",
        now(),
        subscription("sub_once", Some(org), "active", "price_creator_test", month()),
    );
    // Ten deliveries of one event at once: one applies it, nine are told it is a replay.
    let outcomes = futures::future::join_all((0..10).map(|_| deliver(&s, &first))).await;
    assert_eq!(outcomes.iter().filter(|o| *o == "applied").count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| *o == "replay").count(), 9, "{outcomes:?}");
    assert_eq!(billing(&s, org).await.plan, "creator");

    // A replay changes nothing, even after the organization moved on. (Whether the subscription
    // itself started a new period depends on the date: its period starts yesterday, which is
    // after the calendar month's start except on the 1st and 2nd.)
    let resets = |s: &TestServer| {
        let owner = s.owner.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM billing.usage_resets WHERE organization_id = $1")
                .bind(org)
                .fetch_one(&owner)
                .await
                .unwrap()
        }
    };
    let before = resets(&s).await;
    set_used(&s, org, 9).await;
    let paid = event(
        "evt_once_2",
        "invoice.paid",
        now(),
        json!({"customer": "cus_sub_once",
        "parent": {"subscription_details": {"subscription": "sub_once", "metadata": {"organization_id": org}}},
        "lines": {"data": [{"period": {"start": next_month().0, "end": next_month().1}}]}}),
    );
    assert_eq!(deliver(&s, &paid).await, "applied");
    assert_eq!(billing(&s, org).await.used, 0, "a new period starts the count again");
    set_used(&s, org, 4).await;
    assert_eq!(deliver(&s, &paid).await, "replay");
    assert_eq!(billing(&s, org).await.used, 4, "a replayed invoice must not reset again");
    assert_eq!(resets(&s).await, before + 1, "the invoice reset once, its replay never");
}

#[tokio::test]
async fn out_of_order_events_never_move_a_subscription_back() {
    let s = TestServer::start_with(with_webhook).await;
    let org = s.signup("owner@order.test", "Order").await.organization_id;
    let t = now() - 3600;
    let sub = |status: &str| subscription("sub_order", Some(org), status, "price_creator_test", month());
    // A subscription that never became the organization's ends: the trial is kept.
    let never = subscription("sub_never", Some(org), "canceled", "price_creator_test", month());
    assert_eq!(deliver(&s, &event("evt_o0", "customer.subscription.deleted", t - 10, never)).await, "stale");
    assert_eq!(billing(&s, org).await.status, "trialing");
    assert_eq!(deliver(&s, &event("evt_o1", "customer.subscription.created", t, sub("active"))).await, "applied");
    // Stripe sent updated(past_due) at t+20 and updated(active) at t+10; they arrive reversed.
    assert_eq!(
        deliver(&s, &event("evt_o3", "customer.subscription.updated", t + 20, sub("past_due"))).await,
        "applied"
    );
    assert_eq!(deliver(&s, &event("evt_o2", "customer.subscription.updated", t + 10, sub("active"))).await, "stale");
    assert_eq!(billing(&s, org).await.status, "past_due");
    // A payment failure older than what was applied is stale too; a newer payment recovers.
    let invoice = |kind: &str, id: &str, at: i64| {
        event(id, kind, at, json!({"customer": "cus_sub_order", "subscription": "sub_order"}))
    };
    assert_eq!(deliver(&s, &invoice("invoice.paid", "evt_o4", t + 30)).await, "applied");
    assert_eq!(billing(&s, org).await.status, "active");
    assert_eq!(deliver(&s, &invoice("invoice.payment_failed", "evt_o5", t + 25)).await, "stale");
    assert_eq!(billing(&s, org).await.status, "active", "an older failure must not undo a newer payment");
    // Deleted is final: a late update of the same subscription cannot revive it.
    assert_eq!(
        deliver(&s, &event("evt_o6", "customer.subscription.deleted", t + 40, sub("canceled"))).await,
        "applied"
    );
    let ended = billing(&s, org).await;
    assert_eq!((ended.status.as_str(), ended.plan.as_str(), ended.limit), ("canceled", "free", 3));
    assert_eq!(deliver(&s, &event("evt_o7", "customer.subscription.updated", t + 50, sub("active"))).await, "stale");
    assert_eq!(deliver(&s, &invoice("invoice.paid", "evt_o8", t + 60)).await, "stale");
    assert_eq!(billing(&s, org).await, ended);
    // A new subscription afterwards is a new state, and the old one's late events stay stale.
    let new_sub = subscription("sub_order_2", Some(org), "active", "price_studio_test", next_month());
    assert_eq!(deliver(&s, &event("evt_o9", "customer.subscription.created", t + 70, new_sub)).await, "applied");
    assert_eq!(deliver(&s, &event("evt_o10", "customer.subscription.deleted", t + 80, sub("canceled"))).await, "stale");
    let now_on = billing(&s, org).await;
    assert_eq!((now_on.status.as_str(), now_on.plan.as_str(), now_on.limit), ("active", "studio", 250));
}

#[tokio::test]
async fn every_stripe_status_maps_onto_the_seeds_statuses() {
    let s = TestServer::start_with(with_webhook).await;
    let cases = [
        ("trialing", "trialing", "creator", 50),
        ("active", "active", "creator", 50),
        ("past_due", "past_due", "creator", 50),
        ("unpaid", "unpaid", "creator", 50),
        ("paused", "unpaid", "creator", 50),
        ("canceled", "canceled", "free", 3),
        // Not started yet (the first payment is pending): the organization stays as it was.
        ("incomplete", "trialing", "free", 3),
        ("incomplete_expired", "trialing", "free", 3),
    ];
    for (i, (stripe, status, plan, limit)) in cases.into_iter().enumerate() {
        let org = s.signup(&format!("owner{i}@status.test"), &format!("Status {i}")).await.organization_id;
        let mut object = subscription(&format!("sub_status_{i}"), Some(org), stripe, "price_creator_test", month());
        let trial_end = now() + 7 * 86_400;
        if stripe == "trialing" {
            object["trial_end"] = json!(trial_end);
        }
        if stripe == "canceled" {
            // Only a subscription the organization had can end for it.
            let started = subscription(&format!("sub_status_{i}"), Some(org), "active", "price_creator_test", month());
            deliver(&s, &event(&format!("evt_status_{i}_start"), "customer.subscription.created", now() - 10, started))
                .await;
        }
        deliver(&s, &event(&format!("evt_status_{i}"), "customer.subscription.updated", now(), object)).await;
        let b = billing(&s, org).await;
        assert_eq!((b.status.as_str(), b.plan.as_str(), b.limit), (status, plan, limit), "Stripe status {stripe}");
        if stripe == "trialing" {
            let ends: chrono::DateTime<chrono::Utc> =
                sqlx::query_scalar("SELECT trial_ends_at FROM organizations WHERE id = $1")
                    .bind(org)
                    .fetch_one(&s.owner)
                    .await
                    .unwrap();
            assert_eq!(ends.timestamp(), trial_end, "a Stripe trial sets when the trial ends");
        }
    }
    // An event naming no organization here is acknowledged and ignored.
    let stranger = subscription("sub_stranger", None, "active", "price_creator_test", month());
    assert_eq!(deliver(&s, &event("evt_stranger", "customer.subscription.updated", now(), stranger)).await, "ignored");
    // A price no plan has is an operator's mistake: 500, not recorded, so Stripe delivers it again.
    let org = s.signup("owner@price.test", "Price").await.organization_id;
    let body = event(
        "evt_price",
        "customer.subscription.updated",
        now(),
        subscription("sub_price", Some(org), "active", "price_unknown", month()),
    )
    .to_string();
    let (status, _) = deliver_raw(&s, body.as_bytes(), Some(sign(body.as_bytes(), WHSEC.as_bytes(), now()))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM billing.stripe_events WHERE id = 'evt_price'")
        .fetch_one(&s.owner)
        .await
        .unwrap();
    assert_eq!(kept, 0);
}

#[tokio::test]
async fn checkout_links_the_customer_and_invoices_drive_status_and_periods() {
    let s = TestServer::start_with(with_webhook).await;
    let owner = s.signup("owner@flow.test", "Flow").await;
    let org = owner.organization_id;
    let t = now() - 600;
    let completed = event(
        "evt_f1",
        "checkout.session.completed",
        t,
        json!({"object": "checkout.session",
        "mode": "subscription", "client_reference_id": org, "customer": "cus_flow", "subscription": "sub_flow"}),
    );
    assert_eq!(deliver(&s, &completed).await, "applied");
    let linked = billing(&s, org).await;
    assert_eq!((linked.customer.as_deref(), linked.subscription.as_deref()), (Some("cus_flow"), Some("sub_flow")));
    // The subscription's events find the organization by its subscription id alone.
    let mut sub = subscription("sub_flow", None, "active", "price_creator_test", month());
    sub["customer"] = json!("cus_flow");
    assert_eq!(deliver(&s, &event("evt_f2", "customer.subscription.created", t + 1, sub)).await, "applied");
    assert_eq!(billing(&s, org).await.limit, 50);
    set_used(&s, org, 7).await;
    let invoice = |id: &str, kind: &str, at: i64, period: (i64, i64)| {
        event(
            id,
            kind,
            at,
            json!({"customer": "cus_flow", "subscription": "sub_flow",
            "lines": {"data": [{"period": {"start": period.0, "end": period.1}}]}}),
        )
    };
    // The renewal invoice starts the next period: the count goes back to 0, once.
    assert_eq!(deliver(&s, &invoice("evt_f3", "invoice.paid", t + 2, next_month())).await, "applied");
    assert_eq!(billing(&s, org).await.used, 0);
    set_used(&s, org, 2).await;
    let mut renewed = subscription("sub_flow", None, "active", "price_creator_test", next_month());
    renewed["customer"] = json!("cus_flow");
    assert_eq!(deliver(&s, &event("evt_f4", "customer.subscription.updated", t + 3, renewed)).await, "applied");
    assert_eq!(billing(&s, org).await.used, 2, "the same period announced again must not reset it");
    // A failed payment pauses generating; the paid retry resumes it.
    assert_eq!(deliver(&s, &invoice("evt_f5", "invoice.payment_failed", t + 4, next_month())).await, "applied");
    assert_eq!(billing(&s, org).await.status, "past_due");
    let project = s.post("/v1/projects", &owner.access, new_project("Song")).await.1["id"].as_str().unwrap().to_owned();
    let (status, err) = s.start_generation(&owner.access, &project, Uuid::new_v4(), json!({})).await;
    assert_eq!((status.as_u16(), error_code(&err)), (402, "subscription_inactive"), "{err}");
    assert_eq!(deliver(&s, &invoice("evt_f6", "invoice.paid", t + 5, next_month())).await, "applied");
    assert_eq!(billing(&s, org).await.status, "active");
    assert_eq!(s.start_generation(&owner.access, &project, Uuid::new_v4(), json!({})).await.0, StatusCode::CREATED);
    // The activity log tells the story.
    let (_, logs) = s.get("/v1/system-logs", &owner.access).await;
    let messages: Vec<&str> = logs.as_array().unwrap().iter().filter_map(|l| l["message"].as_str()).collect();
    for expected in ["Subscription active: Creator plan", "A payment failed", "Payment received", "A new usage period"]
    {
        assert!(messages.iter().any(|m| m.starts_with(expected)), "no {expected:?} in {messages:?}");
    }
}

/// The resolution names the short edge and the plan's limit is a long edge: on the Free plan
/// (1080p, 1920 pixels), a 1080p vertical and a 1440p square render, a 1440p vertical does not.
#[tokio::test]
async fn the_plan_limit_compares_the_long_edge_in_every_shape() {
    let s = TestServer::start_with(with_webhook).await;
    let owner = s.signup("owner@shapes.test", "Shapes").await;
    sqlx::query("UPDATE organizations SET generations_limit = 10 WHERE id = $1")
        .bind(owner.organization_id)
        .execute(&s.owner)
        .await
        .unwrap();
    let mut expected_used = 0;
    for (resolution, aspect, allowed) in [
        ("1080p", "9:16", true),
        ("1440p", "1:1", true),
        ("1440p", "4:5", true),
        ("1440p", "9:16", false),
        ("2160p", "1:1", false),
    ] {
        let mut body = new_project("Shape");
        body["resolution"] = json!(resolution);
        body["aspect"] = json!(aspect);
        let (_, p) = s.post("/v1/projects", &owner.access, body).await;
        assert_eq!(p["aspect"], aspect, "{p}");
        let project = p["id"].as_str().unwrap().to_owned();
        let (status, err) = s.start_generation(&owner.access, &project, Uuid::new_v4(), json!({})).await;
        if allowed {
            expected_used += 1;
            assert_eq!(status, StatusCode::CREATED, "{resolution} {aspect}: {err}");
        } else {
            assert_eq!((status.as_u16(), error_code(&err)), (402, "plan_limit"), "{resolution} {aspect}: {err}");
            let message = err["error"]["message"].as_str().unwrap();
            assert!(message.contains("1920 pixels on the long edge") && message.contains(aspect), "{message}");
        }
    }
    assert_eq!(billing(&s, owner.organization_id).await.used, expected_used);
    // A shape that is not one of the four is refused naming the field.
    let mut body = new_project("Odd");
    body["aspect"] = json!("21:9");
    let (status, _) = s.post("/v1/projects", &owner.access, body).await;
    assert_eq!(status.as_u16(), 422);
}

#[tokio::test]
async fn the_plan_bounds_the_resolution_and_the_trial_end_stops_generating() {
    let s = TestServer::start_with(with_webhook).await;
    let owner = s.signup("owner@res.test", "Res").await;
    let org = owner.organization_id;
    let mut body = new_project("Big");
    body["resolution"] = json!("2160p");
    let project = s.post("/v1/projects", &owner.access, body).await.1["id"].as_str().unwrap().to_owned();
    let (status, err) = s.start_generation(&owner.access, &project, Uuid::new_v4(), json!({})).await;
    assert_eq!((status.as_u16(), error_code(&err)), (402, "plan_limit"), "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("Free plan renders up to 1080p"), "{err}");
    assert_eq!(billing(&s, org).await.used, 0, "a refusal is not counted");
    let studio = subscription("sub_res", Some(org), "active", "price_studio_test", month());
    deliver(&s, &event("evt_res", "customer.subscription.created", now(), studio)).await;
    assert_eq!(s.start_generation(&owner.access, &project, Uuid::new_v4(), json!({})).await.0, StatusCode::CREATED);

    // A trial that has ended, with no subscription, refuses with a message that says so.
    let other = s.signup("owner@trial.test", "Trial").await;
    let p = s.post("/v1/projects", &other.access, new_project("T")).await.1["id"].as_str().unwrap().to_owned();
    sqlx::query("UPDATE organizations SET trial_ends_at = now() - interval '1 hour' WHERE id = $1")
        .bind(other.organization_id)
        .execute(&s.owner)
        .await
        .unwrap();
    let (status, err) = s.start_generation(&other.access, &p, Uuid::new_v4(), json!({})).await;
    assert_eq!((status.as_u16(), error_code(&err)), (402, "trial_ended"));
    assert!(err["error"]["message"].as_str().unwrap().contains("free trial ended"), "{err}");
}

async fn make_month_due(s: &TestServer, org: Uuid, used: i32) {
    sqlx::query(
        "UPDATE billing.accounts SET period_start = billing.month_start(now()) - interval '1 month', \
         period_end = billing.month_start(now()) WHERE organization_id = $1",
    )
    .bind(org)
    .execute(&s.owner)
    .await
    .unwrap();
    set_used(s, org, used).await;
}

#[tokio::test]
async fn the_monthly_reset_happens_once_under_two_server_instances() {
    // Arrange with a first instance, then stop it: 40 organizations whose month is over.
    let s = TestServer::start().await;
    let mut orgs = Vec::new();
    for i in 0..40 {
        orgs.push(s.signup(&format!("owner{i}@month.test"), &format!("Month {i}")).await.organization_id);
    }
    for (i, org) in orgs.iter().enumerate() {
        make_month_due(&s, *org, 1 + (i as i32 % 3)).await;
    }
    let db_url = s.db_url.clone();
    let pool = s.owner.clone();
    s.shutdown().await;
    // Two instances on the same database start at the same moment; both find all 40 due.
    let connect = || async {
        let db = resonance_server::Db::connect(&resonance_server::config::DatabaseUrl::parse(&db_url).unwrap(), 8)
            .await
            .unwrap();
        TestServer::serve_on(db_url.clone(), db, |_| {}).await
    };
    let (a, b) = tokio::join!(connect(), connect());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM billing.accounts WHERE period_end <= now()")
            .fetch_one(&pool)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{left} organizations were never rolled over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let both instances finish their pass before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (i, org) in orgs.iter().enumerate() {
        let resets: Vec<(i32, String)> =
            sqlx::query_as("SELECT generations_used, reset_by FROM billing.usage_resets WHERE organization_id = $1")
                .bind(org)
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(resets, vec![(1 + (i as i32 % 3), "calendar".to_owned())], "organization {i}");
        let logged: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM system_logs WHERE organization_id = $1 AND action_type = 'billing.period'",
        )
        .bind(org)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(logged, 1, "organization {i}");
        let used: i32 = sqlx::query_scalar("SELECT generations_this_month FROM organizations WHERE id = $1")
            .bind(org)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(used, 0);
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn the_first_generation_of_a_month_counts_in_that_month() {
    let s = TestServer::start().await;
    let owner = s.signup("owner@first.test", "First").await;
    let project = s.post("/v1/projects", &owner.access, new_project("A")).await.1["id"].as_str().unwrap().to_owned();
    // The periodic pass ran at start; the month ends now, before it runs again.
    make_month_due(&s, owner.organization_id, 3).await;
    assert_eq!(s.start_generation(&owner.access, &project, Uuid::new_v4(), json!({})).await.0, StatusCode::CREATED);
    assert_eq!(billing(&s, owner.organization_id).await.used, 1, "last month's 3 must not count");
    let by: String = sqlx::query_scalar("SELECT reset_by FROM billing.usage_resets WHERE organization_id = $1")
        .bind(owner.organization_id)
        .fetch_one(&s.owner)
        .await
        .unwrap();
    assert_eq!(by, "generation");
}

#[tokio::test]
async fn the_request_role_reaches_nothing_of_billing() {
    let s = TestServer::start().await;
    let owner = s.signup("owner@sql.test", "Sql").await;
    for sql in [
        "SELECT count(*) FROM billing.stripe_events",
        "INSERT INTO billing.stripe_events (id, type, created, outcome) VALUES ('evt_x', 'x', now(), 'applied')",
        "UPDATE billing.accounts SET period_end = now() + interval '10 years'",
        "SELECT billing.start_period($1, now(), now() + interval '1 month', 'calendar', 'me')",
        "SELECT billing.roll_calendar_month($1, 'me')",
        "UPDATE organizations SET generations_this_month = 0 WHERE id = $1",
    ] {
        let mut tx = s.as_app(Some(owner.user_id)).await;
        let mut q = sqlx::query(sql);
        if sql.contains("$1") {
            q = q.bind(owner.organization_id);
        }
        let err = q.execute(&mut *tx).await.expect_err(sql);
        let code = err.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn checkout_and_portal_without_a_stripe_key_say_billing_is_not_configured() {
    let s = TestServer::start().await;
    let org = s.organization("nokey").await;
    for path in ["/v1/billing/checkout", "/v1/billing/portal"] {
        let (status, err) = s.post(path, &org.owner.access, json!({"plan": "creator"})).await;
        assert_eq!((status.as_u16(), error_code(&err)), (501, "billing_not_configured"), "{path}: {err}");
        assert_eq!(err["error"]["message"], "Billing is not configured on this server.");
        for role in ["admin", "developer", "viewer"] {
            let (status, _) = s.post(path, &org.by_role(role).access, json!({"plan": "creator"})).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{role} {path}");
        }
    }
}

#[tokio::test]
async fn checkout_and_portal_open_stripe_sessions_for_owners() {
    let fake = FakeStripe::default();
    let stripe_base = fake.start().await;
    let s = TestServer::start_with(|settings| {
        with_webhook(settings);
        settings.stripe.api_key = Some(Secret::parse("sk_test_resonance").unwrap());
        settings.stripe.api_base = stripe_base.clone();
    })
    .await;
    let org = s.organization("keyed").await;
    let owner = &org.owner;
    let (status, body) = s.post("/v1/billing/checkout", &owner.access, json!({"plan": "creator"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["url"].as_str().unwrap().starts_with("https://checkout.stripe.com/c/pay/cs_test_"), "{body}");
    {
        let requests = fake.requests.lock().unwrap();
        let (kind, auth, form) = requests.last().unwrap();
        assert_eq!((kind.as_str(), auth.as_str()), ("checkout", "Bearer sk_test_resonance"));
        let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(field("mode"), Some("subscription"));
        assert_eq!(field("line_items[0][price]"), Some("price_creator_test"));
        assert_eq!(field("client_reference_id"), Some(org.id.to_string().as_str()));
        assert_eq!(field("subscription_data[metadata][organization_id]"), Some(org.id.to_string().as_str()));
        assert_eq!(field("customer_email"), Some("owner@keyed.test"));
        assert_eq!(field("success_url"), Some(format!("{}/v1/billing/return?from=checkout", s.base).as_str()));
    }
    // The page Stripe returns to hands the browser on to the app, with a link to click too; an
    // unknown `from` is taken as checkout, never echoed.
    for (from, link, says) in [
        ("checkout", "resonance://billing/checkout", "as soon as Stripe confirms"),
        ("checkout-canceled", "resonance://billing/checkout-canceled", "Nothing was charged"),
        ("portal", "resonance://billing/portal", "Any change you made"),
        ("<script>", "resonance://billing/checkout", "as soon as Stripe confirms"),
    ] {
        let page = s.http.get(format!("{}/v1/billing/return?from={from}", s.base)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let refresh = page.headers().get("refresh").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = page.text().await.unwrap();
        assert_eq!(refresh, Some(format!("0;url={link}")), "{from}: {text}");
        assert!(text.contains(&format!("href=\"{link}\"")) && text.contains(says), "{from}: {text}");
        assert!(!text.contains("<script>"), "{text}");
    }
    // Only paid plans; only owners.
    let (status, err) = s.post("/v1/billing/checkout", &owner.access, json!({"plan": "free"})).await;
    assert_eq!((status.as_u16(), err["error"]["field"].as_str()), (422, Some("plan")), "{err}");
    let (status, _) = s.post("/v1/billing/checkout", &org.admin.access, json!({"plan": "creator"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // No customer yet: nothing to manage.
    let (status, err) = s.post("/v1/billing/portal", &owner.access, json!({})).await;
    assert_eq!((status, error_code(&err)), (StatusCode::CONFLICT, "conflict"), "{err}");
    // After checkout completes and the subscription is active: the portal opens on the customer,
    // and a second checkout is refused.
    deliver(
        &s,
        &event(
            "evt_k1",
            "checkout.session.completed",
            now(),
            json!({"mode": "subscription",
        "client_reference_id": org.id, "customer": "cus_keyed", "subscription": "sub_keyed"}),
        ),
    )
    .await;
    let mut sub = subscription("sub_keyed", Some(org.id), "active", "price_creator_test", month());
    sub["customer"] = json!("cus_keyed");
    deliver(&s, &event("evt_k2", "customer.subscription.created", now(), sub)).await;
    let (status, body) = s.post("/v1/billing/portal", &owner.access, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["url"].as_str().unwrap().starts_with("https://billing.stripe.com/p/session/"));
    {
        let requests = fake.requests.lock().unwrap();
        let (kind, _, form) = requests.last().unwrap();
        assert_eq!(kind, "portal");
        assert!(form.contains(&("customer".into(), "cus_keyed".into())), "{form:?}");
    }
    let (status, err) = s.post("/v1/billing/checkout", &owner.access, json!({"plan": "studio"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("Manage billing"), "{err}");
    // Stripe refusing, or gone: 502 with a reason, and nothing else changes.
    *fake.refuse.lock().unwrap() = true;
    let (status, err) = s.post("/v1/billing/portal", &owner.access, json!({})).await;
    assert_eq!((status.as_u16(), error_code(&err)), (502, "billing_unavailable"), "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("No such price"), "{err}");
    let gone = TestServer::start_with(|settings| {
        with_webhook(settings);
        settings.stripe.api_key = Some(Secret::parse("sk_test_resonance").unwrap());
        settings.stripe.api_base = "http://127.0.0.1:9".into();
    })
    .await;
    let lonely = gone.signup("owner@gone.test", "Gone").await;
    let (status, err) = gone.post("/v1/billing/checkout", &lonely.access, json!({"plan": "creator"})).await;
    assert_eq!((status.as_u16(), error_code(&err)), (502, "billing_unavailable"), "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("cannot be reached"), "{err}");
}
