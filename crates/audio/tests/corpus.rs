//! The generated corpus: one source, written here, encoded by ffmpeg into every supported format;
//! the CLI must report its exact length in each, and the documented error kind for bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

const RATE: u32 = 44_100;
/// An odd length, so no format's packet size divides it.
const FRAMES: u32 = 123_457;

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_resonance-audio"))
}

/// A 220 Hz tone with a click every half second, `frames` long.
fn write_tone(path: &Path, frames: u32, channels: u16, declared_data_bytes: Option<u32>) {
    let mut samples = Vec::with_capacity(frames as usize * usize::from(channels));
    for i in 0..frames {
        let t = f64::from(i) / f64::from(RATE);
        let click = if i % (RATE / 2) < 200 { 0.5 } else { 0.0 };
        let v = ((t * 220.0 * std::f64::consts::TAU).sin() * 0.3 + click) as f32;
        samples.extend(std::iter::repeat_n(v, usize::from(channels)));
    }
    common::write_wav(path, &samples, channels, RATE, declared_data_bytes);
}

fn ffmpeg(args: &[&str]) {
    let status =
        Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).status().expect(
            "ffmpeg is needed to build the test corpus: run the tests with `cargo xtask test`, which installs it",
        );
    assert!(status.success(), "ffmpeg {args:?} failed");
}

/// (file name, ffmpeg output arguments, expected codec, expected container, expected bit depth)
type Variant = (&'static str, &'static [&'static str], &'static str, &'static str, Option<u64>);
const FORMATS: &[Variant] = &[
    ("s16.wav", &["-c:a", "pcm_s16le"], "pcm_s16le", "wav", Some(16)),
    ("u8.wav", &["-c:a", "pcm_u8"], "pcm_u8", "wav", Some(8)),
    ("s24.wav", &["-c:a", "pcm_s24le"], "pcm_s24le", "wav", Some(24)),
    ("s32.wav", &["-c:a", "pcm_s32le"], "pcm_s32le", "wav", Some(32)),
    ("f32.wav", &["-c:a", "pcm_f32le"], "pcm_f32le", "wav", Some(32)),
    ("f64.wav", &["-c:a", "pcm_f64le"], "pcm_f64le", "wav", Some(64)),
    ("aiff.aiff", &["-c:a", "pcm_s16be"], "pcm_s16be", "aiff", Some(16)),
    ("flac.flac", &["-c:a", "flac"], "flac", "flac", Some(16)),
    ("alac.m4a", &["-c:a", "alac"], "alac", "mp4", None),
    ("aac.m4a", &["-c:a", "aac", "-b:a", "160k"], "aac", "mp4", None),
    ("cbr.mp3", &["-c:a", "libmp3lame", "-b:a", "192k"], "mp3", "mp3", None),
    ("vbr.mp3", &["-c:a", "libmp3lame", "-q:a", "4"], "mp3", "mp3", None),
    ("mpeg2.mp3", &["-c:a", "libmp3lame", "-ar", "22050", "-b:a", "64k"], "mp3", "mp3", None),
    ("vorbis.ogg", &["-c:a", "libvorbis", "-q:a", "5"], "vorbis", "ogg", None),
    ("flac.mka", &["-c:a", "flac"], "flac", "matroska", Some(16)),
    ("s24.mka", &["-c:a", "pcm_s24le"], "pcm_s24le", "matroska", Some(24)),
];

/// The encoded corpus, made once and shared by every test process of every run (nextest runs
/// each test in a process of its own): in the target's temporary directory, named by a hash of
/// the recipe, so a changed recipe makes a new corpus. Built aside and renamed into place, so a
/// process never reads a half-written one.
fn corpus() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        let mut recipe = std::collections::hash_map::DefaultHasher::new();
        (FORMATS, FRAMES, RATE).hash(&mut recipe);
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = root.join(format!("audio-corpus-{:016x}", recipe.finish()));
        if dir.exists() {
            return dir;
        }
        let aside = root.join(format!("audio-corpus-{}-building", std::process::id()));
        let _ = std::fs::remove_dir_all(&aside);
        std::fs::create_dir_all(&aside).unwrap();
        let src = aside.join("source.wav");
        write_tone(&src, FRAMES, 2, None);
        let src = src.to_str().unwrap().to_owned();
        for (name, args, ..) in FORMATS {
            let out = aside.join(name);
            let mut all = vec!["-i", src.as_str()];
            all.extend_from_slice(args);
            all.extend_from_slice(&[
                "-metadata",
                "title=Night Drive",
                "-metadata",
                "artist=Ana",
                "-metadata",
                "album=Demos",
            ]);
            all.push(out.to_str().unwrap());
            ffmpeg(&all);
        }
        // Another process may have finished first: then its corpus is used and ours goes.
        if std::fs::rename(&aside, &dir).is_err() {
            std::fs::remove_dir_all(&aside).unwrap();
            assert!(dir.exists(), "the corpus could not be moved into {}", dir.display());
        }
        dir
    })
}

fn analyze(path: &Path) -> Result<Value, (i32, String)> {
    let out = cli().arg("analyze").arg(path).output().unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err((out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned()))
    }
}

#[test]
fn every_format_decodes_to_the_exact_length() {
    let dir = corpus();
    for (name, _, codec, container, bits) in FORMATS {
        let path = dir.join(name);
        let facts = analyze(&path).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let expected_rate = if *name == "mpeg2.mp3" { 22_050 } else { RATE };
        let expected_frames = if *name == "mpeg2.mp3" { u64::from(FRAMES) / 2 + 1 } else { u64::from(FRAMES) };
        let frames = facts["frames"].as_u64().unwrap();
        if *name == "mpeg2.mp3" {
            // Resampled by ffmpeg: the length may round by a sample.
            assert!(frames.abs_diff(expected_frames) <= 1, "{name}: {frames} frames");
        } else {
            assert_eq!(frames, expected_frames, "{name}: the decoded length must be exact");
        }
        assert_eq!(facts["sample_rate"], expected_rate, "{name}");
        assert_eq!(facts["channels"], 2, "{name}");
        assert_eq!(facts["codec"], *codec, "{name}");
        assert_eq!(facts["container"], *container, "{name}");
        assert_eq!(facts["bit_depth"].as_u64(), *bits, "{name}");
        let duration = facts["duration_seconds"].as_f64().unwrap();
        assert!((duration - frames as f64 / f64::from(expected_rate)).abs() < 1e-9, "{name}");
        assert_eq!(facts["warnings"], serde_json::json!([]), "{name} must decode cleanly");
        assert_eq!(facts["sha256"].as_str().unwrap().len(), 64);
        let lufs = facts["loudness_lufs"].as_f64().unwrap();
        assert!((-30.0..-5.0).contains(&lufs), "{name}: {lufs} LUFS");
    }
}

/// ffmpeg's `ebur128` filter (libavfilter's own implementation): integrated loudness and true peak.
fn ffmpeg_loudness(path: &Path) -> (f64, f64) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    // The summary comes last: "I: -14.2 LUFS" and, under "True peak:", "Peak: -2.1 dBFS".
    let summary = &text[text.rfind("Summary:").unwrap()..];
    let value = |label: &str| -> f64 {
        let line = summary.lines().find(|l| l.trim_start().starts_with(label)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (value("I:"), value("Peak:"))
}

#[test]
fn loudness_and_true_peak_agree_with_ffmpeg() {
    let dir = corpus();
    for name in ["s16.wav", "flac.flac", "cbr.mp3", "vorbis.ogg"] {
        let path = dir.join(name);
        let facts = analyze(&path).unwrap();
        let (lufs, peak) = (facts["loudness_lufs"].as_f64().unwrap(), facts["true_peak_dbtp"].as_f64().unwrap());
        let (their_lufs, their_peak) = ffmpeg_loudness(&path);
        println!("{name}: {lufs:.2} LUFS, {peak:.2} dBTP; ffmpeg {their_lufs:.1} LUFS, {their_peak:.1} dBTP");
        // ffmpeg prints one decimal.
        assert!((lufs - their_lufs).abs() <= 0.1, "{name}: {lufs} LUFS, ffmpeg {their_lufs}");
        assert!((peak - their_peak).abs() <= 0.2, "{name}: {peak} dBTP, ffmpeg {their_peak}");
    }
}

#[test]
fn deep_wavs_are_wave_format_extensible() {
    // ffmpeg writes WAVE_FORMAT_EXTENSIBLE (0xFFFE) for PCM deeper than 16 bits, so the corpus
    // covers both header forms.
    for (name, tag) in [("s16.wav", 1u16), ("s24.wav", 0xFFFE), ("f32.wav", 0xFFFE)] {
        let bytes = std::fs::read(corpus().join(name)).unwrap();
        assert_eq!(u16::from_le_bytes([bytes[20], bytes[21]]), tag, "{name}");
    }
}

#[test]
fn analyze_prints_every_field_of_the_contract() {
    let facts = analyze(&corpus().join("flac.flac")).unwrap();
    for key in [
        "duration_seconds",
        "sample_rate",
        "channels",
        "bit_depth",
        "codec",
        "container",
        "sha256",
        "tags",
        "has_cover_art",
        "tempo_bpm",
        "tempo_confidence",
        "beats",
        "downbeats",
        "sections",
        "loudness_lufs",
        "true_peak_dbtp",
    ] {
        assert!(facts.get(key).is_some(), "analyze must print {key}");
    }
    // The source clicks every half second: 120 BPM.
    let tempo = facts["tempo_bpm"].as_f64().unwrap();
    assert!((tempo - 120.0).abs() < 1.2, "tempo {tempo}");
    assert!(facts["beats"].as_array().unwrap().len() >= 4);
}

#[test]
fn tags_and_cover_art_are_reported() {
    let dir = corpus();
    for name in ["flac.flac", "cbr.mp3", "vorbis.ogg", "aac.m4a"] {
        let facts = analyze(&dir.join(name)).unwrap();
        assert_eq!(facts["tags"]["title"], "Night Drive", "{name}: {}", facts["tags"]);
        assert_eq!(facts["tags"]["artist"], "Ana", "{name}");
        assert_eq!(facts["tags"]["album"], "Demos", "{name}");
        assert_eq!(facts["has_cover_art"], false, "{name}");
    }
    let cover = dir.join("cover.png");
    ffmpeg(&["-f", "lavfi", "-i", "color=c=orange:s=32x32", "-frames:v", "1", cover.to_str().unwrap()]);
    let with_art = dir.join("art.mp3");
    ffmpeg(&[
        "-i",
        dir.join("s16.wav").to_str().unwrap(),
        "-i",
        cover.to_str().unwrap(),
        "-map",
        "0:a",
        "-map",
        "1:v",
        "-c:a",
        "libmp3lame",
        "-c:v",
        "png",
        "-id3v2_version",
        "3",
        "-disposition:v",
        "attached_pic",
        with_art.to_str().unwrap(),
    ]);
    let facts = analyze(&with_art).unwrap();
    assert_eq!(facts["has_cover_art"], true);
    assert_eq!(facts["frames"], FRAMES, "cover art must not disturb the length");
}

#[test]
fn a_flac_behind_an_id3_tag_is_still_a_flac() {
    let dir = tempfile::tempdir().unwrap();
    let mut tagged = b"ID3\x04\x00\x00\x00\x00\x00\x0a".to_vec(); // a 10-byte tag body
    tagged.extend_from_slice(&[0; 10]);
    tagged.extend(std::fs::read(corpus().join("flac.flac")).unwrap());
    let path = dir.path().join("tagged.flac");
    std::fs::write(&path, tagged).unwrap();
    let facts = analyze(&path).unwrap();
    assert_eq!(facts["container"], "flac");
    assert_eq!(facts["frames"], FRAMES);
}

#[test]
fn the_hash_is_of_the_files_bytes() {
    let path = corpus().join("flac.flac");
    let facts = analyze(&path).unwrap();
    let out = Command::new("sha256sum").arg(&path).output().unwrap();
    let expected = String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_owned();
    assert_eq!(facts["sha256"], expected);
}

#[test]
fn a_wav_whose_header_lies_is_still_measured_from_its_data() {
    let dir = tempfile::tempdir().unwrap();
    // A header claiming far more data than there is (as a recorder that crashed leaves it).
    let long = dir.path().join("claims-more.wav");
    write_tone(&long, 50_000, 2, Some(400_000_000));
    let facts = analyze(&long).unwrap();
    assert_eq!(facts["frames"], 50_000);
    assert!(facts["warnings"][0].as_str().unwrap().starts_with("truncated"), "{}", facts["warnings"]);
    // A streaming writer's placeholder size.
    let streaming = dir.path().join("streaming.wav");
    write_tone(&streaming, 50_000, 1, Some(u32::MAX));
    assert_eq!(analyze(&streaming).unwrap()["frames"], 50_000);
}

#[test]
fn a_truncated_file_is_analysed_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["flac.flac", "s16.wav", "cbr.mp3"] {
        let bytes = std::fs::read(corpus().join(name)).unwrap();
        let cut = dir.path().join(format!("cut-{name}"));
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let facts = analyze(&cut).unwrap_or_else(|e| panic!("{name} cut in half must still analyse: {e:?}"));
        let frames = facts["frames"].as_u64().unwrap();
        assert!(frames > u64::from(FRAMES) / 3 && frames < u64::from(FRAMES), "{name}: {frames}");
        if name != "cbr.mp3" {
            // MP3 has no total the decoder can check against once the end is gone.
            assert!(facts["warnings"].to_string().contains("truncated"), "{name}: {}", facts["warnings"]);
        }
    }
}

#[test]
fn bad_input_gets_its_documented_kind() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let flac = std::fs::read(corpus().join("flac.flac")).unwrap();
    let mut garbled = flac[..8192.min(flac.len())].to_vec();
    garbled.extend(std::iter::repeat_n(0x5Au8, 200_000));
    // Found by the fuzzer: an AIFF whose sample rate is zero made symphonia panic.
    let mut zero_rate = b"FORM\0\0\0\x46AIFFCOMM\0\0\0\x12\0\x01\0\0\0\x0a\0\x10".to_vec();
    zero_rate.extend_from_slice(&[0; 10]);
    zero_rate.extend_from_slice(b"SSND\0\0\0\x1c");
    zero_rate.extend_from_slice(&[0; 28]);
    // Also the fuzzer's: an MP4 sample table claiming 4 billion entries made symphonia try to
    // allocate 64 GB, which aborts the process.
    let mut huge_table = std::fs::read(corpus().join("aac.m4a")).unwrap();
    let at = huge_table.windows(4).position(|w| w == b"stsc").unwrap();
    huge_table[at + 8..at + 12].copy_from_slice(&u32::MAX.to_be_bytes());
    // And a `meta` box at the top level, beside `moov`, whose tag's `data` box claims 4 GB.
    let mut top_level_meta = std::fs::read(corpus().join("aac.m4a")).unwrap();
    let tag = [&16u32.to_be_bytes()[..], b"\xa9too", &0xFFFC_FF0Du32.to_be_bytes(), b"data"].concat();
    let ilst = [&(8 + tag.len() as u32).to_be_bytes()[..], b"ilst", &tag].concat();
    let meta = [&(12 + ilst.len() as u32).to_be_bytes()[..], b"meta", &[0; 4], &ilst].concat();
    top_level_meta.extend_from_slice(&meta);
    // And an ID3v2.3 tag of 35 bytes whose TSSE frame claims 4 GB, before an MP3.
    let mp3 = std::fs::read(corpus().join("cbr.mp3")).unwrap();
    let mut huge_frame = b"ID3\x03\0\0\0\0\0\x23TSSE\xff\x0f\0\x0f\0\0".to_vec();
    huge_frame.extend_from_slice(&[0; 25]);
    huge_frame.extend_from_slice(&mp3[mp3.windows(2).position(|w| w[0] == 0xFF && w[1] & 0xE0 == 0xE0).unwrap()..]);
    // And a FLAC whose Vorbis comment declares a 4 GB vendor string.
    let mut huge_comment = std::fs::read(corpus().join("flac.flac")).unwrap();
    let at = huge_comment.windows(4).position(|w| w == b"Lavf").unwrap();
    huge_comment[at - 4..at].copy_from_slice(&0xF789_0000u32.to_le_bytes());
    // And a WAV claiming 4 GHz, for which the analysis once sized its buffers.
    let mut absurd_rate = std::fs::read(corpus().join("s16.wav")).unwrap();
    absurd_rate[24..28].copy_from_slice(&4_000_000_000u32.to_le_bytes());
    // Audio in forms we cannot decode: GSM in a WAV (a telephone recorder's), Opus in 5.1.
    let gsm = dir.path().join("phone.wav");
    let source = corpus().join("s16.wav");
    ffmpeg(&["-i", source.to_str().unwrap(), "-ar", "8000", "-ac", "1", "-c:a", "libgsm_ms", gsm.to_str().unwrap()]);
    let surround = dir.path().join("surround.opus");
    ffmpeg(&[
        "-i",
        source.to_str().unwrap(),
        "-af",
        "pan=5.1|FL=c0|FR=c1|FC=c0|LFE=c1|BL=c0|BR=c1",
        "-c:a",
        "libopus",
        surround.to_str().unwrap(),
    ]);
    // Junk before a format's marker (the decoder would scan past it): refused.
    let junk_first = [b"f\x02".as_slice(), &flac].concat();
    let junk_after_tag = [b"ID3\x04\x00\x00\x00\x00\x00\x00".as_slice(), b"junk", &flac].concat();
    let cases: Vec<(PathBuf, &str)> = vec![
        (write("junk-first.flac", &junk_first), "not_audio"),
        (write("junk-after-tag.mp3", &junk_after_tag), "not_audio"),
        (write("absurd-rate.wav", &absurd_rate), "corrupt"),
        (write("huge-comment.flac", &huge_comment), "corrupt"),
        (write("zero-rate.aiff", &zero_rate), "corrupt"),
        (write("huge-table.m4a", &huge_table), "corrupt"),
        (write("top-level-meta.m4a", &top_level_meta), "corrupt"),
        (write("huge-id3-frame.mp3", &huge_frame), "corrupt"),
        (write("empty.wav", b""), "empty"),
        (write("notes.mp3", b"these are my lyrics, not audio at all\n"), "not_audio"),
        (write("image.flac", &[0x89, b'P', b'N', b'G', 13, 10, 26, 10, 0, 0, 0, 13]), "not_audio"),
        (write("header-only.flac", &flac[..60]), "truncated"),
        (gsm, "unsupported_codec"),
        (surround, "unsupported_codec"),
        (dir.path().join("missing.wav"), "io"),
    ];
    for (path, kind) in cases {
        let (code, stderr) = analyze(&path).expect_err(&format!("{} must be refused", path.display()));
        assert_eq!(code, 1);
        let line = stderr.trim_end();
        assert!(!line.contains('\n'), "one line only: {line}");
        assert!(line.starts_with(&format!("error: {kind}: ")), "{}: got {line:?}", path.display());
        if kind == "unsupported_codec" {
            // Says what it is and what to do instead.
            let name = path.file_name().unwrap().to_str().unwrap();
            let what = match name {
                "phone.wav" => "wav file's audio",
                _ => "Opus with 6 channels",
            };
            assert!(line.contains(what) && line.contains("export"), "{name}: {line}");
        }
    }
    // A damaged body after a valid header: refused or analysed with a warning, never a panic.
    match analyze(&write("garbled.flac", &garbled)) {
        Ok(facts) => assert!(!facts["warnings"].as_array().unwrap().is_empty()),
        Err((code, stderr)) => {
            assert_eq!(code, 1);
            assert!(stderr.starts_with("error: corrupt: ") || stderr.starts_with("error: truncated: "), "{stderr}");
        }
    }
}

#[test]
fn peaks_are_written_as_json_and_dat() {
    let dir = tempfile::tempdir().unwrap();
    let src = corpus().join("flac.flac");
    let json = dir.path().join("p.json");
    let dat = dir.path().join("p.dat");
    for (format, out) in [("json", &json), ("dat", &dat)] {
        let status = cli()
            .args(["peaks", src.to_str().unwrap(), "--pixels-per-second", "100", "--format", format, "-o"])
            .arg(out)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let v: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["samples_per_pixel"], 441);
    let pixels = u64::from(FRAMES).div_ceil(441);
    assert_eq!(v["length"], pixels);
    assert_eq!(v["data"].as_array().unwrap().len() as u64, pixels * 2);
    let max = v["data"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).max().unwrap();
    assert!(max > 20_000, "the clicks must show in the peaks ({max})");
    let bytes = std::fs::read(&dat).unwrap();
    assert_eq!(bytes.len() as u64, 20 + pixels * 4);
    assert_eq!(&bytes[12..16], &441i32.to_le_bytes());
}

/// Frames ffmpeg decodes from `path` (mono 16-bit at the file's rate): the length to agree with.
fn ffmpeg_frames(path: &Path) -> u64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:a:0", "-ac", "1", "-f", "s16le", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg decodes {}", path.display());
    out.stdout.len() as u64 / 2
}

/// Moves a box's bytes: `file[at..at + len]` removed, and every enclosing box's size (given by
/// their offsets) made `len` smaller.
fn shrink_boxes(file: &mut Vec<u8>, at: usize, len: usize, enclosing: &[usize]) {
    file.drain(at..at + len);
    for &b in enclosing {
        let size = u32::from_be_bytes(file[b..b + 4].try_into().unwrap());
        file[b..b + 4].copy_from_slice(&(size - len as u32).to_be_bytes());
    }
}

/// A phone's video: H.264 and AAC in an MP4 whose `moov/udta/meta` is QuickTime's (no version
/// and flags before its `hdlr`), as phones write it. It was called damaged ("its      box claims
/// more bytes than it holds", the box's name four zero bytes); it decodes to its edit list's
/// length, within an AAC frame of ffmpeg's decode.
#[test]
fn a_phone_video_with_quicktime_metadata_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let iso = dir.path().join("iso.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:d=1.6",
        "-f",
        "lavfi",
        "-i",
        "testsrc=s=320x240:d=1.6:r=30",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        "-movflags",
        "use_metadata_tags",
        "-metadata",
        "com.android.version=12",
        "-metadata",
        "com.android.capture.fps=30",
        iso.to_str().unwrap(),
    ]);
    let mut file = std::fs::read(&iso).unwrap();
    let find =
        |file: &[u8], kind: &[u8], from: usize| file[from..].windows(4).position(|w| w == kind).unwrap() + from - 4;
    let moov = find(&file, b"moov", 0);
    let udta = find(&file, b"udta", moov);
    let meta = find(&file, b"meta", udta);
    assert_eq!(&file[meta + 8..meta + 12], &[0; 4], "ffmpeg writes ISO's full box");
    // QuickTime's `meta`: the four bytes of version and flags taken out.
    shrink_boxes(&mut file, meta + 8, 4, &[moov, udta, meta]);
    let phone = dir.path().join("phone.mp4");
    std::fs::write(&phone, &file).unwrap();
    let facts = analyze(&phone).unwrap();
    assert_eq!(facts["codec"], "aac");
    // The edit list's length, exact: 1.6 s of sine. ffmpeg keeps the last AAC frame's padding
    // (70,656), so within one AAC frame (1,024) of its decode.
    let frames = facts["frames"].as_u64().unwrap();
    assert_eq!(frames, 70_560, "{facts}");
    assert!(frames.abs_diff(ffmpeg_frames(&phone)) <= 1024, "{frames} vs ffmpeg's {}", ffmpeg_frames(&phone));
    // The same file as ffmpeg wrote it decodes alike.
    assert_eq!(analyze(&iso).unwrap()["frames"], facts["frames"]);
}

/// A fast-start M4A whose download stopped half-way: its `moov` is whole, half its audio is
/// there, and it decodes to what ffmpeg decodes of it, with a warning. It was refused ("ends
/// before any audio"). Without a whole `moov` (cut inside it, or a file whose `moov` comes last)
/// there is nothing to decode, and that is still refused as truncated.
#[test]
fn a_half_downloaded_fast_start_m4a_decodes_what_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let (fast, slow) = (dir.path().join("fast.m4a"), dir.path().join("slow.m4a"));
    for (out, flags) in [(&fast, "+faststart"), (&slow, "+default_base_moof")] {
        ffmpeg(&["-f", "lavfi", "-i", "sine=f=440:d=6", "-c:a", "aac", "-movflags", flags, out.to_str().unwrap()]);
    }
    let cut = |from: &Path, bytes: usize, name: &str| {
        let data = std::fs::read(from).unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, &data[..bytes.min(data.len())]).unwrap();
        p
    };
    let half = cut(&fast, std::fs::metadata(&fast).unwrap().len() as usize / 2, "half.m4a");
    let facts = analyze(&half).unwrap();
    let frames = facts["frames"].as_u64().unwrap();
    let theirs = ffmpeg_frames(&half);
    assert!(frames > 44_100 && frames.abs_diff(theirs) <= 1024, "{frames} frames, ffmpeg {theirs}");
    assert!(facts["warnings"][0].as_str().unwrap().starts_with("truncated"), "{facts}");
    for broken in [
        cut(&fast, 400, "inside-moov.m4a"),
        cut(&slow, std::fs::metadata(&slow).unwrap().len() as usize / 2, "no-moov.m4a"),
    ] {
        let (code, message) = analyze(&broken).unwrap_err();
        assert!(message.contains("truncated"), "{}: {code} {message}", broken.display());
    }
}

/// Ogg Opus, decoded by libopus at its own 48 kHz: the header's pre-skip dropped at the start and
/// the last page's end kept to the sample, so the length is ffmpeg's exactly; a voice note (mono,
/// recorded at 16 kHz) too, and a file cut short decodes what arrived, as ffmpeg does.
#[test]
fn opus_decodes_to_ffmpegs_exact_length() {
    let dir = tempfile::tempdir().unwrap();
    let source = corpus().join("s16.wav");
    let encode = |name: &str, options: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec!["-i", source.to_str().unwrap()];
        args.extend_from_slice(options);
        args.extend(["-c:a", "libopus", out.to_str().unwrap()]);
        ffmpeg(&args);
        out
    };
    let song = encode("song.opus", &["-b:a", "128k"]);
    // Packets of 5 ms (240 samples): the pre-skip (312) spans two of them.
    let short_packets = encode("short-packets.opus", &["-frame_duration", "5"]);
    let voice = encode("voice.opus", &["-ac", "1", "-ar", "16000"]);
    for (path, channels) in [(&song, 2), (&short_packets, 2), (&voice, 1)] {
        let facts = analyze(path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let frames = facts["frames"].as_u64().unwrap();
        assert_eq!(frames, ffmpeg_frames(path), "{}: the length must be ffmpeg's", path.display());
        // The source's length at 48 kHz (within the resamplers' rounding): not a whole number of
        // 20 ms packets, so the end was cut, and not 312 samples longer, so the pre-skip was dropped.
        let at_48k = u64::from(FRAMES) * 48_000 / u64::from(RATE);
        assert!(frames.abs_diff(at_48k) <= 4, "{}: {frames} frames, not about {at_48k}", path.display());
        assert_eq!(facts["sample_rate"], 48_000);
        assert_eq!(facts["channels"], channels);
        assert_eq!((facts["codec"].as_str(), facts["container"].as_str()), (Some("opus"), Some("ogg")));
        assert_eq!(facts["warnings"], serde_json::json!([]), "{} must decode cleanly", path.display());
        let lufs = facts["loudness_lufs"].as_f64().unwrap();
        assert!((-30.0..-5.0).contains(&lufs), "{lufs} LUFS");
    }
    let bytes = std::fs::read(&song).unwrap();
    let cut = dir.path().join("cut.opus");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let facts = analyze(&cut).unwrap_or_else(|e| panic!("half an Opus file must still analyse: {e:?}"));
    let frames = facts["frames"].as_u64().unwrap();
    assert_eq!(frames, ffmpeg_frames(&cut));
    assert!(frames > u64::from(FRAMES) / 3, "{frames}");
}

/// Opus where phones, browsers and yt-dlp put it: WebM (a song, a browser's live recording with
/// sizes unknown, a VP9 video), Matroska (a mono voice note at 16 kHz) and MP4. In Matroska the
/// track's CodecDelay is dropped and the last block's DiscardPadding cut, so the length is
/// ffmpeg's exactly; in MP4 the edit list's, which is the source's (ffmpeg keeps the last
/// packet's padding there: within one 20 ms packet). Half a download decodes what arrived.
#[test]
fn opus_in_webm_matroska_and_mp4_decodes_to_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let source = corpus().join("s16.wav");
    let encode = |name: &str, before: &[&str], options: &[&str]| {
        let out = dir.path().join(name);
        let mut args = before.to_vec();
        args.extend(["-i", source.to_str().unwrap()]);
        args.extend_from_slice(options);
        args.extend(["-c:a", "libopus", "-metadata", "title=Night Drive", "-metadata", "artist=Ana"]);
        args.push(out.to_str().unwrap());
        ffmpeg(&args);
        out
    };
    let song = encode("song.webm", &[], &["-b:a", "128k"]);
    let voice = encode("voice.mka", &[], &["-ac", "1", "-ar", "16000"]);
    let video = encode("clip.webm", &["-f", "lavfi", "-i", "testsrc=d=4:s=96x64:r=25"], &["-c:v", "libvpx-vp9"]);
    let in_mp4 = encode("song.mp4", &[], &[]);
    // Written to a pipe, as a browser's MediaRecorder does: no sizes, no cues, no duration.
    let live = dir.path().join("live.webm");
    let piped = Command::new("ffmpeg")
        .args(["-v", "error", "-i", source.to_str().unwrap(), "-c:a", "libopus", "-f", "webm", "-"])
        .output()
        .unwrap();
    assert!(piped.status.success());
    std::fs::write(&live, &piped.stdout).unwrap();
    let at_48k = u64::from(FRAMES) * 48_000 / u64::from(RATE);
    for (path, channels, container) in
        [(&song, 2, "webm"), (&voice, 1, "matroska"), (&video, 2, "webm"), (&live, 2, "webm"), (&in_mp4, 2, "mp4")]
    {
        let name = path.file_name().unwrap().to_string_lossy();
        let facts = analyze(path).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let frames = facts["frames"].as_u64().unwrap();
        let theirs = ffmpeg_frames(path);
        if container == "mp4" {
            assert!(frames <= theirs && theirs - frames < 960, "{name}: {frames} frames, ffmpeg {theirs}");
        } else {
            assert_eq!(frames, theirs, "{name}: the length must be ffmpeg's");
        }
        // Not 312 samples longer (the delay was dropped) nor a whole number of packets (the
        // padding was cut).
        assert!(frames.abs_diff(at_48k) <= 4, "{name}: {frames} frames, not about {at_48k}");
        assert_eq!(
            (facts["sample_rate"].as_u64(), facts["channels"].as_u64()),
            (Some(48_000), Some(channels)),
            "{name}"
        );
        assert_eq!((facts["codec"].as_str(), facts["container"].as_str()), (Some("opus"), Some(container)), "{name}");
        assert_eq!(facts["bit_depth"], Value::Null, "{name}: Opus has no bit depth");
        assert_eq!(facts["warnings"], serde_json::json!([]), "{name} must decode cleanly");
        if name != "live.webm" {
            assert_eq!(
                (facts["tags"]["title"].as_str(), facts["tags"]["artist"].as_str()),
                (Some("Night Drive"), Some("Ana")),
                "{name}"
            );
        }
        let lufs = facts["loudness_lufs"].as_f64().unwrap();
        assert!((-30.0..-5.0).contains(&lufs), "{name}: {lufs} LUFS");
    }
    // Half a download: the cues and tags its head points to are missing.
    for (from, name) in [(&song, "half.webm"), (&live, "half-live.webm")] {
        let bytes = std::fs::read(from).unwrap();
        let half = dir.path().join(name);
        std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
        let facts = analyze(&half).unwrap_or_else(|e| panic!("half a WebM must still analyse: {e:?}"));
        let frames = facts["frames"].as_u64().unwrap();
        assert_eq!(frames, ffmpeg_frames(&half), "{name}");
        assert!(frames > at_48k / 3, "{name}: {frames}");
        let warnings = facts["warnings"].to_string();
        assert!(name == "half-live.webm" || warnings.contains("truncated"), "{name}: {warnings}");
    }
}

/// An APEv2 tag (header, two items, footer), as taggers append it: a title, and a binary item
/// (cover art, say) whose bytes happen to hold what looks like an MPEG frame (here one of the
/// file's own, `frame`): a decoder reading on past the audio would play it.
fn ape_tag(frame: &[u8]) -> Vec<u8> {
    let mut item = Vec::new();
    for (key, value, flags) in [(&b"Title"[..], &b"Night Drive"[..], 0u32), (b"Cover Art (Front)", frame, 2)] {
        item.extend_from_slice(&(value.len() as u32).to_le_bytes());
        item.extend_from_slice(&flags.to_le_bytes());
        item.extend_from_slice(key);
        item.push(0);
        item.extend_from_slice(value);
    }
    let block = |is_header: bool| {
        let mut b = b"APETAGEX".to_vec();
        b.extend_from_slice(&2000u32.to_le_bytes());
        b.extend_from_slice(&((item.len() + 32) as u32).to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        let flags = (1u32 << 31) | if is_header { 1 << 29 } else { 0 };
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b
    };
    [block(true), item.clone(), block(false)].concat()
}

/// A Lyrics3v2 block, then an ID3v1 tag.
fn lyrics_and_id3v1() -> Vec<u8> {
    let mut lyrics = b"LYRICSBEGININD0000210LYR00021[00:01]la la la la la".to_vec();
    lyrics.extend_from_slice(format!("{:06}", lyrics.len()).as_bytes());
    lyrics.extend_from_slice(b"LYRICS200");
    let mut id3v1 = b"TAGNight Drive".to_vec();
    id3v1.resize(128, 0);
    [lyrics, id3v1].concat()
}

#[test]
fn trailing_ape_lyrics3_and_id3v1_tags_are_not_audio() {
    let dir = corpus();
    let tmp = tempfile::tempdir().unwrap();
    // Without a Xing/LAME header (many encoders write none), nothing says where the audio ends.
    let plain = tmp.path().join("plain.mp3");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(dir.join("cbr.mp3"))
        .args(["-c", "copy", "-write_xing", "0"])
        .arg(&plain)
        .status()
        .unwrap();
    assert!(status.success());
    let clean = std::fs::read(&plain).unwrap();
    let frames = analyze(&plain).unwrap()["frames"].as_u64().unwrap();
    // A frame from the middle of the file: 192 kb/s at 44.1 kHz, 626 or 627 bytes from its header.
    let at = clean.len() / 2 + clean[clean.len() / 2..].windows(2).position(|w| w == [0xFF, 0xFB]).unwrap();
    let frame = &clean[at..at + 627];
    for (name, tail) in [
        ("ape.mp3", ape_tag(frame)),
        ("lyrics-id3v1.mp3", lyrics_and_id3v1()),
        ("all.mp3", [ape_tag(frame), lyrics_and_id3v1()].concat()),
    ] {
        let path = tmp.path().join(name);
        std::fs::write(&path, [clean.clone(), tail].concat()).unwrap();
        let facts = analyze(&path).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(facts["frames"].as_u64(), Some(frames), "{name}: the tags must not decode as audio");
        assert_eq!(facts["warnings"], serde_json::json!([]), "{name}");
    }
}

#[test]
fn audio_in_a_codec_we_lack_is_named_not_called_missing_or_cut_short() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], &str); 4] = [
        (
            "ac3.m4a",
            &["-f", "lavfi", "-i", "sine=f=440:d=2", "-c:a", "ac3"],
            "unsupported_codec: the mp4 file's audio is Dolby Digital (AC-3)",
        ),
        (
            "speex.ogg",
            &["-f", "lavfi", "-i", "sine=f=440:d=2", "-ar", "16000", "-c:a", "libspeex"],
            "unsupported_codec: the ogg file's audio is Speex",
        ),
        (
            "ac3.mka",
            &["-f", "lavfi", "-i", "sine=f=440:d=2", "-c:a", "ac3"],
            "unsupported_codec: the matroska file's audio is Dolby Digital (AC-3)",
        ),
        // A video with no sound track is still no audio.
        (
            "silent.mp4",
            &["-f", "lavfi", "-i", "testsrc=d=1:s=64x64", "-c:v", "mpeg4"],
            "not_audio: the file holds no audio track",
        ),
    ];
    for (name, args, said) in cases {
        let path = tmp.path().join(name);
        let status = Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).arg(&path).status().unwrap();
        assert!(status.success(), "ffmpeg could not make {name}");
        let (code, message) = analyze(&path).expect_err(name);
        assert_eq!(code, 1, "{name}");
        assert!(message.contains(said), "{name}: {message}");
    }
}
