//! `cargo xtask bench` (look preview): the desktop's live look preview at 480×270 while a real
//! song plays, in the app as shipped (release), in a real window (Xvfb) driven over WebDriver.
//! Per style: how long after pressing Play the first new frame is on the canvas (target
//! ≤ 100 ms), and the frames a second drawn while the audio plays (target ≥ 24), overall and in
//! the slowest one-second window. Frames are counted where they land: each `putImageData` on the
//! preview's canvas, timed in the page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use resonance_api::model::StylePreference;
use resonance_e2e::desktop::{app_binary, Desktop};
use resonance_e2e::webdriver::WebDriver;
use resonance_e2e::{Backend, Keyring, PASSWORD};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);
/// How long each style plays.
const PLAY: Duration = Duration::from_secs(5);

/// Records the time of every frame put on the preview's canvas in `window.__paints`, and counts
/// them all in `window.__drawn` (never reset).
const HOOK: &str = "if (!window.__hooked) { window.__hooked = true; window.__paints = []; window.__drawn = 0; \
    const proto = CanvasRenderingContext2D.prototype; const put = proto.putImageData; \
    proto.putImageData = function (...args) { \
      if (this.canvas.matches('[data-look-canvas]')) { window.__paints.push(performance.now()); window.__drawn++; } \
      return put.apply(this, args); }; }";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let music = std::env::var_os("RESONANCE_BENCH_MUSIC").map(PathBuf::from).expect(
        "RESONANCE_BENCH_MUSIC names the unpacked extremetuxracer-data: `cargo xtask bench` fetches it with apt-get download",
    );
    let song = music.join("usr/share/games/etr/music/race1-jt.ogg");
    assert!(song.exists(), "{} is missing", song.display());
    let keyring = Keyring::start();
    let backend = Backend::start().await;
    let email = "preview-bench@example.com";
    backend.signup(email, "Preview Bench").await;
    let desktop = Desktop::start(&keyring, &backend.base);
    let app = std::env::var_os("RESONANCE_DESKTOP_BIN").map(PathBuf::from).unwrap_or_else(app_binary);
    let wd = WebDriver::launch(&desktop.driver, &app).await;

    wd.type_into(&wd.wait_for("#email", WAIT).await, email).await;
    wd.type_into(&wd.wait_for("#password", WAIT).await, PASSWORD).await;
    wd.click(&wd.wait_for("button[type=submit]", WAIT).await).await;
    wd.click(&wd.wait_for("[data-new-project]", WAIT).await).await;
    wd.wait_for("[data-screen=new-project] [data-drop-ready]", WAIT).await;
    wd.drop_file(&song).await;
    wd.wait_for("[data-tempo]", WAIT).await;
    wd.execute(HOOK, json!([])).await;
    let prompt = wd.wait_for("#prompt", WAIT).await;
    wd.type_into(&prompt, "neon rain over a night city").await;
    println!("look preview: 480×270, {} in the app as shipped, {PLAY:?} of play per style", song.display());
    let play = wd.wait_for("[data-play]", WAIT).await;
    for style in StylePreference::ALL {
        let changed = wd
            .execute(
                "window.__paints = []; const s = document.querySelector('#style'); \
                 if (s.value === arguments[0]) return false; \
                 s.value = arguments[0]; s.dispatchEvent(new Event('change')); return true;",
                json!([style.as_str()]),
            )
            .await;
        // Paused, the preview settles on the frame under the playhead. A style the editor
        // already shows, as the first may be, brings no new frame: one drawn since the hook
        // (of the prompt typed) is enough.
        if changed == json!(true) {
            wd.wait_until("the preview draws this style", "return window.__paints.length > 0", WAIT).await;
        } else {
            wd.wait_until("the preview draws the prompt", "return window.__drawn > 0", WAIT).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        // The press is timed in the page, as it reaches the button.
        wd.execute(
            "window.__paints = []; document.querySelector('[data-play]').addEventListener('click', \
             () => { window.__pressed = performance.now(); }, {capture: true, once: true});",
            json!([]),
        )
        .await;
        wd.click(&play).await;
        tokio::time::sleep(PLAY).await;
        let figures = wd
            .execute(
                "const p = window.__paints.filter((t) => t >= window.__pressed), at = window.__pressed; \
                 const playing = !document.querySelector('audio').paused; \
                 const span = (p[p.length - 1] - p[0]) / 1000; \
                 let slowest = Infinity; \
                 for (let s = p[0]; s + 1000 <= p[p.length - 1]; s += 100) \
                   slowest = Math.min(slowest, p.filter((t) => t >= s && t < s + 1000).length); \
                 return [p.length ? p[0] - at : -1, (p.length - 1) / span, slowest, playing];",
                json!([]),
            )
            .await;
        wd.click(&play).await;
        let first = figures[0].as_f64().unwrap_or(-1.0);
        let fps = figures[1].as_f64().unwrap_or(0.0);
        let slowest = figures[2].as_f64().unwrap_or(0.0);
        assert_eq!(figures[3], json!(true), "the song must be playing while the preview is measured");
        assert!(first >= 0.0, "{}: no frame was drawn after Play", style.as_str());
        println!(
            "look preview: {:<10} first frame {first:>5.0} ms after Play ({:.2}x the 100 ms target), {fps:>5.1} fps while playing ({:.2}x the 24 fps target), slowest second {slowest:.0} frames",
            style.as_str(),
            first / 100.0,
            fps / 24.0
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    wd.close().await;
    drop(desktop);
}
