//! A property-based API fuzzer against the server: Schemathesis (from PyPI, pinned, installed by
//! `cargo xtask test` into `~/.cache/resonance/venv`) reads `/v1/openapi.json`, generates
//! requests for every operation, valid and invalid ones, and runs every check it has: no 5xx,
//! every answer's status, content type, headers and body as documented, invalid input refused,
//! valid input accepted, authentication not ignored, and stateful sequences along the document's
//! links (a project created, then read, changed, rendered and deleted). Bounded: a fixed number of
//! examples per operation and a fixed seed. `fuzz/schemathesis.toml` holds the little it is told
//! beyond the document (each with its reason), `fuzz/hooks.py` what a well-behaved client does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::stripe::FakeStripe;
use common::*;
use resonance_server::config::{PriceMap, Secret};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_with_every_check() {
    let bin = std::env::var("RESONANCE_SCHEMATHESIS").expect(
        "RESONANCE_SCHEMATHESIS is not set: run the tests with `cargo xtask test`, which installs Schemathesis",
    );
    // Billing on, against the Stripe stand-in: Checkout and the Billing Portal are fuzzed too.
    let stripe = FakeStripe::default().start().await;
    let s = TestServer::start_with(|settings| {
        // The session outlives the run (hooks.py fails any 401 to a request that carries it).
        settings.access_token_ttl = Duration::from_secs(3600);
        settings.stripe.api_key = Some(Secret::parse("sk_test_resonance").unwrap());
        settings.stripe.api_base = stripe;
        settings.stripe.prices = PriceMap::parse("creator=price_creator_test,studio=price_studio_test").unwrap();
    })
    .await;
    let org = s.organization("fuzz").await;
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let report = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(&bin)
        .arg("--config-file")
        .arg(here.join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/v1/openapi.json", s.base))
        .args(["--checks", "all", "--max-examples", "25", "--seed", "17", "--workers", "2"])
        .args(["--request-timeout", "20", "--no-color"])
        // Signing out would end the fuzzer's own session; the event stream never ends (its
        // resume is tested in events.rs); Stripe's webhook takes only Stripe's signed events
        // (tested in billing.rs).
        .args(["--exclude-path", "/v1/auth/logout", "--exclude-path", "/v1/events"])
        .args(["--exclude-path", "/v1/billing/stripe/webhook"])
        .arg("--report-dir")
        .arg(report.path())
        // Its cache of failing cases goes with the report, not into the source tree.
        .current_dir(report.path())
        .env("SCHEMATHESIS_HOOKS", here.join("hooks.py"))
        // The owner's session, as schemathesis.toml's bearer auth (so the fuzzer knows which
        // requests it sends without it, to check they are refused).
        .env("RESONANCE_FUZZ_TOKEN", &org.owner.access)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(900), run).await.expect("the fuzzer's run is bounded").unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "Schemathesis found problems:\n{said}");
    // Its summary: "N generated, N passed, M skipped".
    let cases = said.lines().find(|l| l.contains(" generated, ")).unwrap_or_default();
    let generated: u32 = cases.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(
        generated >= 1000 && cases.contains(&format!("{generated} passed")),
        "Schemathesis ran too little:\n{said}"
    );
}
