//! The picture the engine draws into: an RGB image at any size.

/// An RGB image, 8 bits a channel, rows top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Frame {
    pub fn new(width: u32, height: u32) -> Self {
        Self { width, height, rgb: vec![0; width as usize * height as usize * 3] }
    }

    /// This frame scaled down by whole-pixel area averaging to `width`×`height` (each a divisor
    /// of this frame's size), as a video scaler would.
    pub fn downscaled(&self, width: u32, height: u32) -> Frame {
        let (fx, fy) = ((self.width / width.max(1)).max(1) as usize, (self.height / height.max(1)).max(1) as usize);
        let mut out = Frame::new(width, height);
        let w = self.width as usize;
        for y in 0..height as usize {
            for x in 0..width as usize {
                for c in 0..3 {
                    let mut sum = 0u32;
                    for dy in 0..fy {
                        for dx in 0..fx {
                            sum += u32::from(self.rgb[((y * fy + dy) * w + x * fx + dx) * 3 + c]);
                        }
                    }
                    out.rgb[(y * width as usize + x) * 3 + c] = ((sum as usize + fx * fy / 2) / (fx * fy)) as u8;
                }
            }
        }
        out
    }
}
