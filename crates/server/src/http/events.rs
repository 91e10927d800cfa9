//! `GET /v1/events`: server-sent events of the caller's organization. Invariants:
//! - one LISTEN connection per server instance feeds every stream (a broadcast channel), and a
//!   stream sends only its organization's events;
//! - event ids are the organization's own (1, 2, 3…), numbered when their transaction commits,
//!   so a stream's ids only grow and two transactions committing out of order lose nothing;
//! - a stream resumed with `Last-Event-ID` first replays what it missed from `public.events`
//!   (kept a day, read under RLS); when that cannot be complete — the id is older than what is
//!   kept or was not given by this numbering, the listener reconnected, or the stream fell
//!   behind — it sends a `gap` event, and the client catches up through `/v1/sync`;
//! - a stream ends when its access token expires (the client reconnects with a fresh one), and
//!   within [`RECHECK_EVERY`] of its session ending or its member being removed.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use resonance_api::events::{Event, GAP};
use tokio::sync::{broadcast, mpsc};

use super::extract::Authenticated;
use super::AppState;
use crate::db::Db;
use crate::error::{Error, Result};

/// Events the listener has handed out but a slow stream has not read yet.
pub const BUFFER: usize = 1024;
const CHANNEL: &str = "resonance_events";
/// How often a stream checks that its session and membership still stand.
pub const RECHECK_EVERY: Duration = Duration::from_secs(3);

/// What the listener broadcasts: an event, or word that some may have been missed; and, from
/// `serve`, that the server is shutting down (every stream ends, so a graceful shutdown is not
/// held open by clients that would follow forever).
#[derive(Debug, Clone)]
pub enum Broadcast {
    Event(Box<Event>),
    Gap,
    ShuttingDown,
}

/// Listens on `resonance_events` until the sender has no more use; reconnects after failures
/// (telling every stream about the gap).
pub async fn listen(db: Db, sender: broadcast::Sender<Broadcast>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        match sqlx::postgres::PgListener::connect_with(db.pool()).await {
            Ok(mut listener) => {
                if listener.listen(CHANNEL).await.is_ok() {
                    loop {
                        tokio::select! {
                            n = listener.recv() => match n {
                                Ok(n) => match serde_json::from_str::<Event>(n.payload()) {
                                    Ok(e) => { let _ = sender.send(Broadcast::Event(Box::new(e))); }
                                    // Streams say gap, so their clients sync instead of missing it.
                                    Err(e) => {
                                        tracing::warn!(error = %e, "an event could not be read; streams are told of a gap");
                                        let _ = sender.send(Broadcast::Gap);
                                    }
                                },
                                Err(e) => {
                                    tracing::warn!(error = %e, "the event listener lost Postgres; reconnecting");
                                    break;
                                }
                            },
                            _ = stop.changed() => return,
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "the event listener cannot reach Postgres; retrying"),
        }
        let _ = sender.send(Broadcast::Gap);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Whether the stream's session and membership still stand. A database that cannot be reached
/// does not end the stream (the next check decides).
async fn still_member(db: &Db, claims: &crate::credentials::AccessClaims) -> bool {
    match db.begin_for(claims).await {
        Ok((tx, _caller)) => {
            let _ = tx.commit().await;
            true
        }
        Err(Error::Refused { .. }) => false,
        Err(e) => {
            tracing::warn!(error = %e, "could not check an event stream's session; will check again");
            true
        }
    }
}

fn sse(event: &Event) -> SseEvent {
    SseEvent::default()
        .id(event.id.to_string())
        .event(event.kind().as_str())
        .json_data(event)
        // With data: a client reading the format drops a block that has none.
        .unwrap_or_else(|_| SseEvent::default().event(GAP).data("sync to catch up"))
}

/// The caller's organization's events, live; with `Last-Event-ID`, what was missed first.
#[utoipa::path(get, path = "/v1/events", tag = "sync", security(("bearer" = [])),
    params(("Last-Event-ID" = Option<i64>, Header, nullable = false, description = "Resume after this event")),
    responses((status = 200, content_type = "text/event-stream", body = resonance_api::events::Event,
        description = "server-sent events named `generation`, `project` and `progress`, each with `id:` (the organization's event number, for Last-Event-ID) and `data:` an Event (the schema here); and `gap` (data: a sentence, no id): some events were missed, sync to catch up")))]
pub async fn stream(
    State(app): State<AppState>,
    Authenticated(claims): Authenticated,
    headers: HeaderMap,
) -> Result<Response> {
    let last: Option<i64> = match headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        None => None,
        Some(v) => Some(v.trim().parse().map_err(|_| Error::bad_request("Last-Event-ID must be an event id."))?),
    };
    // Subscribe before reading the backlog, so nothing falls between the two.
    let mut live = app.events.subscribe();
    let (mut tx, caller) = app.db.begin_for(&claims).await?;
    let mut backlog: Vec<Event> = Vec::new();
    let mut gap = false;
    let mut last = last;
    if let Some(after) = last {
        // Ids are the organization's own, numbered in commit order (migration 0017): what is
        // kept after `after` is complete unless older events were pruned. An id above the newest
        // was not given by this numbering (a client from before it): a gap, then everything new.
        let newest: i64 = sqlx::query_scalar("SELECT auth_private.newest_event()").fetch_one(&mut *tx).await?;
        let oldest: Option<i64> = sqlx::query_scalar("SELECT min(seq) FROM events").fetch_one(&mut *tx).await?;
        // Behind the newest with nothing kept after `after` (pruned): a gap too.
        gap = after > newest || (after < newest && oldest.is_none_or(|o| o > after.saturating_add(1)));
        let from = after.min(newest);
        last = Some(from);
        let rows: Vec<sqlx::types::Json<serde_json::Value>> = sqlx::query_scalar(
            "SELECT to_jsonb(e) || jsonb_build_object('id', e.seq) FROM events e WHERE seq > $1 ORDER BY seq LIMIT 10000",
        )
        .bind(from)
        .fetch_all(&mut *tx)
        .await?;
        for row in rows {
            match serde_json::from_value::<Event>(row.0) {
                Ok(event) => backlog.push(event),
                // A row this server cannot read (a newer server's word, a status left empty):
                // the client catches up through sync instead of missing it.
                Err(e) => {
                    tracing::warn!(error = %e, "a kept event could not be read; the stream says gap");
                    gap = true;
                }
            }
        }
    }
    tx.commit().await?;
    let org = caller.organization_id;
    let expires_in = u64::try_from(claims.exp.saturating_sub(chrono::Utc::now().timestamp())).unwrap_or(0);
    let (out, mut rx) = mpsc::channel::<SseEvent>(64);
    let db = app.db.clone();
    tokio::spawn(async move {
        if gap && out.send(SseEvent::default().event(GAP).data("sync to catch up")).await.is_err() {
            return;
        }
        let mut sent = last.unwrap_or(0);
        for e in &backlog {
            sent = e.id;
            if out.send(sse(e)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(Duration::from_secs(expires_in));
        tokio::pin!(deadline);
        let mut recheck = tokio::time::interval(RECHECK_EVERY);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let next = tokio::select! {
                n = live.recv() => n,
                () = &mut deadline => return,
                () = out.closed() => return,
                _ = recheck.tick() => {
                    if still_member(&db, &claims).await {
                        continue;
                    }
                    return;
                }
            };
            let event = match next {
                Ok(Broadcast::Event(e)) if e.organization_id == org && e.id > sent => {
                    sent = e.id;
                    sse(&e)
                }
                Ok(Broadcast::Event(_)) => continue,
                Ok(Broadcast::Gap) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    SseEvent::default().event(GAP).data("sync to catch up")
                }
                Ok(Broadcast::ShuttingDown) | Err(broadcast::error::RecvError::Closed) => return,
            };
            if out.send(event).await.is_err() {
                return;
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|o| o.map(Ok::<_, Infallible>)));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}
