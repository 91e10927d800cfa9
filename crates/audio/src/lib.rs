//! resonance-audio: what a creator sees and hears of a track before rendering, and what the
//! render worker follows: exact facts from the decoded frames (never a header's estimate),
//! waveform peaks, and loudness. Invariant: a file is decoded once, as a stream, and every
//! measurement is a sink fed chunk by chunk, so memory does not grow with the track's length.

mod container;
pub mod decode;
pub mod error;
pub mod facts;
pub mod loudness;
pub mod peaks;
pub mod rhythm;
pub mod threaded;
pub mod true_peak;
pub mod wav;

pub use decode::{decode, decode_bytes, quiet_decoder_panics, Format, Sink};
pub use error::{AudioError, ErrorKind};
pub use facts::{probe, Facts, Tags};
pub use peaks::{PeakLevel, PeakPyramid};

/// Everything known about a file, as one JSON object: its facts (duration, format, tags, hash,
/// warnings), its rhythm (tempo, beats, downbeats, sections, energy) and its loudness. What
/// `resonance-audio analyze` prints and what the render worker stores as `audio_analysis`.
pub fn analyze(file: &std::path::Path) -> Result<serde_json::Value, AudioError> {
    // Loudness and rhythm each run beside the decoder.
    let mut loudness = threaded::Threaded::new(loudness::Loudness::default());
    let mut rhythm = threaded::Threaded::new(rhythm::RhythmSink::default());
    let facts = probe(file, &mut [&mut loudness, &mut rhythm])?;
    let figures = loudness.finish()?.figures();
    let rhythm = rhythm.finish()?.envelopes.analyse();
    let to_json =
        |v: serde_json::Result<serde_json::Value>| v.map_err(|e| AudioError::new(ErrorKind::Io, e.to_string()));
    let mut out = to_json(serde_json::to_value(&facts))?;
    if let (Some(map), serde_json::Value::Object(r)) = (out.as_object_mut(), to_json(serde_json::to_value(&rhythm))?) {
        map.extend(r);
        map.insert("loudness_lufs".into(), serde_json::json!(figures.integrated_lufs));
        map.insert("true_peak_dbtp".into(), serde_json::json!(figures.true_peak_dbtp));
    }
    Ok(out)
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
