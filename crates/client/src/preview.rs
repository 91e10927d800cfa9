//! Previewing a track on this machine before it is uploaded: one decoding pass (symphonia, through
//! `resonance-audio`) that draws the waveform progressively, finds tempo, beats and sections, and
//! writes a 16-bit PCM WAV copy that any player (the app's webview included) can play, seek and
//! scrub, whatever the source format. Invariants: the file is decoded once; the waveform handed out
//! while decoding only grows; at most `KEEP_PREVIEWS` WAV copies are kept on disk.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use resonance_audio::rhythm::RhythmSink;
use resonance_audio::threaded::Threaded;
use resonance_audio::{Facts, Format, PeakPyramid, Sink};
use serde::Serialize;

use crate::error::{ClientError, Result};

/// Waveform resolution: 100 min/max pairs a second (10 ms a pixel) at the finest level.
const PIXELS_PER_SECOND: u32 = 100;
/// A progressive waveform update at most this often (in decoded seconds).
const UPDATE_EVERY_SECONDS: u64 = 20;
/// WAV copies kept in the preview directory (the newest ones).
const KEEP_PREVIEWS: usize = 6;

/// The waveform as decoded so far: min, max pairs in [-1, 1], `pixels_per_second` apart.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Waveform {
    pub pixels_per_second: u32,
    pub peaks: Vec<f32>,
    /// Seconds decoded so far.
    pub decoded_seconds: f64,
}

/// A previewed track.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Preview {
    pub facts: Facts,
    pub waveform: Waveform,
    pub tempo_bpm: Option<f64>,
    pub tempo_confidence: f64,
    pub beats: Vec<f64>,
    pub downbeats: Vec<f64>,
    pub sections: Vec<f64>,
    /// The playable copy (16-bit PCM WAV, at most two channels).
    pub playback: PathBuf,
    /// Names this preview for the live look preview (`crate::look`).
    pub track: String,
    /// The whole analysis the look preview plans from (band envelopes included): kept here,
    /// not handed to the web UI.
    #[serde(skip)]
    pub analysis: resonance_audio::Analysis,
    /// What the analysis was read from: the look preview reads it again at a creator's tempo.
    #[serde(skip)]
    pub envelopes: std::sync::Arc<resonance_audio::rhythm::Envelopes>,
}

/// Decodes `source` once; `progress` receives the waveform so far every few seconds of audio.
pub fn preview(source: &Path, data_root: &Path, mut progress: impl FnMut(&Waveform)) -> Result<Preview> {
    let dir = crate::accounts::previews_dir(data_root);
    std::fs::create_dir_all(&dir)?;
    let stem = uuid::Uuid::new_v4();
    let partial = dir.join(format!("{stem}.wav.partial"));
    let playback = dir.join(format!("{stem}.wav"));
    let result = (|| {
        let mut wav = WavWriter::create(&partial)?;
        let mut rhythm = Threaded::new(RhythmSink::default());
        let mut peaks = ProgressivePeaks::new(&mut progress);
        let facts = resonance_audio::probe(source, &mut [&mut wav, &mut rhythm, &mut peaks])
            .map_err(|e| ClientError::not_audio(source, e))?;
        let waveform = peaks.finish();
        wav.finish()?;
        let envelopes = rhythm.finish().map_err(|e| ClientError::not_audio(source, e))?.envelopes;
        Ok::<_, ClientError>((facts, waveform, envelopes.analyse(), envelopes))
    })();
    let (facts, waveform, rhythm, envelopes) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &playback)?;
    prune(&dir, &playback);
    Ok(Preview {
        facts: facts.clone(),
        waveform,
        tempo_bpm: rhythm.tempo_bpm,
        tempo_confidence: rhythm.tempo_confidence,
        beats: rhythm.beats.clone(),
        downbeats: rhythm.downbeats.clone(),
        sections: rhythm.sections.clone(),
        playback,
        track: stem.to_string(),
        analysis: resonance_audio::Analysis { facts, rhythm, loudness_lufs: None, true_peak_dbtp: None },
        envelopes: std::sync::Arc::new(envelopes),
    })
}

/// Removes all but the newest previews (and any partial file older than a day), never `keep`.
fn prune(dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let modified = e.metadata().and_then(|m| m.modified()).ok()?;
            Some((modified, e.path()))
        })
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    let day = std::time::Duration::from_secs(86_400);
    let mut kept = 0;
    for (modified, path) in files {
        let is_partial = path.extension().is_some_and(|e| e == "partial");
        if path == keep {
            continue;
        }
        if is_partial {
            if modified.elapsed().is_ok_and(|age| age > day) {
                let _ = std::fs::remove_file(&path);
            }
            continue;
        }
        kept += 1;
        if kept >= KEEP_PREVIEWS {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Peaks at the finest level, handed out every `UPDATE_EVERY_SECONDS` of decoded audio.
struct ProgressivePeaks<'a> {
    pyramid: PeakPyramid,
    progress: &'a mut dyn FnMut(&Waveform),
    sample_rate: u32,
    frames: u64,
    next_update: u64,
}

impl<'a> ProgressivePeaks<'a> {
    fn new(progress: &'a mut dyn FnMut(&Waveform)) -> Self {
        Self {
            pyramid: PeakPyramid::per_second(PIXELS_PER_SECOND, 1),
            progress,
            sample_rate: 0,
            frames: 0,
            next_update: 0,
        }
    }

    fn waveform(levels: Vec<resonance_audio::PeakLevel>, decoded_seconds: f64) -> Waveform {
        let peaks = levels.into_iter().next().map(|l| l.data).unwrap_or_default();
        Waveform { pixels_per_second: PIXELS_PER_SECOND, peaks, decoded_seconds }
    }

    fn seconds(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.frames as f64 / f64::from(self.sample_rate)
        }
    }

    fn finish(self) -> Waveform {
        let seconds = self.seconds();
        Self::waveform(self.pyramid.finish(), seconds)
    }
}

impl Sink for ProgressivePeaks<'_> {
    fn start(&mut self, format: &Format) {
        self.sample_rate = format.sample_rate;
        self.next_update = u64::from(format.sample_rate);
        self.pyramid.start(format);
    }

    fn push(&mut self, interleaved: &[f32], channels: usize) {
        self.pyramid.push(interleaved, channels);
        self.frames += (interleaved.len() / channels.max(1)) as u64;
        if self.frames >= self.next_update {
            // The first update after one second, so the creator sees something at once.
            self.next_update = self.frames + UPDATE_EVERY_SECONDS * u64::from(self.sample_rate.max(1));
            let waveform = Self::waveform(self.pyramid.levels(), self.seconds());
            (self.progress)(&waveform);
        }
    }
}

/// Writes interleaved f32 as 16-bit PCM WAV, mixing more than two channels down to stereo.
struct WavWriter {
    out: BufWriter<File>,
    channels: u16,
    sample_rate: u32,
    data_bytes: u64,
    error: Option<std::io::Error>,
}

impl WavWriter {
    fn create(path: &Path) -> Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 16, File::create(path)?);
        out.write_all(&[0u8; 44])?; // the header, written at the end
        Ok(Self { out, channels: 2, sample_rate: 44_100, data_bytes: 0, error: None })
    }

    fn write_samples(&mut self, interleaved: &[f32], channels: usize) -> std::io::Result<()> {
        let to_i16 = |v: f32| ((v.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes();
        let mut bytes = Vec::with_capacity(interleaved.len() / channels.max(1) * usize::from(self.channels) * 2);
        for frame in interleaved.chunks_exact(channels.max(1)) {
            match (channels, self.channels) {
                (c, out) if c == usize::from(out) => frame.iter().for_each(|v| bytes.extend_from_slice(&to_i16(*v))),
                _ => {
                    // Down to stereo: even channels left, odd channels right.
                    let (mut l, mut r, mut nl, mut nr) = (0.0, 0.0, 0.0f32, 0.0f32);
                    for (i, v) in frame.iter().enumerate() {
                        if i % 2 == 0 {
                            l += v;
                            nl += 1.0;
                        } else {
                            r += v;
                            nr += 1.0;
                        }
                    }
                    bytes.extend_from_slice(&to_i16(l / nl.max(1.0)));
                    bytes.extend_from_slice(&to_i16(r / nr.max(1.0)));
                }
            }
        }
        self.data_bytes += bytes.len() as u64;
        self.out.write_all(&bytes)
    }

    fn finish(mut self) -> Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e.into());
        }
        let data = u32::try_from(self.data_bytes).map_err(|_| ClientError::Invalid {
            field: "audio".into(),
            message: "the track is too long to preview (over 4 GiB of PCM)".into(),
        })?;
        let header = resonance_audio::wav::pcm16_header(self.channels, self.sample_rate, data);
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&header)?;
        self.out.flush()?;
        Ok(())
    }
}

impl Sink for WavWriter {
    fn start(&mut self, format: &Format) {
        self.channels = if format.channels == 1 { 1 } else { 2 };
        self.sample_rate = format.sample_rate;
    }

    fn push(&mut self, interleaved: &[f32], channels: usize) {
        if self.error.is_none() {
            if let Err(e) = self.write_samples(interleaved, channels) {
                self.error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine_wav(path: &Path, seconds: u32, rate: u32, channels: u16) {
        let frames = seconds * rate;
        let mut samples = Vec::new();
        for i in 0..frames {
            let v = ((i as f32 / rate as f32) * 440.0 * std::f32::consts::TAU).sin() * 0.5;
            samples.extend(std::iter::repeat_n((v * 32767.0) as i16, usize::from(channels)));
        }
        let out = resonance_audio::wav::pcm16_file(&samples, channels, rate);
        std::fs::write(path, out).unwrap_or_else(|e| panic!("cannot write the test track: {e}"));
    }

    #[test]
    fn a_preview_plays_back_the_whole_track_and_draws_the_waveform_as_it_goes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let source = dir.path().join("six-channels.wav");
        sine_wav(&source, 45, 48_000, 6);
        let mut updates: Vec<(usize, f64)> = Vec::new();
        let p = preview(&source, dir.path(), |w| updates.push((w.peaks.len(), w.decoded_seconds)))
            .unwrap_or_else(|e| panic!("a valid track must preview: {e}"));
        assert!(updates.len() >= 2, "the waveform must be handed out while decoding, got {updates:?}");
        assert!(updates.windows(2).all(|w| w[0].0 <= w[1].0), "the progressive waveform only grows");
        assert_eq!(p.waveform.peaks.len(), 45 * 100 * 2, "100 min/max pairs a second");
        let played = resonance_audio::probe(&p.playback, &mut [])
            .unwrap_or_else(|e| panic!("the playback copy must decode: {e}"));
        assert_eq!(played.frames, 45 * 48_000, "the playback copy holds every frame");
        assert_eq!(played.channels, 2, "more than two channels are mixed down to stereo");
        assert_eq!(played.sample_rate, 48_000);
        assert!(!p.playback.with_extension("wav.partial").exists());
    }

    /// An Opus voice note (as a phone or a messenger saves it) previews like any track: played
    /// back as a WAV at Opus' 48 kHz with every frame ffmpeg decodes.
    #[test]
    fn an_opus_voice_note_previews() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (wav, opus) = (dir.path().join("note.wav"), dir.path().join("note.opus"));
        sine_wav(&wav, 3, 16_000, 1);
        let encoded = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&wav)
            .args(["-c:a", "libopus"])
            .arg(&opus)
            .status()
            .unwrap_or_else(|e| panic!("ffmpeg: {e}"));
        assert!(encoded.success());
        let p = preview(&opus, dir.path(), |_| {}).unwrap_or_else(|e| panic!("an Opus file must preview: {e}"));
        assert_eq!(p.waveform.peaks.len(), 3 * 100 * 2);
        let played = resonance_audio::probe(&p.playback, &mut []).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((played.frames, played.sample_rate, played.channels), (3 * 48_000, 48_000, 1));
    }

    #[test]
    fn a_file_that_is_not_audio_is_refused_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let source = dir.path().join("notes.mp3");
        std::fs::write(&source, b"these are my notes, not a song").unwrap_or_else(|e| panic!("{e}"));
        let err = preview(&source, dir.path(), |_| {}).err();
        assert!(err.is_some(), "text must not preview as audio");
        let left = std::fs::read_dir(crate::accounts::previews_dir(dir.path())).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "a refused preview leaves no file behind");
    }

    #[test]
    fn only_the_newest_previews_are_kept() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let source = dir.path().join("short.wav");
        sine_wav(&source, 1, 8_000, 1);
        for _ in 0..KEEP_PREVIEWS + 3 {
            preview(&source, dir.path(), |_| {}).unwrap_or_else(|e| panic!("{e}"));
        }
        let left = std::fs::read_dir(crate::accounts::previews_dir(dir.path())).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, KEEP_PREVIEWS, "older previews are removed");
    }
}
