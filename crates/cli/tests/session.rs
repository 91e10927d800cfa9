//! The session: tokens only in the OS keyring (a real Secret Service), refreshes that work
//! across processes, a revoked session that signs out instead of looping, and no keyring meaning
//! no stored session.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_lives_in_the_keyring_and_nowhere_else() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let (owner_token, _) = backend.signup("ada@example.com", "Ada Studio").await;
    let m = Machine::new(&keyring, &backend.base);
    let mut printed = String::new();
    let login = m.login("ada@example.com").await;
    assert!(login.status.success(), "{}", stderr(&login));
    printed += &(stdout(&login) + &stderr(&login));
    let wav = tone_wav(keyring.dir.path(), "first.wav", 1.5);
    let mut run = |out: std::process::Output| {
        assert!(out.status.success(), "{}", stderr(&out));
        printed += &(stdout(&out) + &stderr(&out));
        stdout(&out)
    };
    assert!(run(m.run(&["whoami"]).await).contains("ada@example.com"));
    let id = run(m
        .run(&["project", "create", "--name", "First", "--prompt", "neon rain", "--audio", wav.to_str().unwrap()])
        .await);
    let id = id.trim().to_owned();
    run(m.run(&["project", "edit", &id, "--name", "First cut", "--style", "glitch"]).await);
    run(m.run(&["sync"]).await);
    run(m.run(&["projects", "--json"]).await);
    run(m.run(&["status"]).await);
    let on_server = backend.projects(&owner_token).await;
    assert_eq!(on_server[&id]["name"], "First cut");
    assert_eq!(on_server[&id]["style_preference"], "glitch");
    assert!((on_server[&id]["audio_duration"].as_f64().unwrap() - 1.5).abs() < 1e-9, "the duration is probed locally");

    // The tokens are in the keyring…
    let secrets = keyring.secrets();
    assert_eq!(secrets.len(), 1, "one entry for the one account: {secrets:?}");
    let stored: serde_json::Value = serde_json::from_str(&secrets[0]).unwrap();
    let access = stored["access_token"].as_str().unwrap().to_owned();
    let refresh = stored["refresh_token"].as_str().unwrap().to_owned();
    assert!(access.len() > 20 && refresh.len() > 20);
    // …and in no file of the data directory (the SQLite mirror, its WAL, the account file), nor in
    // anything the CLI printed with debug logging on. The password neither.
    let mut files = Vec::new();
    files_under(&m.data, &mut files);
    assert!(files.iter().any(|f| f.ends_with("mirror.sqlite")));
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for (what, secret) in
            [("access token", &access), ("refresh token", &refresh), ("password", &PASSWORD.to_owned())]
        {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the {what} must not be written to {}",
                file.display()
            );
        }
    }
    for (what, secret) in [("access token", &access), ("refresh token", &refresh), ("password", &PASSWORD.to_owned())] {
        assert!(!printed.contains(secret.as_str()), "the {what} must never be printed or logged");
    }
    assert!(printed.contains("signed in"), "the logs were captured (debug level): {printed}");

    // Signing out ends the session on the server and empties the keyring.
    assert!(m.run(&["logout"]).await.status.success());
    assert!(keyring.secrets().is_empty(), "sign-out must remove the tokens from the keyring");
    let (status, _) = backend.call(reqwest::Method::GET, "/v1/me", Some(&access), None).await;
    assert_eq!(status, 401, "the session must end on the server too");
    let whoami = m.run(&["whoami"]).await;
    assert_eq!(whoami.status.code(), Some(3), "{}", stderr(&whoami));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_keyring_the_session_is_not_kept_anywhere() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    backend.signup("bo@example.com", "Bo").await;
    let m = Machine::new(&keyring, &backend.base);
    let mut c = m.command(&["login", "bo@example.com", "--password-stdin"]);
    c.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus").stdin(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).await.unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("keyring"), "the user is told plainly: {}", stderr(&out));
    assert!(!m.data.join("current-account.json").exists(), "no session may be kept without a keyring");
    let mut files = Vec::new();
    if m.data.exists() {
        files_under(&m.data, &mut files);
    }
    assert!(files.is_empty(), "nothing is written: {files:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_revoked_sessions_get_clear_answers() {
    let keyring = Keyring::start();
    let backend = Backend::start_with(|s| s.access_token_ttl = Duration::from_secs(2)).await;
    backend.signup("cy@example.com", "Cy").await;
    let m = Machine::new(&keyring, &backend.base);
    let mut c = m.command(&["login", "cy@example.com", "--password-stdin"]);
    c.stdin(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        child.stdin.take().unwrap().write_all(b"not my password\n").await.unwrap();
    }
    let wrong = child.wait_with_output().await.unwrap();
    assert_eq!(wrong.status.code(), Some(8), "{}", stderr(&wrong));
    assert!(stderr(&wrong).contains("Wrong e-mail or password"));

    assert!(m.login("cy@example.com").await.status.success());
    let before = keyring.secrets();
    // The access token lives 2 s: after it, each process refreshes, two at once included.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (a, b) = tokio::join!(m.run(&["sync"]), m.run(&["sync"]));
    assert!(a.status.success() && b.status.success(), "{} / {}", stderr(&a), stderr(&b));
    let after = keyring.secrets();
    assert_eq!(after.len(), 1);
    assert_ne!(before, after, "the refreshed tokens replace the old ones in the keyring");
    assert!(m.run(&["sync"]).await.status.success(), "concurrent refreshes must not have revoked the session");

    // Revoked on the server (signed out elsewhere): one clear answer, then the same answer again,
    // quickly — no refresh loop — and the dead tokens are gone from the keyring.
    sqlx::query("UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'sign_out'")
        .execute(&backend.owner)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let revoked = m.run(&["sync"]).await;
    assert_eq!(revoked.status.code(), Some(3), "{}", stderr(&revoked));
    assert!(stderr(&revoked).contains("Sign in again"), "{}", stderr(&revoked));
    assert!(keyring.secrets().is_empty());
    let started = std::time::Instant::now();
    let again = m.run(&["sync"]).await;
    assert_eq!(again.status.code(), Some(3));
    assert!(started.elapsed() < Duration::from_secs(5));
    // Reads still work from the mirror meanwhile.
    assert!(m.run(&["projects"]).await.status.success());
}

/// A member removed from the organization: the next call to the server deletes this
/// computer's copy of the organization for that account (mirror, outbox, media, previews,
/// tokens), says why once, and never sends the edit that was waiting offline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_members_computer_forgets_the_organization_and_never_sends_its_edits() {
    let keyring = Keyring::start();
    let mut backend = Backend::start().await;
    let (owner_token, _) = backend.signup("olga@example.com", "Olga Studio").await;
    let (_, dev) = backend.add_member(&owner_token, "dev@example.com", "developer").await;
    let dev_id = dev["user"]["id"].as_str().unwrap().to_owned();
    let m = Machine::new(&keyring, &backend.base);
    assert!(m.login("dev@example.com").await.status.success());
    let wav = tone_wav(keyring.dir.path(), "song.wav", 1.0);
    let id = m
        .ok(&["project", "create", "--name", "Shared", "--prompt", "neon rain", "--audio", wav.to_str().unwrap()])
        .await
        .trim()
        .to_owned();
    m.ok(&["sync"]).await;
    let account_dir = m.mirror_path().parent().unwrap().to_owned();
    assert!(account_dir.join("mirror.sqlite").exists());

    backend.stop().await;
    m.ok(&["project", "edit", &id, "--name", "Edited while away"]).await;
    backend.restart().await;
    let (status, _) =
        backend.call(reqwest::Method::DELETE, &format!("/v1/members/{dev_id}"), Some(&owner_token), None).await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);

    let removed = m.run(&["sync"]).await;
    assert_eq!(removed.status.code(), Some(3), "{}", stderr(&removed));
    assert!(stderr(&removed).contains("You were removed from Olga Studio"), "{}", stderr(&removed));
    assert!(!account_dir.exists(), "the account's mirror, outbox and media are deleted");
    assert!(!m.data.join("current-account.json").exists(), "the account is no longer the current one");
    assert!(keyring.secrets().is_empty(), "its tokens are gone from the keyring");
    let on_server = backend.projects(&owner_token).await;
    assert_eq!(on_server[&id]["name"], "Shared", "the queued edit was never sent");

    let after = m.run(&["projects"]).await;
    assert!(!after.status.success());
    assert!(stderr(&after).contains("Not signed in"), "{}", stderr(&after));
}
