//! E-mail against a real SMTP server started here (Python's `smtpd`, writing each message it
//! accepts to a file): a sign-up's address is confirmed by a link before the account may
//! generate, and sign-up answers the same whether or not the address had an account.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

const CAPTURE: &str = r#"
import asyncore, os, smtpd, sys
out = sys.argv[2]
class Capture(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        n = len([f for f in os.listdir(out) if f.endswith(".eml")])
        tmp = os.path.join(out, "%04d.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(out, "%04d.eml" % n))
Capture(("127.0.0.1", int(sys.argv[1])), None, decode_data=False)
asyncore.loop()
"#;

struct Smtp {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn smtp_server() -> Smtp {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("python3")
        .args(["-W", "ignore", "-c", CAPTURE, &port.to_string()])
        .arg(dir.path())
        .spawn()
        .expect("python3 runs the test's SMTP server");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Smtp { child, port, dir };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the SMTP server did not start");
}

/// The messages received so far, as text (quoted-printable soft breaks undone).
fn received(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().replace("=\r\n", "").replace("=\n", "").replace("=3D", "="))
        .collect()
}

async fn wait_for(dir: &Path, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let got = received(dir);
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{n} messages did not arrive: {:?}", received(dir));
}

async fn signup(s: &TestServer, email: &str, password: &str) -> (StatusCode, Value) {
    s.call(
        Method::POST,
        "/v1/auth/signup",
        None,
        Some(json!({"email": email, "password": password, "name": "Mia", "organization_name": "Mia Music"})),
    )
    .await
}

#[tokio::test]
async fn a_sign_up_is_confirmed_by_email_before_it_generates_and_tells_no_one_who_has_an_account() {
    let smtp = smtp_server().await;
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let s = TestServer::start_with(move |settings| {
        settings.mail = resonance_server::mail::MailSettings::new(
            Some(resonance_server::config::Secret::parse(&url).unwrap()),
            "Resonance <no-reply@resonance.test>",
        )
        .unwrap();
    })
    .await;

    let (first, first_body) = signup(&s, "mia@example.com", PASSWORD).await;
    assert_eq!(first, StatusCode::ACCEPTED, "{first_body}");
    assert!(first_body.get("access_token").is_none(), "no tokens before the address is confirmed");
    let (again, again_body) = signup(&s, "mia@example.com", "another password entirely").await;
    assert_eq!((again, &again_body), (first, &first_body), "the same answer whether or not the address has an account");

    let mails = wait_for(smtp.dir.path(), 2).await;
    let welcome = mails.iter().find(|m| m.contains("/v1/auth/verify?token=")).expect("a confirmation link");
    assert!(welcome.contains("To: mia@example.com"), "{welcome}");
    assert!(mails.iter().any(|m| m.contains("You already") && m.contains("have one")), "{mails:?}");
    let link = welcome
        .split_whitespace()
        .find(|w| w.contains("/v1/auth/verify?token="))
        .unwrap()
        .trim_end_matches(['.', ','])
        .to_owned();
    let path = &link[link.find("/v1/").unwrap()..];

    // The account signs in, but cannot generate until the address is confirmed.
    let (status, body) = s.sign_in("mia@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mia = Session::from(&body);
    let (_, p) = s.post("/v1/projects", &mia.access, new_project("First")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    let (status, err) = s.start_generation(&mia.access, &project, Uuid::new_v4(), json!({})).await;
    assert_eq!((status, error_code(&err)), (StatusCode::FORBIDDEN, "email_unverified"), "{err}");
    let used: i32 = sqlx::query_scalar("SELECT generations_this_month FROM organizations WHERE id = $1")
        .bind(mia.organization_id)
        .fetch_one(&s.owner)
        .await
        .unwrap();
    assert_eq!(used, 0, "a refused generation uses no quota");

    let confirm = s.http.get(format!("{}{path}", s.base)).send().await.unwrap();
    assert_eq!(confirm.status(), StatusCode::OK);
    assert!(confirm.text().await.unwrap().contains("confirmed"));
    let (status, g) = s.start_generation(&mia.access, &project, Uuid::new_v4(), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let reused = s.http.get(format!("{}{path}", s.base)).send().await.unwrap();
    assert_eq!(reused.status(), StatusCode::NOT_FOUND, "a link works once");
    assert!(reused.text().await.unwrap().contains("no longer works"));
    let forged = s.http.get(format!("{}/v1/auth/verify?token=forged", s.base)).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    let cut = s.http.get(format!("{}/v1/auth/verify", s.base)).send().await.unwrap();
    assert_eq!(cut.status(), StatusCode::BAD_REQUEST);
    assert_eq!(cut.headers()["content-type"], "text/html; charset=utf-8");
    assert!(cut.text().await.unwrap().contains("incomplete"), "a page, not a parser's message");

    // An invitation goes to the invitee by e-mail, not to the inviter: accepting it shows the
    // invitee owns the address.
    let (status, invitation) =
        s.post("/v1/members", &mia.access, json!({"email": "ivy@example.com", "role": "developer"})).await;
    assert_eq!(status, StatusCode::CREATED, "{invitation}");
    assert!(invitation.get("invite_token").is_none(), "the inviter does not get the code: {invitation}");
    let mails = wait_for(smtp.dir.path(), 3).await;
    let invite = mails.iter().find(|m| m.contains("To: ivy@example.com")).expect("the invitation e-mail");
    let code = invite
        .lines()
        .skip_while(|l| !l.contains("paste this code:"))
        .nth(1)
        .expect("the code's line")
        .trim()
        .to_owned();
    assert!(invite.contains(&format!("resonance://invite/{code}")), "the link that opens the app: {invite}");
    let (status, body) = s
        .call(
            Method::POST,
            "/v1/auth/signup",
            None,
            Some(json!({"email": "ivy@example.com", "password": PASSWORD, "name": "Ivy", "invite_token": code})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "the invitee joins at once: {body}");
}

#[tokio::test]
async fn without_smtp_a_sign_up_is_signed_in_and_counts_as_confirmed() {
    let s = TestServer::start().await;
    let (status, body) = signup(&s, "noa@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let noa = Session::from(&body);
    let (_, p) = s.post("/v1/projects", &noa.access, new_project("First")).await;
    let (status, g) = s.start_generation(&noa.access, p["id"].as_str().unwrap(), Uuid::new_v4(), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let (status, body) = signup(&s, "noa@example.com", PASSWORD).await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "email_taken"), "as before, without e-mail to tell");
}
