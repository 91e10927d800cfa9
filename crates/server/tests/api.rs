//! The HTTP contract: validation, idempotent creates, the error shape, the activity log, the
//! generated OpenAPI document, health, and a superuser URL that still serves under RLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use resonance_server::config::DatabaseUrl;
use resonance_server::Db;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn every_project_field_is_validated_and_named() {
    let s = TestServer::start().await;
    let me = s.signup("val@example.com", "Val").await;
    let cases: [(Value, &str); 9] = [
        (json!({"name": "", "prompt": "p", "audio_path": "a"}), "name"),
        (json!({"name": "x".repeat(121), "prompt": "p", "audio_path": "a"}), "name"),
        (json!({"name": "n", "prompt": " ", "audio_path": "a"}), "prompt"),
        (json!({"name": "n", "prompt": "p", "audio_path": "a", "resolution": "4k"}), "resolution"),
        (json!({"name": "n", "prompt": "p", "audio_path": "a", "style_preference": "vaporwave"}), "style_preference"),
        (json!({"name": "n", "prompt": "p", "audio_path": "a", "footage_visibility": 1.5}), "footage_visibility"),
        (json!({"name": "n", "prompt": "p", "audio_path": "a", "effect_intensity": -0.01}), "effect_intensity"),
        (json!({"name": "n", "audio_path": "a"}), "prompt"),
        (json!({"name": "n", "prompt": "p", "audio_path": "a", "status": "completed"}), "status"),
    ];
    for (body, field) in cases {
        let (status, resp) = s.post("/v1/projects", &me.access, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {resp}");
        assert_eq!(error_code(&resp), "validation_failed");
        assert_eq!(resp["error"]["field"], field, "{body} → {resp}");
    }
    let (_, p) = s.post("/v1/projects", &me.access, new_project("ok")).await;
    let path = format!("/v1/projects/{}", p["id"].as_str().unwrap());
    let (status, resp) = s.patch(&path, &me.access, json!({"effect_intensity": 7})).await;
    assert_eq!((status, resp["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("effect_intensity")));
    // The database's defaults are the one set every client starts from (resonance-api).
    let made: resonance_api::model::Project = serde_json::from_value(p.clone()).unwrap();
    let d = resonance_api::projects::PROJECT_DEFAULTS;
    assert_eq!(
        (made.resolution, made.aspect, made.style_preference, made.footage_visibility, made.effect_intensity),
        (
            Some(d.resolution),
            Some(d.aspect),
            Some(d.style_preference),
            Some(d.footage_visibility),
            Some(d.effect_intensity)
        ),
        "the schema's defaults drifted from resonance_api::projects::PROJECT_DEFAULTS"
    );
    assert_eq!(p["status"].as_str(), Some("draft"));
}

#[tokio::test]
async fn a_retried_create_with_the_same_id_is_idempotent() {
    let s = TestServer::start().await;
    let me = s.signup("idem@example.com", "Idem").await;
    let id = uuid::Uuid::new_v4();
    let mut body = new_project("once");
    body["id"] = json!(id);
    let (first, p1) = s.post("/v1/projects", &me.access, body.clone()).await;
    let (second, p2) = s.post("/v1/projects", &me.access, body).await;
    assert_eq!((first, second), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(p1, p2);
    let (_, list) = s.get("/v1/projects", &me.access).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "a retry must not create a second project");
}

#[tokio::test]
async fn a_write_retried_with_its_idempotency_key_is_answered_not_applied_again() {
    let s = TestServer::start().await;
    let me = s.signup("keys@example.com", "Keys").await;
    let send = |method: Method, path: String, key: uuid::Uuid, body: Option<Value>| {
        let mut req = s.http.request(method, format!("{}{path}", s.base)).bearer_auth(&me.access);
        req = req.header("Idempotency-Key", key.to_string());
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (_, p) = s.post("/v1/projects", &me.access, new_project("keyed")).await;
    let path = format!("/v1/projects/{}", p["id"].as_str().unwrap());
    let key = uuid::Uuid::new_v4();
    let (first, a) = send(Method::PATCH, path.clone(), key, Some(json!({"name": "renamed once"}))).await;
    assert_eq!(first, StatusCode::OK, "{a}");
    // Someone else edits in between; the retry must not undo their edit.
    let (_, _) = s.patch(&path, &me.access, json!({"name": "someone else's"})).await;
    let (again, b) = send(Method::PATCH, path.clone(), key, Some(json!({"name": "renamed once"}))).await;
    assert_eq!((again, &b), (StatusCode::OK, &a), "a retry gets the first answer");
    let (_, now) = s.get(&path, &me.access).await;
    assert_eq!(now["name"], "someone else's", "a retried write must not be applied a second time");
    let logs: i64 = sqlx::query_scalar("SELECT count(*) FROM system_logs WHERE action_type = 'project.update'")
        .fetch_one(&s.owner)
        .await
        .unwrap();
    assert_eq!(logs, 2, "two edits were made, not three");
    // The same body written otherwise (keys reordered, spaces) is the same request.
    let resp = s
        .http
        .patch(format!("{}{path}", s.base))
        .bearer_auth(&me.access)
        .header("Idempotency-Key", key.to_string())
        .header("content-type", "application/json")
        .body(r#"{ "name" :  "renamed once" }"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap(), a);
    // The same key with another body, or for another request, is refused (IETF
    // Idempotency-Key draft: 422), not answered with the first request's result.
    let (changed, err) = send(Method::PATCH, path.clone(), key, Some(json!({"name": "renamed twice"}))).await;
    assert_eq!((changed, error_code(&err)), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"), "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("another body"), "{err}");
    let (reused, err) = send(Method::DELETE, path.clone(), key, None).await;
    assert_eq!((reused, error_code(&err)), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"), "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("another request (PATCH /v1/projects/"), "{err}");
    // A create's key with another project's body: refused, never the first project (which
    // would 404 once deleted).
    let create_key = uuid::Uuid::new_v4();
    let (made, first_project) = send(Method::POST, "/v1/projects".into(), create_key, Some(new_project("first"))).await;
    assert_eq!(made, StatusCode::CREATED);
    let (other_body, err) = send(Method::POST, "/v1/projects".into(), create_key, Some(new_project("second"))).await;
    assert_eq!((other_body, error_code(&err)), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"), "{err}");
    let (retried, again) = send(Method::POST, "/v1/projects".into(), create_key, Some(new_project("first"))).await;
    assert_eq!((retried, again), (StatusCode::CREATED, first_project));
    // A fresh key for a delete works once.
    let delete_key = uuid::Uuid::new_v4();
    let (deleted, _) = send(Method::DELETE, path.clone(), delete_key, None).await;
    let (deleted_again, _) = send(Method::DELETE, path.clone(), delete_key, None).await;
    assert_eq!((deleted, deleted_again), (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT));
    // Keys are the caller's own: another user's identical key is a different key.
    let other = s.signup("other-keys@example.com", "Other").await;
    let resp = s
        .http
        .post(format!("{}/v1/projects", s.base))
        .bearer_auth(&other.access)
        .header("Idempotency-Key", key.to_string())
        .json(&new_project("theirs"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let bad = s.http.post(format!("{}/v1/projects", s.base)).bearer_auth(&me.access).header("Idempotency-Key", "nope");
    assert_eq!(bad.json(&new_project("x")).send().await.unwrap().status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn edits_keep_absent_fields_and_clear_an_emptied_description() {
    let s = TestServer::start().await;
    let me = s.signup("ed@example.com", "Ed").await;
    let mut body = new_project("edit-me");
    body["description"] = json!("first cut");
    let (_, p) = s.post("/v1/projects", &me.access, body).await;
    let path = format!("/v1/projects/{}", p["id"].as_str().unwrap());
    let (status, p2) = s.patch(&path, &me.access, json!({"resolution": "2160p", "style_preference": "glitch"})).await;
    assert_eq!(status, StatusCode::OK, "{p2}");
    assert_eq!(p2["resolution"], "2160p");
    assert_eq!(p2["name"], "edit-me");
    assert_eq!(p2["description"], "first cut");
    let (_, p3) = s.patch(&path, &me.access, json!({"description": ""})).await;
    assert_eq!(p3["description"], Value::Null);
    assert!(p3["updated_at"].as_str() >= p["updated_at"].as_str());
}

/// The server's SQL applies a patch as `ProjectPatch::apply_to` says (the rule the client's
/// mirror and outbox use): absent fields kept, `""` clears the description, `0` the tempo.
#[tokio::test]
async fn a_patch_is_applied_as_the_contract_says() {
    use resonance_api::model::Project;
    use resonance_api::projects::ProjectPatch;
    let s = TestServer::start().await;
    let me = s.signup("pin@example.com", "Pin").await;
    let mut body = new_project("pinned");
    body["description"] = json!("notes");
    body["tempo_bpm"] = json!(128.0);
    let (_, created) = s.post("/v1/projects", &me.access, body).await;
    let path = format!("/v1/projects/{}", created["id"].as_str().unwrap());
    let mut expected: Project = serde_json::from_value(created).unwrap();
    for patch in [
        json!({"description": "", "tempo_bpm": 0}),
        json!({"name": "renamed", "style_preference": "retro", "effect_intensity": 0.9, "aspect": "9:16"}),
        json!({"tempo_bpm": 96.5, "resolution": "1440p", "footage_visibility": 0.2, "prompt": "golden sunrise"}),
        json!({"description": "back again", "audio_path": "take 2.flac", "audio_duration": 61.25}),
        json!({}),
    ] {
        let typed: ProjectPatch = serde_json::from_value(patch.clone()).unwrap();
        typed.apply_to(&mut expected);
        let (status, answer) = s.patch(&path, &me.access, patch.clone()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let got: Project = serde_json::from_value(answer).unwrap();
        // What only the server keeps: when it changed.
        expected.updated_at = got.updated_at;
        assert_eq!(got, expected, "after {patch}");
    }
}

#[tokio::test]
async fn errors_have_one_shape_and_never_leak_sql() {
    let s = TestServer::start().await;
    let me = s.signup("err@example.com", "Err").await;
    let checks: Vec<(Method, &str, Option<&str>, StatusCode, &str)> = vec![
        (Method::GET, "/v1/nowhere", Some(&me.access), StatusCode::NOT_FOUND, "not_found"),
        (Method::GET, "/v1/projects/not-a-uuid", Some(&me.access), StatusCode::NOT_FOUND, "not_found"),
        (
            Method::GET,
            "/v1/projects/6d1b7e7c-1e5c-4c3e-9a47-2f7e6d1b7e7c",
            Some(&me.access),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (Method::GET, "/v1/projects?limit=0", Some(&me.access), StatusCode::BAD_REQUEST, "bad_request"),
        (Method::GET, "/v1/projects?limit=abc", Some(&me.access), StatusCode::BAD_REQUEST, "bad_request"),
        (Method::GET, "/v1/projects", None, StatusCode::UNAUTHORIZED, "unauthenticated"),
    ];
    for (method, path, token, status, code) in checks {
        let (got, body) = s.call(method.clone(), path, token, None).await;
        assert_eq!((got, error_code(&body)), (status, code), "{method} {path}: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Malformed JSON, the wrong content type, and an oversized body.
    let url = format!("{}/v1/projects", s.base);
    let r = s
        .http
        .post(&url)
        .bearer_auth(&me.access)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = s.http.post(&url).bearer_auth(&me.access).body("{}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // JSON that is not an object: serde would read an array as the struct's first fields (the
    // fuzzer's `[null, null]` was a 200 edit that changed nothing).
    let (_, p) = s.post("/v1/projects", &me.access, new_project("shape")).await;
    let path = format!("/v1/projects/{}", p["id"].as_str().unwrap());
    for (method, path, body) in
        [(Method::PATCH, path.as_str(), json!([null, null])), (Method::POST, "/v1/projects", json!(["n", null, "p"]))]
    {
        let (status, err) = s.call(method.clone(), path, Some(&me.access), Some(body)).await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("body")),
            "{method} {err}"
        );
    }
    let huge = json!({"name": "n", "prompt": "x".repeat(2 * 1024 * 1024), "audio_path": "a"});
    let (status, body) = s.post("/v1/projects", &me.access, huge).await;
    assert_eq!((status, error_code(&body)), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
    // A database constraint answered as a refusal, without SQL.
    let (status, body) = s.post("/v1/members", &me.access, json!({"email": "x@example.com", "role": "emperor"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let text = body.to_string().to_lowercase();
    for leak in ["select", "insert", "violates", "constraint", "sqlstate", "panicked"] {
        assert!(!text.contains(leak), "error leaked {leak}: {body}");
    }
}

/// A method an endpoint does not answer is 405 with the `Allow` header (RFC 9110), in the API's
/// error shape; an endpoint that does not exist stays 404.
#[tokio::test]
async fn a_method_an_endpoint_lacks_is_405_with_allow() {
    let s = TestServer::start().await;
    let me = s.signup("allow@example.com", "Allow").await;
    for (method, path, allowed) in [
        (Method::TRACE, "/v1/health", &["GET", "HEAD"][..]),
        (Method::PUT, "/v1/projects", &["GET", "HEAD", "POST"]),
        (Method::POST, "/v1/projects/6d1b7e7c-1e5c-4c3e-9a47-2f7e6d1b7e7c", &["DELETE", "GET", "HEAD", "PATCH"]),
        (Method::DELETE, "/v1/sync", &["GET", "HEAD"]),
    ] {
        let resp =
            s.http.request(method.clone(), format!("{}{path}", s.base)).bearer_auth(&me.access).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let allow = resp.headers().get("allow").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let mut got: Vec<&str> = allow.split(',').map(str::trim).filter(|m| !m.is_empty()).collect();
        got.sort_unstable();
        assert_eq!(got, allowed, "{method} {path}: Allow {allow:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(error_code(&body), "method_not_allowed", "{body}");
    }
    let (status, body) = s.call(Method::PUT, "/v1/nowhere", Some(&me.access), None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn every_state_change_writes_an_activity_entry() {
    let s = TestServer::start().await;
    let org = s.organization("log").await;
    let (_, p) = s.post("/v1/projects", &org.developer.access, new_project("logged")).await;
    let path = format!("/v1/projects/{}", p["id"].as_str().unwrap());
    s.patch(&path, &org.developer.access, json!({"name": "logged-2"})).await;
    s.delete(&path, &org.admin.access).await;
    s.patch(&format!("/v1/members/{}", org.viewer.user_id), &org.admin.access, json!({"role": "developer"})).await;
    s.patch("/v1/organization", &org.owner.access, json!({"name": "Renamed"})).await;
    let (status, _) = s.refresh(&org.viewer.refresh).await;
    assert_eq!(status, StatusCode::OK);
    s.call(Method::POST, "/v1/auth/logout", Some(&org.viewer.access), None).await;
    let (status, logs) = s.get("/v1/system-logs?limit=1000", &org.owner.access).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = logs.as_array().unwrap().iter().map(|l| l["action_type"].as_str().unwrap()).collect();
    for expected in [
        "auth.sign_up",
        "member.invite",
        "member.join",
        "project.create",
        "project.update",
        "project.delete",
        "member.role",
        "organization.update",
        "auth.sign_out",
    ] {
        assert!(actions.contains(&expected), "no {expected} entry in {actions:?}");
    }
    let delete = logs.as_array().unwrap().iter().find(|l| l["action_type"] == "project.delete").unwrap();
    assert_eq!(delete["details"]["name"], "logged-2");
    assert_eq!(delete["user_id"], org.admin.user_id.to_string());
    // Paging back in time.
    let oldest = logs.as_array().unwrap().last().unwrap()["created_at"].as_str().unwrap().to_owned();
    let (_, older) = s.get(&format!("/v1/system-logs?before={}", urlencode(&oldest)), &org.owner.access).await;
    assert_eq!(older, json!([]));
}

/// Settings are any JSON object Postgres can keep: numbers at f64's ends come back exactly (a
/// 500 before, found by Schemathesis: Postgres prints them in full and serde_json rounded the
/// digits past f64::MAX), and U+0000, which `jsonb` cannot hold, is refused by name.
#[tokio::test]
async fn organization_settings_keep_any_json_postgres_can() {
    let s = TestServer::start().await;
    let org = s.organization("settings").await;
    let settings = json!({"max": f64::MAX, "min": f64::MIN, "tiny": 5e-324, "deep": [{"é": ["✓", null, true]}]});
    let (status, body) = s.patch("/v1/organization", &org.owner.access, json!({"settings": settings})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["settings"], settings);
    let (_, me) = s.get("/v1/me", &org.owner.access).await;
    assert_eq!(me["organization"]["settings"], settings, "{me}");
    for nul in [json!({"a\u{0}": 1}), json!({"a": ["x\u{0}"]}), json!({"a": {"b": {"\u{0}": null}}})] {
        let (status, err) = s.patch("/v1/organization", &org.owner.access, json!({"settings": nul})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{nul}: {err}");
        assert_eq!(err["error"]["field"], "settings");
    }
    let (_, me) = s.get("/v1/me", &org.owner.access).await;
    assert_eq!(me["organization"]["settings"], settings, "a refused change changes nothing");
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let s = TestServer::start().await;
    let (status, doc) = s.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/v1/auth/signup", &["post"][..]),
        ("/v1/auth/invitation", &["post"]),
        ("/v1/auth/token", &["post"]),
        ("/v1/auth/logout", &["post"]),
        ("/v1/me", &["get"]),
        ("/v1/projects", &["get", "post"]),
        ("/v1/projects/{id}", &["get", "patch", "delete"]),
        ("/v1/projects/{id}/generations", &["get"]),
        ("/v1/generations/{id}", &["get"]),
        ("/v1/system-logs", &["get"]),
        ("/v1/members", &["get", "post"]),
        ("/v1/members/{id}", &["patch", "delete"]),
        ("/v1/sync", &["get"]),
        ("/v1/health", &["get"]),
        ("/v1/organization", &["patch"]),
        ("/v1/generations/{id}/share-links", &["get", "post"]),
        ("/v1/share-links/{id}", &["delete"]),
        ("/v1/shared/{token}", &["get"]),
        ("/v1/shared/{token}/video", &["get"]),
    ] {
        for m in methods {
            assert!(paths.get(path).and_then(|p| p.get(*m)).is_some(), "openapi.json lacks {m} {path}");
        }
    }
    for schema in ["Project", "Generation", "SyncPage", "ErrorBody", "ErrorCode", "TokenResponse", "Me"] {
        assert!(doc["components"]["schemas"].get(schema).is_some(), "openapi.json lacks the {schema} schema");
    }
    let (status, health) = s.call(Method::GET, "/v1/health", None, None).await;
    assert_eq!((status, health["status"].as_str()), (StatusCode::OK, Some("ok")));
    assert_eq!(health["min_client_version"], resonance_api::version::OLDEST_SERVED_CLIENT.to_string());
    assert!(health.get("client_download_url").is_none(), "no download address unless the operator gave one");
}

/// An app older than the server serves learns it at its first request, with how to update, on
/// every endpoint but health (where it reads the minimum); other callers are not concerned.
#[tokio::test]
async fn an_app_older_than_the_server_serves_is_told_to_update_and_how() {
    let s = TestServer::start_with(|settings| {
        settings.clients.minimum = "0.9.0".parse().unwrap();
        settings.clients.download_url = Some("https://resonance.example/download".into());
    })
    .await;
    let me = s.signup("old@example.com", "Old").await;
    let ask = |agent: &'static str, method: Method, path: &'static str, body: Option<Value>| {
        let mut req =
            s.http.request(method, format!("{}{path}", s.base)).header("user-agent", agent).bearer_auth(&me.access);
        if let Some(body) = body {
            req = req.json(&body);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for (method, path, body) in [
        (Method::GET, "/v1/me", None),
        (Method::GET, "/v1/projects", None),
        (Method::POST, "/v1/projects", Some(new_project("from an old app"))),
        (Method::GET, "/v1/sync", None),
        (
            Method::POST,
            "/v1/auth/token",
            Some(json!({"grant_type": "password", "email": "old@example.com", "password": PASSWORD})),
        ),
    ] {
        let (status, body) = ask("resonance-client/0.8.9", method.clone(), path, body).await;
        assert_eq!(status, StatusCode::UPGRADE_REQUIRED, "{method} {path} → {body}");
        assert_eq!(error_code(&body), "client_outdated");
        let message = body["error"]["message"].as_str().unwrap();
        for part in ["(0.8.9)", "needs 0.9.0 or newer", "https://resonance.example/download"] {
            assert!(message.contains(part), "{part:?} missing from {message}");
        }
    }
    let (_, listed) = s.get("/v1/projects", &me.access).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "the refused create made nothing: {listed}");

    let (status, health) = ask("resonance-client/0.8.9", Method::GET, "/v1/health", None).await;
    assert_eq!(status, StatusCode::OK, "health answers an old app: it is where the minimum is read");
    assert_eq!(health["min_client_version"], "0.9.0");
    assert_eq!(health["client_download_url"], "https://resonance.example/download");

    for agent in ["resonance-client/0.9.0", "resonance-client/1.0.0-rc.1", "curl/8.1.2", "Mozilla/5.0"] {
        let (status, body) = ask(agent, Method::GET, "/v1/me", None).await;
        assert_eq!(status, StatusCode::OK, "{agent} → {body}");
    }

    // Signing out still works: an old app on a shared computer can end its session.
    let (status, body) = ask("resonance-client/0.8.9", Method::POST, "/v1/auth/logout", Some(json!({}))).await;
    assert!(status.is_success(), "{status} {body}");
    let (status, _) = ask("curl/8.1.2", Method::GET, "/v1/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session ended on the server");
}

/// A migration that fails must not leave its advisory lock on a pooled connection: the next
/// attempt (the server retries a lost race for a shared role) would wait for it forever.
#[tokio::test]
async fn a_failed_migration_leaves_no_lock_and_the_next_attempt_runs() {
    let db_url = fresh_database().await;
    let admin = sqlx::PgPool::connect(&db_url).await.unwrap();
    // An object in the way makes the first migration fail.
    sqlx::query("CREATE SCHEMA auth").execute(&admin).await.unwrap();
    let db = Db::connect(&DatabaseUrl::parse(&db_url).unwrap(), 4).await.unwrap();
    let failed = db.migrate().await.expect_err("the schema in the way must fail the migration");
    assert!(format!("{failed:?}").contains("already exists"), "not the arranged failure: {failed:?}");
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(held, 0, "the failed attempt kept its advisory lock");
    sqlx::query("DROP SCHEMA auth").execute(&admin).await.unwrap();
    // A guard against a hang, not a speed target: a leaked lock would block this forever.
    tokio::time::timeout(Duration::from_secs(120), db.migrate())
        .await
        .expect("the second attempt waited for a lock nobody will release")
        .unwrap();
}

#[tokio::test]
async fn a_superuser_url_still_serves_every_request_under_rls() {
    // The harness connects as the cluster's superuser; a non-superuser owner works too.
    let db_url = fresh_database().await;
    let owner_role = format!("owner_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&db_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE ROLE {owner_role} LOGIN CREATEROLE")))
        .execute(&admin)
        .await
        .unwrap();
    let dbname = db_url.rsplit('/').next().unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE {dbname} OWNER TO {owner_role}")))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("GRANT ALL ON SCHEMA public TO {owner_role}")))
        .execute(&admin)
        .await
        .unwrap();
    let owner_url = db_url.replacen("postgres@", &format!("{owner_role}@"), 1);
    let db = Db::connect(&DatabaseUrl::parse(&owner_url).unwrap(), 8).await.unwrap();
    db.migrate().await.expect("migrations must run as a plain owner role, not only as a superuser");
    let s = TestServer::serve_on(owner_url, db, |_| {}).await;
    let a = s.signup("a@own.test", "A").await;
    let b = s.signup("b@own.test", "B").await;
    s.post("/v1/projects", &b.access, new_project("b-only")).await;
    let (_, list) = s.get("/v1/projects", &a.access).await;
    assert_eq!(list, json!([]), "the owner role must not bypass RLS for requests");
    let during: Vec<String> = sqlx::query_scalar("SELECT DISTINCT usename::text FROM pg_stat_activity WHERE application_name = 'resonance-server' AND datname = $1")
        .bind(dbname)
        .fetch_all(&admin)
        .await
        .unwrap();
    assert!(during.iter().all(|u| u == &owner_role), "{during:?}");
}

#[tokio::test]
async fn every_foreign_key_and_organization_id_is_indexed() {
    let s = TestServer::start().await;
    // Columns that lead some index, per table.
    let unindexed: Vec<String> = sqlx::query_scalar(
        "WITH wanted AS ( \
           SELECT c.conrelid AS rel, c.conkey[1] AS col FROM pg_constraint c \
           JOIN pg_namespace n ON n.oid = c.connamespace \
           WHERE c.contype = 'f' AND n.nspname IN ('public', 'auth', 'auth_private') \
           UNION \
           SELECT a.attrelid, a.attnum FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid \
           JOIN pg_namespace n ON n.oid = t.relnamespace \
           WHERE a.attname = 'organization_id' AND n.nspname = 'public' AND t.relkind = 'r') \
         SELECT w.rel::regclass::text || '.' || a.attname FROM wanted w \
         JOIN pg_attribute a ON a.attrelid = w.rel AND a.attnum = w.col \
         WHERE NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = w.rel AND i.indkey[0] = w.col) \
         ORDER BY 1",
    )
    .fetch_all(&s.owner)
    .await
    .unwrap();
    assert!(unindexed.is_empty(), "columns without an index: {unindexed:?}");
}
