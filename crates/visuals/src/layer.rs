//! The footage layer of a frame: the picture of the cut showing, zoomed and panned as the cut
//! says and punched on the beat, sampled with fixed-point bilinear interpolation, and laid with
//! the graphics at the footage's visibility (alone at 1). Invariant: integer arithmetic only
//! after the per-frame sample positions, so a frame's bytes are the same on every machine and
//! instruction set.

use std::sync::Arc;

use crate::cuts::{cut_at, Footage};
use crate::frame::Frame;
use crate::plan::VisualPlan;

/// For each output column (or row): the two source columns to mix and the second's weight, 0..256.
type Taps = Vec<(u32, u32, u32)>;

pub(crate) struct Layer {
    pic: Arc<Frame>,
    cols: Taps,
    rows: Taps,
    /// The layer's weight over the graphics, 0 to 256 (256: the footage alone).
    pub(crate) alpha: u32,
}

/// Where each of `n` output pixels samples a source of `size` pixels, at `zoom` (≥ 1 fills the
/// frame) with the picture's centre moved by `offset` (a fraction of the frame).
fn taps(n: usize, size: u32, zoom: f64, offset: f64) -> Taps {
    let last = f64::from(size.max(1) - 1);
    (0..n)
        .map(|x| {
            let u = ((x as f64 + 0.5) / n as f64 - 0.5) / zoom + 0.5 - offset;
            let s = (u * f64::from(size) - 0.5).clamp(0.0, last);
            let whole = s.floor();
            let mut i0 = whole as u32;
            let mut f = ((s - whole) * 256.0).round() as u32;
            if f >= 256 {
                i0 += 1;
                f = 0;
            }
            let i0 = i0.min(size.saturating_sub(1));
            (i0, (i0 + 1).min(size.saturating_sub(1)), f)
        })
        .collect()
}

impl Layer {
    /// The layer of `plan` at `t` for a `w`×`h` frame, if footage shows then; `beat` is the
    /// beat's pulse (0 to 1) that punches the zoom.
    pub(crate) fn of(
        plan: &VisualPlan,
        t: f64,
        (w, h): (usize, usize),
        footage: &dyn Footage,
        beat: f32,
    ) -> Option<Layer> {
        if plan.cuts.is_empty() {
            return None;
        }
        let alpha = (plan.footage_visibility.clamp(0.0, 1.0) * 256.0).round() as u32;
        if alpha == 0 {
            return None;
        }
        let k = cut_at(&plan.cuts, t)?;
        let cut = &plan.cuts[k];
        let pic = footage.picture(k, cut.step(t))?;
        let (pw, ph) = (pic.width, pic.height);
        if pw == 0 || ph == 0 || pic.rgb.len() < (pw as usize) * (ph as usize) * 3 {
            return None;
        }
        let p = cut.progress(t);
        let lerp = |a: f32, b: f32| f64::from(a + (b - a) * p);
        let zoom = lerp(cut.zoom[0], cut.zoom[1]).max(1.0) * (1.0 + f64::from(cut.punch * beat.clamp(0.0, 1.0)));
        // A drift never shows past the picture's edge: at most the margin the zoom leaves.
        let margin = (1.0 - 1.0 / zoom) / 2.0;
        let drift = |a: f32, b: f32| lerp(a, b).clamp(-margin, margin);
        let (px, py) = (drift(cut.pan[0][0], cut.pan[1][0]), drift(cut.pan[0][1], cut.pan[1][1]));
        Some(Layer { cols: taps(w, pw, zoom, px), rows: taps(h, ph, zoom, py), pic, alpha })
    }

    /// Row `y` of the layer over `out`, a row of the graphics as RGB bytes (its bytes are the
    /// layer's alone when `alpha` is 256).
    pub(crate) fn blend_row(&self, y: usize, out: &mut [u8]) {
        let Some(&(j0, j1, fy)) = self.rows.get(y) else { return };
        let stride = self.pic.width as usize * 3;
        let (Some(r0), Some(r1)) = (
            self.pic.rgb.get(j0 as usize * stride..(j0 as usize + 1) * stride),
            self.pic.rgb.get(j1 as usize * stride..(j1 as usize + 1) * stride),
        ) else {
            return;
        };
        let a = self.alpha;
        for (px, &(i0, i1, fx)) in out.chunks_exact_mut(3).zip(&self.cols) {
            let (i0, i1) = (i0 as usize * 3, i1 as usize * 3);
            for c in 0..3 {
                let top = u32::from(r0[i0 + c]) * (256 - fx) + u32::from(r0[i1 + c]) * fx;
                let bottom = u32::from(r1[i0 + c]) * (256 - fx) + u32::from(r1[i1 + c]) * fx;
                let v = (top * (256 - fy) + bottom * fy + (1 << 15)) >> 16;
                px[c] = ((u32::from(px[c]) * (256 - a) + v * a + 128) >> 8) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_zoom_one_each_pixel_samples_itself_and_a_zoom_stays_inside_the_picture() {
        let same = taps(8, 8, 1.0, 0.0);
        assert!(same.iter().enumerate().all(|(x, t)| *t == (x as u32, (x as u32 + 1).min(7), 0)), "{same:?}");
        let half = taps(8, 16, 1.0, 0.0);
        assert_eq!(half[0], (0, 1, 128), "a downscale by two samples between two pixels");
        for zoom in [1.0, 1.12, 2.0] {
            for offset in [-0.04, 0.0, 0.04] {
                assert!(taps(100, 37, zoom, offset).iter().all(|(a, b, f)| *a < 37 && *b < 37 && *f < 256));
            }
        }
    }
}
