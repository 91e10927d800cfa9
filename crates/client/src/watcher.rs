//! The render watcher: follows `/v1/events` while online, catches up through `/v1/sync` after
//! being offline or after any gap, keeps the mirror current, and raises exactly one notification
//! per generation that finishes (`completed` or `failed`). Invariants:
//! - a generation is announced only if this machine saw it unfinished (not old history brought
//!   by a first sync), and only once, across restarts and offline periods: it is recorded as
//!   told before the notifier is called;
//! - a generation the user saw finish in the app is marked so, and not announced.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use reqwest::Method;
use resonance_api::events::{Event, EventChange, EventKind, GAP};
use resonance_api::model::GenerationStatus;
use rusqlite::params;
use serde::Serialize;
use uuid::Uuid;

use crate::error::{ClientError, Result};
use crate::http::Payload;
use crate::mirror::Mirror;
use crate::session::Session;
use crate::sync;

/// A finished generation, as the user is told about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub generation_id: Uuid,
    pub project_id: Option<Uuid>,
    pub project_name: String,
    pub generation_number: Option<i64>,
    pub completed: bool,
    /// Why it failed.
    pub error: Option<String>,
}

impl Notification {
    pub fn title(&self) -> String {
        let n = self.generation_number.map(|n| format!(" #{n}")).unwrap_or_default();
        if self.completed {
            format!("Render{n} of \u{201c}{}\u{201d} is ready", self.project_name)
        } else {
            format!("Render{n} of \u{201c}{}\u{201d} failed", self.project_name)
        }
    }
}

/// Shows notifications: the desktop with the OS notification, the CLI by printing.
pub trait Notifier: Send + Sync {
    fn notify(&self, notification: &Notification);
}

/// Records the generations seen unfinished, and takes the newly finished ones among them,
/// marking each as told (in one transaction, before anyone is told).
pub fn take_finished(mirror: &Mirror) -> Result<Vec<Notification>> {
    let mut conn = mirror.lock();
    let tx = crate::mirror::write(&mut conn)?;
    let now = Utc::now().to_rfc3339();
    tx.execute(
        "INSERT OR IGNORE INTO watched_generations (generation_id, seen_at)
         SELECT id, ?1 FROM generations
         WHERE json_extract(data, '$.status') IN ('pending', 'processing')
           AND id NOT IN (SELECT generation_id FROM notified_generations)",
        params![now],
    )?;
    let mut out = Vec::new();
    {
        let mut stmt = tx.prepare(
            "SELECT g.id, g.project_id, coalesce(p.name, 'a deleted project'), g.generation_number,
                    json_extract(g.data, '$.status'), json_extract(g.data, '$.error_message')
             FROM watched_generations w JOIN generations g ON g.id = w.generation_id
             LEFT JOIN projects p ON p.id = g.project_id
             WHERE json_extract(g.data, '$.status') IN ('completed', 'failed')
             ORDER BY g.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })?;
        for row in rows {
            let (id, project, name, number, status, error) = row?;
            out.push(Notification {
                generation_id: Uuid::parse_str(&id)
                    .map_err(|e| ClientError::Corrupt(format!("watched generation {id}: {e}")))?,
                project_id: project.and_then(|p| Uuid::parse_str(&p).ok()),
                project_name: name,
                generation_number: number,
                completed: status == GenerationStatus::Completed.as_str(),
                error,
            });
        }
    }
    for n in &out {
        let id = n.generation_id.to_string();
        tx.execute(
            "INSERT OR IGNORE INTO notified_generations (generation_id, notified_at) VALUES (?1, ?2)",
            params![id, now],
        )?;
        tx.execute("DELETE FROM watched_generations WHERE generation_id = ?1", params![id])?;
    }
    tx.commit()?;
    Ok(out)
}

/// The user saw this generation finish in the app: it is not announced.
pub fn mark_seen(mirror: &Mirror, generation: Uuid) -> Result<()> {
    let conn = mirror.lock();
    let id = generation.to_string();
    conn.execute(
        "INSERT OR IGNORE INTO notified_generations (generation_id, notified_at) VALUES (?1, ?2)",
        params![id, Utc::now().to_rfc3339()],
    )?;
    conn.execute("DELETE FROM watched_generations WHERE generation_id = ?1", params![id])?;
    Ok(())
}

/// Syncs, then announces what finished; says whether the pull changed the mirror.
async fn catch_up(session: &Arc<Session>, mirror: &Arc<Mirror>, notifier: &dyn Notifier) -> Result<bool> {
    let pulled = sync::pull(session, mirror).await?;
    for n in take_finished(mirror)? {
        notifier.notify(&n);
        // Its thumbnail goes into the media cache at once; the video when asked for.
        if n.completed {
            if let Err(e) = crate::media::fetch(session, mirror, n.generation_id, crate::media::Kind::Thumbnail).await {
                tracing::debug!(error = %e, "the thumbnail will be fetched later");
            }
        }
    }
    Ok(pulled.changed())
}

/// What a watcher reports besides notifications (for a progress display).
pub trait Listener: Send + Sync {
    /// An event as it arrives (before the mirror shows what it says).
    fn event(&self, _event: &Event) {}
    /// A catch-up wrote to the mirror: what is shown should be reloaded.
    fn mirror_changed(&self) {}
}

impl Listener for () {}

/// How long to wait before connecting again, unless the server said otherwise (`retry:`).
const RECONNECT: Duration = Duration::from_secs(2);

/// Where the reconnection time a server asks for is held (a server cannot make the app hammer
/// it, nor go quiet for an hour).
fn reconnect_within(asked: Duration) -> Duration {
    asked.clamp(Duration::from_secs(1), Duration::from_secs(300))
}

/// Watches until an error that needs the user (signed out); offline periods are waited out.
pub async fn watch(
    session: Arc<Session>,
    mirror: Arc<Mirror>,
    notifier: Arc<dyn Notifier>,
    listener: Arc<dyn Listener>,
) -> Result<()> {
    let mut last: Option<i64> = None;
    let mut reconnect = RECONNECT;
    loop {
        match follow(&session, &mirror, notifier.as_ref(), listener.as_ref(), &mut last, &mut reconnect).await {
            Err(e) if e.needs_sign_in() => return Err(e),
            Err(e) if e.needs_update() => {
                // The server serves only newer apps (the sync status says so): ask again rarely,
                // in case it serves this one again.
                tracing::debug!(error = %e, "events refused to an outdated app");
                tokio::time::sleep(Duration::from_secs(60)).await;
                continue;
            }
            Err(e) => tracing::debug!(error = %e, "events interrupted; catching up when the server answers"),
            Ok(()) => {}
        }
        tokio::time::sleep(reconnect).await;
    }
}

/// One message of the event stream.
#[derive(Debug, Clone, PartialEq)]
struct Incoming {
    /// The event's name (`message` when the server gave none).
    name: String,
    data: String,
    /// The last event id seen on this connection, if any was given.
    id: Option<i64>,
    /// The reconnection time the server asked for with this message.
    retry: Option<Duration>,
}

/// The messages in an event stream's bytes, by a maintained parser of the format (line endings
/// CRLF, LF or CR, comments as keep-alives, `id:` and `retry:`, characters split across chunks).
/// The parser reports a message only with its data: a block of `retry:` alone is not seen.
fn messages<S, B, E>(bytes: S) -> impl futures_util::Stream<Item = std::result::Result<Incoming, String>>
where
    S: futures_util::Stream<Item = std::result::Result<B, E>>,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    use eventsource_stream::Eventsource;
    utf8_checked(bytes).eventsource().map(|item| {
        item.map(|e| Incoming { name: e.event, data: e.data, id: e.id.trim().parse().ok(), retry: e.retry })
            .map_err(|e| e.to_string())
    })
}

/// The bytes, refused at the first that cannot be UTF-8. The parser holds back bytes that may be
/// the start of a character still arriving, and would wait forever behind one that is not (while
/// keep-alives keep the connection from timing out); an error ends the connection instead.
fn utf8_checked<S, B, E>(bytes: S) -> impl futures_util::Stream<Item = std::result::Result<Vec<u8>, String>>
where
    S: futures_util::Stream<Item = std::result::Result<B, E>>,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    // The end of the last chunk if it was part of a character.
    let mut pending: Vec<u8> = Vec::new();
    bytes.map(move |chunk| {
        let chunk = chunk.map_err(|e| e.to_string())?;
        pending.extend_from_slice(chunk.as_ref());
        let whole = match std::str::from_utf8(&pending) {
            Ok(_) => pending.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => return Err("the server's event stream is not UTF-8".to_owned()),
        };
        let rest = pending.split_off(whole);
        Ok(std::mem::replace(&mut pending, rest))
    })
}

/// One connection's worth: catch up, then follow the stream until it ends.
async fn follow(
    session: &Arc<Session>,
    mirror: &Arc<Mirror>,
    notifier: &dyn Notifier,
    listener: &dyn Listener,
    last: &mut Option<i64>,
    reconnect: &mut Duration,
) -> Result<()> {
    let headers: Vec<(&str, String)> = last.map(|id| vec![("Last-Event-ID", id.to_string())]).unwrap_or_default();
    let resp = session.request_with(Method::GET, "/v1/events", Payload::None, &headers, None).await?;
    // Connected: whatever happened while away comes through sync.
    if catch_up(session, mirror, notifier).await? {
        listener.mirror_changed();
    }
    let stream = messages(resp.bytes_stream());
    futures_util::pin_mut!(stream);
    while let Some(message) = stream.next().await {
        let Incoming { name, data, id, retry } =
            message.map_err(|reason| ClientError::Offline { server: session.http().server().into(), reason })?;
        *last = id.or(*last);
        if let Some(asked) = retry {
            *reconnect = reconnect_within(asked);
        }
        if name == GAP {
            *last = None;
            if catch_up(session, mirror, notifier).await? {
                listener.mirror_changed();
            }
            continue;
        }
        let event = match serde_json::from_str::<Event>(&data) {
            Ok(event) => event,
            // A newer server's vocabulary: the rows it speaks of still come through sync.
            Err(e) => {
                tracing::debug!(error = %e, event = %name, "an event this client cannot read; syncing instead");
                if name != EventKind::Progress.as_str() && catch_up(session, mirror, notifier).await? {
                    listener.mirror_changed();
                }
                continue;
            }
        };
        listener.event(&event);
        if event.kind() != EventKind::Progress {
            if catch_up(session, mirror, notifier).await? {
                listener.mirror_changed();
            }
            // The feed hands out a change once no older transaction is open anywhere in
            // the server's database; until the mirror shows what the event says, ask again.
            if let EventChange::Generation { status } = event.change {
                for _ in 0..25 {
                    if mirror.generation(event.subject_id)?.and_then(|g| g.status) == Some(status) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if catch_up(session, mirror, notifier).await? {
                        listener.mirror_changed();
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages in `chunks`, as they would arrive from the network one by one.
    async fn read(chunks: &[&[u8]]) -> Vec<Incoming> {
        let chunks: Vec<std::result::Result<Vec<u8>, std::io::Error>> = chunks.iter().map(|c| Ok(c.to_vec())).collect();
        let stream = messages(futures_util::stream::iter(chunks));
        stream.map(|m| m.unwrap_or_else(|e| panic!("{e}"))).collect().await
    }

    fn incoming(name: &str, data: &str, id: Option<i64>, retry: Option<u64>) -> Incoming {
        Incoming { name: name.into(), data: data.into(), id, retry: retry.map(Duration::from_millis) }
    }

    #[tokio::test]
    async fn crlf_ids_retry_and_keep_alives_are_read_as_the_format_says() {
        let got = read(&[
            b": keep-alive\r\n\r\nid: 7\r\nevent: generation\r\ndata: {\"a\":1}\r\n\r\n",
            b"retry: 5000\nevent: gap\ndata: sync to catch up\n\n",
        ])
        .await;
        assert_eq!(
            got,
            vec![
                incoming("generation", "{\"a\":1}", Some(7), None),
                incoming(GAP, "sync to catch up", Some(7), Some(5000))
            ],
            "the keep-alive is no message; the id carries over; retry is read"
        );
        // Several data lines are one message, joined by line feeds; a nameless one is a message.
        let got = read(&[b"data: one\ndata: two\n\n"]).await;
        assert_eq!(got, vec![incoming("message", "one\ntwo", None, None)]);
    }

    #[tokio::test]
    async fn a_character_split_across_chunks_and_a_block_split_anywhere_arrive_whole() {
        let text = "event: project\nid: 12\ndata: {\"name\":\"Nuit étoilée ✨\"}\n\n".as_bytes();
        // Every split point, including inside 'é' (2 bytes) and '✨' (3 bytes).
        for at in 1..text.len() {
            let got = read(&[&text[..at], &text[at..]]).await;
            assert_eq!(
                got,
                vec![incoming("project", "{\"name\":\"Nuit étoilée ✨\"}", Some(12), None)],
                "split at {at}"
            );
        }
    }

    #[tokio::test]
    async fn bytes_that_cannot_be_utf8_end_the_connection_instead_of_stalling_it() {
        let chunks: Vec<std::result::Result<Vec<u8>, std::io::Error>> = vec![
            Ok(b"event: gap\ndata: a\n\n".to_vec()),
            Ok(vec![b'd', 0xff, b'\n']),
            Ok(b": keep-alive\n\n".to_vec()),
        ];
        let got: Vec<_> = messages(futures_util::stream::iter(chunks)).collect().await;
        assert_eq!(got.first(), Some(&Ok(incoming(GAP, "a", None, None))));
        assert!(
            got.iter().any(|m| m.as_ref().is_err_and(|e| e.contains("not UTF-8"))),
            "an invalid byte is an error, not a wait: {got:?}"
        );
    }

    #[test]
    fn a_server_cannot_make_the_app_reconnect_too_often_or_too_rarely() {
        assert_eq!(reconnect_within(Duration::from_millis(10)), Duration::from_secs(1));
        assert_eq!(reconnect_within(Duration::from_secs(30)), Duration::from_secs(30));
        assert_eq!(reconnect_within(Duration::from_secs(86_400)), Duration::from_secs(300));
    }
}
