//! A project's footage (`public.footage`): the clips and stills its creators uploaded, in the
//! project's order. Invariants: a row is added only for the finished footage upload of the same id
//! (RLS checks it), under the organization's lock after its plan's room was checked
//! (`auth_private.footage_room`); every change to a project's list holds the project's footage
//! lock (`lock_project`), so positions are 0, 1, 2… after every change, however many race.

use resonance_api::footage::{FootageFacts, FootageKind, FootagePatch};
use resonance_api::model::Footage;
use uuid::Uuid;

use super::logs::{self, Entry};
use super::{fetch_all_json, fetch_one_json};
use crate::db::{Caller, Tx};
use crate::error::{Error, Result};

/// Refuses (402 `plan_limit`, naming the plan's limits) unless the caller's organization may keep
/// `items` more items of `bytes` more bytes. Locks the organization's row to the end of `tx`.
pub async fn room(tx: &mut Tx, items: i32, bytes: i64) -> Result<()> {
    sqlx::query("SELECT auth_private.footage_room($1, $2)").bind(items).bind(bytes).execute(&mut **tx).await?;
    Ok(())
}

/// Serializes changes to `project`'s list until the end of `tx` (a transaction-scoped advisory
/// lock: it needs no write privilege on the project, and readers never wait for it).
async fn lock_project(tx: &mut Tx, project: Uuid) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('footage:' || $1::text, 0))")
        .bind(project)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A finished footage upload, as it is to be listed.
pub struct NewFootage<'a> {
    pub id: Uuid,
    pub project_id: Uuid,
    pub filename: Option<&'a str>,
    pub object_key: &'a str,
    pub poster_key: &'a str,
    pub sha256: &'a str,
    pub size: i64,
    pub facts: &'a FootageFacts,
}

/// Lists the item last in its project. Call [`room`] first in the same transaction.
pub async fn insert(tx: &mut Tx, caller: &Caller, new: &NewFootage<'_>) -> Result<Footage> {
    let kind = match new.facts.kind {
        FootageKind::Video => "video",
        FootageKind::Image => "image",
    };
    lock_project(tx, new.project_id).await?;
    let made = fetch_one_json::<Footage>(
        tx,
        sqlx::query_scalar(
            "INSERT INTO footage AS f (id, organization_id, project_id, user_id, kind, filename, object_key, poster_key, \
               sha256, size, duration, width, height, codec, position) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
               (SELECT coalesce(max(position) + 1, 0) FROM footage WHERE project_id = $3)) \
             RETURNING to_jsonb(f)",
        )
        .bind(new.id)
        .bind(caller.organization_id)
        .bind(new.project_id)
        .bind(caller.user_id)
        .bind(kind)
        .bind(new.filename)
        .bind(new.object_key)
        .bind(new.poster_key)
        .bind(new.sha256)
        .bind(new.size)
        .bind(new.facts.duration)
        .bind(i32::try_from(new.facts.width).unwrap_or(i32::MAX))
        .bind(i32::try_from(new.facts.height).unwrap_or(i32::MAX))
        .bind(&new.facts.codec),
    )
    .await?
    .ok_or_else(|| Error::Invariant("inserting footage returned no row".into()))?;
    let name = made.filename.as_deref().unwrap_or("footage");
    let what = match made.duration {
        Some(seconds) => format!("a {seconds:.1} s clip"),
        None => "a still".to_owned(),
    };
    logs::append(
        tx,
        caller,
        Entry::success("footage.add", format!("Added \u{201c}{name}\u{201d} ({what}) to the footage"))
            .project(made.project_id),
    )
    .await?;
    Ok(made)
}

/// The project's footage in its order; 404 for a project the caller cannot see.
pub async fn list(tx: &mut Tx, caller: &Caller, project: Uuid) -> Result<Vec<Footage>> {
    super::projects::get(tx, caller, project).await?;
    fetch_all_json(
        tx,
        sqlx::query_scalar("SELECT to_jsonb(f) FROM footage f WHERE f.project_id = $1 ORDER BY f.position, f.id")
            .bind(project),
    )
    .await
}

pub async fn get(tx: &mut Tx, id: Uuid) -> Result<Footage> {
    fetch_one_json(tx, sqlx::query_scalar("SELECT to_jsonb(f) FROM footage f WHERE f.id = $1").bind(id))
        .await?
        .ok_or_else(|| Error::not_found("No such footage in your organization."))
}

/// An item of the caller's organization with these bytes: in `project` if it has one, else in
/// any of its projects; held (FOR SHARE) to the end of `tx`, so it is not removed meanwhile.
pub async fn with_bytes(tx: &mut Tx, project: Uuid, sha256: &str, size: i64) -> Result<Option<Footage>> {
    fetch_one_json(
        tx,
        sqlx::query_scalar(
            "SELECT to_jsonb(f) FROM footage f WHERE f.sha256 = $1 AND f.size = $2 \
             ORDER BY f.project_id = $3 DESC, f.created_at LIMIT 1 FOR SHARE",
        )
        .bind(sha256)
        .bind(size)
        .bind(project),
    )
    .await
}

fn may_arrange(caller: &Caller) -> Result<()> {
    if caller.role.can_edit_projects() {
        Ok(())
    } else {
        Err(Error::forbidden("Viewers cannot change footage; ask an admin for the developer role."))
    }
}

/// Numbers the project's items 0, 1, 2… in the order given.
async fn renumber(tx: &mut Tx, order: &[Uuid]) -> Result<()> {
    sqlx::query(
        "UPDATE footage f SET position = o.position - 1, updated_at = now() \
         FROM unnest($1::uuid[]) WITH ORDINALITY AS o(id, position) \
         WHERE f.id = o.id AND f.position IS DISTINCT FROM (o.position - 1)::int",
    )
    .bind(order)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The ids of the project's items in their order (read under [`lock_project`]).
async fn order_of(tx: &mut Tx, project: Uuid) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar("SELECT id FROM footage WHERE project_id = $1 ORDER BY position, id")
        .bind(project)
        .fetch_all(&mut **tx)
        .await?)
}

/// Moves an item and sets the part of a clip to use.
pub async fn patch(tx: &mut Tx, caller: &Caller, id: Uuid, change: &FootagePatch) -> Result<Footage> {
    let project = get(tx, id).await?.project_id;
    may_arrange(caller)?;
    lock_project(tx, project).await?;
    // Read again under the lock: another change may have landed meanwhile.
    let item = get(tx, id).await?;
    let (in_point, out_point) = change
        .points(item.kind, item.duration, (item.in_point, item.out_point))
        .map_err(|bad| Error::invalid(bad.field, bad.message))?;
    if (in_point, out_point) != (item.in_point, item.out_point) {
        sqlx::query("UPDATE footage SET in_point = $2, out_point = $3, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(in_point)
            .bind(out_point)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(to) = change.position {
        let mut order = order_of(tx, item.project_id).await?;
        order.retain(|other| *other != id);
        let at = usize::try_from(to).unwrap_or(usize::MAX).min(order.len());
        order.insert(at, id);
        renumber(tx, &order).await?;
    }
    get(tx, id).await
}

/// Removes an item from its project; its folder in storage is queued for deletion (a trigger).
pub async fn remove(tx: &mut Tx, caller: &Caller, id: Uuid) -> Result<Footage> {
    let project = get(tx, id).await?.project_id;
    may_arrange(caller)?;
    lock_project(tx, project).await?;
    let item = get(tx, id).await?;
    let mut order = order_of(tx, item.project_id).await?;
    sqlx::query("DELETE FROM footage WHERE id = $1").bind(id).execute(&mut **tx).await?;
    order.retain(|other| *other != id);
    renumber(tx, &order).await?;
    let name = item.filename.as_deref().unwrap_or("footage");
    logs::append(
        tx,
        caller,
        Entry::success("footage.remove", format!("Removed \u{201c}{name}\u{201d} from the footage"))
            .project(item.project_id),
    )
    .await?;
    Ok(item)
}
