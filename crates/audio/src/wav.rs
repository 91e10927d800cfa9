//! The canonical 44-byte header of a 16-bit PCM WAV file: what the desktop's preview copy and the
//! tests' own tracks are written with. Invariant: the header describes exactly `data_bytes` of
//! interleaved little-endian 16-bit samples that follow it.

/// The length of the header `pcm16_header` writes.
pub const HEADER_BYTES: usize = 44;

/// The header for `data_bytes` of 16-bit PCM in `channels` channels at `sample_rate`.
pub fn pcm16_header(channels: u16, sample_rate: u32, data_bytes: u32) -> [u8; HEADER_BYTES] {
    let block_align = channels.saturating_mul(2);
    let mut h = [0u8; HEADER_BYTES];
    let fields: [&[u8]; 13] = [
        b"RIFF",
        &data_bytes.saturating_add(36).to_le_bytes(),
        b"WAVEfmt ",
        &16u32.to_le_bytes(), // the fmt chunk's size
        &1u16.to_le_bytes(),  // PCM
        &channels.to_le_bytes(),
        &sample_rate.to_le_bytes(),
        &sample_rate.saturating_mul(u32::from(block_align)).to_le_bytes(), // bytes a second
        &block_align.to_le_bytes(),
        &16u16.to_le_bytes(), // bits a sample
        b"data",
        &data_bytes.to_le_bytes(),
        &[],
    ];
    let mut at = 0;
    for f in fields {
        h[at..at + f.len()].copy_from_slice(f);
        at += f.len();
    }
    h
}

/// A whole WAV file of interleaved `samples`.
pub fn pcm16_file(samples: &[i16], channels: u16, sample_rate: u32) -> Vec<u8> {
    let data_bytes = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(HEADER_BYTES + samples.len() * 2);
    out.extend_from_slice(&pcm16_header(channels, sample_rate, data_bytes));
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_canonical_44_bytes() {
        let file = pcm16_file(&[1, -2, 3, -4], 2, 8_000);
        let expected: Vec<u8> = [
            &b"RIFF"[..],
            &44u32.to_le_bytes(),
            b"WAVEfmt ",
            &16u32.to_le_bytes(),
            &1u16.to_le_bytes(),
            &2u16.to_le_bytes(),
            &8_000u32.to_le_bytes(),
            &32_000u32.to_le_bytes(),
            &4u16.to_le_bytes(),
            &16u16.to_le_bytes(),
            b"data",
            &8u32.to_le_bytes(),
            &[1, 0, 0xfe, 0xff, 3, 0, 0xfc, 0xff],
        ]
        .concat();
        assert_eq!(file, expected);
    }

    #[test]
    fn what_it_writes_decodes_to_the_same_samples() {
        let samples: Vec<i16> = (0..4_410).map(|i| ((i % 200) as i16 - 100) * 300).collect();
        let dir = std::env::temp_dir().join(format!("resonance-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("t.wav");
        std::fs::write(&path, pcm16_file(&samples, 1, 44_100)).unwrap_or_else(|e| panic!("{e}"));
        let facts = crate::facts::probe(&path, &mut []).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!((facts.sample_rate, facts.channels, facts.frames, facts.bit_depth), (44_100, 1, 4_410, Some(16)));
    }
}
