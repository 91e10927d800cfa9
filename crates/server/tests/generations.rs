//! Starting generations: role, subscription and quota refusals each with their own code, the
//! quota holding under 20 concurrent requests, gapless numbering, seeds, idempotent retries,
//! and the render job queued with the generation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

async fn start(s: &TestServer, token: &str, project: &str, key: Uuid, body: Value) -> (StatusCode, Value) {
    s.start_generation(token, project, key, body).await
}

async fn counter(s: &TestServer, org: Uuid) -> i32 {
    sqlx::query_scalar("SELECT generations_this_month FROM organizations WHERE id = $1")
        .bind(org)
        .fetch_one(&s.owner)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_developer_starts_a_generation_once_per_key_and_its_job_is_queued() {
    let s = TestServer::start().await;
    let org = s.organization("gen").await;
    let (_, p) = s.post("/v1/projects", &org.developer.access, new_project("Track")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    let key = Uuid::new_v4();
    let (status, g) = start(&s, &org.developer.access, &project, key, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    assert_eq!((g["generation_number"].as_i64(), g["status"].as_str()), (Some(1), Some("pending")));
    assert!(g["seed"].as_str().unwrap().len() >= 16);
    assert_eq!(counter(&s, org.id).await, 1);
    // The retry is answered with the same generation and not charged again.
    let (again, g2) = start(&s, &org.developer.access, &project, key, json!({})).await;
    assert_eq!((again, &g2), (StatusCode::CREATED, &g));
    assert_eq!(counter(&s, org.id).await, 1, "a retried request must not be charged twice");
    let jobs: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT generation_id, state FROM render.jobs").fetch_all(&s.owner).await.unwrap();
    assert_eq!(jobs, vec![(g["id"].as_str().unwrap().parse().unwrap(), "queued".to_owned())]);
    let (_, p) = s.get(&format!("/v1/projects/{project}"), &org.developer.access).await;
    assert_eq!(p["status"], "queued");
    let (_, logs) = s.get("/v1/system-logs", &org.admin.access).await;
    assert!(logs.as_array().unwrap().iter().any(|l| l["action_type"] == "generation.start"), "{logs}");

    // Viewers may not; another organization's project does not exist; the key is required.
    let (status, err) = start(&s, &org.viewer.access, &project, Uuid::new_v4(), json!({})).await;
    assert_eq!((status, error_code(&err)), (StatusCode::FORBIDDEN, "forbidden"));
    let other = s.organization("other").await;
    let (status, err) = start(&s, &other.owner.access, &project, Uuid::new_v4(), json!({})).await;
    assert_eq!((status, error_code(&err)), (StatusCode::NOT_FOUND, "not_found"));
    let no_key = s
        .http
        .post(format!("{}/v1/projects/{project}/generations", s.base))
        .bearer_auth(&org.developer.access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), StatusCode::BAD_REQUEST);
    assert_eq!(counter(&s, org.id).await, 1, "refusals change nothing");
}

#[tokio::test]
async fn each_refusal_has_its_own_code_and_says_why() {
    let s = TestServer::start().await;
    let org = s.organization("plan").await;
    let (_, p) = s.post("/v1/projects", &org.developer.access, new_project("Track")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    let set = |sql: &'static str| {
        let pool = s.owner.clone();
        let id = org.id;
        async move { sqlx::query(sql).bind(id).execute(&pool).await.unwrap() }
    };
    set("UPDATE organizations SET subscription_status = 'trialing', trial_ends_at = now() - interval '1 day' WHERE id = $1").await;
    let (status, err) = start(&s, &org.developer.access, &project, Uuid::new_v4(), json!({})).await;
    assert_eq!((status.as_u16(), error_code(&err)), (402, "trial_ended"), "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("trial ended"), "{err}");
    set("UPDATE organizations SET subscription_status = 'past_due' WHERE id = $1").await;
    let (status, err) = start(&s, &org.developer.access, &project, Uuid::new_v4(), json!({})).await;
    assert_eq!((status.as_u16(), error_code(&err)), (402, "subscription_inactive"));
    assert!(err["error"]["message"].as_str().unwrap().contains("past due"), "{err}");
    set("UPDATE organizations SET subscription_status = 'active', generations_this_month = 3, generations_limit = 3 WHERE id = $1").await;
    let (status, err) = start(&s, &org.developer.access, &project, Uuid::new_v4(), json!({})).await;
    assert_eq!((status.as_u16(), error_code(&err)), (402, "quota_exceeded"));
    assert!(err["error"]["message"].as_str().unwrap().contains("3 generations"), "{err}");
    // An active subscription generates even after the trial date; a trial before it does too.
    set("UPDATE organizations SET generations_this_month = 0 WHERE id = $1").await;
    assert_eq!(start(&s, &org.developer.access, &project, Uuid::new_v4(), json!({})).await.0, StatusCode::CREATED);
    set("UPDATE organizations SET subscription_status = 'trialing', trial_ends_at = now() + interval '3 days' WHERE id = $1").await;
    assert_eq!(start(&s, &org.developer.access, &project, Uuid::new_v4(), json!({})).await.0, StatusCode::CREATED);
    assert_eq!(counter(&s, org.id).await, 2);
}

#[tokio::test]
async fn twenty_concurrent_requests_with_three_left_make_exactly_three() {
    let s = TestServer::start().await;
    let org = s.organization("race").await;
    sqlx::query("UPDATE organizations SET generations_this_month = 2, generations_limit = 5 WHERE id = $1")
        .bind(org.id)
        .execute(&s.owner)
        .await
        .unwrap();
    let mut projects = Vec::new();
    for name in ["A", "B"] {
        let (_, p) = s.post("/v1/projects", &org.developer.access, new_project(name)).await;
        projects.push(p["id"].as_str().unwrap().to_owned());
    }
    let requests = (0..20).map(|i| {
        let (s, token, project) = (&s, org.developer.access.clone(), projects[i % 2].clone());
        async move { start(s, &token, &project, Uuid::new_v4(), json!({})).await }
    });
    let answers = futures::future::join_all(requests).await;
    let made = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    let refused =
        answers.iter().filter(|(status, body)| status.as_u16() == 402 && error_code(body) == "quota_exceeded").count();
    assert_eq!((made, refused), (3, 17), "{answers:?}");
    assert_eq!(counter(&s, org.id).await, 5);
    // Per project, numbers run 1, 2, … without gaps or repeats.
    for project in &projects {
        let numbers: Vec<i32> = sqlx::query_scalar(
            "SELECT generation_number FROM generations WHERE project_id = $1 ORDER BY generation_number",
        )
        .bind(project.parse::<Uuid>().unwrap())
        .fetch_all(&s.owner)
        .await
        .unwrap();
        assert_eq!(numbers, (1..=numbers.len() as i32).collect::<Vec<_>>());
    }
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM render.jobs").fetch_one(&s.owner).await.unwrap();
    assert_eq!(jobs, 3);
}

#[tokio::test]
async fn a_seed_can_be_given_again_to_re_render() {
    let s = TestServer::start().await;
    let org = s.organization("seed").await;
    sqlx::query("UPDATE organizations SET generations_limit = 10 WHERE id = $1")
        .bind(org.id)
        .execute(&s.owner)
        .await
        .unwrap();
    let (_, p) = s.post("/v1/projects", &org.developer.access, new_project("Track")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    let (_, first) = start(&s, &org.developer.access, &project, Uuid::new_v4(), json!({"seed": "night-drive_7"})).await;
    assert_eq!(first["seed"], "night-drive_7");
    let (_, again) = start(&s, &org.developer.access, &project, Uuid::new_v4(), json!({"seed": "night-drive_7"})).await;
    assert_eq!(again["seed"], "night-drive_7~2");
    // Pasting back the stored seed re-renders the same render seed.
    let (_, third) =
        start(&s, &org.developer.access, &project, Uuid::new_v4(), json!({"seed": "night-drive_7~2"})).await;
    assert_eq!(third["seed"], "night-drive_7~3");
    assert_eq!(third["generation_number"], 3);
    let (status, err) = start(&s, &org.developer.access, &project, Uuid::new_v4(), json!({"seed": "no spaces"})).await;
    assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("seed")));
}

/// A part of the song: stored on the generation and in its render job's inputs, counted once
/// against the quota; an end past the song is its end; a part that is too short, backwards or
/// after the song's end is refused naming the field, and nothing is counted.
#[tokio::test]
async fn a_generation_of_a_part_of_the_song_is_stored_checked_and_counted_once() {
    let s = TestServer::start().await;
    let org = s.organization("trim").await;
    sqlx::query("UPDATE organizations SET generations_limit = 10 WHERE id = $1")
        .bind(org.id)
        .execute(&s.owner)
        .await
        .unwrap();
    let token = &org.developer.access;
    // The song is 183.5 s long (`new_project`).
    let (_, p) = s.post("/v1/projects", token, new_project("Part")).await;
    let project = p["id"].as_str().unwrap().to_owned();
    let (status, g) = start(&s, token, &project, Uuid::new_v4(), json!({"trim_start": 40, "trim_end": 60})).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    assert_eq!((g["trim_start"].as_f64(), g["trim_end"].as_f64()), (Some(40.0), Some(60.0)), "{g}");
    let inputs: Value = sqlx::query_scalar("SELECT inputs FROM render.jobs WHERE generation_id = $1::uuid")
        .bind(g["id"].as_str().unwrap())
        .fetch_one(&s.owner)
        .await
        .unwrap();
    assert_eq!((inputs["trim_start"].as_f64(), inputs["trim_end"].as_f64()), (Some(40.0), Some(60.0)), "{inputs}");
    assert_eq!(inputs["aspect"], "16:9", "{inputs}");
    assert_eq!(counter(&s, org.id).await, 1);

    // To the song's end: an end past it, or none.
    let (_, g) = start(&s, token, &project, Uuid::new_v4(), json!({"trim_start": 170, "trim_end": 500})).await;
    assert_eq!((g["trim_start"].as_f64(), g["trim_end"].as_f64()), (Some(170.0), None), "{g}");
    // An end within half a frame of the song's end is its end (a client's copy of the length may
    // differ in its last digits), and the whole song is no trim at all.
    let (status, g) =
        start(&s, token, &project, Uuid::new_v4(), json!({"trim_start": 0.001, "trim_end": 183.49})).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    assert!(g["trim_start"].is_null() && g["trim_end"].is_null(), "{g}");
    let (_, g) = start(&s, token, &project, Uuid::new_v4(), json!({"trim_start": 10, "trim_end": 183.49})).await;
    assert_eq!((g["trim_start"].as_f64(), g["trim_end"].as_f64()), (Some(10.0), None), "{g}");
    assert_eq!(counter(&s, org.id).await, 4);

    for (body, field) in [
        (json!({"trim_start": 40, "trim_end": 40.5}), "trim_end"),
        (json!({"trim_start": 60, "trim_end": 40}), "trim_end"),
        (json!({"trim_start": -1}), "trim_start"),
        (json!({"trim_start": 183}), "trim_start"),
        (json!({"trim_start": 200, "trim_end": 260}), "trim_start"),
    ] {
        let (status, err) = start(&s, token, &project, Uuid::new_v4(), body.clone()).await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}: {err}"
        );
        assert!(!err["error"]["message"].as_str().unwrap_or_default().is_empty(), "{err}");
    }
    let (_, err) = start(&s, token, &project, Uuid::new_v4(), json!({"trim_start": 200})).await;
    assert!(err["error"]["message"].as_str().unwrap().contains("starts at 3:20, but the song is 3:03.5 long"), "{err}");
    assert_eq!(counter(&s, org.id).await, 4, "refusals are not counted");
}
