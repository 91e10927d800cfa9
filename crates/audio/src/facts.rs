//! The facts of a file: exact duration from the decoded frames, format, tags, cover art and the
//! SHA-256 of its bytes.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decode::{decode, Decoded, Sink, Tags};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Facts {
    pub duration_seconds: f64,
    /// Samples per channel, decoded.
    pub frames: u64,
    pub sample_rate: u32,
    pub channels: usize,
    pub bit_depth: Option<u32>,
    pub codec: String,
    pub container: String,
    pub sha256: String,
    pub tags: Tags,
    pub has_cover_art: bool,
    pub warnings: Vec<String>,
}

/// SHA-256 of the file's bytes, streamed.
pub fn sha256_of(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf)? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

impl Facts {
    pub fn from_decoded(d: Decoded, sha256: String) -> Self {
        let rate = d.format.sample_rate.max(1);
        Self {
            duration_seconds: d.frames as f64 / f64::from(rate),
            frames: d.frames,
            sample_rate: d.format.sample_rate,
            channels: d.format.channels,
            bit_depth: d.format.bit_depth,
            codec: d.format.codec,
            container: d.format.container.to_owned(),
            sha256,
            tags: d.tags,
            has_cover_art: d.has_cover_art,
            warnings: d.warnings,
        }
    }
}

/// Decodes the whole file (the only way to an exact duration) and hashes it.
pub fn probe(path: &Path, sinks: &mut [&mut dyn Sink]) -> Result<Facts> {
    let decoded = decode(path, sinks)?;
    Ok(Facts::from_decoded(decoded, sha256_of(path)?))
}
