//! Waveform peaks: min/max of the channel mix per pixel at a base resolution, and a pyramid of
//! coarser levels (each twice as coarse) for zooming out, all built while decoding so a UI can
//! draw a coarse view before the end. Output as JSON or audiowaveform's binary `.dat` (v1).

use serde::Serialize;

use crate::decode::{Format, Sink};

/// One zoom level: `data` holds min, max pairs in [-1, 1].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeakLevel {
    pub sample_rate: u32,
    pub samples_per_pixel: u32,
    pub data: Vec<f32>,
}

impl PeakLevel {
    pub fn pixels(&self) -> usize {
        self.data.len() / 2
    }

    fn to_i16(v: f32) -> i16 {
        (v.clamp(-1.0, 1.0) * 32767.0).round() as i16
    }

    /// audiowaveform-style JSON: `{version, channels, sample_rate, samples_per_pixel, bits, length, data}`.
    pub fn to_json(&self) -> serde_json::Value {
        let data: Vec<i16> = self.data.iter().map(|v| Self::to_i16(*v)).collect();
        serde_json::json!({
            "version": 2, "channels": 1, "sample_rate": self.sample_rate,
            "samples_per_pixel": self.samples_per_pixel, "bits": 16, "length": self.pixels(), "data": data,
        })
    }

    /// audiowaveform's binary format, version 1, 16-bit: a 20-byte little-endian header, then
    /// min/max pairs as i16.
    pub fn to_dat(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + self.data.len() * 2);
        out.extend_from_slice(&1i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // flags: 16-bit samples
        out.extend_from_slice(&(self.sample_rate as i32).to_le_bytes());
        out.extend_from_slice(&(self.samples_per_pixel as i32).to_le_bytes());
        out.extend_from_slice(&(self.pixels() as u32).to_le_bytes());
        for v in &self.data {
            out.extend_from_slice(&Self::to_i16(*v).to_le_bytes());
        }
        out
    }
}

/// Builds the base level and its coarser levels as audio arrives.
#[derive(Debug, Clone)]
pub struct PeakPyramid {
    sample_rate: u32,
    base: u32,
    /// When set, the base resolution is chosen from the stream's rate at `start`.
    pixels_per_second: Option<u32>,
    levels: Vec<Vec<f32>>,
    /// The pixel in progress at the base level: (min, max, samples so far).
    current: (f32, f32, u32),
}

impl PeakPyramid {
    /// `samples_per_pixel` at the base level (at least 1); `levels` in all, base included.
    pub fn new(sample_rate: u32, samples_per_pixel: u32, levels: usize) -> Self {
        Self {
            sample_rate,
            base: samples_per_pixel.max(1),
            pixels_per_second: None,
            levels: vec![Vec::new(); levels.max(1)],
            current: (f32::MAX, f32::MIN, 0),
        }
    }

    /// A pyramid with `pixels_per_second` at the base level, sized when the stream starts.
    pub fn per_second(pixels_per_second: u32, levels: usize) -> Self {
        Self { pixels_per_second: Some(pixels_per_second.max(1)), ..Self::new(0, 1, levels) }
    }

    fn finish_pixel(&mut self) {
        let (min, max, n) = self.current;
        if n == 0 {
            return;
        }
        self.current = (f32::MAX, f32::MIN, 0);
        self.levels[0].extend_from_slice(&[min, max]);
        // Each completed pair of pixels at one level makes a pixel at the next.
        for l in 1..self.levels.len() {
            let below = &self.levels[l - 1];
            let pixels = below.len() / 2;
            if !pixels.is_multiple_of(2) || pixels / 2 <= self.levels[l].len() / 2 {
                break;
            }
            let i = (pixels - 2) * 2;
            let (a, b) = ((below[i], below[i + 1]), (below[i + 2], below[i + 3]));
            self.levels[l].extend_from_slice(&[a.0.min(b.0), a.1.max(b.1)]);
        }
    }

    /// The levels so far, finest first (a partial last pixel is not included until `finish`).
    pub fn levels(&self) -> Vec<PeakLevel> {
        self.levels
            .iter()
            .enumerate()
            .map(|(i, data)| PeakLevel {
                sample_rate: self.sample_rate,
                samples_per_pixel: self.base << i,
                data: data.clone(),
            })
            .collect()
    }

    /// Closes the last partial pixel of every level and returns the levels, finest first.
    pub fn finish(mut self) -> Vec<PeakLevel> {
        self.finish_pixel();
        for l in 1..self.levels.len() {
            let below = &self.levels[l - 1];
            let want = below.len().div_ceil(4);
            if self.levels[l].len() / 2 < want {
                let i = (self.levels[l].len() / 2) * 4;
                let tail = &below[i..];
                let min = tail.chunks(2).filter_map(|pair| pair.first()).copied().fold(f32::MAX, f32::min);
                let max = tail.chunks(2).filter_map(|pair| pair.get(1)).copied().fold(f32::MIN, f32::max);
                self.levels[l].extend_from_slice(&[min, max]);
            }
        }
        self.levels()
    }
}

impl Sink for PeakPyramid {
    fn start(&mut self, format: &Format) {
        self.sample_rate = format.sample_rate;
        if let Some(pps) = self.pixels_per_second {
            self.base = (format.sample_rate / pps).max(1);
        }
    }

    fn push(&mut self, interleaved: &[f32], channels: usize) {
        let ch = channels.max(1);
        let scale = 1.0 / ch as f32;
        for frame in interleaved.chunks_exact(ch) {
            let v = frame.iter().sum::<f32>() * scale;
            let c = &mut self.current;
            c.0 = c.0.min(v);
            c.1 = c.1.max(v);
            c.2 += 1;
            if c.2 == self.base {
                self.finish_pixel();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_halve_and_keep_the_extremes() {
        let mut p = PeakPyramid::new(8, 2, 3);
        // 10 mono frames: pixels of 2 → 5 at the base, 3 at level 1, 2 at level 2.
        let samples = [0.1, -0.2, 0.5, 0.3, -0.9, 0.0, 0.2, 0.8, -0.1, 0.1];
        p.push(&samples, 1);
        let levels = p.finish();
        assert_eq!(levels[0].data, vec![-0.2, 0.1, 0.3, 0.5, -0.9, 0.0, 0.2, 0.8, -0.1, 0.1]);
        assert_eq!(levels[1].data, vec![-0.2, 0.5, -0.9, 0.8, -0.1, 0.1]);
        assert_eq!(levels[2].data, vec![-0.9, 0.8, -0.1, 0.1]);
        assert_eq!(levels[2].samples_per_pixel, 8);
    }

    #[test]
    fn channels_are_mixed() {
        let mut p = PeakPyramid::new(8, 1, 1);
        p.push(&[1.0, -1.0, 0.5, 0.5], 2);
        assert_eq!(p.finish()[0].data, vec![0.0, 0.0, 0.5, 0.5]);
    }

    #[test]
    fn dat_has_audiowaveforms_header() {
        let level = PeakLevel { sample_rate: 44100, samples_per_pixel: 441, data: vec![-1.0, 1.0] };
        let dat = level.to_dat();
        assert_eq!(dat.len(), 24);
        assert_eq!(&dat[0..4], &1i32.to_le_bytes());
        assert_eq!(&dat[16..20], &1u32.to_le_bytes());
        assert_eq!(&dat[20..22], &(-32767i16).to_le_bytes());
    }
}
