//! resonance-server: the hosted Resonance backend as a library with a thin binary. `serve` takes
//! its settings, a bound listener and a shutdown signal, so tests run the real server on
//! `127.0.0.1:0` against a real Postgres and stop it cleanly.

pub mod billing;
pub mod config;
pub mod credentials;
pub mod db;
pub mod error;
pub mod http;
pub mod mail;
pub mod maintenance;
pub mod media;
pub mod objects;
pub mod storage;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod uploads;
pub mod worker;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

pub use config::Settings;
pub use db::Db;

/// How often each server instance looks for organizations whose calendar month is over. (A
/// generation started first rolls its own organization's month, so this only keeps the shown
/// usage current.)
const ROLL_PERIODS_EVERY: Duration = Duration::from_secs(60);

/// Serves the API until `shutdown` resolves, then finishes in-flight requests and returns.
pub async fn serve(
    db: Db,
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (events, _) = tokio::sync::broadcast::channel(http::events::BUFFER);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let listener_task = tokio::spawn(http::events::listen(db.clone(), events.clone(), stop_rx.clone()));
    let state = http::AppState::new(db.clone(), &settings, events.clone());
    if settings.mail.is_configured() {
        tracing::info!("e-mail goes out through SMTP: sign-ups are verified by e-mail");
    } else {
        tracing::warn!("no SMTP server (RESONANCE_SMTP_URL): no e-mail is sent, and sign-ups count as verified");
    }
    let mailer = tokio::spawn(mail::run(db.clone(), settings.mail.clone(), stop_rx.clone()));
    let roller = tokio::spawn(roll_usage_periods(db.clone(), stop_rx.clone()));
    let pruner = tokio::spawn(maintenance::run(db, settings.tombstone_retention, settings.storage.clone(), stop_rx));
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "resonance-server listening");
    }
    // Event streams never end by themselves: tell them to, or the graceful shutdown waits forever.
    let shutdown = async move {
        shutdown.await;
        let _ = events.send(http::events::Broadcast::ShuttingDown);
    };
    let result = axum::serve(listener, http::service(state)).with_graceful_shutdown(shutdown).await;
    let _ = stop_tx.send(true);
    let _ = pruner.await;
    let _ = mailer.await;
    let _ = roller.await;
    let _ = listener_task.await;
    result
}

/// Starts the new month of every organization counting by calendar month whose month is over.
/// Every instance runs this; `billing.start_period` locks and re-checks each organization, so
/// each month's reset happens once however many instances race for it.
async fn roll_usage_periods(db: Db, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        match storage::billing::calendar_periods_due(&db, 1000).await {
            Ok(due) => {
                let mut reset = 0usize;
                for org in due {
                    let rolled = async {
                        let mut tx = db.begin_billing().await?;
                        let rolled = storage::billing::roll_calendar_month(&mut tx, org).await?;
                        tx.commit().await?;
                        Ok::<bool, error::Error>(rolled)
                    };
                    match rolled.await {
                        Ok(true) => reset += 1,
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(organization = %org, error = %e, "could not start the new month; will retry")
                        }
                    }
                }
                if reset > 0 {
                    tracing::info!(organizations = reset, "started a new monthly generation count");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not look for months to roll over; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(ROLL_PERIODS_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}
