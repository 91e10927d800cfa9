//! E-mail: messages are written to `auth.email_outbox` in the transaction of what they tell of,
//! and each server instance's mail task sends what is due over SMTP (lettre), retrying with a
//! growing delay. Invariants: a message is marked sent only after the SMTP server accepted it,
//! instances never send the same message at once (`FOR UPDATE SKIP LOCKED`), and neither the
//! SMTP URL (it may hold a password) nor a message's body (it holds links with tokens) is logged.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub use crate::config::MailSettings;
#[cfg(test)]
use crate::config::Secret;
use crate::db::{Db, Tx};
use crate::error::Result;

/// How often each instance looks for messages to send.
pub const EVERY: Duration = Duration::from_secs(2);
/// A message that failed this many times is given up (its error stays in the outbox).
pub const MAX_ATTEMPTS: i32 = 12;

/// Queues a message in the caller's transaction: it is sent only if that transaction commits.
pub async fn queue(tx: &mut Tx, to: &str, subject: &str, body: &str) -> Result<()> {
    sqlx::query("INSERT INTO auth.email_outbox (recipient, subject, body) VALUES ($1, $2, $3)")
        .bind(to)
        .bind(subject)
        .bind(body)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Sends what is due until `stop` changes (runs as the connecting role, across organizations).
pub async fn run(db: Db, settings: MailSettings, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(transport) = settings.transport() else { return };
    let Some(from) = settings.from.clone() else { return };
    loop {
        if let Err(e) = send_due(&db, &transport, &from).await {
            tracing::warn!(error = %e, "could not send e-mail; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Sends up to 20 due messages; how many the SMTP server accepted.
pub async fn send_due(db: &Db, transport: &AsyncSmtpTransport<Tokio1Executor>, from: &Mailbox) -> Result<usize> {
    let mut tx = db.pool().begin().await?;
    let due: Vec<(i64, String, String, String, i32)> = sqlx::query_as(
        "SELECT id, recipient, subject, body, attempts FROM auth.email_outbox \
         WHERE sent_at IS NULL AND attempts < $1 AND next_attempt_at <= now() \
         ORDER BY id LIMIT 20 FOR UPDATE SKIP LOCKED",
    )
    .bind(MAX_ATTEMPTS)
    .fetch_all(&mut *tx)
    .await?;
    let mut sent = 0;
    for (id, to, subject, body, attempts) in due {
        let outcome = match to.parse::<Mailbox>() {
            Ok(to) => match Message::builder().from(from.clone()).to(to).subject(subject).body(body) {
                Ok(message) => transport.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(format!("not an address: {e}")),
        };
        match outcome {
            Ok(()) => {
                sqlx::query("UPDATE auth.email_outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sent += 1;
            }
            Err(reason) => {
                tracing::warn!(message = id, attempt = attempts + 1, %reason, "an e-mail was not accepted; it will be retried");
                sqlx::query(
                    "UPDATE auth.email_outbox SET attempts = attempts + 1, last_error = $2, \
                       next_attempt_at = now() + make_interval(secs => least(3600, power(2, attempts + 1) * 5)) \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(reason)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_at_start_and_never_print_the_url() {
        assert!(MailSettings::new(None, "not an address").is_err());
        let ok =
            MailSettings::new(Some(Secret::parse("smtp://user:hunter2@127.0.0.1:2525").unwrap()), "Resonance <a@b.c>")
                .unwrap();
        assert!(ok.is_configured());
        assert!(!format!("{ok:?}").contains("hunter2"));
        assert!(MailSettings::new(Some(Secret::parse("http://mail.example").unwrap()), "a@b.c").is_err());
        assert!(!MailSettings::new(None, "a@b.c").unwrap().is_configured());
    }
}
