//! Exports with the real ffmpeg: each preset's file has the shape, codecs, length and sound its
//! destination wants; a failed export leaves nothing behind, and the master is untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use resonance_client::export::{self, Preset};

/// A 12-second 640×360 render with sound, as the worker makes them (H.264, AAC).
fn master(dir: &Path) -> PathBuf {
    let file = dir.join("master.mp4");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=d=12:s=640x360:r=30", "-f", "lavfi", "-i"])
        .args(["sine=f=220:d=12", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"])
        .args(["-shortest"])
        .arg(&file)
        .status()
        .unwrap();
    assert!(made.success());
    file
}

/// (codec, width, height) of each stream, and the container's duration.
fn probe(file: &Path) -> (Vec<(String, u32, u32)>, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_name,width,height:format=duration", "-of", "json"])
        .arg(file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let dim = |k: &str| s[k].as_u64().unwrap_or(0) as u32;
            (s["codec_name"].as_str().unwrap().to_owned(), dim("width"), dim("height"))
        })
        .collect();
    (streams, v["format"]["duration"].as_str().unwrap().parse().unwrap())
}

fn leftovers(dir: &Path, part: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(part))
        .collect()
}

#[tokio::test]
async fn every_preset_makes_what_its_destination_wants() {
    let cache = tempfile::tempdir().unwrap();
    let master = master(cache.path());
    let dir = tempfile::tempdir().unwrap();
    let before = std::fs::read(&master).unwrap();
    for (preset, video, (w, h), audio, seconds) in [
        (Preset::AsRendered, "h264", (640, 360), Some("aac"), 12.0),
        (Preset::Youtube, "h264", (640, 360), Some("aac"), 12.0),
        (Preset::Vertical, "h264", (1080, 1920), Some("aac"), 12.0),
        (Preset::Canvas, "h264", (720, 1280), None, 7.9),
        (Preset::Gif, "gif", (480, 270), None, 10.0),
        (Preset::Webm, "vp9", (640, 360), Some("opus"), 12.0),
    ] {
        let seen = std::sync::Mutex::new(Vec::new());
        let out = export::run(&master, preset, &dir.path().join(preset.id()), |f| seen.lock().unwrap().push(f))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", preset.id()));
        assert_eq!(out.extension().unwrap(), preset.extension(), "{out:?}");
        let (streams, duration) = probe(&out);
        assert_eq!(streams[0], (video.to_owned(), w, h), "{}: {streams:?}", preset.id());
        assert_eq!(streams.get(1).map(|s| s.0.as_str()), audio, "{}: {streams:?}", preset.id());
        assert!((duration - seconds).abs() < 0.25, "{}: {duration} s, not {seconds}", preset.id());
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.last(), Some(&1.0), "{}: progress ends at 1", preset.id());
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{}: progress only grows: {seen:?}", preset.id());
    }
    assert_eq!(std::fs::read(&master).unwrap(), before, "the master is never changed");
    assert!(leftovers(dir.path(), ".part").is_empty());
}

#[tokio::test]
async fn what_cannot_be_exported_is_refused_and_nothing_is_left() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bogus = cache.path().join("bogus.mp4");
    std::fs::write(&bogus, b"not a video at all").unwrap();
    let err = export::run(&bogus, Preset::Youtube, &dir.path().join("out.mp4"), |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("not a video"), "{err}");
    // A master cut short: ffmpeg fails partway, and the partial file is removed.
    let master = master(cache.path());
    let bytes = std::fs::read(&master).unwrap();
    let cut = cache.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let result = export::run(&cut, Preset::Youtube, &dir.path().join("from-cut.mp4"), |_| {}).await;
    assert!(result.is_err(), "a damaged master cannot export: {result:?}");
    assert!(leftovers(dir.path(), "from-cut").is_empty(), "nothing is left behind");
}

#[tokio::test]
async fn the_cache_and_missing_folders_are_no_destination() {
    let cache = tempfile::tempdir().unwrap();
    let master = master(cache.path());
    let before = std::fs::read(&master).unwrap();
    for dest in [master.clone(), cache.path().join("other.mp4")] {
        let err = export::run(&master, Preset::Gif, &dest, |_| {}).await.unwrap_err();
        assert!(err.to_string().contains("media cache"), "{dest:?}: {err}");
    }
    assert_eq!(std::fs::read(&master).unwrap(), before, "the master is untouched");
    let err =
        export::run(&master, Preset::Gif, &cache.path().join("no/such/folder/out.gif"), |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    // A folder as the destination: a file with a default name inside it.
    let out = tempfile::tempdir().unwrap();
    let written = export::run(&master, Preset::Canvas, out.path(), |_| {}).await.unwrap();
    assert_eq!(written, out.path().join("resonance-canvas.mp4"));
    // Too short for a Canvas: refused before ffmpeg runs.
    let short = cache.path().join("short.mp4");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=d=2:s=320x180:r=30", "-pix_fmt", "yuv420p"])
        .arg(&short)
        .status()
        .unwrap();
    assert!(made.success());
    let err = export::run(&short, Preset::Canvas, &out.path().join("c.mp4"), |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("3 to 8 seconds"), "{err}");
}
