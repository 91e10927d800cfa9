//! What a verified Stripe event means for an organization, decided without touching the database.
//! Invariant: every Stripe subscription status maps to one of the seed's `subscription_status`
//! values or is explicitly "not started"; an event this server does not act on is `Ignore`, and
//! a malformed one of a type it does act on is an error (so Stripe redelivers it later).

use chrono::{DateTime, TimeZone, Utc};
use resonance_api::model::SubscriptionStatus;
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the event is not JSON: {0}")]
    NotJson(String),
    #[error("the event has no {0}")]
    Missing(&'static str),
    #[error("unknown Stripe subscription status `{0}`")]
    UnknownStatus(String),
}

/// The envelope every Stripe event has.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub created: DateTime<Utc>,
    pub action: Action,
}

/// What the organization-facing part of an event says.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `checkout.session.completed`: the organization now has this customer and subscription.
    Link { refs: Refs },
    /// `customer.subscription.created` / `updated`: the subscription's state at `created`.
    Subscription(SubscriptionState),
    /// `customer.subscription.deleted`.
    SubscriptionEnded { refs: Refs },
    /// `invoice.paid`: payment went through; `period` is the service period it paid for.
    InvoicePaid { refs: Refs, period: Option<Period> },
    /// `invoice.payment_failed`.
    InvoiceFailed { refs: Refs },
    /// Anything else: acknowledged, recorded, not acted on.
    Ignore,
}

impl Action {
    /// How the event names its organization; None for events not acted on.
    pub fn refs(&self) -> Option<&Refs> {
        match self {
            Self::Link { refs }
            | Self::SubscriptionEnded { refs }
            | Self::InvoicePaid { refs, .. }
            | Self::InvoiceFailed { refs } => Some(refs),
            Self::Subscription(s) => Some(&s.refs),
            Self::Ignore => None,
        }
    }
}

/// How an event names its organization: our id (in metadata or `client_reference_id`, which
/// checkout sets), the Stripe customer, and the subscription.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Refs {
    pub organization: Option<Uuid>,
    pub customer: Option<String>,
    pub subscription: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionState {
    pub refs: Refs,
    pub status: Mapped,
    pub price: Option<String>,
    pub trial_end: Option<DateTime<Utc>>,
    pub period: Option<Period>,
    pub cancel_at_period_end: bool,
}

/// A Stripe subscription status, as the organization sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapped {
    Status(SubscriptionStatus),
    /// `incomplete` / `incomplete_expired`: the first payment has not gone through, so the
    /// subscription has not started; the organization stays as it was.
    NotStarted,
}

/// Stripe's subscription statuses onto the seed's `subscription_status`.
pub fn map_status(stripe: &str) -> Result<Mapped, EventError> {
    use SubscriptionStatus::*;
    Ok(match stripe {
        "trialing" => Mapped::Status(Trialing),
        "active" => Mapped::Status(Active),
        "past_due" => Mapped::Status(PastDue),
        "unpaid" => Mapped::Status(Unpaid),
        "canceled" => Mapped::Status(Canceled),
        // A paused subscription (a trial that ended without a payment method) sends no invoices
        // and renders nothing until it resumes: unpaid, in the seed's words.
        "paused" => Mapped::Status(Unpaid),
        "incomplete" | "incomplete_expired" => Mapped::NotStarted,
        other => return Err(EventError::UnknownStatus(other.to_owned())),
    })
}

pub fn parse(payload: &[u8]) -> Result<Event, EventError> {
    let v: Value = serde_json::from_slice(payload).map_err(|e| EventError::NotJson(e.to_string()))?;
    let id = v.get("id").and_then(Value::as_str).ok_or(EventError::Missing("id"))?.to_owned();
    let kind = v.get("type").and_then(Value::as_str).ok_or(EventError::Missing("type"))?.to_owned();
    let created = v.get("created").and_then(Value::as_i64).and_then(unix).ok_or(EventError::Missing("created"))?;
    let object = v.pointer("/data/object");
    let action = match (kind.as_str(), object) {
        ("checkout.session.completed", Some(o)) => {
            if o.get("mode").and_then(Value::as_str) == Some("subscription") {
                let mut refs = refs_of(o, id_of(o.get("subscription")));
                refs.organization = refs.organization.or_else(|| text(o, "client_reference_id").and_then(uuid));
                Action::Link { refs }
            } else {
                Action::Ignore
            }
        }
        ("customer.subscription.created" | "customer.subscription.updated", Some(o)) => {
            let status = text(o, "status").ok_or(EventError::Missing("data.object.status"))?;
            let item = o.pointer("/items/data/0");
            Action::Subscription(SubscriptionState {
                refs: refs_of(o, text(o, "id").map(str::to_owned)),
                status: map_status(status)?,
                price: item.and_then(|i| i.pointer("/price/id")).and_then(Value::as_str).map(str::to_owned),
                trial_end: o.get("trial_end").and_then(Value::as_i64).and_then(unix),
                // Top-level before Stripe's 2025-03-31 API version, on the item since.
                period: period(o, "current_period_start", "current_period_end")
                    .or_else(|| item.and_then(|i| period(i, "current_period_start", "current_period_end"))),
                cancel_at_period_end: o.get("cancel_at_period_end").and_then(Value::as_bool).unwrap_or(false),
            })
        }
        ("customer.subscription.deleted", Some(o)) => {
            Action::SubscriptionEnded { refs: refs_of(o, text(o, "id").map(str::to_owned)) }
        }
        ("invoice.paid", Some(o)) => Action::InvoicePaid { refs: invoice_refs(o), period: invoice_period(o) },
        ("invoice.payment_failed", Some(o)) => Action::InvoiceFailed { refs: invoice_refs(o) },
        (
            "checkout.session.completed"
            | "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted"
            | "invoice.paid"
            | "invoice.payment_failed",
            None,
        ) => return Err(EventError::Missing("data.object")),
        _ => Action::Ignore,
    };
    Ok(Event { id, kind, created, action })
}

fn unix(seconds: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(seconds, 0).single()
}

fn text<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn uuid(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s).ok()
}

/// A reference that Stripe sends either as an id or, when expanded, as the object.
fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(_) => v.and_then(|o| text(o, "id")).map(str::to_owned),
        _ => None,
    }
}

fn refs_of(o: &Value, subscription: Option<String>) -> Refs {
    Refs {
        organization: o.pointer("/metadata/organization_id").and_then(Value::as_str).and_then(uuid),
        customer: id_of(o.get("customer")),
        subscription,
    }
}

fn period(o: &Value, start: &str, end: &str) -> Option<Period> {
    let start = o.get(start).and_then(Value::as_i64).and_then(unix)?;
    let end = o.get(end).and_then(Value::as_i64).and_then(unix)?;
    (end > start).then_some(Period { start, end })
}

/// An invoice names its subscription at the top level (API versions before 2025-03-31) or under
/// `parent.subscription_details` (since); the organization is in the subscription's metadata.
fn invoice_refs(o: &Value) -> Refs {
    let details = o.pointer("/parent/subscription_details");
    let subscription = id_of(o.get("subscription")).or_else(|| details.and_then(|d| id_of(d.get("subscription"))));
    let organization = o
        .pointer("/subscription_details/metadata/organization_id")
        .or_else(|| details.and_then(|d| d.pointer("/metadata/organization_id")))
        .and_then(Value::as_str)
        .and_then(uuid);
    Refs { organization, customer: id_of(o.get("customer")), subscription }
}

/// The service period of the invoice's subscription line: the period just paid for. (The
/// invoice's own `period_start`/`period_end` describe the previous period, by Stripe's design.)
fn invoice_period(o: &Value) -> Option<Period> {
    let lines = o.pointer("/lines/data")?.as_array()?;
    lines.iter().filter_map(|l| l.get("period")).find_map(|p| period(p, "start", "end"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, object: Value) -> Vec<u8> {
        json!({"id": "evt_1", "object": "event", "type": kind, "created": 1_764_633_600, "data": {"object": object}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn every_stripe_status_has_a_meaning() {
        use SubscriptionStatus::*;
        let cases = [
            ("trialing", Mapped::Status(Trialing)),
            ("active", Mapped::Status(Active)),
            ("past_due", Mapped::Status(PastDue)),
            ("unpaid", Mapped::Status(Unpaid)),
            ("canceled", Mapped::Status(Canceled)),
            ("paused", Mapped::Status(Unpaid)),
            ("incomplete", Mapped::NotStarted),
            ("incomplete_expired", Mapped::NotStarted),
        ];
        for (stripe, mapped) in cases {
            assert_eq!(map_status(stripe), Ok(mapped), "{stripe}");
        }
        assert_eq!(map_status("frozen"), Err(EventError::UnknownStatus("frozen".into())));
    }

    #[test]
    fn a_subscription_update_in_either_api_version() {
        let org = Uuid::new_v4();
        let old = json!({"id": "sub_1", "customer": "cus_1", "status": "active", "metadata": {"organization_id": org},
            "current_period_start": 1_764_547_200, "current_period_end": 1_767_225_600,
            "items": {"data": [{"price": {"id": "price_c"}}]}, "cancel_at_period_end": true});
        let new = json!({"id": "sub_1", "customer": {"id": "cus_1", "object": "customer"}, "status": "active",
            "metadata": {"organization_id": org.to_string()}, "trial_end": null,
            "items": {"data": [{"price": {"id": "price_c"}, "current_period_start": 1_764_547_200, "current_period_end": 1_767_225_600}]}});
        for (object, cancel) in [(old, true), (new, false)] {
            let e = parse(&event("customer.subscription.updated", object)).unwrap();
            let Action::Subscription(s) = e.action else { panic!("{e:?}") };
            assert_eq!(
                s.refs,
                Refs { organization: Some(org), customer: Some("cus_1".into()), subscription: Some("sub_1".into()) }
            );
            assert_eq!(s.price.as_deref(), Some("price_c"));
            assert_eq!(
                s.period.map(|p| (p.start.timestamp(), p.end.timestamp())),
                Some((1_764_547_200, 1_767_225_600))
            );
            assert_eq!(s.cancel_at_period_end, cancel);
        }
    }

    #[test]
    fn checkout_names_the_organization_by_client_reference() {
        let org = Uuid::new_v4();
        let e = parse(&event(
            "checkout.session.completed",
            json!({"mode": "subscription", "client_reference_id": org, "customer": "cus_9", "subscription": "sub_9"}),
        ))
        .unwrap();
        assert_eq!(
            e.action,
            Action::Link {
                refs: Refs {
                    organization: Some(org),
                    customer: Some("cus_9".into()),
                    subscription: Some("sub_9".into())
                }
            }
        );
        let payment = parse(&event("checkout.session.completed", json!({"mode": "payment"}))).unwrap();
        assert_eq!(payment.action, Action::Ignore);
    }

    #[test]
    fn invoices_name_their_subscription_and_paid_period() {
        let new = json!({"customer": "cus_1", "parent": {"subscription_details": {"subscription": "sub_1", "metadata": {}}},
            "period_start": 1, "period_end": 2,
            "lines": {"data": [{"period": {"start": 1_767_225_600, "end": 1_769_904_000}}]}});
        let Action::InvoicePaid { refs, period } = parse(&event("invoice.paid", new)).unwrap().action else { panic!() };
        assert_eq!(refs.subscription.as_deref(), Some("sub_1"));
        assert_eq!(period.map(|p| p.start.timestamp()), Some(1_767_225_600));
        let old = json!({"customer": "cus_1", "subscription": "sub_2"});
        assert_eq!(
            parse(&event("invoice.payment_failed", old)).unwrap().action,
            Action::InvoiceFailed {
                refs: Refs { organization: None, customer: Some("cus_1".into()), subscription: Some("sub_2".into()) }
            }
        );
    }

    #[test]
    fn unknown_types_are_ignored_and_broken_known_ones_are_errors() {
        assert_eq!(parse(&event("customer.created", json!({}))).unwrap().action, Action::Ignore);
        assert!(matches!(parse(b"not json"), Err(EventError::NotJson(_))));
        assert_eq!(
            parse(br#"{"id":"evt","type":"invoice.paid","created":1}"#),
            Err(EventError::Missing("data.object"))
        );
        assert_eq!(
            parse(&event("customer.subscription.updated", json!({"id": "sub"}))),
            Err(EventError::Missing("data.object.status"))
        );
    }
}
