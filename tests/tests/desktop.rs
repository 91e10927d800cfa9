//! The desktop app end to end, in a real window under Xvfb driven through tauri-driver and
//! WebKitWebDriver, against the real server, render worker and Postgres, with a real Secret
//! Service and notification daemon on a private D-Bus session. Screenshots of every screen are
//! written to `$CARGO_TARGET_DIR/e2e-screenshots/` (or `target/`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use resonance_e2e::desktop::{app_binary, Desktop};
use resonance_e2e::webdriver::{WebDriver, ALT, ARROW_LEFT, ARROW_RIGHT, CONTROL, ENTER, TAB};
use resonance_e2e::{Backend, Keyring, StripeStandIn, PASSWORD};
use serde_json::json;

const SHORT: Duration = Duration::from_secs(20);
const LONG: Duration = Duration::from_secs(180);

fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("target"));
    target.join("e2e-screenshots")
}

/// Twelve seconds of a 120 BPM beat (a kick on every beat, a tone above it), as MP3.
fn beat_mp3(dir: &Path) -> PathBuf {
    let rate = 44_100usize;
    let frames = rate * 12;
    let mut pcm = Vec::with_capacity(frames * 2);
    for i in 0..frames {
        let t = i as f64 / rate as f64;
        let since_beat = t % 0.5;
        let kick = (-since_beat * 30.0).exp() * (std::f64::consts::TAU * 60.0 * since_beat).sin();
        let tone = 0.15 * (std::f64::consts::TAU * 330.0 * t).sin();
        pcm.extend_from_slice(&(((kick * 0.8 + tone) * 20_000.0) as i16).to_le_bytes());
    }
    let raw = dir.join("beat.raw");
    std::fs::write(&raw, pcm).unwrap();
    let mp3 = dir.join("Night Drive.mp3");
    let status = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "s16le", "-ar", "44100", "-ac", "1", "-i"])
        .arg(&raw)
        .args(["-b:a", "128k"])
        .arg(&mp3)
        .status()
        .expect("ffmpeg is needed: run the tests with `cargo xtask test`");
    assert!(status.success(), "ffmpeg could not encode the test track");
    mp3
}

/// A clip or picture made by ffmpeg from `args`.
fn media_file(dir: &Path, name: &str, args: &str) -> PathBuf {
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

/// Waits until the app has asked the browser to open a URL starting with `prefix`; returns all.
async fn wait_for_url(desktop: &Desktop, prefix: &str) -> Vec<String> {
    for _ in 0..80 {
        let opened = desktop.opened_urls();
        if opened.iter().any(|u| u.starts_with(prefix)) {
            return opened;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the browser was never asked to open {prefix}…: {:?}", desktop.opened_urls());
}

/// Signs in on the sign-in screen with the test password; returns once the project list is shown.
async fn sign_in(wd: &WebDriver, email: &str) {
    wd.type_into(&wd.wait_for("#email", SHORT).await, email).await;
    wd.type_into(&wd.wait_for("#password", SHORT).await, PASSWORD).await;
    wd.click(&wd.wait_for("[data-submit]", SHORT).await).await;
    wd.wait_for("[data-screen=projects] [data-project-count]", SHORT).await;
}

/// The app started on `server` and signed in as `email` (with the test password).
async fn signed_in(keyring: &Keyring, server: &str, email: &str) -> (Desktop, WebDriver) {
    let desktop = Desktop::start(keyring, server);
    let wd = WebDriver::launch(&desktop.driver, &app_binary()).await;
    sign_in(&wd, email).await;
    (desktop, wd)
}

/// Opens generation #1 on the project's screen and plays its video, muted, until it has
/// played a moment (`what` says which video, for the message if it does not).
async fn play_first_render(wd: &WebDriver, what: &str) {
    wd.click(&wd.wait_for("[data-generation='1']", SHORT).await).await;
    wd.wait_for("video[data-video]", SHORT).await;
    wd.execute("document.querySelector('video').muted = true; document.querySelector('video').play();", json!([]))
        .await;
    wd.wait_until(
        what,
        "const v = document.querySelector('video'); return v && v.readyState >= 2 && v.currentTime > 0.2;",
        SHORT,
    )
    .await;
}

async fn shot(desktop: &Desktop, name: &str) {
    // Let transitions and pending redraws settle before the picture.
    tokio::time::sleep(Duration::from_millis(400)).await;
    desktop.screenshot(&screenshots().join(format!("{name}.png")));
}

/// Sums a look canvas's pixels, weighted so that a different frame sums differently; a black
/// canvas sums to 0, a drawn frame of the dark night city well above 1e7.
const CANVAS_SUM: &str = "const c = document.querySelector('[data-look-canvas]'); \
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; \
    let s = 0; for (let i = 0; i < d.length; i += 4) s += (d[i] * 3 + d[i + 1] * 5 + d[i + 2] * 7) * (1 + (i % 97)); return s;";

/// A phone clip and a cover image to drop as footage.
fn footage(dir: &Path) -> (PathBuf, PathBuf) {
    let clip = media_file(
        dir,
        "band-take.mp4",
        "-f lavfi -i testsrc2=s=1280x720:r=30:d=4 -c:v libx264 -b:v 8M -pix_fmt yuv420p",
    );
    let cover = media_file(dir, "cover.png", "-f lavfi -i mandelbrot=s=1080x1350 -frames:v 1");
    (clip, cover)
}

/// Makes a project in the editor from `track` (named after the file, "Night Drive") with
/// `prompt`, in `shape` (resolution, aspect) when given; returns once the project's screen shows.
async fn new_project(wd: &WebDriver, track: &Path, prompt: &str, shape: Option<(&str, &str)>) {
    wd.click(&wd.wait_for("[data-new-project]", SHORT).await).await;
    wd.wait_for("[data-screen=new-project] [data-drop-ready]", SHORT).await;
    wd.drop_file(track).await;
    wd.wait_until(
        "the project is named after the file",
        "return document.querySelector('#name').value === 'Night Drive'",
        SHORT,
    )
    .await;
    wd.type_into(&wd.wait_for("#prompt", SHORT).await, prompt).await;
    if let Some((resolution, aspect)) = shape {
        wd.execute(
            &format!("const s = document.querySelector('#resolution'); s.value = '{resolution}'; s.dispatchEvent(new Event('change'));"),
            json!([]),
        )
        .await;
        wd.click(&wd.wait_for(&format!("[data-aspect='{aspect}']"), SHORT).await).await;
    }
    wd.click(&wd.wait_for("[data-save]", SHORT).await).await;
    wd.wait_for("[data-screen=project]", SHORT).await;
}

/// A creator signs in (a wrong password first; a second launch hands over to the first), drops a
/// track on a new project: its tempo (halved by the creator), waveform and playback, the live look
/// preview, the prompt's reading and a vertical shape; the project is saved with the creator's
/// tempo and the shared defaults, and its screen previews the look with the editor's seed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_creator_signs_in_and_the_editor_reads_plays_and_previews_a_dropped_track() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let email = "creator@e2e.resonance.local";
    let (token, _) = backend.signup(email, "E2E Studio").await;
    let track = beat_mp3(keyring.dir.path());

    let desktop = Desktop::start(&keyring, &backend.base);
    let wd = WebDriver::launch(&desktop.driver, &app_binary()).await;

    // Sign in: a wrong password first, then the right one.
    let email_input = wd.wait_for("#email", SHORT).await;
    wd.type_into(&email_input, email).await;
    let password = wd.wait_for("#password", SHORT).await;
    wd.type_into(&password, "not my password").await;
    wd.click(&wd.wait_for("button[type=submit]", SHORT).await).await;
    let error = wd.wait_for("[data-error]", SHORT).await;
    assert!(wd.text(&error).await.contains("Wrong e-mail or password"), "a wrong password is named as such");
    shot(&desktop, "01-sign-in-error").await;
    wd.clear(&password).await;
    wd.type_into(&password, PASSWORD).await;
    wd.click(&wd.wait_for("button[type=submit]", SHORT).await).await;
    wd.wait_for("[data-screen=projects] [data-project-count]", SHORT).await;
    assert!(keyring.secrets().iter().any(|s| !s.is_empty()), "the session must be in the Secret Service after sign-in");
    shot(&desktop, "02-projects-empty").await;
    // A second launch hands over to this one and quits; this window stays.
    let second = desktop.launch_again(&app_binary(), Duration::from_secs(15));
    assert!(second.is_some(), "a second launch must hand over to the running app and exit");
    wd.wait_for("[data-screen=projects]", SHORT).await;

    // New project from a real audio file: the drop is what the OS would deliver to the window.
    wd.click(&wd.wait_for("[data-new-project]", SHORT).await).await;
    wd.wait_for("[data-screen=new-project] [data-drop-ready]", SHORT).await;
    wd.drop_file(&track).await;
    let tempo = wd.wait_for("[data-tempo]", SHORT).await;
    let tempo_text = wd.text(&tempo).await;
    let bpm: f64 = tempo_text.trim_end_matches(" BPM").parse().unwrap_or(0.0);
    assert!((bpm - 120.0).abs() <= 3.0, "a 120 BPM beat must read as 120 BPM, got {tempo_text:?}");
    // A steady kick: the tempo is sure (no "tempo uncertain"; that rule is the UI's unit tests'),
    // and the creator sets another anyway. Halved, the number and the beat grid follow, read
    // again from the track; the render follows it too (checked on the generation below).
    wd.wait_for("[data-tempo-tools]", SHORT).await;
    assert!(wd.find("[data-tempo-uncertain]").await.is_none(), "a steady kick's tempo is not uncertain");
    let beats_detected =
        wd.execute("return Number(document.querySelector('[data-waveform]').dataset.beats)", json!([])).await;
    wd.click(&wd.wait_for("[data-tempo-halve]", SHORT).await).await;
    wd.wait_until(
        "the creator's tempo shows, and the grid has half the beats",
        &format!(
            "const t = document.querySelector('[data-tempo]'); const w = document.querySelector('[data-waveform]'); \
             return t && t.textContent.trim() === '60 BPM' && document.querySelector('[data-tempo-yours]') \
               && Math.abs(Number(w.dataset.beats) * 2 - {beats_detected}) <= 2;"
        ),
        SHORT,
    )
    .await;
    assert!(wd.find("[data-tempo-uncertain]").await.is_none(), "the creator's tempo is not uncertain");
    // Half the detected tempo, to a tenth of a BPM: what is saved and rendered.
    let chosen = wd.execute("return Number(document.querySelector('[data-tempo-input]').value)", json!([])).await;
    let chosen = chosen.as_f64().unwrap_or(0.0);
    assert!((chosen - 60.0).abs() <= 1.5, "the tempo box holds the halved tempo: {chosen}");
    assert_eq!(wd.text(&wd.wait_for("[data-duration]", SHORT).await).await, "0:12");
    let peaks = wd.execute("return Number(document.querySelector('[data-waveform]').dataset.peaks)", json!([])).await;
    assert!(peaks.as_f64().unwrap_or(0.0) >= 2000.0, "the waveform must be drawn from the whole track: {peaks}");
    let name = wd.wait_for("#name", SHORT).await;
    let name_value = wd.execute("return document.querySelector('#name').value", json!([])).await;
    assert_eq!(name_value, json!("Night Drive"), "the project is named after the file");
    // Play, and the playhead moves.
    wd.click(&wd.wait_for("[data-play]", SHORT).await).await;
    wd.wait_until(
        "the preview plays",
        "const a = document.querySelector('audio'); return a && a.currentTime > 0.3;",
        SHORT,
    )
    .await;
    // The live look preview plays with the track: drawn by the render engine, frame after frame.
    let canvas_sum = CANVAS_SUM;
    wd.wait_until("the look preview draws", &format!("return ({canvas_sum}) > 1e7"), SHORT).await;
    assert!(wd.find("[data-look-preview] [role=alert]").await.is_none(), "the preview draws without an error");
    let first = wd.execute(canvas_sum, json!([])).await;
    wd.wait_until("the look preview moves while the track plays", &format!("return ({canvas_sum}) !== {first}"), SHORT)
        .await;
    shot(&desktop, "03-new-project").await;
    wd.click(&wd.wait_for("[data-play]", SHORT).await).await; // pause
    wd.clear(&name).await;
    wd.type_into(&name, "Night Drive").await;
    let still = wd.execute(canvas_sum, json!([])).await;
    wd.type_into(&wd.wait_for("#prompt", SHORT).await, "Neon rain over a night city, pulsing with the kick").await;
    // The prompt is read as it is typed: what each word chose, and what was not understood.
    wd.wait_until(
        "the prompt's reading names its motifs",
        "const m = document.querySelector('[data-prompt-reading] [data-choice=motif]'); \
         return m && document.querySelector('[data-prompt-reading]').textContent.includes('rain');",
        SHORT,
    )
    .await;
    let reading = wd.text(&wd.wait_for("[data-prompt-reading]", SHORT).await).await;
    assert!(reading.contains("city lights") && reading.contains("night"), "the reading: {reading}");
    assert!(
        wd.text(&wd.wait_for("[data-not-understood]", SHORT).await).await.contains("kick"),
        "unknown words are listed"
    );
    wd.wait_until("the paused preview follows the prompt", &format!("return ({canvas_sum}) !== {still}"), SHORT).await;
    let look_seed = wd.text(&wd.wait_for("[data-look-seed]", SHORT).await).await;
    wd.execute(
        "const s = document.querySelector('#resolution'); s.value = '720p'; s.dispatchEvent(new Event('change'));",
        json!([]),
    )
    .await;
    // Vertical, for Shorts: the frame's size follows, and the look preview draws in that shape.
    wd.click(&wd.wait_for("[data-aspect='9:16']", SHORT).await).await;
    wd.wait_until(
        "the frame size follows the shape",
        "return document.querySelector('[data-frame-size]').textContent === '720×1280';",
        SHORT,
    )
    .await;
    wd.wait_until(
        "the look preview draws a vertical frame",
        "const c = document.querySelector('[data-look-canvas]'); return c.width === 270 && c.height === 480 \
         && document.querySelector('[data-look-aspect]').dataset.lookAspect === '9:16';",
        SHORT,
    )
    .await;
    wd.click(&wd.wait_for("[data-save]", SHORT).await).await;

    // The project: no render yet, so its screen previews the look, from the track on this
    // computer, with the seed previewed in the editor.
    wd.wait_for("[data-screen=project]", SHORT).await;
    wd.wait_for("[data-project-look=ready]", SHORT).await;
    wd.wait_until("the project screen's preview draws", &format!("return ({canvas_sum}) > 1e7"), SHORT).await;
    assert_eq!(
        wd.text(&wd.wait_for("[data-project-look] [data-look-seed]", SHORT).await).await,
        look_seed,
        "the project screen previews the seed chosen in the editor"
    );
    shot(&desktop, "03c-project-look").await;

    // On the server: the creator's tempo, and the sliders left alone are the defaults every
    // client shares (the CLI's test checks the same for a project it creates).
    let mut saved = None;
    for _ in 0..80 {
        saved = backend.projects(&token).await.into_values().find(|p| p["name"] == "Night Drive");
        if saved.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let project = saved.expect("the project reaches the server");
    assert_eq!(project["tempo_bpm"].as_f64(), Some(chosen), "the creator's tempo is saved: {project}");
    let d = resonance_api::projects::PROJECT_DEFAULTS;
    assert_eq!(
        (project["footage_visibility"].as_f64(), project["effect_intensity"].as_f64()),
        (Some(d.footage_visibility), Some(d.effect_intensity)),
        "a project made in the app gets the shared defaults: {project}"
    );
}

/// Footage dropped on a project is judged (a file that is not footage is refused by name) and
/// uploads with its progress shown; a part of the song dragged on the waveform snaps to the
/// downbeats and renders, cut with the footage, its card showing the render's progress and
/// reachable by keyboard; the live region and a desktop notification say it is ready, and the
/// notification brings the app to the render.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn footage_and_a_part_of_the_song_are_cut_into_a_render_that_a_notification_announces() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let _worker = backend.spawn_worker().await;
    let email = "noa@e2e.resonance.local";
    let (token, _) = backend.signup(email, "Noa Films").await;
    let track = beat_mp3(keyring.dir.path());
    let (desktop, wd) = signed_in(&keyring, &backend.base, email).await;
    new_project(&wd, &track, "Neon rain over a night city", Some(("720p", "9:16"))).await;
    wd.wait_for("[data-project-look=ready]", SHORT).await;
    let look_seed = wd.text(&wd.wait_for("[data-project-look] [data-look-seed]", SHORT).await).await;

    // Footage: a phone clip, a cover image and a file that only claims to be a clip, dropped on
    // the project together. The two are judged, then upload with progress (every bar value seen
    // is written down); the third is refused, naming why, and nothing of it is kept.
    let (clip, cover) = footage(keyring.dir.path());
    let fake = keyring.dir.path().join("notes.mov");
    std::fs::write(&fake, b"set list: intro, verse, drop").unwrap();
    wd.execute(
        "window.__bars = []; new MutationObserver(() => document.querySelectorAll('[data-footage-upload] [role=progressbar]') \
           .forEach((b) => window.__bars.push(Number(b.getAttribute('aria-valuenow'))))) \
           .observe(document.body, {subtree: true, childList: true, attributes: true});",
        json!([]),
    )
    .await;
    wd.drop_files(&[&clip, &cover, &fake]).await;
    let refused = wd.text(&wd.wait_for("[data-footage-refused]", SHORT).await).await;
    assert!(refused.starts_with("notes.mov is not footage") && refused.contains("ffmpeg cannot read it"), "{refused}");
    wd.wait_until(
        "the clip and the image join the footage, with their posters, and their uploads are over",
        "return document.querySelectorAll('[data-footage-item]').length === 2 \
           && !document.querySelector('[data-footage-upload]') \
           && document.querySelectorAll('[data-footage-poster=shown] img').length === 2 \
           && [...document.querySelectorAll('[data-footage-poster] img')].every((i) => i.complete && i.naturalWidth > 0);",
        LONG,
    )
    .await;
    let bars = wd.execute("return window.__bars", json!([])).await;
    let bars: Vec<f64> = bars.as_array().unwrap().iter().filter_map(|v| v.as_f64()).collect();
    assert!(bars.iter().any(|v| *v > 0.0 && *v < 100.0), "a footage upload's progress was shown on its way: {bars:?}");
    let order = wd
        .execute("return [...document.querySelectorAll('[data-footage-item]')].map((e) => [e.dataset.footageItem, e.dataset.footageName]);", json!([]))
        .await;
    assert_eq!(order, json!([["video", "band-take.mp4"], ["image", "cover.png"]]), "in the order dropped");
    let about = wd.text(&wd.wait_for("[data-footage-item=video]", SHORT).await).await;
    assert!(about.contains("Clip · 0:04 · 1280×720"), "the clip is described: {about}");
    shot(&desktop, "03b-footage").await;
    // The upload finishes, then Generate renders a real video.
    wd.wait_until(
        "Generate becomes possible once the audio is uploaded",
        "const b = document.querySelector('[data-generate]'); return b && !b.disabled;",
        LONG,
    )
    .await;
    let quota = wd.text(&wd.wait_for("[data-quota]", SHORT).await).await;
    assert_eq!(quota, "0 of 3 used", "the month's quota is shown");
    // A part of the song: dragged across the waveform, snapped to the downbeats.
    let wave = wd.wait_for("[data-project-look] [data-waveform]", SHORT).await;
    wd.drag_across(&wave, 0.15, 0.85).await;
    let part = wd.wait_until(
        "the drag selects a part",
        "const f = document.querySelector('[data-trim]'); return f && f.dataset.trim !== 'whole' && f.dataset.trim;",
        SHORT,
    )
    .await;
    let part: Vec<f64> = part.as_str().unwrap_or_default().split('-').filter_map(|v| v.parse().ok()).collect();
    assert!(
        part.len() == 2 && (0.8..3.0).contains(&part[0]) && (9.0..11.3).contains(&part[1]),
        "a drag over 15%–85% of 12 s snaps near 1.8 s and 10.2 s: {part:?}"
    );
    let label = wd.text(&wd.wait_for("[data-generate]", SHORT).await).await;
    assert!(label.starts_with("Generate 0:0") && label.contains("–0:1"), "Generate names the part: {label}");
    // Every badge the card shows on its way is written down.
    wd.execute(
        "window.__badges = []; new MutationObserver(() => document.querySelectorAll(\"[data-generation='1'] [data-status]\") \
           .forEach((b) => window.__badges.push(b.textContent.trim()))) \
           .observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});",
        json!([]),
    )
    .await;
    wd.click(&wd.wait_for("[data-generate]", SHORT).await).await;
    wd.wait_for("[data-generation='1']", SHORT).await;
    shot(&desktop, "04-rendering").await;
    // An unfinished render's card is still reachable by keyboard, its state read out with it.
    let reachable = wd
        .execute(
            "const c = document.querySelector(\"[data-generation='1']\"); c.focus(); \
             return document.activeElement === c && (c.dataset.generationStatus === 'completed' || c.getAttribute('aria-disabled') === 'true');",
            json!([]),
        )
        .await;
    assert_eq!(reachable, json!(true), "the card takes the keyboard focus while it renders");
    wd.wait_for("[data-generation='1'][data-generation-status=completed]", LONG).await;
    // The server's progress events reached the card as the render went.
    let badges = wd.execute("return window.__badges", json!([])).await;
    let badges: Vec<&str> = badges.as_array().unwrap().iter().filter_map(|b| b.as_str()).collect();
    assert!(
        badges.iter().any(|b| {
            b.strip_prefix("Rendering")
                .and_then(|p| p.trim().strip_suffix('%'))
                .is_some_and(|p| p.parse().is_ok_and(|n: u32| n > 0))
        }),
        "the card shows the render's progress: {badges:?}"
    );
    // The live region says so, for whoever is not looking at the card.
    wd.wait_until(
        "the render's end is announced",
        "return document.querySelector('[data-announce]').textContent.includes('is ready');",
        SHORT,
    )
    .await;
    let card = wd.text(&wd.wait_for("[data-generation='1']", SHORT).await).await;
    assert!(card.contains(&look_seed), "Generate renders the look previewed (seed {look_seed}): {card}");
    let projects = backend.projects(&token).await;
    let (project_id, _) =
        projects.iter().find(|(_, p)| p["name"] == "Night Drive").expect("the project is on the server");
    let (_, rendered) =
        backend.call(reqwest::Method::GET, &format!("/v1/projects/{project_id}/generations"), Some(&token), None).await;
    let rendered = &rendered[0];
    // It rendered the part, which starts and ends on downbeats of the render's own analysis (on
    // beats when it found no bars: twelve seconds at 60 BPM are too few).
    assert_eq!((rendered["trim_start"].as_f64(), rendered["trim_end"].as_f64()), (Some(part[0]), Some(part[1])));
    let times = |key: &str| -> Vec<f64> {
        rendered["audio_analysis"][key].as_array().unwrap().iter().filter_map(|v| v.as_f64()).collect()
    };
    let grid = Some(times("downbeats")).filter(|d| !d.is_empty()).unwrap_or_else(|| times("beats"));
    assert!(!grid.is_empty());
    for edge in &part {
        assert!(grid.iter().any(|d| (d - edge).abs() < 1e-3), "{edge} is on the grid {grid:?}");
    }
    let length = rendered["duration"].as_f64().unwrap_or(0.0);
    assert!((length - (part[1] - part[0])).abs() <= 1.0 / 30.0, "the video lasts the part: {length} s for {part:?}");
    // The footage was cut into the render: the plan names both items and cuts to them.
    let plan = &rendered["visual_plan"];
    assert_eq!(plan["footage"].as_array().map(Vec::len), Some(2), "the plan holds the footage: {}", plan["footage"]);
    assert!(plan["cuts"].as_array().is_some_and(|c| !c.is_empty()), "the plan cuts to the footage");
    let card = wd.text(&wd.wait_for("[data-generation='1'] [data-generation-trim]", SHORT).await).await;
    assert!(card.starts_with("Part 0:0"), "the card names the part: {card}");

    // The OS notification went out over D-Bus.
    let told = desktop.wait_for_notification("Night Drive", SHORT).await;
    assert!(told.contains("member=Notify"), "a Notify call must reach the notification daemon: {told}");
    assert!(told.contains("is ready"), "the notification says the render is ready: {told}");

    // Clicking it, from another screen, brings the app to that generation.
    wd.click(&wd.wait_for("[data-nav=activity]", SHORT).await).await;
    wd.wait_for("[data-screen=activity]", SHORT).await;
    desktop.click_notification();
    wd.wait_for("[data-screen=project] .card.selected[data-generation='1']", SHORT).await;
    // The click joined the history: Back returns to where it was clicked.
    wd.chord(&[ALT, ARROW_LEFT]).await;
    wd.wait_for("[data-screen=activity]", SHORT).await;
}

/// A finished render plays in its own shape; a link made in the app plays it without an account;
/// it is exported for Shorts through the system's save dialog; the keys work (Space, →, Alt+← and
/// Alt+→, Ctrl+N, Ctrl+F); the usage meter counts it, and Upgrade on a server without billing
/// says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finished_render_plays_is_shared_exported_and_follows_the_keys() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let _worker = backend.spawn_worker().await;
    let email = "sam@e2e.resonance.local";
    let (token, _) = backend.signup(email, "Sam Sessions").await;
    let (clip, cover) = footage(keyring.dir.path());
    let project =
        json!({"name": "Night Drive", "prompt": "Neon rain over a night city", "resolution": "720p", "aspect": "9:16"});
    // A part of the song, as a creator would send for a short.
    let part = json!({"trim_start": 2.0, "trim_end": 10.0});
    backend.rendered_project(&token, project, &beat_mp3(keyring.dir.path()), &[&clip, &cover], part).await;
    let (desktop, wd) = signed_in(&keyring, &backend.base, email).await;
    wd.click(&wd.wait_for("[data-project='Night Drive']", SHORT).await).await;

    // Play the video.
    play_first_render(&wd, "the video plays").await;
    let shape =
        wd.execute("const v = document.querySelector('video'); return [v.videoWidth, v.videoHeight];", json!([])).await;
    assert_eq!(shape, json!([720, 1280]), "a vertical render plays in its own shape");
    shot(&desktop, "05-project-detail").await;

    // Share it: a link made in the app (a week, the default) plays in a plain HTTP client,
    // without an account.
    wd.click(&wd.wait_for("[data-share-create]", SHORT).await).await;
    wd.wait_for("[data-share-link=active]", SHORT).await;
    let url = wd.execute("return document.querySelector('[data-share-link=active] input').value;", json!([])).await;
    let url = url.as_str().expect("the share link's URL is shown").to_owned();
    let plain = reqwest::Client::new();
    let page = plain.get(&url).send().await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK, "{url}");
    assert!(page.text().await.unwrap().contains("Night Drive"), "the page is titled after the project");
    let video = plain.get(format!("{url}/video")).send().await.unwrap();
    assert_eq!(video.headers()["content-type"], "video/mp4");
    let bytes = video.bytes().await.unwrap();
    assert_eq!(&bytes[4..8], b"ftyp", "an MP4 arrives");
    shot(&desktop, "05b-share-link").await;

    // Export for Shorts and Reels through the system's save dialog: a 1080×1920 file where the
    // creator chose, made on this machine.
    let exports = tempfile::tempdir().unwrap();
    let target = exports.path().join("night-drive-short.mp4");
    wd.execute(
        "const s = document.querySelector('[data-export-preset]'); s.value = 'vertical'; s.dispatchEvent(new Event('change'));",
        json!([]),
    )
    .await;
    wd.click(&wd.wait_for("[data-export-run]", SHORT).await).await;
    desktop.answer_save_dialog("Export: vertical", &target);
    let saved = wd.text(&wd.wait_for("[data-export-saved]", Duration::from_secs(120)).await).await;
    assert!(saved.contains("night-drive-short.mp4"), "{saved}");
    let probe = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0"])
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "1080,1920", "a vertical export");
    shot(&desktop, "05c-exported").await;

    // Keys, as a creator presses them (each is also in its menu). Space pauses and plays the
    // video, → seeks 5 s; Alt+← goes back to the screen before (the list the project was opened
    // from), Alt+→ forward again; Ctrl+N opens a new project, Ctrl+F the projects' search.
    wd.execute("document.activeElement?.blur();", json!([])).await;
    let video = "document.querySelector('main video')";
    // From the start (the 8 s video may have ended since it was played above).
    wd.execute(&format!("{video}.currentTime = 0; {video}.play();"), json!([])).await;
    wd.wait_until("the video plays from the start", &format!("return !{video}.paused;"), SHORT).await;
    wd.press(&[" "]).await;
    wd.wait_until("Space pauses the video", &format!("return {video}.paused;"), SHORT).await;
    let at = wd.execute(&format!("return {video}.currentTime;"), json!([])).await.as_f64().unwrap_or(0.0);
    wd.press(&[ARROW_RIGHT]).await;
    wd.wait_until(
        "→ seeks forward",
        &format!("const v = {video}; return v.currentTime >= Math.min({at} + 4.5, v.duration - 0.1);"),
        SHORT,
    )
    .await;
    wd.press(&[" "]).await;
    wd.wait_until("Space plays it again", &format!("return !{video}.paused;"), SHORT).await;
    wd.chord(&[ALT, ARROW_LEFT]).await;
    wd.wait_for("[data-screen=projects] [data-project='Night Drive']", SHORT).await;
    wd.chord(&[ALT, ARROW_RIGHT]).await;
    wd.wait_for("[data-screen=project] video[data-video]", SHORT).await;
    wd.chord(&[CONTROL, "n"]).await;
    wd.wait_for("[data-screen=new-project]", SHORT).await;
    wd.chord(&[ALT, ARROW_LEFT]).await;
    wd.wait_for("[data-screen=project]", SHORT).await;
    wd.chord(&[CONTROL, "f"]).await;
    wd.wait_until(
        "Ctrl+F opens the projects with the search focused",
        "return document.querySelector('[data-screen=projects]') && document.activeElement?.type === 'search';",
        SHORT,
    )
    .await;
    wd.chord(&[ALT, ARROW_LEFT]).await;
    wd.wait_for("[data-screen=project] [data-export-preset]", SHORT).await;

    for (nav, screen) in [("activity", "06-activity"), ("account", "07-account"), ("settings", "08-settings")] {
        wd.click(&wd.wait_for(&format!("[data-nav={nav}]"), SHORT).await).await;
        wd.wait_for(&format!("[data-screen={nav}]"), SHORT).await;
        if nav == "account" {
            let usage = wd.text(&wd.wait_for("[data-usage]", SHORT).await).await;
            assert_eq!(usage, "1 of 3", "the usage meter counts the render");
            assert_eq!(wd.text(&wd.wait_for("[data-plan]", SHORT).await).await, "Free");
            // This server has no Stripe key: Upgrade says so, and no browser opens.
            wd.click(&wd.wait_for("[data-upgrade=creator]", SHORT).await).await;
            let said = wd.text(&wd.wait_for("[data-billing-error]", SHORT).await).await;
            assert_eq!(said, "Billing is not configured on this server.");
            assert!(desktop.opened_urls().is_empty(), "nothing may open without billing");
        }
        shot(&desktop, screen).await;
    }
}

/// Offline, the app browses its mirror, plays the render it played before, shows the footage
/// with their posters and edits the project with its look previewed over the track on this
/// computer; the edit waits, marked pending, and reaches the server by itself when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offline_the_app_browses_plays_and_edits_and_the_edit_syncs_when_the_server_returns() {
    let keyring = Keyring::start();
    let mut backend = Backend::start().await;
    let _worker = backend.spawn_worker().await;
    let email = "ida@e2e.resonance.local";
    backend.signup(email, "Ida Loops").await;
    let track = beat_mp3(keyring.dir.path());
    let (desktop, wd) = signed_in(&keyring, &backend.base, email).await;

    // Online: a vertical project from a track on this computer, footage dropped on it, rendered,
    // and the render played once.
    new_project(&wd, &track, "Neon rain over a night city", Some(("720p", "9:16"))).await;
    let (clip, cover) = footage(keyring.dir.path());
    wd.drop_files(&[&clip, &cover]).await;
    wd.wait_until(
        "the footage is uploaded and Generate is possible",
        "const b = document.querySelector('[data-generate]'); return b && !b.disabled \
           && document.querySelectorAll('[data-footage-poster=shown] img').length === 2 \
           && !document.querySelector('[data-footage-upload]');",
        LONG,
    )
    .await;
    wd.click(&wd.wait_for("[data-generate]", SHORT).await).await;
    wd.wait_for("[data-generation='1'][data-generation-status=completed]", LONG).await;
    play_first_render(&wd, "the video plays").await;

    // The server goes away: browse, play the cached video, and edit offline.
    backend.stop().await;
    wd.click(&wd.wait_for("[data-nav=projects]", SHORT).await).await;
    wd.click(&wd.wait_for("[data-sync-state]", SHORT).await).await; // sync now: finds the server gone
    wd.wait_for("[data-offline-banner]", SHORT).await;
    shot(&desktop, "09-projects-offline").await;
    let row = wd.text(&wd.wait_for("[data-project='Night Drive'] [data-project-shape]", SHORT).await).await;
    assert_eq!(row, "0:12 · 720p · 9:16", "the list says the project's shape, offline too");
    wd.click(&wd.wait_for("[data-project='Night Drive']", SHORT).await).await;
    // The footage list, from the mirror, with its posters from the media cache.
    wd.wait_until(
        "the footage shows offline",
        "return document.querySelectorAll('[data-footage-item]').length === 2 \
           && document.querySelectorAll('[data-footage-poster=shown] img').length === 2;",
        SHORT,
    )
    .await;
    play_first_render(&wd, "the cached video plays offline").await;
    wd.click(&wd.wait_for("[data-edit]", SHORT).await).await;
    let name = wd.wait_for("#name", SHORT).await;
    wd.wait_until("the form is filled", "return document.querySelector('#name').value === 'Night Drive'", SHORT).await;
    // Offline too, the edit screen previews the look over the project's current track.
    wd.wait_until("the edit screen's preview draws", &format!("return ({CANVAS_SUM}) > 1e7"), SHORT).await;
    shot(&desktop, "10-edit-project").await;
    wd.clear(&name).await;
    wd.type_into(&name, "Night Drive (offline cut)").await;
    wd.click(&wd.wait_for("[data-save]", SHORT).await).await;
    wd.wait_for("[data-screen=project] [data-pending]", SHORT).await;
    shot(&desktop, "11-offline-pending-edit").await;

    // The server comes back: the pending edit syncs by itself.
    backend.restart().await;
    wd.wait_until(
        "the pending edit is sent",
        "return !document.querySelector('[data-pending]') && document.querySelector('[data-sync-state]').dataset.syncState === 'idle';",
        LONG,
    )
    .await;
    let token = backend.sign_in(email, PASSWORD).await;
    let projects = backend.projects(&token).await;
    assert!(
        projects.values().any(|p| p["name"] == "Night Drive (offline cut)"),
        "the edit made offline must reach the server: {projects:?}"
    );
    shot(&desktop, "12-back-online").await;
}

/// Upgrade opens Stripe Checkout in the browser; back from it through the `resonance://` link,
/// the window comes forward on the new plan at once; a change made in the Billing Portal shows
/// as soon as the window regains focus.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upgrading_through_stripe_brings_the_app_back_on_the_new_plan() {
    const WHSEC: &str = "whsec_e2e_resonance";
    let keyring = Keyring::start();
    let stripe = StripeStandIn::start().await;
    let backend = Backend::start_with(|settings| {
        settings.stripe.api_key = Some(resonance_server::config::Secret::parse(stripe.key).unwrap());
        settings.stripe.api_base = stripe.base.clone();
        settings.stripe.webhook_secret = Some(resonance_server::config::Secret::parse(WHSEC).unwrap());
        settings.stripe.prices =
            resonance_server::config::PriceMap::parse("creator=price_creator_e2e,studio=price_studio_e2e").unwrap();
    })
    .await;
    let email = "lea@e2e.resonance.local";
    let (_, signed_up) = backend.signup(email, "Lea Records").await;
    let organization = signed_up["user"]["organization_id"].as_str().unwrap().to_owned();
    // A render made this month on the free plan, so that the new plan's fresh period shows.
    sqlx::query("UPDATE organizations SET generations_this_month = 1 WHERE id = $1::uuid")
        .bind(&organization)
        .execute(&backend.owner)
        .await
        .unwrap();
    let (desktop, wd) = signed_in(&keyring, &backend.base, email).await;

    // Upgrade opens Stripe Checkout in the browser; once Stripe's events arrive, the plan shows.
    wd.click(&wd.wait_for("[data-nav=account]", SHORT).await).await;
    assert_eq!(wd.text(&wd.wait_for("[data-usage]", SHORT).await).await, "1 of 3", "the free plan's month, used once");
    wd.click(&wd.wait_for("[data-upgrade=creator]", SHORT).await).await;
    wd.wait_for("[data-billing-note]", SHORT).await;
    let opened = wait_for_url(&desktop, "https://checkout.stripe.com/c/pay/cs_test_").await;
    // The browser runs with the desktop's settings, not the ones the app gives its own WebKit.
    let env = desktop.opened_env();
    assert!(!env.contains("JSC_useDFGJIT") && !env.contains("WEBKIT_DISABLE_COMPOSITING_MODE"), "{env}");
    assert_eq!(opened.len(), 1, "one click opens one page: {opened:?}");
    let now = chrono::Utc::now().timestamp();
    let completed = json!({"id": "evt_e2e_1", "type": "checkout.session.completed", "created": now,
        "data": {"object": {"mode": "subscription", "client_reference_id": organization,
                            "customer": "cus_e2e", "subscription": "sub_e2e"}}});
    assert_eq!(backend.deliver_stripe_event(WHSEC, &completed).await, "applied");
    let subscription = json!({"id": "evt_e2e_2", "type": "customer.subscription.created", "created": now,
        "data": {"object": {"id": "sub_e2e", "customer": "cus_e2e", "status": "active",
            "metadata": {"organization_id": organization},
            "items": {"data": [{"price": {"id": "price_creator_e2e"},
                                "current_period_start": now - 60, "current_period_end": now + 30 * 86_400}]}}}});
    assert_eq!(backend.deliver_stripe_event(WHSEC, &subscription).await, "applied");
    // Back from the browser: Stripe's return page hands `resonance://billing/checkout` to the
    // system, which starts the app with it; the running window comes forward on the plan, synced
    // at once (the periodic pull is a minute apart; the plan must show well before).
    wd.click(&wd.wait_for("[data-nav=projects]", SHORT).await).await;
    wd.wait_for("[data-screen=projects]", SHORT).await;
    desktop.hand_over(&app_binary(), "resonance://billing/checkout");
    wd.wait_until(
        "the link shows the new plan",
        "const p = document.querySelector('[data-plan]'); return p && p.textContent === 'Creator';",
        SHORT,
    )
    .await;
    let notice = wd.wait_for("[data-notice=info]", SHORT).await;
    assert!(wd.text(&notice).await.contains("Welcome back"), "{}", wd.text(&notice).await);
    assert_eq!(wd.text(&wd.wait_for("[data-usage]", SHORT).await).await, "0 of 50", "a new period on the new plan");
    shot(&desktop, "13-account-subscribed").await;
    wd.click(&wd.wait_for("[data-notice] .dismiss", SHORT).await).await;
    // Manage billing opens Stripe's Billing Portal.
    wd.click(&wd.wait_for("[data-manage-billing]", SHORT).await).await;
    wait_for_url(&desktop, "https://billing.stripe.com/p/session/").await;
    // There the plan becomes Studio; back in the app (the window regains focus, no link this
    // time) the change is pulled at once.
    let upgraded = json!({"id": "evt_e2e_3", "type": "customer.subscription.updated", "created": now + 1,
        "data": {"object": {"id": "sub_e2e", "customer": "cus_e2e", "status": "active",
            "metadata": {"organization_id": organization},
            "items": {"data": [{"price": {"id": "price_studio_e2e"},
                                "current_period_start": now - 60, "current_period_end": now + 30 * 86_400}]}}}});
    assert_eq!(backend.deliver_stripe_event(WHSEC, &upgraded).await, "applied");
    desktop.refocus("Resonance");
    wd.wait_until(
        "the portal's change arrives when the window regains focus",
        "const p = document.querySelector('[data-plan]'); return p && p.textContent === 'Studio';",
        SHORT,
    )
    .await;
}

/// A long list is read a page at a time: the list counts every project but holds only the rows
/// in view; scrolling and search reach any; the keyboard alone opens one; Ctrl+O opens the
/// editor's file chooser from another screen; the page's content security policy is in force;
/// and the window opens at the size it was left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_list_is_paged_searched_and_opened_by_keyboard_and_the_window_keeps_its_size() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let email = "max@e2e.resonance.local";
    let (_, signed_up) = backend.signup(email, "Max Archive").await;
    let organization = signed_up["user"]["organization_id"].as_str().unwrap().to_owned();
    let (desktop, wd) = signed_in(&keyring, &backend.base, email).await;

    // 1,234 projects arrive with the next sync.
    let user: uuid::Uuid = signed_up["user"]["id"].as_str().unwrap().parse().unwrap();
    backend.add_projects(organization.parse().unwrap(), user, "Archive", 1234).await;
    wd.click(&wd.wait_for("[data-nav=projects]", SHORT).await).await;
    wd.click(&wd.wait_for("[data-sync-state]", SHORT).await).await;
    wd.wait_until(
        "the list counts every project",
        r"const c = document.querySelector('[data-project-count]'); return c && /^1\D?234 projects$/.test(c.textContent);",
        SHORT,
    )
    .await;
    let held = wd.execute("return document.querySelectorAll('[data-project]').length", json!([])).await;
    assert!(held.as_u64().is_some_and(|n| (1..=40).contains(&n)), "only the rows in view are drawn: {held}");
    wd.execute("const l = document.querySelector('[role=list]'); l.scrollTop = l.scrollHeight;", json!([])).await;
    wd.wait_for("[data-project='Archive 0001']", SHORT).await;
    shot(&desktop, "14-projects-long-list").await;
    let search = wd.wait_for("input[type=search]", SHORT).await;
    wd.type_into(&search, "number 777").await;
    wd.wait_until(
        "the search counts its matches",
        "const c = document.querySelector('[data-project-count]'); return c && c.textContent === '1 project found';",
        SHORT,
    )
    .await;
    wd.wait_for("[data-project='Archive 0777']", SHORT).await;

    // Keyboard only: from the search field, Tab reaches New project, then the match; the focus
    // is drawn; Enter opens the project.
    let focused = "const a = document.activeElement; return a ? a.outerHTML.slice(0, 120) : null;";
    wd.press(&[TAB]).await;
    let on = wd.execute("return document.activeElement.hasAttribute('data-new-project')", json!([])).await;
    assert_eq!(on, json!(true), "Tab from the search goes to New project: {}", wd.execute(focused, json!([])).await);
    wd.press(&[TAB]).await;
    let on = wd.execute("return document.activeElement.dataset.project ?? null", json!([])).await;
    assert_eq!(on, json!("Archive 0777"), "then to the match: {}", wd.execute(focused, json!([])).await);
    let ring = wd.execute("return getComputedStyle(document.activeElement).outlineStyle", json!([])).await;
    assert_eq!(ring, json!("solid"), "the keyboard focus is drawn");
    wd.press(&[ENTER]).await;
    let title = wd.wait_for("[data-screen=project] [data-project-title]", SHORT).await;
    assert_eq!(wd.text(&title).await, "Archive 0777");

    // The page runs under its content security policy (`tauri.conf.json`): a request to an
    // origin the policy does not name is refused as a violation.
    let refused = wd
        .execute(
            "return new Promise((done) => { let seen = false; \
               document.addEventListener('securitypolicyviolation', () => { seen = true; }, { once: true }); \
               fetch('http://localhost:9/').catch(() => {}).finally(() => setTimeout(() => done(seen), 100)); });",
            json!([]),
        )
        .await;
    assert_eq!(refused, json!(true), "the app's content security policy is in force");

    // Ctrl+O from a screen that is not the editor: the editor, loaded when first opened, comes
    // up and asks for a file. (The click on its chooser is caught before the system's dialog.)
    wd.execute(
        "window.__picked = false; window.addEventListener('click', (e) => { \
           if (e.target.closest && e.target.closest('[data-pick-audio]')) { window.__picked = true; e.stopPropagation(); } \
         }, true);",
        json!([]),
    )
    .await;
    wd.chord(&[CONTROL, "o"]).await;
    wd.wait_until(
        "Ctrl+O opens the editor and asks for a file",
        "return window.__picked === true && !!document.querySelector('[data-screen=new-project]');",
        SHORT,
    )
    .await;

    // The window's size is remembered, even when the app ends without closing its window.
    let first = wd.window_size().await;
    wd.set_window_size(1000, 680).await;
    assert_eq!(wd.window_size().await, (1000, 680), "the window was resized (it was {first:?})");
    tokio::time::sleep(Duration::from_secs(2)).await;
    wd.close().await;
    let wd = WebDriver::launch(&desktop.driver, &app_binary()).await;
    wd.wait_for("[data-screen]", SHORT).await;
    assert_eq!(wd.window_size().await, (1000, 680), "the next launch opens at the size the window was left");
    wd.close().await;
}

/// A newcomer makes an account and an organization in the app, with the server's rules shown as
/// they type; a teammate opens the invitation's `resonance://` link (handed to the running app
/// by a second launch) and joins, seeing where it leads first; a damaged link changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_newcomer_signs_up_in_the_app_and_a_teammate_joins_with_a_code() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let desktop = Desktop::start(&keyring, &backend.base);
    let wd = WebDriver::launch(&desktop.driver, &app_binary()).await;
    let value = |css: &str| format!("return document.querySelector('{css}')?.value ?? null");

    wd.click(&wd.wait_for("[data-mode-switch=sign-up]", SHORT).await).await;
    wd.wait_for("[data-screen=sign-in][data-mode=sign-up]", SHORT).await;
    wd.type_into(&wd.wait_for("#name", SHORT).await, "Noor").await;
    wd.type_into(&wd.wait_for("#email", SHORT).await, "noor@e2e.resonance.local").await;
    let password = wd.wait_for("#password", SHORT).await;
    wd.type_into(&password, "short").await;
    // The rule is the server's, shown as typed, and unmet.
    wd.wait_until(
        "the password rule shows unmet",
        "const r = document.querySelector('[data-rule=password]'); \
         return r && r.dataset.met === 'false' && /at least 10 characters/.test(r.textContent);",
        SHORT,
    )
    .await;
    // Sent without an organization: each problem is named beside its field, nothing is made.
    wd.click(&wd.wait_for("[data-submit]", SHORT).await).await;
    let missing = wd.wait_for("[data-problem=organization_name]", SHORT).await;
    assert!(wd.text(&missing).await.contains("must not be empty"), "{}", wd.text(&missing).await);
    wd.wait_until(
        "the unmet password rule is marked, and the first problem has the focus",
        "return document.querySelector('[data-rule=password]').classList.contains('unmet') \
           && document.activeElement.id === 'password';",
        SHORT,
    )
    .await;
    shot(&desktop, "20-sign-up-rules").await;
    let (status, _) = backend.password_grant("noor@e2e.resonance.local", "short").await;
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED, "no account was made");
    wd.type_into(&password, " but longer now").await;
    wd.wait_until(
        "the password rule is met",
        "return document.querySelector('[data-rule=password]').dataset.met === 'true';",
        SHORT,
    )
    .await;
    wd.type_into(&wd.wait_for("#organization", SHORT).await, "Noor Records").await;
    wd.wait_until("no problem is left", "return !document.querySelector('[data-problem]');", SHORT).await;
    wd.click(&wd.wait_for("[data-submit]", SHORT).await).await;
    wd.wait_for("[data-screen=projects] [data-project-count]", SHORT).await;
    wd.wait_until(
        "the sidebar names the new organization",
        "return document.querySelector('.who')?.textContent.includes('Noor Records');",
        SHORT,
    )
    .await;
    assert_eq!(keyring.secrets().len(), 1, "the new session is in the Secret Service");
    shot(&desktop, "21-signed-up").await;

    // Noor invites a teammate (the code as the Account screen shows it) and signs out.
    let noor = backend.sign_in("noor@e2e.resonance.local", "short but longer now").await;
    let code = backend.invite(&noor, "kai@e2e.resonance.local", "developer").await;

    // Copy diagnostics, with a session in the keyring: the report says what support needs and
    // holds none of the session's tokens, the password or the invitation's code.
    wd.click(&wd.wait_for("[data-nav=settings]", SHORT).await).await;
    wd.click(&wd.wait_for("[data-copy-diagnostics]", SHORT).await).await;
    wd.wait_until(
        "the report is made",
        "const r = document.querySelector('[data-diagnostics]'); return r && r.value.includes('Last ');",
        SHORT,
    )
    .await;
    wd.wait_for("[data-diagnostics-state=copied]", SHORT).await;
    let report = wd.execute("return document.querySelector('[data-diagnostics]').value", json!([])).await;
    let report = report.as_str().unwrap_or_default().to_owned();
    for needed in [
        "Resonance Desktop 0.1.0",
        "WebKitGTK",
        "Server: http://127.0.0.1",
        "Sync:",
        "Outbox:",
        "Mirror:",
        "Media cache:",
    ] {
        assert!(report.contains(needed), "the report names {needed}: {report}");
    }
    let stored: serde_json::Value = serde_json::from_str(&keyring.secrets()[0]).unwrap();
    for (what, secret) in [
        ("access token", stored["access_token"].as_str().unwrap()),
        ("refresh token", stored["refresh_token"].as_str().unwrap()),
        ("password", "short but longer now"),
        ("invitation code", code.as_str()),
    ] {
        assert!(!report.contains(secret), "the {what} is in the diagnostics: {report}");
    }
    shot(&desktop, "23-diagnostics").await;
    wd.click(&wd.wait_for("[data-nav=projects]", SHORT).await).await;

    // A damaged link, handed over by a second launch: said so, nothing changes.
    desktop.hand_over(&app_binary(), "resonance://project/not-an-id");
    let refused = wd.wait_for("[data-notice=error]", SHORT).await;
    assert!(wd.text(&refused).await.contains("incomplete or damaged"), "{}", wd.text(&refused).await);
    wd.wait_for("[data-screen=projects]", SHORT).await;
    // The invitation's link, opened on this computer (Kai's e-mail, read here): the app is
    // signed in as Noor, so it offers to sign out first, then opens "Join" with the code.
    desktop.hand_over(&app_binary(), &format!("resonance://invite/{code}"));
    let offer = wd.wait_for("[data-notice=info]", SHORT).await;
    assert!(wd.text(&offer).await.contains("signed in as noor@e2e.resonance.local"), "{}", wd.text(&offer).await);
    wd.click(&wd.wait_for("[data-sign-out-to-join]", SHORT).await).await;
    wd.wait_for("[data-screen=sign-in][data-mode=join]", SHORT).await;
    wd.wait_until("the link's code is filled in", &format!("return ({}) === '{code}'", value("#invite-code")), SHORT)
        .await;
    wd.wait_for("[data-invitation]", SHORT).await;

    // A code nobody made, typed over it, is told apart; the link's code again shows the invitation.
    let code_input = wd.wait_for("#invite-code", SHORT).await;
    wd.clear(&code_input).await;
    wd.type_into(&code_input, &"x".repeat(43)).await;
    let unknown = wd.wait_for("[data-problem=invite_code]", SHORT).await;
    assert!(wd.text(&unknown).await.contains("unknown, already used or expired"), "{}", wd.text(&unknown).await);
    wd.clear(&code_input).await;
    wd.type_into(&code_input, &code).await;
    let invitation = wd.wait_for("[data-invitation]", SHORT).await;
    let said = wd.text(&invitation).await;
    assert!(
        said.contains("Noor invites kai@e2e.resonance.local to join Noor Records as developer"),
        "the invitation shows who, where and as what: {said}"
    );
    wd.wait_until(
        "the invited address is filled in",
        &format!("return ({}) === 'kai@e2e.resonance.local'", value("#email")),
        SHORT,
    )
    .await;
    wd.type_into(&wd.wait_for("#name", SHORT).await, "Kai").await;
    wd.type_into(&wd.wait_for("#password", SHORT).await, PASSWORD).await;
    let button = wd.wait_for("[data-submit]", SHORT).await;
    assert_eq!(wd.text(&button).await, "Join Noor Records");
    shot(&desktop, "22-join-with-code").await;
    wd.click(&button).await;
    wd.wait_for("[data-screen=projects] [data-project-count]", SHORT).await;
    wd.wait_until(
        "signed in as the teammate, in Noor's organization",
        "const w = document.querySelector('.who')?.textContent ?? ''; return w.includes('Kai') && w.includes('Noor Records');",
        SHORT,
    )
    .await;
    let (_, members) = backend.call(reqwest::Method::GET, "/v1/members", Some(&noor), None).await;
    assert!(
        members.as_array().unwrap().iter().any(|m| m["email"] == "kai@e2e.resonance.local" && m["role"] == "developer"),
        "{members}"
    );
    wd.close().await;
}

/// With "Keep running in the background" on (the default), closing the window hides it: an
/// upload waiting for the server finishes once the server is back, the render's notification
/// arrives, and launching the app again brings the same window back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn closing_the_window_keeps_uploads_and_render_notifications_going() {
    let keyring = Keyring::start();
    let mut backend = Backend::start().await;
    let _worker = backend.spawn_worker().await;
    let email = "bo@e2e.resonance.local";
    let (token, _) = backend.signup(email, "Bo Tapes").await;
    let track = beat_mp3(keyring.dir.path());
    let (desktop, wd) = signed_in(&keyring, &backend.base, email).await;

    // The server goes away; a project is made here and its upload waits for the server.
    backend.stop().await;
    new_project(&wd, &track, "Tape hiss under a slow neon city", None).await;

    // Closed as a window manager's close button would: hidden, not quit, and said so once.
    desktop.close_window("Resonance");
    assert!(desktop.wait_window("Resonance", false, Duration::from_secs(10)).await, "closing the window hides it");
    let told = desktop.wait_for_notification("still running", Duration::from_secs(10)).await;
    assert!(told.contains("Resonance is still running"), "closing says the app goes on: {told}");

    // The server returns: with the window closed, the project syncs and the upload finishes.
    backend.restart().await;
    let mut complete = 0i64;
    for _ in 0..240 {
        complete = sqlx::query_scalar("SELECT count(*) FROM uploads WHERE state = 'complete'")
            .fetch_one(&backend.owner)
            .await
            .unwrap();
        if complete > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(complete, 1, "the upload finished with the window closed");
    assert!(!desktop.window_visible("Resonance"), "and the window stayed closed");
    // A render started elsewhere (the web, a teammate): its notification reaches the closed app.
    let projects = backend.projects(&token).await;
    let (project_id, _) = projects.iter().find(|(_, p)| p["name"] == "Night Drive").expect("the project synced");
    let started = reqwest::Client::new()
        .post(format!("{}/v1/projects/{project_id}/generations", backend.base))
        .bearer_auth(&token)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(started.status().is_success(), "{:?}", started.text().await);
    let told = desktop.wait_for_notification("Night Drive", LONG).await;
    assert!(told.contains("Night Drive") && told.contains("is ready"), "the render's notification arrives: {told}");

    // Launching the app again brings the same window back, where it was.
    let second = desktop.launch_again(&app_binary(), Duration::from_secs(15));
    assert!(second.is_some(), "a second launch hands over to the running app and exits");
    assert!(desktop.wait_window("Resonance", true, Duration::from_secs(10)).await, "the window is back");
    wd.wait_for("[data-screen=project]", SHORT).await;
    wd.close().await;
}

/// Audio dropped on the project list starts one draft per track; a draft is kept as it is
/// written and survives the app being killed; creating its project removes it, and a draft can
/// be discarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sample_track_and_tracks_dropped_anywhere_start_drafts_that_survive_a_crash() {
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let email = "dee@e2e.resonance.local";
    backend.signup(email, "Dee Drafts").await;
    let track = beat_mp3(keyring.dir.path());
    let second = keyring.dir.path().join("second_take.mp3");
    std::fs::copy(&track, &second).unwrap();
    let (desktop, wd) = signed_in(&keyring, &backend.base, email).await;

    // An empty list offers a sample track: a draft with the track (made here), a prompt and a
    // look, playable at once; discarded, the list is empty again.
    wd.click(&wd.wait_for("[data-try-sample]", SHORT).await).await;
    wd.wait_for("[data-screen=new-project]", SHORT).await;
    wd.wait_until("the sample's name", "return document.querySelector('#name').value === 'Neon Drive'", SHORT).await;
    wd.wait_until("the sample's prompt", "return document.querySelector('#prompt').value.includes('Neon rain')", SHORT)
        .await;
    wd.wait_for("[data-play]", SHORT).await;
    shot(&desktop, "29-sample-track").await;
    wd.click(&wd.wait_for("[data-screen=new-project] [data-discard-draft]", SHORT).await).await;
    wd.wait_for("[data-try-sample]", SHORT).await;

    // Two tracks dropped on the list: two drafts, named after their files, and said so.
    wd.wait_for("[data-drop-anywhere-ready]", SHORT).await;
    wd.drop_files(&[&track, &second]).await;
    wd.wait_for("[data-drafts='2']", SHORT).await;
    wd.wait_for("[data-draft='Night Drive']", SHORT).await;
    let notice = wd.wait_for("[data-notice=info]", SHORT).await;
    assert!(wd.text(&notice).await.contains("2 drafts started"), "{}", wd.text(&notice).await);
    shot(&desktop, "30-drafts-started").await;

    // One is continued: its track is read again, and what is typed is kept as it is written.
    wd.click(&wd.wait_for("[data-draft='second take'] [data-continue-draft]", SHORT).await).await;
    wd.wait_for("[data-screen=new-project]", SHORT).await;
    wd.wait_until("the draft's name is shown", "return document.querySelector('#name').value === 'second take'", SHORT)
        .await;
    wd.wait_for("[data-play]", SHORT).await;
    wd.type_into(&wd.wait_for("#prompt", SHORT).await, "Rain on a tin roof").await;
    wd.wait_until(
        "the prompt is kept in the draft",
        "return Number(document.querySelector('[data-draft-saves]').dataset.draftSaves) > 0",
        SHORT,
    )
    .await;

    // The app dies without a chance to save anything; started again, the draft is there.
    assert!(desktop.kill_app() > 0, "the app was running");
    // The driver still counts the dead app's session until it is ended.
    wd.close().await;
    let wd = WebDriver::launch(&desktop.driver, &app_binary()).await;
    wd.wait_for("[data-drafts='2']", SHORT).await;
    wd.click(&wd.wait_for("[data-draft='second take'] [data-continue-draft]", SHORT).await).await;
    wd.wait_until(
        "the prompt typed before the crash",
        "return document.querySelector('#prompt').value === 'Rain on a tin roof'",
        SHORT,
    )
    .await;
    wd.wait_for("[data-play]", SHORT).await;
    shot(&desktop, "31-draft-after-crash").await;

    // Created: the draft becomes the project and leaves the list; the other one is discarded.
    wd.click(&wd.wait_for("[data-save]", SHORT).await).await;
    wd.wait_for("[data-screen=project]", SHORT).await;
    wd.click(&wd.wait_for("[data-nav=projects]", SHORT).await).await;
    wd.wait_for("[data-project='second take']", SHORT).await;
    wd.wait_for("[data-drafts='1'] [data-draft='Night Drive']", SHORT).await;
    wd.click(&wd.wait_for("[data-draft='Night Drive'] [data-discard-draft]", SHORT).await).await;
    wd.wait_until("no draft is left", "return document.querySelector('[data-drafts]') === null", SHORT).await;
    wd.close().await;
}

/// The server is upgraded past this app while it runs: the app says "Update Resonance" with the
/// server's advice in a banner, stays signed in with its projects readable (the event stream's
/// refusal does not sign it out), and carries on once the server serves it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_the_server_no_longer_serves_says_update_and_stays_usable() {
    let keyring = Keyring::start();
    let mut backend = Backend::start().await;
    let email = "uma@e2e.resonance.local";
    let (token, _) = backend.signup(email, "Uma Update").await;
    let new = json!({"name": "Kept readable", "prompt": "p", "audio_path": "a.mp3"});
    let (status, _) = backend.call(reqwest::Method::POST, "/v1/projects", Some(&token), Some(new)).await;
    assert_eq!(status, 201);
    let (desktop, wd) = signed_in(&keyring, &backend.base, email).await;
    wd.wait_for("[data-project='Kept readable']", SHORT).await;

    backend.stop().await;
    backend.tune(|s| {
        s.clients.minimum = "99.0.0".parse().unwrap();
        s.clients.download_url = Some("https://resonance.example/download".into());
    });
    backend.restart().await;
    wd.click(&wd.wait_for("[data-sync-state]", SHORT).await).await;
    let banner = wd.wait_for("[data-update-required]", SHORT).await;
    let said = wd.text(&banner).await;
    assert!(said.contains("needs 99.0.0 or newer") && said.contains("https://resonance.example/download"), "{said}");
    let indicator = wd.wait_for("[data-sync-state=error]", SHORT).await;
    assert!(wd.text(&indicator).await.contains("Update needed"));
    // The event stream is refused too: the app must not take that for a sign-out.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(wd.find("[data-screen=sign-in]").await.is_none(), "still signed in");
    wd.wait_for("[data-project='Kept readable']", SHORT).await;
    shot(&desktop, "40-update-required").await;

    backend.stop().await;
    backend.tune(|s| s.clients.minimum = "0.1.0".parse().unwrap());
    backend.restart().await;
    wd.click(&wd.wait_for("[data-sync-state]", SHORT).await).await;
    wd.wait_until("the banner goes", "return document.querySelector('[data-update-required]') === null", SHORT).await;
    wd.wait_for("[data-sync-state=idle]", SHORT).await;
    wd.close().await;
}
