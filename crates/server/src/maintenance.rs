//! What each server instance does on its own every hour: prune the change feed's expired
//! tombstones, old idempotency keys, old events and stale sign-in failures; forget expired
//! uploads; and delete the stored objects of deleted projects, organizations and uploads.
//! Invariant: every job is safe to run on any number of instances at once (each row it acts on
//! is deleted in the same statement that claims it, or the work is idempotent).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::db::Db;

/// How often each server instance runs the maintenance jobs.
pub const EVERY: Duration = Duration::from_secs(3600);

/// Runs every job now, then every [`EVERY`], until `stop` changes.
pub async fn run(
    db: Db,
    tombstone_retention: Duration,
    storage: Arc<dyn ObjectStore>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        prune(&db, tombstone_retention).await;
        crate::uploads::forget_expired_uploads(&db, storage.as_ref()).await;
        collect_garbage(&db, storage.as_ref()).await;
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Prunes what is only useful for a while: the change feed's expired tombstones, idempotency
/// keys, events and sign-in failures.
pub async fn prune(db: &Db, tombstone_retention: Duration) {
    prune_tombstones(db, tombstone_retention).await;
    prune_rows(db).await;
}

async fn prune_tombstones(db: &Db, retention: Duration) {
    match sqlx::query_scalar::<_, i64>("SELECT sync.prune_tombstones(make_interval(secs => $1))")
        .bind(retention.as_secs_f64())
        .fetch_one(db.pool())
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(pruned = n, "pruned expired tombstones from the change feed"),
        Err(e) => tracing::warn!(error = %e, "could not prune tombstones; will retry"),
    }
}

/// Rows that are only useful for a while.
async fn prune_rows(db: &Db) {
    let jobs = [
        // Clients retry a write within minutes (the desktop's outbox backs off to an hour at
        // most); a week keeps every realistic retry answered.
        ("idempotency keys", "DELETE FROM auth_private.idempotency_keys WHERE created_at < now() - interval '7 days'"),
        // Events are for clients that were briefly away; a day covers a closed laptop overnight.
        ("old events", "DELETE FROM events WHERE created_at < now() - interval '1 day'"),
        // Failures count only within the throttle's window; anyone can add them, so none is kept
        // past it.
        (
            "stale sign-in failures",
            "DELETE FROM auth.sign_in_failures WHERE attempted_at < now() - make_interval(mins => 60)",
        ),
    ];
    for (what, sql) in jobs {
        if let Err(e) = sqlx::query(sql).execute(db.pool()).await {
            tracing::warn!(error = %e, "could not prune {what}; will retry");
        }
    }
}

/// Deletes every object under each doomed prefix (`maintenance.doomed_objects`: filled by the
/// deletion of a project, an organization or an upload), then the prefix's row. A prefix whose
/// objects could not all be deleted stays queued for the next run. Returns how many objects
/// were deleted.
pub async fn collect_garbage(db: &Db, storage: &dyn ObjectStore) -> usize {
    let prefixes: Vec<String> =
        match sqlx::query_scalar("SELECT prefix FROM maintenance.doomed_objects ORDER BY queued_at LIMIT 1000")
            .fetch_all(db.pool())
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the objects to delete; will retry");
                return 0;
            }
        };
    let mut deleted = 0;
    for prefix in prefixes {
        let (count, complete) = delete_prefix(storage, &prefix).await;
        deleted += count;
        if complete {
            if let Err(e) = sqlx::query("DELETE FROM maintenance.doomed_objects WHERE prefix = $1")
                .bind(&prefix)
                .execute(db.pool())
                .await
            {
                tracing::warn!(error = %e, "could not mark deleted objects as gone; will retry");
            }
        }
    }
    if deleted > 0 {
        tracing::info!(objects = deleted, "deleted the stored objects of deleted projects and uploads");
    }
    deleted
}

/// Deletes the objects under `prefix`: how many, and whether none is left.
async fn delete_prefix(storage: &dyn ObjectStore, prefix: &str) -> (usize, bool) {
    let prefix = ObjectPath::from(prefix);
    let mut listing = storage.list(Some(&prefix));
    let (mut deleted, mut complete) = (0, true);
    while let Some(entry) = listing.next().await {
        match entry {
            Ok(meta) => match storage.delete(&meta.location).await {
                Ok(()) => deleted += 1,
                Err(e) => {
                    tracing::warn!(error = %e, "could not delete an object; will retry");
                    complete = false;
                }
            },
            // A prefix that was never written has nothing to list.
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not list objects to delete; will retry");
                complete = false;
            }
        }
    }
    (deleted, complete)
}
