//! A property-based API fuzzer against the server: Schemathesis (from PyPI, installed by `cargo
//! xtask test` into `~/.cache/resonance/venv`) reads `/v1/openapi.json`, generates requests for
//! every operation (valid and invalid ones) and runs every check it has: no 5xx, every response
//! in its documented status codes, content types, headers and schemas, invalid input refused,
//! and its stateful links. Bounded: a fixed number of examples per operation and a fixed seed.
//!
//! Not yet passing, so ignored by `cargo xtask test` (run it with
//! `cargo xtask test -- --run-ignored only -E 'test(schemathesis)'`). Its first runs found a real
//! bug (a JSON array accepted as a project edit, fixed) and drove the schema's ranges, patterns
//! and lengths; what it still reports, and what each needs:
//! - tus: `Tus-Resumable` is free text in the schema, and the protocol's 412 for a missing one is
//!   not among the refusals Schemathesis expects: the header as a constant, and a check
//!   configuration that knows tus;
//! - `Idempotency-Key`: Schemathesis sends one generated UUID to several operations, and the
//!   server rightly answers 422 `idempotency_key_reused`: a hook that makes a key per request;
//! - `GET /v1/auth/verify`: a missing token is a JSON 400 where the page's HTML is documented,
//!   and an unknown token is "schema-valid but refused";
//! - rules the schema cannot say yet: `organization_name` xor `invite_token` at sign-up, a
//!   patch's `tempo_bpm` of 0 or 30–300, `PATCH /v1/organization`'s name;
//! - stateful links: an invitation's id is taken for a member's (`DELETE /v1/members/{id}`
//!   404s), and the trial's quota (402) ends the generation links.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "not passing yet: see the module's documentation for what it still reports"]
async fn schemathesis_finds_nothing_with_every_check() {
    let bin = std::env::var("RESONANCE_SCHEMATHESIS").expect(
        "RESONANCE_SCHEMATHESIS is not set: run the tests with `cargo xtask test`, which installs Schemathesis",
    );
    let s = TestServer::start().await;
    let org = s.organization("fuzz").await;
    let report = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(&bin)
        .arg("run")
        .arg(format!("{}/v1/openapi.json", s.base))
        .args(["--checks", "all", "--max-examples", "25", "--seed", "17", "--workers", "2"])
        .args(["--request-timeout", "20", "--no-color"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", org.admin.access))
        // Signing out would end the fuzzer's own session; the event stream never ends; Stripe's
        // webhook takes Stripe's signed events (tested in billing.rs), 501 on a server without it.
        .args(["--exclude-path", "/v1/auth/logout", "--exclude-path", "/v1/events"])
        .args(["--exclude-path", "/v1/billing/stripe/webhook"])
        .arg("--report-dir")
        .arg(report.path())
        // Its cache of failing cases goes with the report, not into the source tree.
        .current_dir(report.path())
        .env("SCHEMATHESIS_HOOKS", "")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(900), run).await.expect("the fuzzer's run is bounded").unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "Schemathesis found problems:\n{said}");
}
