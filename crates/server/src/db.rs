//! The connection pool and the request transaction. Invariant: no request touches a tenant table
//! outside a transaction that has first switched to a role without BYPASSRLS and set the caller's
//! claims with `set_config(..., true)` — transaction-local, so nothing leaks into the next user of
//! a pooled connection, whatever role the server itself connected as.

use std::time::Duration;

use resonance_api::model::Role;
use resonance_api::ErrorCode;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::config::DatabaseUrl;
use crate::credentials::AccessClaims;
use crate::error::{Error, Result};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Migrations whose file was edited after databases had applied it: the version, and the
/// SHA-384 of the edited text that those databases recorded. The file is back as first committed
/// and a later migration does the edit's work, so such a database's record is set to the
/// committed checksum before migrating (`tests/migrations.rs` pins every checksum).
pub const EDITED_MIGRATIONS: [(i64, &str); 1] =
    [(11, "78e94bc8441c3fe0c653db8cc4e42b62aea078ea2c926f18bc4084eb22094509cf4583940b29fb6dec9f049a90e71580")];

/// Sets the record of every migration in [`EDITED_MIGRATIONS`] applied with its edited text to
/// the committed checksum. A database never migrated has no records: nothing to do.
async fn forget_edits(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    let recorded: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text").fetch_one(&mut *conn).await?;
    if recorded.is_none() {
        return Ok(());
    }
    for (version, edited) in EDITED_MIGRATIONS {
        let Some(committed) = MIGRATOR.iter().find(|m| m.version == version) else { continue };
        let repaired = sqlx::query(
            "UPDATE _sqlx_migrations SET checksum = $1 WHERE version = $2 AND checksum = decode($3, 'hex')",
        )
        .bind(committed.checksum.as_ref())
        .bind(version)
        .bind(edited)
        .execute(&mut *conn)
        .await?;
        if repaired.rows_affected() > 0 {
            tracing::info!(version, "migration {version} had been applied as edited; recorded as committed");
        }
    }
    Ok(())
}

/// The role every data request runs as.
pub const APP_ROLE: &str = "resonance_app";
/// The role the sign-up / sign-in / refresh endpoints run as.
pub const AUTH_ROLE: &str = "resonance_auth";
/// The role verified Stripe events and the monthly reset run as (migration 0012).
pub const BILLING_ROLE: &str = "resonance_billing";

#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
}

pub type Tx = Transaction<'static, Postgres>;

/// Who is calling, as the database sees it at the start of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub organization_id: Uuid,
    pub role: Role,
}

impl Db {
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self, sqlx::Error> {
        let options: PgConnectOptions = url
            .expose()
            .parse::<PgConnectOptions>()?
            .application_name("resonance-server")
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(2));
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// A pool for the render worker: every connection works as `resonance_worker` (see
    /// migration 0011), whatever role the URL names.
    pub async fn connect_worker(url: &DatabaseUrl, max_connections: u32) -> Result<Self, sqlx::Error> {
        let options: PgConnectOptions = url.expose().parse::<PgConnectOptions>()?.application_name("resonance-worker");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::query("SET ROLE resonance_worker").execute(conn).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the migrations. The request roles belong to the cluster, not the database: when
    /// two databases of a new cluster migrate at the same moment, one migration can lose the
    /// race to create a role or grant it (a unique violation in `pg_authid` or
    /// `pg_auth_members`, or "tuple concurrently updated"). Its transaction rolled back, and the
    /// role exists now, so running again completes it.
    ///
    /// Each attempt runs on a connection of its own that is closed when the attempt fails:
    /// sqlx returns a failed migration's error without releasing its session advisory lock,
    /// so a pooled connection would keep it and the next attempt would wait for it forever.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = self.pool.acquire().await?;
            forget_edits(&mut conn).await.map_err(sqlx::migrate::MigrateError::Execute)?;
            let outcome = MIGRATOR.run(&mut *conn).await;
            if outcome.is_err() {
                // Releases the lock now, then ends the session (which would release it too, but
                // only once the backend has noticed); neither can fail in a way that matters.
                let _ = sqlx::query("SELECT pg_advisory_unlock_all()").execute(&mut *conn).await;
                let _ = conn.close().await;
            }
            match outcome {
                Err(sqlx::migrate::MigrateError::ExecuteMigration(sqlx::Error::Database(e), version))
                    if attempt < 3
                        && (e.constraint().is_some_and(|c| c.starts_with("pg_auth"))
                            || e.message().contains("tuple concurrently updated")) =>
                {
                    tracing::info!(version, "another database created a shared role meanwhile; migrating again");
                }
                Err(e) => return Err(e),
                Ok(()) => break,
            }
        }
        self.write_plans().await.map_err(sqlx::migrate::MigrateError::Execute)
    }

    /// Writes `resonance_api::plans::PLANS` into `billing.plans`, which the generation check
    /// reads: the Rust catalog is the one place plans are defined.
    async fn write_plans(&self) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for (position, plan) in resonance_api::plans::PLANS.iter().enumerate() {
            sqlx::query(
                "INSERT INTO billing.plans (id, name, monthly_generations, max_resolution, position, \
                   max_footage_items, max_footage_bytes) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, \
                 monthly_generations = EXCLUDED.monthly_generations, max_resolution = EXCLUDED.max_resolution, \
                 position = EXCLUDED.position, max_footage_items = EXCLUDED.max_footage_items, \
                 max_footage_bytes = EXCLUDED.max_footage_bytes",
            )
            .bind(plan.id)
            .bind(plan.name)
            .bind(plan.monthly_generations)
            .bind(plan.max_resolution.as_str())
            .bind(i32::try_from(position).unwrap_or(i32::MAX))
            .bind(i32::try_from(plan.footage_items).unwrap_or(i32::MAX))
            .bind(i64::try_from(plan.footage_bytes).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    async fn begin_as(&self, role: &str, claims: &str) -> Result<Tx> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true)")
            .bind(role)
            .bind(claims)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// A transaction for a signed-in caller, with their claims set and their membership and
    /// session checked. A removed member or a revoked session is told to sign in again.
    pub async fn begin_for(&self, claims: &AccessClaims) -> Result<(Tx, Caller)> {
        let mut tx = self.begin_as(APP_ROLE, &claims_json(claims.sub, claims.sid)).await?;
        let row: Option<(Uuid, Option<String>)> =
            sqlx::query_as("SELECT organization_id, role FROM auth_private.caller()").fetch_optional(&mut *tx).await?;
        let Some((organization_id, role)) = row else {
            let removed: bool =
                sqlx::query_scalar("SELECT auth_private.is_removed($1)").bind(claims.sub).fetch_one(&mut *tx).await?;
            return Err(if removed {
                membership_ended()
            } else {
                Error::refused(
                    ErrorCode::SessionRevoked,
                    "This session has ended (signed out elsewhere). Sign in again.",
                )
            });
        };
        let role = role.as_deref().and_then(Role::parse).unwrap_or(Role::Viewer);
        Ok((tx, Caller { user_id: claims.sub, session_id: claims.sid, organization_id, role }))
    }

    /// A transaction for billing: verified Stripe events and the monthly reset. No request
    /// handler outside those two opens one.
    pub async fn begin_billing(&self) -> Result<Tx> {
        self.begin_as(BILLING_ROLE, "").await
    }

    /// A transaction for a visitor without an account (a share link's page): no claims, so
    /// row-level security shows nothing, and only the functions made for them answer.
    pub async fn begin_public(&self) -> Result<Tx> {
        self.begin_as(APP_ROLE, "").await
    }

    /// A transaction for the auth endpoints: no caller yet, only the auth schema is writable.
    pub async fn begin_auth(&self) -> Result<Tx> {
        self.begin_as(AUTH_ROLE, "").await
    }
}

/// The answer to a member who was removed: a code of its own, so their devices delete what they
/// keep of the organization.
pub fn membership_ended() -> Error {
    Error::refused(
        ErrorCode::MembershipEnded,
        "You were removed from this organization, so this device's copy of its projects was deleted. \
         Ask an admin to invite you again.",
    )
}

pub fn claims_json(user_id: Uuid, session_id: Uuid) -> String {
    serde_json::json!({ "sub": user_id, "sid": session_id, "role": "authenticated" }).to_string()
}

/// Within an auth transaction, become the given user for reads under RLS (e.g. their profile).
pub async fn act_as(tx: &mut Tx, user_id: Uuid, session_id: Uuid) -> Result<()> {
    sqlx::query("SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true)")
        .bind(APP_ROLE)
        .bind(claims_json(user_id, session_id))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Back to the auth role within the same transaction.
pub async fn act_as_auth(tx: &mut Tx) -> Result<()> {
    sqlx::query("SELECT set_config('role', $1, true), set_config('request.jwt.claims', '', true)")
        .bind(AUTH_ROLE)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
