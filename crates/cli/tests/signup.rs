//! Making an account from the CLI, against the real server: `signup` creates an organization and
//! signs in; `join` shows where an invitation leads, then joins with it; every mistake is named
//! and leaves nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Output, Stdio};

use common::*;

/// Runs `resonance ARGS --password-stdin` with `password` written to its standard input.
async fn with_password(m: &Machine<'_>, args: &[&str], password: &str) -> Output {
    let mut args = args.to_vec();
    args.push("--password-stdin");
    let mut c = m.command(&args);
    c.stdin(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{password}\n").as_bytes()).await.unwrap();
    }
    child.wait_with_output().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_creates_an_organization_and_signs_in_and_its_mistakes_are_named() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let m = Machine::new(&keyring, &backend.base);
    let signup = ["signup", "tess@example.com", "--name", "Tess", "--organization", "Tess Sound"];

    let out = with_password(&m, &signup, "short").await;
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("at least 10 characters"), "{}", stderr(&out));
    let out = with_password(&m, &["signup", "tess@", "--name", "Tess", "--organization", "T"], PASSWORD).await;
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).contains("name@example.com"), "{}", stderr(&out));
    assert!(keyring.secrets().is_empty(), "nothing is kept after a refused sign-up");
    let (status, _) = backend
        .call(
            reqwest::Method::POST,
            "/v1/auth/token",
            None,
            Some(serde_json::json!({"grant_type": "password", "email": "tess@example.com", "password": "short"})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED, "no account was made");

    let out = with_password(&m, &signup, PASSWORD).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Welcome to Tess Sound"), "{}", stdout(&out));
    let who = m.ok(&["whoami"]).await;
    assert!(who.contains("tess@example.com") && who.contains("Tess Sound") && who.contains("Owner"), "{who}");
    assert_eq!(keyring.secrets().len(), 1, "the session is in the keyring");
    let servers: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.data.join("servers.json")).unwrap()).unwrap();
    assert_eq!(servers["accounts"][0], serde_json::json!(["tess@example.com", backend.base]), "{servers}");

    // The same address again, from another machine: refused, naming why.
    let other = Machine::new(&keyring, &backend.base);
    let out = with_password(&other, &signup, PASSWORD).await;
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("already exists; sign in instead"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_shows_the_invitation_then_joins_once_with_the_invited_address() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let (owner, _) = backend.signup("rae@example.com", "Rae's Band").await;
    let code = backend.invite(&owner, "sam@example.com", "viewer").await;
    let m = Machine::new(&keyring, &backend.base);

    // Not a code, and a code nobody made: told apart, nothing asked.
    let out = with_password(&m, &["join", "not a code", "--name", "Sam"], PASSWORD).await;
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("not an invitation code"), "{}", stderr(&out));
    let out = with_password(&m, &["join", &"x".repeat(43), "--name", "Sam"], PASSWORD).await;
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown, already used or expired"), "{}", stderr(&out));
    // Another address than the invited one.
    let out = with_password(&m, &["join", &code, "--name", "Sam", "--email", "sam@elsewhere.example"], PASSWORD).await;
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("another e-mail address"), "{}", stderr(&out));

    // The whole link, pasted: the invitation is shown, the address is the invitation's.
    let out = with_password(&m, &["join", &format!("resonance://invite/{code}"), "--name", "Sam"], PASSWORD).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("rae@example.com invites sam@example.com to join Rae's Band as viewer"), "{said}");
    assert!(said.contains("Welcome to Rae's Band"), "{said}");
    let who = m.ok(&["whoami"]).await;
    assert!(who.contains("sam@example.com") && who.contains("Rae's Band") && who.contains("Viewer"), "{who}");
    let (_, members) = backend.call(reqwest::Method::GET, "/v1/members", Some(&owner), None).await;
    assert!(
        members.as_array().unwrap().iter().any(|u| u["email"] == "sam@example.com" && u["name"] == "Sam"),
        "{members}"
    );

    // Once only.
    let again = Machine::new(&keyring, &backend.base);
    let out = with_password(&again, &["join", &code, "--name", "Sam"], PASSWORD).await;
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown, already used or expired"), "{}", stderr(&out));
}
