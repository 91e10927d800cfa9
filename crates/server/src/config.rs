//! Settings of `resonance-server`, from flags or environment variables. Invariant: a value that
//! is missing or malformed stops the process at start-up with a message naming the flag and its
//! variable; secrets inside settings never print (their `Debug` is redacted).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use resonance_api::plans::{Plan, PLANS};

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
    Serve(Box<ServeArgs>),
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
    /// Sign-in, sign-up and refresh requests one client address may make per minute (with a
    /// burst of as many at once); more are answered 429 with Retry-After.
    #[arg(long, env = "RESONANCE_AUTH_PER_MINUTE", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_per_minute: u32,
    /// Requests for shared videos (their page and the video's byte ranges) one client address
    /// may make per minute; more are answered 429 with Retry-After.
    #[arg(long, env = "RESONANCE_SHARE_PER_MINUTE", default_value_t = 240,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub share_per_minute: u32,
    /// Seconds a sign-in or sign-up may wait for a password-hashing slot (one per core) before
    /// it is answered 503 with Retry-After.
    #[arg(long, env = "RESONANCE_HASH_WAIT", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=60))]
    pub hash_wait: u64,
    /// The SMTP server that sends e-mail (verification links, invitations):
    /// `smtp://host:port` (STARTTLS when offered), `smtps://user:password@host`. Without it,
    /// sign-ups count as verified and no e-mail is sent.
    #[arg(long, env = "RESONANCE_SMTP_URL", value_parser = Secret::parse)]
    pub smtp_url: Option<Secret>,
    /// The sender of that e-mail.
    #[arg(long, env = "RESONANCE_MAIL_FROM", default_value = "Resonance <no-reply@resonance.invalid>")]
    pub mail_from: String,
    /// The oldest Resonance app (desktop or CLI) this server serves; older ones are answered
    /// `426 client_outdated` with a message that says how to update.
    #[arg(long, env = "RESONANCE_MIN_CLIENT_VERSION", default_value_t = resonance_api::version::OLDEST_SERVED_CLIENT)]
    pub min_client_version: resonance_api::version::Version,
    /// Where creators download the app, named in that message and in `GET /v1/health`.
    #[arg(long, env = "RESONANCE_CLIENT_DOWNLOAD_URL")]
    pub client_download_url: Option<String>,
    #[command(flatten)]
    pub stripe: StripeArgs,
}

/// Stripe. Without an API key, checkout and the billing portal answer "billing is not
/// configured"; without a webhook secret, the webhook refuses every event.
#[derive(Debug, Args)]
pub struct StripeArgs {
    /// Stripe secret API key (sk_live_… or sk_test_…), for Checkout and Billing Portal sessions.
    #[arg(long, env = "RESONANCE_STRIPE_API_KEY", value_parser = Secret::parse)]
    pub stripe_api_key: Option<Secret>,
    /// The webhook endpoint's signing secret (whsec_…), for POST /v1/billing/stripe/webhook.
    #[arg(long, env = "RESONANCE_STRIPE_WEBHOOK_SECRET", value_parser = Secret::parse)]
    pub stripe_webhook_secret: Option<Secret>,
    /// Which Stripe price is which plan: `creator=price_…,studio=price_…` (every paid plan).
    #[arg(long, env = "RESONANCE_STRIPE_PRICES", value_parser = PriceMap::parse, default_value = "")]
    pub stripe_prices: PriceMap,
    /// Stripe's API address (a different one only for a test double of Stripe).
    #[arg(long, env = "RESONANCE_STRIPE_API_BASE", default_value = "https://api.stripe.com")]
    pub stripe_api_base: String,
    /// This server's public address, where Stripe sends the browser back after checkout
    /// (default: the address the request came to).
    #[arg(long, env = "RESONANCE_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// A secret setting (an API key, a signing secret). Its `Debug` is redacted.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("is empty".into());
        }
        Ok(Self(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The one place a Stripe price id is mapped to a plan of `resonance_api::plans::PLANS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceMap(Vec<(String, &'static Plan)>);

impl PriceMap {
    /// `creator=price_123,studio=price_456`; an empty string is an empty map.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut map = Vec::new();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((plan, price)) = pair.split_once('=') else {
                return Err(format!("`{pair}` is not plan=price_id"));
            };
            let (plan, price) = (plan.trim(), price.trim());
            let Some(plan) = Plan::by_id(plan).filter(|p| p.paid) else {
                let paid: Vec<&str> = PLANS.iter().filter(|p| p.paid).map(|p| p.id).collect();
                return Err(format!("`{plan}` is not a paid plan (paid plans: {})", paid.join(", ")));
            };
            if price.is_empty() || price.contains(char::is_whitespace) {
                return Err(format!("the price id for {} is empty or has spaces", plan.id));
            }
            if map.iter().any(|(p, _): &(String, &Plan)| p == price) {
                return Err(format!("price {price} is given twice"));
            }
            if map.iter().any(|(_, q): &(String, &Plan)| q.id == plan.id) {
                return Err(format!("plan {} is given twice", plan.id));
            }
            map.push((price.to_owned(), plan));
        }
        Ok(Self(map))
    }

    pub fn plan_for(&self, price: &str) -> Option<&'static Plan> {
        self.0.iter().find(|(p, _)| p == price).map(|(_, plan)| *plan)
    }

    pub fn price_for(&self, plan: &str) -> Option<&str> {
        self.0.iter().find(|(_, p)| p.id == plan).map(|(price, _)| price.as_str())
    }

    /// Paid plans with no price: billing cannot sell or recognise them.
    pub fn missing(&self) -> Vec<&'static str> {
        PLANS.iter().filter(|p| p.paid && self.price_for(p.id).is_none()).map(|p| p.id).collect()
    }
}

/// Stripe settings as `serve` uses them.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub api_key: Option<Secret>,
    pub webhook_secret: Option<Secret>,
    pub prices: PriceMap,
    pub api_base: String,
    pub public_url: Option<String>,
    /// How far a webhook's signed timestamp may be from now.
    pub tolerance: Duration,
}

impl Default for StripeSettings {
    fn default() -> Self {
        Self {
            api_key: None,
            webhook_secret: None,
            prices: PriceMap::default(),
            api_base: "https://api.stripe.com".into(),
            public_url: None,
            tolerance: Duration::from_secs(300),
        }
    }
}

impl TryFrom<&StripeArgs> for StripeSettings {
    type Error = String;

    fn try_from(a: &StripeArgs) -> Result<Self, String> {
        if a.stripe_api_key.is_some() || a.stripe_webhook_secret.is_some() {
            let missing = a.stripe_prices.missing();
            if !missing.is_empty() {
                return Err(format!(
                    "RESONANCE_STRIPE_PRICES (--stripe-prices) must name a price for every paid plan; missing: {}",
                    missing.join(", ")
                ));
            }
        }
        let base = a.stripe_api_base.trim_end_matches('/');
        if !(base.starts_with("https://")
            || base.starts_with("http://127.0.0.1")
            || base.starts_with("http://localhost"))
        {
            return Err("RESONANCE_STRIPE_API_BASE (--stripe-api-base) must be https:// (or a loopback address)".into());
        }
        Ok(Self {
            api_key: a.stripe_api_key.clone(),
            webhook_secret: a.stripe_webhook_secret.clone(),
            prices: a.stripe_prices.clone(),
            api_base: base.to_owned(),
            public_url: a.public_url.as_ref().map(|u| u.trim_end_matches('/').to_owned()),
            ..Self::default()
        })
    }
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

/// The token signing key, with the HMAC keys made from it once. Its `Debug` is redacted.
#[derive(Clone)]
pub struct JwtSecret {
    bytes: Vec<u8>,
    encoding: jsonwebtoken::EncodingKey,
    decoding: jsonwebtoken::DecodingKey,
}

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
        let bytes = s.as_bytes().to_vec();
        let unusable = |e: jsonwebtoken::errors::Error| format!("cannot be used as an HMAC key: {e}");
        let encoding = jsonwebtoken::EncodingKey::from_secret(&bytes).map_err(unusable)?;
        let decoding = jsonwebtoken::DecodingKey::from_secret(&bytes).map_err(unusable)?;
        Ok(Self { bytes, encoding, decoding })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn encoding(&self) -> &jsonwebtoken::EncodingKey {
        &self.encoding
    }

    pub(crate) fn decoding(&self) -> &jsonwebtoken::DecodingKey {
        &self.decoding
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
    /// Auth requests per client address per minute (and the burst allowed at once).
    pub auth_per_minute: u32,
    /// Shared-video requests per client address per minute.
    pub share_per_minute: u32,
    /// How long a password hash may wait for a free core.
    pub hash_wait: Duration,
    pub mail: MailSettings,
    pub stripe: StripeSettings,
    pub clients: ClientPolicy,
}

/// Which apps the server serves, and where a creator gets a newer one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPolicy {
    pub minimum: resonance_api::version::Version,
    pub download_url: Option<String>,
}

impl Default for ClientPolicy {
    fn default() -> Self {
        Self { minimum: resonance_api::version::OLDEST_SERVED_CLIENT, download_url: None }
    }
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
            auth_per_minute: 60,
            share_per_minute: 240,
            hash_wait: Duration::from_secs(5),
            mail: MailSettings::default(),
            stripe: StripeSettings::default(),
            clients: ClientPolicy::default(),
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
            storage: crate::objects::open(&a.storage).map_err(|e| format!("RESONANCE_STORAGE (--storage): {e}"))?,
            max_upload_bytes: a.max_upload_bytes,
            auth_per_minute: a.auth_per_minute,
            share_per_minute: a.share_per_minute,
            hash_wait: Duration::from_secs(a.hash_wait),
            mail: MailSettings::new(a.smtp_url.clone(), &a.mail_from)
                .map_err(|e| format!("RESONANCE_SMTP_URL / RESONANCE_MAIL_FROM: {e}"))?,
            stripe: StripeSettings::try_from(&a.stripe)?,
            clients: ClientPolicy {
                minimum: a.min_client_version,
                download_url: match a.client_download_url.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(url) if url.starts_with("https://") || url.starts_with("http://") => Some(url.to_owned()),
                    Some(url) => {
                        return Err(format!(
                            "RESONANCE_CLIENT_DOWNLOAD_URL (--client-download-url): {url:?} is not an http:// or https:// address"
                        ))
                    }
                },
            },
        })
    }
}

/// Where e-mail goes out. Without an SMTP URL nothing is sent, and sign-ups count as verified.
#[derive(Clone, Debug, Default)]
pub struct MailSettings {
    smtp: Option<Secret>,
    pub(crate) from: Option<lettre::message::Mailbox>,
}

impl MailSettings {
    pub fn new(smtp: Option<Secret>, from: &str) -> Result<Self, String> {
        let from = from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("the sender {from:?} is not an address: {e}"))?;
        if let Some(url) = &smtp {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url.expose())
                .map_err(|_| "the SMTP URL must be smtp://host[:port] or smtps://user:password@host[:port]")?;
        }
        Ok(Self { smtp, from: Some(from) })
    }

    /// Whether e-mail is sent (and so sign-ups are verified by it).
    pub fn is_configured(&self) -> bool {
        self.smtp.is_some()
    }

    pub(crate) fn transport(&self) -> Option<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>> {
        let url = self.smtp.as_ref()?;
        match lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url.expose()) {
            Ok(builder) => Some(builder.timeout(Some(std::time::Duration::from_secs(30))).build()),
            Err(e) => {
                tracing::error!(error = %e, "the SMTP settings cannot be used; no e-mail is sent");
                None
            }
        }
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
    fn price_map_maps_each_paid_plan_once() {
        let m = PriceMap::parse(" creator=price_c , studio=price_s").unwrap();
        assert_eq!(m.plan_for("price_c").map(|p| p.id), Some("creator"));
        assert_eq!(m.price_for("studio"), Some("price_s"));
        assert_eq!(m.plan_for("price_x"), None);
        assert!(m.missing().is_empty());
        assert_eq!(PriceMap::parse("creator=price_c").unwrap().missing(), vec!["studio"]);
        assert!(PriceMap::parse("free=price_f").unwrap_err().contains("not a paid plan"));
        assert!(PriceMap::parse("creator=price_c,studio=price_c").unwrap_err().contains("twice"));
        assert!(PriceMap::parse("creator").unwrap_err().contains("plan=price_id"));
        assert_eq!(PriceMap::parse("").unwrap(), PriceMap::default());
    }

    #[test]
    fn stripe_keys_need_every_price_and_never_print() {
        let cli = Cli::try_parse_from([
            "resonance-server",
            "serve",
            "--database-url",
            "postgres://x@h/db",
            "--jwt-secret",
            &"k".repeat(32),
            "--stripe-api-key",
            "sk_test_abc",
            "--stripe-prices",
            "creator=price_c",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else { panic!("not serve") };
        let err = StripeSettings::try_from(&args.stripe).unwrap_err();
        assert!(err.contains("missing: studio"), "{err}");
        assert!(!format!("{args:?}").contains("sk_test_abc"));
    }

    #[test]
    fn serve_requires_a_database_url_and_secret() {
        let err = Cli::try_parse_from(["resonance-server", "serve", "--jwt-secret", &"k".repeat(32)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--database-url"), "{err}");
    }
}
