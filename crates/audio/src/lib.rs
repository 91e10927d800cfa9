//! resonance-audio: what a creator sees and hears of a track before rendering, and what the
//! render worker follows: exact facts from the decoded frames (never a header's estimate),
//! waveform peaks, and loudness. Invariant: a file is decoded once, as a stream, and every
//! measurement is a sink fed chunk by chunk, so memory does not grow with the track's length.

mod container;
pub mod decode;
pub mod error;
pub mod facts;
pub mod loudness;
mod matroska;
pub mod peaks;
pub mod rhythm;
pub mod samples;
pub mod threaded;
pub mod true_peak;
pub mod wav;

pub use decode::{decode, decode_bytes, quiet_decoder_panics, Format, Sink, Tags};
pub use error::{AudioError, ErrorKind};
pub use facts::{probe, Facts};
pub use peaks::{PeakLevel, PeakPyramid};

/// Everything known about a file: its facts (duration, format, tags, hash, warnings), its rhythm
/// (tempo, beats, downbeats, sections, energy, band envelopes) and its loudness. As one flat JSON
/// object, what `resonance-audio analyze` prints and what the render worker stores as
/// `audio_analysis`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Analysis {
    #[serde(flatten)]
    pub facts: Facts,
    #[serde(flatten)]
    pub rhythm: rhythm::Rhythm,
    /// Integrated loudness (EBU R 128); `None` for a track too short or too quiet to measure.
    pub loudness_lufs: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
}

/// Decodes `file` once and measures everything in [`Analysis`].
pub fn analyze(file: &std::path::Path) -> Result<Analysis, AudioError> {
    analyze_at(file, None)
}

/// [`analyze`], with the beats tracked at a creator's tempo (BPM) when one is given.
pub fn analyze_at(file: &std::path::Path, tempo_bpm: Option<f64>) -> Result<Analysis, AudioError> {
    // Loudness and rhythm each run beside the decoder.
    let mut loudness = threaded::Threaded::new(loudness::Loudness::default());
    let mut rhythm = threaded::Threaded::new(rhythm::RhythmSink::default());
    let facts = probe(file, &mut [&mut loudness, &mut rhythm])?;
    let figures = loudness.finish()?.figures();
    let rhythm = rhythm.finish()?.envelopes.analyse_at(tempo_bpm);
    Ok(Analysis { facts, rhythm, loudness_lufs: figures.integrated_lufs, true_peak_dbtp: figures.true_peak_dbtp })
}

/// White noise in [-1, 1) from a seed (xorshift), for tests that need material without a file.
#[cfg(test)]
pub(crate) fn test_noise(mut state: u64) -> impl FnMut() -> f32 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}
