//! Shared by the audio tests: writing 16-bit PCM WAV files the tests make themselves.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

/// Writes interleaved samples in [-1, 1] as 16-bit PCM. `declared_data_bytes` overrides the data
/// chunk's size field (a header that lies).
pub fn write_wav(path: &Path, samples: &[f32], channels: u16, rate: u32, declared_data_bytes: Option<u32>) {
    let data_len = u32::try_from(samples.len() * 2).unwrap();
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(&resonance_audio::wav::pcm16_header(channels, rate, declared_data_bytes.unwrap_or(data_len)));
    // The RIFF size stays true even when the data chunk's size lies.
    out[4..8].copy_from_slice(&(36 + data_len).to_le_bytes());
    for s in samples {
        out.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
    }
    std::fs::write(path, out).unwrap();
}
