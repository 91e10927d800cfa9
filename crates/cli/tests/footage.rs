//! `resonance footage`: clips and stills added to a project from this machine (judged before a
//! byte is sent), listed from the mirror (offline too), moved, trimmed and removed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

fn made(dir: &std::path::Path, name: &str, args: &str) -> std::path::PathBuf {
    let out = dir.join(name);
    let ok = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args.split_whitespace())
        .arg(&out)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg {args}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn footage_is_added_listed_arranged_and_removed_from_the_command_line() {
    let keyring = Keyring::start();
    let mut backend = Backend::start().await;
    backend.signup("ana@example.com", "Ana").await;
    let dir = keyring.dir.path();
    let wav = tone_wav(dir, "song.wav", 1.0);
    let clip = made(dir, "band.mp4", "-f lavfi -i testsrc2=s=320x240:r=30:d=2 -c:v libx264 -pix_fmt yuv420p");
    let still = made(dir, "cover.png", "-f lavfi -i testsrc2=s=64x48 -frames:v 1");
    let m = Machine::new(&keyring, &backend.base);
    assert!(m.login("ana@example.com").await.status.success());
    let project =
        m.ok(&["project", "create", "--name", "Clip", "--prompt", "p", "--audio", wav.to_str().unwrap()]).await;
    let project = project.trim().to_owned();

    // The song is refused as footage, naming why; the clip and the still go up all the same.
    let added = m
        .run(&["footage", "add", &project, clip.to_str().unwrap(), wav.to_str().unwrap(), still.to_str().unwrap()])
        .await;
    assert_eq!(added.status.code(), Some(5), "{}", stderr(&added));
    assert!(stderr(&added).contains("song.wav is not footage we can use: it holds no picture"), "{}", stderr(&added));
    let listed = m.json(&["footage", "list", &project, "--json"]).await;
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|f| f["filename"].as_str().unwrap()).collect();
    assert_eq!(names, ["band.mp4", "cover.png"]);
    let (clip_id, still_id) =
        (listed[0]["id"].as_str().unwrap().to_owned(), listed[1]["id"].as_str().unwrap().to_owned());

    // Moved first, trimmed, shown in words.
    assert!(m.run(&["footage", "move", &still_id, "--to", "1"]).await.status.success());
    let trimmed = m.run(&["footage", "trim", &clip_id, "--in", "0.5", "--out", "0:01.5"]).await;
    assert!(trimmed.status.success(), "{}", stderr(&trimmed));
    let text = m.ok(&["footage", "list", &project]).await;
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("cover.png") && lines[0].contains("still"), "{text}");
    assert!(lines[1].contains("band.mp4") && lines[1].contains("uses 0:00.5–0:01.5"), "{text}");
    let outside = m.run(&["footage", "trim", &clip_id, "--out", "9"]).await;
    assert_eq!(outside.status.code(), Some(5), "{}", stderr(&outside));
    assert!(stderr(&outside).contains("within the clip"), "{}", stderr(&outside));

    // Offline, the list still shows from the mirror; changes need the server.
    backend.stop().await;
    let text = m.ok(&["footage", "list", &project]).await;
    assert_eq!(text.lines().count(), 2, "{text}");
    let offline = m.run(&["footage", "rm", &clip_id]).await;
    assert_eq!(offline.status.code(), Some(4), "{}", stderr(&offline));
    backend.restart().await;
    assert!(m.run(&["footage", "rm", &clip_id]).await.status.success());
    let left = m.json(&["footage", "list", &project, "--json"]).await;
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["position"], 0);
}
