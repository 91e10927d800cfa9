//! Tenant isolation and the role matrix, through the API and directly in SQL as the request role.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

const ROLES: [&str; 4] = ["viewer", "developer", "admin", "owner"];
const TABLES: [&str; 7] =
    ["organizations", "users", "projects", "generations", "system_logs", "share_links", "footage"];

struct World {
    s: TestServer,
    a: Org,
    b: Org,
    b_project: Uuid,
    b_generation: Uuid,
    b_footage: Uuid,
    a_project: Uuid,
}

/// Two organizations, each with members of every role, a project, a generation, a share link of
/// it, a footage item and log entries.
async fn world() -> World {
    let s = TestServer::start().await;
    let a = s.organization("alpha").await;
    let b = s.organization("beta").await;
    let (_, pa) = s.post("/v1/projects", &a.developer.access, new_project("alpha-track")).await;
    let (status, pb) = s.post("/v1/projects", &b.developer.access, new_project("beta-track")).await;
    assert_eq!(status, StatusCode::CREATED, "{pb}");
    let b_project: Uuid = pb["id"].as_str().unwrap().parse().unwrap();
    let a_project: Uuid = pa["id"].as_str().unwrap().parse().unwrap();
    let mut gens = Vec::new();
    for (org, project, seed) in [(&a, a_project, "seed-a"), (&b, b_project, "seed-b")] {
        let id = s.insert_generation(org, project, seed, 1).await;
        sqlx::query(
            "INSERT INTO share_links (organization_id, generation_id, created_by, expires_at) \
             VALUES ($1, $2, $3, now() + interval '1 day')",
        )
        .bind(org.id)
        .bind(id)
        .bind(org.developer.user_id)
        .execute(&s.owner)
        .await
        .unwrap();
        gens.push(id);
    }
    s.insert_footage(&a, a_project, "alpha-clip.mp4").await;
    let b_footage = s.insert_footage(&b, b_project, "beta-clip.mp4").await;
    World { s, a, b, b_project, b_generation: gens[1], b_footage, a_project }
}

fn ids_in(v: &Value) -> String {
    v.to_string()
}

#[tokio::test]
async fn no_request_of_organization_a_reaches_organization_b() {
    let w = world().await;
    let (s, b) = (&w.s, &w.b);
    let b_ids = [
        b.id,
        w.b_project,
        w.b_generation,
        w.b_footage,
        b.owner.user_id,
        b.admin.user_id,
        b.developer.user_id,
        b.viewer.user_id,
    ];
    let b_project = format!("/v1/projects/{}", w.b_project);
    for role in ROLES {
        let t = &w.a.by_role(role).access;
        // Reads: lists and the change feed hold none of B's ids.
        for path in ["/v1/projects", "/v1/members", "/v1/system-logs", "/v1/me", "/v1/sync?limit=10000"] {
            let (status, body) = s.get(path, t).await;
            assert_eq!(status, StatusCode::OK, "{role} GET {path}: {body}");
            let text = ids_in(&body);
            for id in b_ids {
                assert!(!text.contains(&id.to_string()), "{role} GET {path} leaked {id} of organization B");
            }
        }
        // Reads and writes by id: B's rows do not exist for A.
        let by_id: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, b_project.clone(), None),
            (Method::PATCH, b_project.clone(), Some(json!({"name": "hijacked"}))),
            (Method::DELETE, b_project.clone(), None),
            (Method::GET, format!("{b_project}/generations"), None),
            (Method::GET, format!("/v1/generations/{}", w.b_generation), None),
            (Method::GET, format!("{b_project}/footage"), None),
            (Method::PATCH, format!("/v1/footage/{}", w.b_footage), Some(json!({"position": 0, "in_point": 0.5}))),
            (Method::DELETE, format!("/v1/footage/{}", w.b_footage), None),
            (Method::GET, format!("/v1/footage/{}/poster", w.b_footage), None),
            (Method::GET, format!("/v1/footage/{}/source", w.b_footage), None),
            (Method::PATCH, format!("/v1/members/{}", b.viewer.user_id), Some(json!({"role": "admin"}))),
            (Method::DELETE, format!("/v1/members/{}", b.viewer.user_id), None),
        ];
        for (method, path, body) in by_id {
            let (status, resp) = s.call(method.clone(), &path, Some(t), body).await;
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                "{role} {method} {path} must be refused as unknown or forbidden, got {status}: {resp}"
            );
            assert!(!ids_in(&resp).contains("beta-track"), "{role} {method} {path} leaked B's data");
            assert!(!ids_in(&resp).contains("beta-clip"), "{role} {method} {path} leaked B's footage");
        }
        // A create that reuses B's id neither overwrites nor reveals B's project.
        let mut np = new_project("collide");
        np["id"] = json!(w.b_project);
        let (status, resp) = s.post("/v1/projects", t, np).await;
        assert!(status == StatusCode::CONFLICT || status == StatusCode::FORBIDDEN, "{role}: {status} {resp}");
        assert!(!ids_in(&resp).contains("beta-track"));
    }
    // And B is exactly as it was.
    let (name, role): (String, String) =
        sqlx::query_as("SELECT p.name, u.role FROM projects p, users u WHERE p.id = $1 AND u.id = $2")
            .bind(w.b_project)
            .bind(b.viewer.user_id)
            .fetch_one(&s.owner)
            .await
            .unwrap();
    assert_eq!((name.as_str(), role.as_str()), ("beta-track", "viewer"));
    let (position, in_point): (i32, Option<f64>) =
        sqlx::query_as("SELECT position, in_point FROM footage WHERE id = $1")
            .bind(w.b_footage)
            .fetch_one(&s.owner)
            .await
            .unwrap();
    assert_eq!((position, in_point), (0, None), "B's footage is untouched");
    let removed: bool = sqlx::query_scalar("SELECT auth_private.is_removed($1)")
        .bind(b.viewer.user_id)
        .fetch_one(&s.owner)
        .await
        .unwrap();
    assert!(!removed);
}

/// Runs one statement in a savepoint; Ok(rows affected) or Err(SQLSTATE).
async fn attempt(tx: &mut sqlx::Transaction<'static, sqlx::Postgres>, sql: &str, bind: Uuid) -> Result<u64, String> {
    sqlx::query("SAVEPOINT attempt").execute(&mut **tx).await.unwrap();
    match sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).bind(bind).execute(&mut **tx).await {
        Ok(r) => {
            sqlx::query("RELEASE SAVEPOINT attempt").execute(&mut **tx).await.unwrap();
            Ok(r.rows_affected())
        }
        Err(e) => {
            sqlx::query("ROLLBACK TO SAVEPOINT attempt").execute(&mut **tx).await.unwrap();
            Err(e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned()).unwrap_or_else(|| e.to_string()))
        }
    }
}

#[tokio::test]
async fn in_sql_the_request_role_with_a_claims_sees_and_changes_nothing_of_b() {
    let w = world().await;
    let b_org = w.b.id;
    for role in ROLES {
        let me = w.a.by_role(role);
        let mut tx = w.s.as_app(Some(me.user_id)).await;
        let current: String = sqlx::query_scalar("SELECT current_user::text").fetch_one(&mut *tx).await.unwrap();
        assert_eq!(current, "resonance_app");
        for table in TABLES {
            let col = if table == "organizations" { "id" } else { "organization_id" };
            let seen: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table} WHERE {col} = $1")))
                    .bind(b_org)
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
            assert_eq!(seen, 0, "{role} sees B's {table}");
            let own: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            assert!(own > 0, "{role} must see their own {table}");
            let set = match table {
                "organizations" | "users" | "projects" => "name = 'hijacked'",
                _ => "message = 'hijacked'",
            };
            let set = match table {
                "generations" => "seed = 'hijacked'",
                "share_links" => "revoked_at = now(), revoked_by = auth.uid()",
                "footage" => "position = 99, in_point = 0.5",
                _ => set,
            };
            for sql in
                [format!("UPDATE {table} SET {set} WHERE {col} = $1"), format!("DELETE FROM {table} WHERE {col} = $1")]
            {
                match attempt(&mut tx, &sql, b_org).await {
                    Ok(n) => assert_eq!(n, 0, "{role}: `{sql}` touched B's rows"),
                    Err(code) => assert_eq!(code, "42501", "{role}: `{sql}` failed oddly"),
                }
            }
        }
        let b_user = w.b.developer.user_id;
        let b_project = w.b_project;
        let inserts = [
            ("organizations", "INSERT INTO organizations (id, name) VALUES ($1, 'x')".to_owned(), Uuid::new_v4()),
            ("users", format!("INSERT INTO users (id, organization_id, email) VALUES ('{}', $1, 'x@y.z')", me.user_id), b_org),
            ("projects", format!("INSERT INTO projects (organization_id, user_id, name, prompt, audio_path) VALUES ($1, '{}', 'x', 'y', 'z')", me.user_id), b_org),
            ("projects by B's user", format!("INSERT INTO projects (organization_id, user_id, name, prompt, audio_path) VALUES ('{}', $1, 'x', 'y', 'z')", w.a.id), b_user),
            ("generations", format!("INSERT INTO generations (organization_id, user_id, seed) VALUES ($1, '{}', 'x1')", me.user_id), b_org),
            ("generations of B's project", format!("INSERT INTO generations (project_id, organization_id, user_id, seed) VALUES ($1, '{}', '{}', 'x2')", w.a.id, me.user_id), b_project),
            ("system_logs", format!("INSERT INTO system_logs (organization_id, user_id, action_type, status, message) VALUES ($1, '{}', 'x', 'success', 'x')", me.user_id), b_org),
            ("system_logs about B's project", format!("INSERT INTO system_logs (organization_id, user_id, project_id, action_type, status, message) VALUES ('{}', '{}', $1, 'x', 'success', 'x')", w.a.id, me.user_id), b_project),
            ("moving a project to B", "UPDATE projects SET organization_id = $1".to_owned(), b_org),
            ("share_links", format!("INSERT INTO share_links (organization_id, generation_id, created_by, expires_at) VALUES ($1, '{}', '{}', now() + interval '1 day')", w.b_generation, me.user_id), b_org),
            ("share links of B's generation", format!("INSERT INTO share_links (organization_id, generation_id, created_by, expires_at) VALUES ('{}', $1, '{}', now() + interval '1 day')", w.a.id, me.user_id), w.b_generation),
            ("footage", format!("INSERT INTO footage (id, organization_id, project_id, user_id, kind, object_key, poster_key, sha256, size, width, height, codec, position) VALUES ('{}', $1, '{}', '{}', 'image', 'k', 'p', 's', 1, 16, 16, 'png', 0)", w.b_footage, w.b_project, me.user_id), b_org),
            // A finished footage upload of A's for B's project, then its row: the upload is refused.
            ("footage in B's project", format!("WITH u AS (INSERT INTO uploads (organization_id, project_id, user_id, length, \"offset\", state, object_key, sha256, expires_at, purpose) VALUES ('{}', $1, '{}', 1, 1, 'complete', 'k', 's', now(), 'footage') RETURNING id) INSERT INTO footage (id, organization_id, project_id, user_id, kind, object_key, poster_key, sha256, size, width, height, codec, position) SELECT u.id, '{}', $1, '{}', 'image', '{}/' || $1 || '/footage/' || u.id || '/source.png', '{}/' || $1 || '/footage/' || u.id || '/poster.jpg', 's', 1, 16, 16, 'png', 0 FROM u", w.a.id, me.user_id, w.a.id, me.user_id, w.a.id, w.a.id), b_project),
        ];
        for (what, sql, bind) in inserts {
            let r = attempt(&mut tx, &sql, bind).await;
            assert!(
                matches!(r, Err(ref c) if c == "42501"),
                "{role}: writing {what} into B must be refused, got {r:?}"
            );
        }
        // A's own footage naming B's files: refused by its keys' check (viewers, by RLS first).
        let sql = format!(
            "WITH u AS (INSERT INTO uploads (organization_id, project_id, user_id, length, \"offset\", state, object_key, sha256, expires_at, purpose) \
             VALUES ('{a}', '{p}', '{me}', 1, 1, 'complete', 'k', 's', now(), 'footage') RETURNING id) \
             INSERT INTO footage (id, organization_id, project_id, user_id, kind, object_key, poster_key, sha256, size, width, height, codec, position) \
             SELECT u.id, '{a}', '{p}', '{me}', 'image', $1 || '/{bp}/footage/{bf}/source.mp4', $1 || '/{bp}/footage/{bf}/poster.jpg', 's', 1, 16, 16, 'png', 0 FROM u",
            a = w.a.id,
            p = w.a_project,
            me = me.user_id,
            bp = w.b_project,
            bf = w.b_footage,
        );
        let r = attempt(&mut tx, &sql, b_org).await;
        assert!(matches!(r, Err(ref c) if c == "42501" || c == "23514"), "{role}: footage naming B's files: {r:?}");
        let feed: i64 = sqlx::query_scalar("SELECT count(*) FROM sync.row_versions WHERE organization_id = $1")
            .bind(b_org)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(feed, 0, "{role} sees B's change feed");
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn the_request_role_without_claims_sees_zero_rows() {
    let w = world().await;
    let mut tx = w.s.as_app(None).await;
    for table in TABLES.iter().chain(&["invitations", "sync.row_versions"]) {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} must be invisible without claims");
    }
    for table in ["auth.users", "auth.refresh_tokens", "auth_private.removed_members"] {
        let r =
            attempt(&mut tx, &format!("SELECT count(*) FROM {table} WHERE $1::uuid IS NOT NULL"), Uuid::nil()).await;
        assert!(r.is_err(), "the request role must not read {table}");
    }
    let bypass: bool = sqlx::query_scalar("SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert!(!bypass, "the request role must not bypass RLS");
    let owns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname IN ('resonance_app', 'resonance_auth')",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(owns, 0, "the request roles must own nothing");
}

/// (method, path, body, allowed roles, status when allowed)
type Case = (Method, String, Option<Value>, &'static [&'static str], StatusCode);

#[tokio::test]
async fn the_role_matrix_holds_for_every_endpoint() {
    let w = world().await;
    let (s, a) = (&w.s, &w.a);
    let all: &[&str] = &ROLES;
    let dev_up: &[&str] = &["developer", "admin", "owner"];
    let admin_up: &[&str] = &["admin", "owner"];
    let none: &[&str] = &[];
    for role in ROLES {
        let me = a.by_role(role);
        // A fresh project per role, made by the owner, so deletes do not interfere.
        let (_, p) = s.post("/v1/projects", &a.owner.access, new_project(&format!("p-{role}"))).await;
        let pid = p["id"].as_str().unwrap().to_owned();
        let target = s.add_member(&a.owner, &format!("target-{role}@alpha.test"), "viewer").await;
        let cases: Vec<Case> = vec![
            (Method::GET, "/v1/me".into(), None, all, StatusCode::OK),
            (Method::GET, "/v1/projects".into(), None, all, StatusCode::OK),
            (Method::GET, format!("/v1/projects/{pid}"), None, all, StatusCode::OK),
            (Method::GET, format!("/v1/projects/{pid}/generations"), None, all, StatusCode::OK),
            (Method::GET, "/v1/members".into(), None, all, StatusCode::OK),
            (Method::GET, "/v1/system-logs".into(), None, all, StatusCode::OK),
            (Method::GET, "/v1/sync".into(), None, all, StatusCode::OK),
            (
                Method::POST,
                "/v1/projects".into(),
                Some(new_project(&format!("new-{role}"))),
                dev_up,
                StatusCode::CREATED,
            ),
            (Method::PATCH, format!("/v1/projects/{pid}"), Some(json!({"prompt": "brighter"})), dev_up, StatusCode::OK),
            (
                Method::POST,
                "/v1/members".into(),
                Some(json!({"email": format!("inv-{role}@alpha.test"), "role": "viewer"})),
                admin_up,
                StatusCode::CREATED,
            ),
            (
                Method::POST,
                "/v1/members".into(),
                Some(json!({"email": format!("own-{role}@alpha.test"), "role": "owner"})),
                &["owner"],
                StatusCode::CREATED,
            ),
            (
                Method::PATCH,
                format!("/v1/members/{}", target.user_id),
                Some(json!({"role": "developer"})),
                admin_up,
                StatusCode::OK,
            ),
            (
                Method::PATCH,
                format!("/v1/members/{}", target.user_id),
                Some(json!({"role": "owner"})),
                &["owner"],
                StatusCode::OK,
            ),
            (
                Method::PATCH,
                "/v1/organization".into(),
                Some(json!({"name": format!("Alpha by {role}")})),
                admin_up,
                StatusCode::OK,
            ),
            // Billing and usage fields: nobody, not even the owner, changes them through the API.
            (
                Method::PATCH,
                "/v1/organization".into(),
                Some(json!({"subscription_status": "active"})),
                none,
                StatusCode::OK,
            ),
            (Method::PATCH, "/v1/organization".into(), Some(json!({"generations_limit": 1000})), none, StatusCode::OK),
            (
                Method::PATCH,
                "/v1/organization".into(),
                Some(json!({"subscription_plan": "studio"})),
                none,
                StatusCode::OK,
            ),
            (Method::DELETE, format!("/v1/projects/{pid}"), None, admin_up, StatusCode::NO_CONTENT),
        ];
        for (method, path, body, allowed, ok) in cases {
            let (status, resp) = s.call(method.clone(), &path, Some(&me.access), body).await;
            if allowed.contains(&role) {
                assert_eq!(status, ok, "{role} {method} {path} must be allowed: {resp}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role} {method} {path} must be forbidden: {resp}");
                assert_eq!(error_code(&resp), "forbidden");
            }
        }
        // Removing a member: admins and owners only (target is an owner now only for owner's run).
        let victim = s.add_member(&a.owner, &format!("victim-{role}@alpha.test"), "viewer").await;
        let (status, resp) = s.delete(&format!("/v1/members/{}", victim.user_id), &me.access).await;
        let expected = if admin_up.contains(&role) { StatusCode::NO_CONTENT } else { StatusCode::FORBIDDEN };
        assert_eq!(status, expected, "{role} DELETE member: {resp}");
    }
    let (limit, status): (i32, String) =
        sqlx::query_as("SELECT generations_limit, subscription_status FROM organizations WHERE id = $1")
            .bind(a.id)
            .fetch_one(&s.owner)
            .await
            .unwrap();
    assert_eq!((limit, status.as_str()), (3, "trialing"), "billing fields must be unchanged");
}

#[tokio::test]
async fn owners_are_protected() {
    let w = world().await;
    let (s, a) = (&w.s, &w.a);
    // An admin can neither demote nor remove an owner, nor promote anyone to owner.
    let (status, _) =
        s.patch(&format!("/v1/members/{}", a.owner.user_id), &a.admin.access, json!({"role": "viewer"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s.delete(&format!("/v1/members/{}", a.owner.user_id), &a.admin.access).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) =
        s.patch(&format!("/v1/members/{}", a.admin.user_id), &a.admin.access, json!({"role": "owner"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The last owner cannot step down; nobody removes themselves.
    let (status, body) =
        s.patch(&format!("/v1/members/{}", a.owner.user_id), &a.owner.access, json!({"role": "admin"})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "conflict"), "{body}");
    let (status, _) = s.delete(&format!("/v1/members/{}", a.admin.user_id), &a.admin.access).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // With a second owner, the first may step down.
    let (status, _) =
        s.patch(&format!("/v1/members/{}", a.admin.user_id), &a.owner.access, json!({"role": "owner"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        s.patch(&format!("/v1/members/{}", a.owner.user_id), &a.owner.access, json!({"role": "admin"})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn in_sql_roles_cannot_escalate_or_touch_billing() {
    let w = world().await;
    for role in ROLES {
        let me = w.a.by_role(role);
        let mut tx = w.s.as_app(Some(me.user_id)).await;
        for col in [
            "generations_limit = 1000",
            "subscription_status = 'active'",
            "generations_this_month = 0",
            "stripe_customer_id = 'cus_x'",
            "trial_ends_at = now() + interval '10 years'",
            "subscription_plan = 'studio'",
        ] {
            let r = attempt(&mut tx, &format!("UPDATE organizations SET {col} WHERE id = $1"), w.a.id).await;
            assert_eq!(r, Err("42501".into()), "{role} must not be able to set {col} in SQL");
        }
        if role != "owner" {
            let r = attempt(&mut tx, "UPDATE users SET role = 'owner' WHERE id = $1", me.user_id).await;
            assert!(matches!(r, Err(ref c) if c == "RZ403") || r == Ok(0), "{role} escalated to owner: {r:?}");
        }
        if role == "viewer" {
            let r = attempt(&mut tx, "UPDATE projects SET name = 'x' WHERE organization_id = $1", w.a.id).await;
            assert_eq!(r, Ok(0), "a viewer edits no project");
        }
        if role == "viewer" || role == "developer" {
            let r = attempt(&mut tx, "DELETE FROM projects WHERE organization_id = $1", w.a.id).await;
            assert_eq!(r, Ok(0), "{role} deletes no project");
        }
        tx.rollback().await.unwrap();
    }
}
