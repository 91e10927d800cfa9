//! Accounts and sessions against the real server and Postgres.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn sign_up_then_sign_in_and_see_me() {
    let s = TestServer::start().await;
    let owner = s.signup("Ana@Example.com", "Ana's Band").await;
    let (status, me) = s.get("/v1/me", &owner.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "owner");
    assert_eq!(me["organization"]["name"], "Ana's Band");
    assert_eq!(me["organization"]["subscription_plan"], "free");
    assert_eq!(me["organization"]["subscription_status"], "trialing");
    assert_eq!(me["organization"]["generations_limit"], 3);
    assert_eq!(me["organization"]["generations_this_month"], 0);
    assert!(me["organization"]["trial_ends_at"].is_string());

    // E-mail is matched case-insensitively; the password exactly.
    let (status, body) = s.sign_in("ana@example.COM", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["user"].get("encrypted_password").is_none());

    // The same e-mail cannot sign up twice, in any case.
    let (status, body) = s
        .call(
            Method::POST,
            "/v1/auth/signup",
            None,
            Some(json!({"email": "ANA@example.com", "password": PASSWORD, "name": "x", "organization_name": "y"})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "email_taken"));
}

#[tokio::test]
async fn wrong_email_and_wrong_password_get_the_same_answer() {
    let s = TestServer::start().await;
    s.signup("bo@example.com", "Bo").await;
    let (s1, wrong_password) = s.sign_in("bo@example.com", "not the password").await;
    let (s2, wrong_email) = s.sign_in("nobody@example.com", PASSWORD).await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!(s2, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password, wrong_email, "the answers must not reveal which part was wrong");
    assert_eq!(error_code(&wrong_email), "invalid_credentials");
    // An address no account can have (U+0000, which Postgres cannot store) is a wrong e-mail
    // too, not a failure of the server.
    let (s3, impossible) = s.sign_in("bo\u{0}@example.com", PASSWORD).await;
    assert_eq!((s3, &impossible), (StatusCode::UNAUTHORIZED, &wrong_email));
}

#[tokio::test]
async fn short_passwords_and_bad_fields_are_refused_naming_the_field() {
    let s = TestServer::start().await;
    for (body, field) in [
        (json!({"email": "c@example.com", "password": "123456789", "name": "C", "organization_name": "C"}), "password"),
        (json!({"email": "not-an-email", "password": PASSWORD, "name": "C", "organization_name": "C"}), "email"),
        (json!({"email": "c@example.com", "password": PASSWORD, "name": "", "organization_name": "C"}), "name"),
        (json!({"email": "c@example.com", "password": PASSWORD, "name": "C"}), "organization_name"),
        (json!({"email": "c@example.com", "name": "C", "organization_name": "C"}), "password"),
    ] {
        let (status, resp) = s.call(Method::POST, "/v1/auth/signup", None, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{resp}");
        assert_eq!(resp["error"]["field"], field, "{resp}");
    }
}

#[tokio::test]
async fn too_many_failed_sign_ins_answer_429() {
    let s = TestServer::start().await;
    s.signup("dee@example.com", "Dee").await;
    for _ in 0..10 {
        let (status, _) = s.sign_in("dee@example.com", "wrong password!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = s.sign_in("dee@example.com", PASSWORD).await;
    assert_eq!((status, error_code(&body)), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    // Another account is not affected.
    s.signup("eve@example.com", "Eve").await;
    assert_eq!(s.sign_in("eve@example.com", PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_session() {
    let s = TestServer::start_with(|c| c.refresh_grace = Duration::ZERO).await;
    let first = s.signup("fay@example.com", "Fay").await;

    let (status, second) = s.refresh(&first.refresh).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second = Session::from(&second);
    assert_ne!(second.refresh, first.refresh, "a refresh must hand out a new refresh token");
    let (status, third) = s.refresh(&second.refresh).await;
    assert_eq!(status, StatusCode::OK);
    let third = Session::from(&third);

    // Presenting an already-rotated token (outside the grace window) is theft or a bug: the
    // whole session ends, including the newest token and its access tokens.
    let (status, body) = s.refresh(&first.refresh).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "invalid_refresh_token"));
    let (status, _) = s.refresh(&third.refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "reuse must revoke the newest token of the family too");
    let (status, body) = s.get("/v1/me", &third.access).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "session_revoked"));

    // Another session of the same user is untouched.
    let (status, other) = s.sign_in("fay@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.get("/v1/me", other["access_token"].as_str().unwrap()).await.0, StatusCode::OK);

    let (logged,): (i64,) = sqlx::query_as("SELECT count(*) FROM system_logs WHERE action_type = 'auth.refresh_reuse'")
        .fetch_one(&s.owner)
        .await
        .unwrap();
    assert_eq!(logged, 1, "reuse detection must be logged");
}

#[tokio::test]
async fn racing_refreshes_within_the_grace_window_get_the_same_successor() {
    let s = TestServer::start().await; // default grace: 10 s
    let first = s.signup("gil@example.com", "Gil").await;
    let (a, b) = tokio::join!(s.refresh(&first.refresh), s.refresh(&first.refresh));
    assert_eq!(a.0, StatusCode::OK, "{}", a.1);
    assert_eq!(b.0, StatusCode::OK, "two racing refreshes must not sign the user out: {}", b.1);
    assert_eq!(a.1["refresh_token"], b.1["refresh_token"], "both must receive the same successor");
    // The session goes on normally from the successor.
    let (status, next) = s.refresh(a.1["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    // Once the successor has itself been used, the original token is a reuse.
    let (status, _) = s.refresh(&first.refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_grace_window_closes() {
    let s = TestServer::start_with(|c| c.refresh_grace = Duration::from_secs(1)).await;
    let first = s.signup("hal@example.com", "Hal").await;
    let (status, _) = s.refresh(&first.refresh).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body) = s.refresh(&first.refresh).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "invalid_refresh_token"));
}

#[tokio::test]
async fn sign_out_ends_access_and_refresh() {
    let s = TestServer::start().await;
    let me = s.signup("ivy@example.com", "Ivy").await;
    let (status, _) = s.call(Method::POST, "/v1/auth/logout", Some(&me.access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s.get("/v1/me", &me.access).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "session_revoked"));
    assert_eq!(s.refresh(&me.refresh).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_and_expired_access_tokens_are_told_apart() {
    let s = TestServer::start_with(|c| c.access_token_ttl = Duration::from_secs(1)).await;
    let me = s.signup("jo@example.com", "Jo").await;
    let (status, body) = s.get("/v1/me", "garbage").await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    let (status, body) = s.call(Method::GET, "/v1/me", None, None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    tokio::time::sleep(Duration::from_millis(7000)).await; // past the 5 s leeway
    let (status, body) = s.get("/v1/me", &me.access).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "token_expired"));
}

#[tokio::test]
async fn a_removed_member_loses_access_at_once() {
    let s = TestServer::start().await;
    let org = s.organization("kay").await;
    let (status, _) = s.delete(&format!("/v1/members/{}", org.developer.user_id), &org.admin.access).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A code of its own on every path, so the member's devices know to delete their copy.
    let (status, body) = s.get("/v1/projects", &org.developer.access).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "membership_ended"));
    let (status, body) = s.refresh(&org.developer.refresh).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "membership_ended"));
    let (status, body) = s.refresh(&org.developer.refresh).await;
    assert_eq!(error_code(&body), "membership_ended", "still, once the session is revoked: {status}");
    let (status, body) = s.sign_in("developer@kay.test", PASSWORD).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "membership_ended"));
    // A member who only signed out is told to sign in again, nothing more.
    let (status, _) = s.call(Method::POST, "/v1/auth/logout", Some(&org.viewer.access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s.get("/v1/projects", &org.viewer.access).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "session_revoked"));
    // They no longer appear among the members, but their row stays for history.
    let (_, members) = s.get("/v1/members", &org.owner.access).await;
    assert_eq!(members.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn invitations_are_single_use_and_bound_to_their_email() {
    let s = TestServer::start().await;
    let owner = s.signup("lu@example.com", "Lu").await;
    let (_, inv) = s.post("/v1/members", &owner.access, json!({"email": "new@example.com", "role": "developer"})).await;
    let token = inv["invite_token"].as_str().unwrap();
    let signup = |email: &str| json!({"email": email, "password": PASSWORD, "name": "N", "invite_token": token});
    let (status, body) = s.call(Method::POST, "/v1/auth/signup", None, Some(signup("other@example.com"))).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("email")), "{body}");
    let (status, body) = s.call(Method::POST, "/v1/auth/signup", None, Some(signup("new@example.com"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["role"], "developer");
    assert_eq!(body["user"]["organization_id"], owner.organization_id.to_string());
    let (status, body) = s.call(Method::POST, "/v1/auth/signup", None, Some(signup("new2@example.com"))).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invite_token")));
}

/// The invitee sees what a code leads to before signing up; a used, unknown or malformed code
/// is told apart from a good one and reveals nothing.
#[tokio::test]
async fn an_invitation_code_shows_its_organization_role_and_inviter_until_used() {
    let s = TestServer::start().await;
    let owner = s.signup("rae@example.com", "Rae's Band").await;
    let (_, inv) = s.post("/v1/members", &owner.access, json!({"email": "Sam@Example.com", "role": "viewer"})).await;
    let token = inv["invite_token"].as_str().unwrap().to_owned();
    let look = |code: &str| json!({"invite_token": code});
    let (status, preview) = s.call(Method::POST, "/v1/auth/invitation", None, Some(look(&format!(" {token}\n")))).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["email"], "Sam@Example.com");
    assert_eq!(preview["role"], "viewer");
    assert_eq!(preview["invited_by"], "rae@example.com", "the inviter's name (the helper names people by e-mail)");
    assert_eq!(preview["organization_name"], "Rae's Band");
    assert!(preview.get("invite_token").is_none() && !preview.to_string().contains(&token), "{preview}");
    let (status, body) = s.call(Method::POST, "/v1/auth/invitation", None, Some(look("no such code"))).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invite_token")));
    let (status, body) = s.call(Method::POST, "/v1/auth/invitation", None, Some(look(&"x".repeat(43)))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"), "{body}");
    let signup = json!({"email": "sam@example.com", "password": PASSWORD, "name": "Sam", "invite_token": token});
    let (status, body) = s.call(Method::POST, "/v1/auth/signup", None, Some(signup)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s.call(Method::POST, "/v1/auth/invitation", None, Some(look(&token))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"), "a used code shows nothing: {body}");
}

/// Inviting someone who is already a member (yourself included, in any letter case) is a
/// conflict, not a second invitation; a removed member can be invited back.
#[tokio::test]
async fn inviting_an_existing_member_is_a_conflict() {
    let s = TestServer::start().await;
    let owner = s.signup("kim@example.com", "Kim").await;
    let member = s.add_member(&owner, "jo@example.com", "developer").await;
    for email in ["kim@example.com", "Jo@Example.com"] {
        let (status, body) = s.post("/v1/members", &owner.access, json!({"email": email, "role": "viewer"})).await;
        assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "conflict"), "{email}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("already a member"), "{body}");
    }
    let invitations: i64 = sqlx::query_scalar("SELECT count(*) FROM invitations").fetch_one(&s.owner).await.unwrap();
    assert_eq!(invitations, 1, "only jo's own invitation was made");
    let (status, _) = s.delete(&format!("/v1/members/{}", member.user_id), &owner.access).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) =
        s.post("/v1/members", &owner.access, json!({"email": "jo@example.com", "role": "viewer"})).await;
    assert_eq!(status, StatusCode::CREATED, "a removed member may be invited again: {body}");
}

#[tokio::test]
async fn passwords_and_tokens_are_stored_only_as_hashes() {
    let s = TestServer::start().await;
    let me = s.signup("mo@example.com", "Mo").await;
    let dump: (String,) = sqlx::query_as(
        "SELECT concat_ws(' ', (SELECT string_agg(u::text, ' ') FROM auth.users u), \
                (SELECT string_agg(r::text, ' ') FROM auth.refresh_tokens r), \
                (SELECT string_agg(l::text, ' ') FROM system_logs l))",
    )
    .fetch_one(&s.owner)
    .await
    .unwrap();
    assert!(!dump.0.contains(PASSWORD), "the password must not be stored in clear");
    assert!(!dump.0.contains(&me.refresh), "the refresh token must not be stored in clear");
    assert!(!dump.0.contains(&me.access), "the access token must not be stored");
    assert!(dump.0.contains("$argon2id$"));
}
