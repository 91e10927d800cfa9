//! Settings of `resonance-server`, from flags or environment variables. Invariant: a value that
//! is missing or malformed stops the process at start-up with a message naming the flag and its
//! variable; secrets inside settings never print (their `Debug` is redacted).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "resonance-server", version, about = "The hosted Resonance backend")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Applies the Postgres migrations (as the connecting role, which becomes the owner).
    Migrate(DatabaseArgs),
    /// Serves the /v1 API.
    Serve(ServeArgs),
    /// Creates a demo organization with one member of each role and prints their credentials.
    DemoSeed(DemoSeedArgs),
    /// Renders queued generations (run any number, on any number of machines).
    Worker(WorkerArgs),
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The same storage the API serves uploads from: a local directory or `s3://bucket/prefix`.
    #[arg(long, env = "RESONANCE_STORAGE", default_value = "resonance-storage")]
    pub storage: String,
    /// Seconds a claimed job stays this worker's without a heartbeat; after that another
    /// worker takes it over.
    #[arg(long, env = "RESONANCE_WORKER_LEASE", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(10..=3600))]
    pub lease_seconds: u64,
    /// This worker's name in leases and logs (default: host and process id).
    #[arg(long, env = "RESONANCE_WORKER_NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Postgres URL, e.g. postgres://resonance@127.0.0.1:5432/resonance
    #[arg(long, env = "RESONANCE_DATABASE_URL", value_parser = DatabaseUrl::parse)]
    pub database_url: DatabaseUrl,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address to listen on.
    #[arg(long, env = "RESONANCE_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// HMAC key for access tokens and refresh-token derivation: at least 32 bytes.
    #[arg(long, env = "RESONANCE_JWT_SECRET", value_parser = JwtSecret::parse)]
    pub jwt_secret: JwtSecret,
    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "RESONANCE_ACCESS_TOKEN_TTL", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(30..=86_400))]
    pub access_token_ttl: u64,
    /// Lifetime of a refresh token, in days.
    #[arg(long, env = "RESONANCE_REFRESH_TOKEN_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=365))]
    pub refresh_token_days: u64,
    /// How long, in seconds, a just-rotated refresh token still answers with the same successor.
    #[arg(long, env = "RESONANCE_REFRESH_GRACE", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=300))]
    pub refresh_grace: u64,
    /// Days a deletion stays in the change feed; a client offline for longer resyncs in full.
    #[arg(long, env = "RESONANCE_TOMBSTONE_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub tombstone_days: u64,
    /// Database connections in the pool.
    #[arg(long, env = "RESONANCE_DB_POOL", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=512))]
    pub db_pool: u32,
    /// Where uploaded audio and renders are stored: a local directory, or `s3://bucket/prefix`
    /// (credentials and region from the usual AWS_* environment variables).
    #[arg(long, env = "RESONANCE_STORAGE", default_value = "resonance-storage")]
    pub storage: String,
    /// The largest upload accepted, in bytes (larger ones are answered 413).
    #[arg(long, env = "RESONANCE_MAX_UPLOAD_BYTES", default_value_t = 1 << 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_upload_bytes: u64,
}

#[derive(Debug, Args)]
pub struct DemoSeedArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Domain of the demo e-mail addresses.
    #[arg(long, default_value = "demo.resonance.local")]
    pub email_domain: String,
}

/// A Postgres URL. Its `Debug` hides the password.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("is empty; give a URL like postgres://user@127.0.0.1:5432/resonance".into());
        }
        if !(s.starts_with("postgres://") || s.starts_with("postgresql://")) {
            return Err("must start with postgres:// or postgresql://".into());
        }
        s.parse::<sqlx::postgres::PgConnectOptions>()
            .map_err(|e| format!("is not a valid Postgres URL: {}", redact_url_in(&e.to_string(), s)))?;
        Ok(Self(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn redact_url_in(message: &str, url: &str) -> String {
    message.replace(url, "<url>")
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keep scheme, host and path; hide user info, which may hold a password.
        let shown = match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                format!("{}<redacted>{}", &self.0[..scheme_end + 3], &self.0[at..])
            }
            _ => self.0.clone(),
        };
        write!(f, "DatabaseUrl({shown:?})")
    }
}

/// The token signing key. Its `Debug` is redacted.
#[derive(Clone)]
pub struct JwtSecret(Vec<u8>);

impl JwtSecret {
    pub const MIN_BYTES: usize = 32;

    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() < Self::MIN_BYTES {
            return Err(format!(
                "must be at least {} bytes (got {}); generate one with `openssl rand -hex 32`",
                Self::MIN_BYTES,
                s.len()
            ));
        }
        Ok(Self(s.as_bytes().to_vec()))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtSecret(<redacted>)")
    }
}

/// What `serve` needs, independent of how it was configured (tests build it directly).
#[derive(Debug, Clone)]
pub struct Settings {
    pub jwt_secret: JwtSecret,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub refresh_grace: Duration,
    pub tombstone_retention: Duration,
    /// Object storage for uploads and renders.
    pub storage: std::sync::Arc<dyn object_store::ObjectStore>,
    pub max_upload_bytes: u64,
}

impl Settings {
    pub fn new(jwt_secret: JwtSecret) -> Self {
        Self {
            jwt_secret,
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            refresh_grace: Duration::from_secs(10),
            tombstone_retention: Duration::from_secs(30 * 86_400),
            // Tests that do not upload need no directory; `serve` is given a real one.
            storage: std::sync::Arc::new(object_store::memory::InMemory::new()),
            max_upload_bytes: 1 << 30,
        }
    }
}

impl TryFrom<&ServeArgs> for Settings {
    type Error = String;

    fn try_from(a: &ServeArgs) -> Result<Self, String> {
        Ok(Self {
            jwt_secret: a.jwt_secret.clone(),
            access_token_ttl: Duration::from_secs(a.access_token_ttl),
            refresh_token_ttl: Duration::from_secs(a.refresh_token_days * 86_400),
            refresh_grace: Duration::from_secs(a.refresh_grace),
            tombstone_retention: Duration::from_secs(a.tombstone_days * 86_400),
            storage: crate::objects::open(&a.storage)?,
            max_upload_bytes: a.max_upload_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_debug_hides_the_password() {
        let u = DatabaseUrl::parse("postgres://app:s3cret@db.internal:5432/resonance").unwrap();
        let shown = format!("{u:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.internal:5432/resonance"));
    }

    #[test]
    fn malformed_values_are_refused_with_a_reason() {
        assert!(DatabaseUrl::parse("mysql://x").unwrap_err().contains("postgres://"));
        assert!(DatabaseUrl::parse("").is_err());
        assert!(JwtSecret::parse("short").unwrap_err().contains("at least 32 bytes"));
        assert_eq!(format!("{:?}", JwtSecret::parse(&"k".repeat(40)).unwrap()), "JwtSecret(<redacted>)");
    }

    #[test]
    fn serve_requires_a_database_url_and_secret() {
        let err = Cli::try_parse_from(["resonance-server", "serve", "--jwt-secret", &"k".repeat(32)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--database-url"), "{err}");
    }
}
