//! The `resonance-server` binary: parses flags, then calls the library. Errors end here as anyhow.

use anyhow::Context;
use clap::Parser;
use resonance_server::config::{Cli, Command, DemoSeedArgs};
use resonance_server::{serve, Db, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Migrate(args) => {
            let db = Db::connect(&args.database_url, 2).await.context("cannot connect to Postgres")?;
            db.migrate().await.context("migration failed")?;
            tracing::info!("database is up to date");
        }
        Command::Serve(args) => {
            // Each message names its own setting.
            let settings = Settings::try_from(args.as_ref()).map_err(|e| anyhow::anyhow!(e))?;
            let db =
                Db::connect(&args.database.database_url, args.db_pool).await.context("cannot connect to Postgres")?;
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("cannot listen on {}", args.listen))?;
            serve(db, settings, listener, shutdown_signal()).await.context("server failed")?;
        }
        Command::DemoSeed(args) => demo_seed(args).await?,
        Command::Worker(args) => {
            let db = Db::connect(&args.database.database_url, 4).await.context("cannot connect to Postgres")?;
            let storage =
                resonance_server::objects::open(&args.storage).map_err(|e| anyhow::anyhow!("--storage: {e}"))?;
            let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
            let settings = resonance_server::worker::WorkerSettings {
                name: args.name.unwrap_or_else(|| format!("{}-{}", host.trim(), std::process::id())),
                lease: std::time::Duration::from_secs(args.lease_seconds),
                ..Default::default()
            };
            tracing::info!(worker = %settings.name, "render worker started");
            resonance_server::worker::run(db, storage, settings, shutdown_signal()).await;
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn demo_seed(args: DemoSeedArgs) -> anyhow::Result<()> {
    let db = Db::connect(&args.database.database_url, 2).await.context("cannot connect to Postgres")?;
    let accounts = resonance_server::storage::demo::seed(&db, &args.email_domain).await?;
    println!("Demo organization \"Resonance Demo\":");
    for (role, email, password) in accounts {
        println!("  {role:<10} {email:<40} {password}");
    }
    Ok(())
}
