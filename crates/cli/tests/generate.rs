//! `resonance generate`: starts a generation on the server, shows it from the mirror at once,
//! and says in words why the server refuses (quota, role) or cannot be reached.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_starts_one_and_refusals_are_told_in_words() {
    let keyring = Keyring::start();
    let mut backend = Backend::start().await;
    let (owner, _) = backend.signup("jo@example.com", "Jo").await;
    backend.add_member(&owner, "viewer@example.com", "viewer").await;
    let wav = tone_wav(keyring.dir.path(), "t.wav", 0.5);
    let m = Machine::new(&keyring, &backend.base);
    assert!(m.login("jo@example.com").await.status.success());
    let project =
        m.ok(&["project", "create", "--name", "Track", "--prompt", "p", "--audio", wav.to_str().unwrap()]).await;
    let project = project.trim().to_owned();
    for n in 1..=2 {
        let out = m.run(&["generate", &project]).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains(&format!("Started generation #{n}")), "{}", stderr(&out));
    }
    // The settings left out are the ones every client starts from (the desktop's test checks its
    // form's the same way).
    let made = &backend.projects(&owner).await[&project];
    let d = resonance_api::projects::PROJECT_DEFAULTS;
    assert_eq!(
        (&made["resolution"], &made["aspect"], &made["style_preference"]),
        (&serde_json::json!(d.resolution), &serde_json::json!(d.aspect), &serde_json::json!(d.style_preference)),
        "{made}"
    );
    assert_eq!(
        (made["footage_visibility"].as_f64(), made["effect_intensity"].as_f64()),
        (Some(d.footage_visibility), Some(d.effect_intensity)),
        "a project made from the CLI gets the shared defaults: {made}"
    );
    // A part of a longer song, written as a creator writes times; a time that is not one is
    // refused before anything is sent.
    let long = tone_wav(keyring.dir.path(), "long.wav", 4.0);
    let other =
        m.ok(&["project", "create", "--name", "Long", "--prompt", "p", "--audio", long.to_str().unwrap()]).await;
    let other = other.trim().to_owned();
    let bad = m.run(&["generate", &other, "--from", "1:5"]).await;
    assert!(!bad.status.success() && stderr(&bad).contains("not a time in the song"), "{}", stderr(&bad));
    let part = m.run(&["generate", &other, "--from", "0:01", "--to", "3"]).await;
    assert!(part.status.success(), "{}", stderr(&part));
    let text = m.ok(&["generations", &other]).await;
    assert!(text.contains("part 0:01–0:03"), "{text}");
    let listed = m.json(&["generations", &project, "--json"]).await;
    let numbers: Vec<i64> =
        listed.as_array().unwrap().iter().map(|g| g["generation_number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, vec![2, 1], "the mirror shows them at once, newest first");
    assert!(listed.as_array().unwrap().iter().all(|g| g["status"] == "pending"));
    // The free plan's three are used: the fourth is refused, in words, and nothing is charged.
    let fourth = m.run(&["generate", &project, "--seed", "again"]).await;
    assert_eq!(fourth.status.code(), Some(5), "{}", stderr(&fourth));
    assert!(stderr(&fourth).contains("All 3 generations of this month are used"), "{}", stderr(&fourth));
    // A viewer may not; offline, the user is told the server cannot be reached.
    let v = Machine::new(&keyring, &backend.base);
    assert!(v.login("viewer@example.com").await.status.success());
    let refused = v.run(&["generate", &project]).await;
    assert_eq!(refused.status.code(), Some(5));
    assert!(stderr(&refused).contains("Viewers cannot start generations"), "{}", stderr(&refused));
    backend.stop().await;
    let offline = m.run(&["generate", &project]).await;
    assert_eq!(offline.status.code(), Some(4), "{}", stderr(&offline));
    assert!(stderr(&offline).contains("cannot be reached"));
}
