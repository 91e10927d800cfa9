//! `cargo xtask bench` (sync): the change feed against Postgres' own COPY of the same rows.
//!
//! One organization with 10,000 projects and 100,000 generations. Prints the initial full pull
//! through `/v1/sync` (HTTP + decoding every row into its typed wire struct, as a client does)
//! in rows/s, the
//! ratio to `psql -c "COPY (...) TO STDOUT"` of the same rows, and the latency of an incremental
//! pull of one change. Targets: full pull within 3× of COPY; incremental pull under 20 ms.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use resonance_api::auth::SignUpRequest;
use resonance_api::sync::{SyncPage, CURSOR_HEADER, HAS_MORE_HEADER};
use resonance_api::Sensitive;
use resonance_server::config::{DatabaseUrl, JwtSecret};
use resonance_server::{serve, Db, Settings};
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

const PROJECTS: i64 = 10_000;
const GENERATIONS_PER_PROJECT: i64 = 10;
const PAGE: u32 = 10_000;
const RUNS: usize = 5;
const SECRET: &str = "bench-secret-bench-secret-bench-secret-0";

async fn fetch(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    cursor: Option<String>,
) -> (Option<String>, bool, bytes::Bytes) {
    let mut req = http.get(format!("{base}/v1/sync")).bearer_auth(token).query(&[("limit", PAGE.to_string())]);
    if let Some(c) = &cursor {
        req = req.query(&[("cursor", c)]);
    }
    let resp = req.send().await.unwrap();
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let next = header(CURSOR_HEADER);
    let has_more = header(HAS_MORE_HEADER).as_deref() == Some("true");
    (next, has_more, resp.bytes().await.unwrap())
}

/// Pulls everything; returns the number of changes and the final cursor.
async fn full_pull(http: &reqwest::Client, base: &str, token: &str, pipelined: bool) -> (usize, String) {
    let mut n = 0;
    let mut pending = Some(tokio::spawn({
        let (http, base, token) = (http.clone(), base.to_owned(), token.to_owned());
        async move { fetch(&http, &base, &token, None).await }
    }));
    let spawn_next = |cursor: String| {
        let (http, base, token) = (http.clone(), base.to_owned(), token.to_owned());
        tokio::spawn(async move { fetch(&http, &base, &token, Some(cursor)).await })
    };
    let mut last = String::new();
    while let Some(request) = pending.take() {
        let (next, has_more, bytes) = request.await.unwrap();
        let next = next.unwrap();
        if has_more && pipelined {
            pending = Some(spawn_next(next.clone()));
        }
        let page: SyncPage = std::hint::black_box(serde_json::from_slice(&bytes).unwrap());
        assert_eq!(page.cursor.as_deref(), Some(next.as_str()), "the header and the body agree");
        n += page.changes.len();
        if has_more && !pipelined {
            pending = Some(spawn_next(next.clone()));
        }
        last = next;
    }
    (n, last)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cluster = std::env::var("RESONANCE_TEST_DATABASE_URL").expect("run through `cargo xtask bench`");
    let psql = std::env::var("RESONANCE_PSQL").unwrap_or_else(|_| "psql".into());
    let name = format!("bench_{}", Uuid::new_v4().simple());
    let admin = PgPoolOptions::new().max_connections(1).connect(&cluster).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
    let url = format!("{}/{name}", &cluster[..cluster.rfind('/').unwrap()]);
    let db = Db::connect(&DatabaseUrl::parse(&url).unwrap(), 8).await.unwrap();
    db.migrate().await.unwrap();

    let settings = Settings::new(JwtSecret::parse(SECRET).unwrap());
    let keys = resonance_server::credentials::Keys::new(&settings.jwt_secret, settings.access_token_ttl);
    let policy = resonance_server::storage::accounts::SessionPolicy {
        refresh_ttl: settings.refresh_token_ttl,
        grace: settings.refresh_grace,
    };
    let slots = resonance_server::credentials::PasswordSlots::per_core(settings.hash_wait);
    let owner = resonance_server::storage::accounts::sign_up(
        &db,
        &keys,
        &slots,
        policy,
        &resonance_server::storage::accounts::Verification {
            mail: &resonance_server::mail::MailSettings::default(),
            base_url: "",
        },
        &SignUpRequest {
            email: "bench@example.com".into(),
            password: Sensitive::new("bench password 1234".into()),
            name: "Bench".into(),
            organization_name: Some("Bench".into()),
            invite_token: None,
        },
    )
    .await
    .unwrap();
    let resonance_server::storage::accounts::SignedUp::Tokens(owner) = owner else {
        panic!("a sign-up without e-mail signs in at once")
    };
    let org = owner.user.organization_id;
    let token = owner.access_token.reveal().clone();

    let load = Instant::now();
    let pool = db.pool();
    sqlx::query(
        "INSERT INTO projects (organization_id, user_id, name, description, prompt, audio_path, audio_duration) \
         SELECT $1, $2, 'Track ' || i, 'A long description of track ' || i, \
                'neon rain over a night highway, slow camera, film grain, take ' || i, \
                $1 || '/' || i || '/0123456789abcdef0123456789abcdef.flac', 120 + (i % 240) \
         FROM generate_series(1, $3) i",
    )
    .bind(org)
    .bind(owner.user.id)
    .bind(PROJECTS)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO generations (project_id, organization_id, user_id, seed, generation_number, status, duration, \
                                  file_size, render_time_seconds, video_url, thumbnail_url, completed_at) \
         SELECT p.id, p.organization_id, p.user_id, p.id || '-' || g, g, 'completed', p.audio_duration, \
                48000000 + g, 90 + g, 'renders/' || p.id || '/' || g || '.mp4', 'renders/' || p.id || '/' || g || '.jpg', now() \
         FROM projects p, generate_series(1, $1) g",
    )
    .bind(GENERATIONS_PER_PROJECT)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(pool).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sync.row_versions WHERE organization_id = $1")
        .bind(org)
        .fetch_one(pool)
        .await
        .unwrap();
    println!(
        "sync bench: {rows} rows in one organization ({PROJECTS} projects, {} generations), loaded in {:.1?}",
        PROJECTS * GENERATIONS_PER_PROJECT,
        load.elapsed()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(db.clone(), settings, listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();

    // Full pulls, decoding every page into the typed wire structs: first one page after the
    // other, then pipelined (the next request leaves, from the cursor header, while this page
    // is decoded), as the desktop client pulls.
    let mut cursor = String::new();
    let runs = |pipelined: bool| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let mut times = Vec::new();
            let mut last = String::new();
            for _ in 0..RUNS {
                let start = Instant::now();
                let (n, c) = full_pull(&http, &base, &token, pipelined).await;
                times.push(start.elapsed());
                assert_eq!(n as i64, rows, "the full pull must return every row");
                last = c;
            }
            (median(times), last)
        }
    };
    let (sequential, _) = runs(false).await;
    let (full, c) = runs(true).await;
    cursor.push_str(&c);

    // COPY of the same rows, by psql, as a separate process.
    let tables = [
        ("organizations", "id"),
        ("users", "organization_id"),
        ("projects", "organization_id"),
        ("generations", "organization_id"),
        ("system_logs", "organization_id"),
    ];
    let mut copies = Vec::new();
    for _ in 0..RUNS {
        let mut cmd = Command::new(&psql);
        cmd.args(["-X", "-q", "-d", &url]);
        for (t, col) in tables {
            cmd.arg("-c").arg(format!("COPY (SELECT * FROM {t} WHERE {col} = '{org}') TO STDOUT"));
        }
        let start = Instant::now();
        let out = cmd.stdout(Stdio::piped()).output().unwrap();
        copies.push(start.elapsed());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let copy = median(copies);

    // Incremental pulls of one change each.
    let mut incs = Vec::new();
    for i in 0..50 {
        sqlx::query("UPDATE projects SET name = $2 WHERE id = (SELECT id FROM projects ORDER BY id LIMIT 1 OFFSET $1)")
            .bind(i * 7)
            .bind(format!("Renamed {i}"))
            .execute(pool)
            .await
            .unwrap();
        let start = Instant::now();
        let page: SyncPage = http
            .get(format!("{base}/v1/sync"))
            .bearer_auth(&token)
            .query(&[("cursor", &cursor)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        incs.push(start.elapsed());
        assert_eq!(page.changes.len(), 1, "one change, one row");
        cursor = page.cursor.unwrap();
    }

    let rows_per_s = rows as f64 / full.as_secs_f64();
    let ratio = full.as_secs_f64() / copy.as_secs_f64();
    println!(
        "sync bench: full pull, pipelined     median {:>8.1?} of {RUNS} ({:.0} rows/s, pages of {PAGE}, typed decode included)",
        full, rows_per_s
    );
    println!(
        "sync bench: full pull, page by page  median {:>8.1?} of {RUNS} ({:.2}x COPY)",
        sequential,
        sequential.as_secs_f64() / copy.as_secs_f64()
    );
    println!("sync bench: psql COPY of the same rows median {:>8.1?} of {RUNS}", copy);
    println!(
        "sync bench: full pull / COPY = {ratio:.2}x   (target <= 3x: {})",
        if ratio <= 3.0 { "met" } else { "NOT met" }
    );
    let (p50, p95, max) = (percentile(incs.clone(), 0.5), percentile(incs.clone(), 0.95), percentile(incs, 1.0));
    println!("sync bench: incremental pull of one change: p50 {p50:.1?}, p95 {p95:.1?}, max {max:.1?}   (target < 20 ms: {})",
             if p95 < Duration::from_millis(20) { "met" } else { "NOT met" });

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    db.pool().close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&admin).await.unwrap();
}
