//! Drawing a frame of a plan at any size. A frame is composed row by row in three kinds of layer:
//! - soft layers (skies, fog, nebulae, fields, glows, bokeh) evaluated on a grid of a row for
//!   eight output rows (see `soft_size`) and interpolated: blur and glow carry no detail worth
//!   the cost;
//! - sharp layers (lines, rings, particles, skylines, the retro sun and grid) evaluated at every
//!   output pixel with analytic anti-aliasing, so 2160p has four times the edges of 1080p;
//! - per-pixel finishing (letterbox, grain, scan lines, RGB split, block displacement, flashes).
//!
//! Invariant: a frame is a pure function of (plan, t, width, height): rows are shared among
//! threads but each pixel's arithmetic is the same whichever thread draws it, and only the
//! written-out functions of `math` are used, so the bytes are the same on every machine.

use std::sync::Mutex;

use resonance_api::model::StylePreference as Style;

use crate::color::Rgb;
use crate::cuts::{Footage, NoFootage};
use crate::frame::Frame;
use crate::layer::Layer;
use crate::math::{atan2, cos, exp, fbm, fract, hash, mix, noise, rnd, round_small, sin, smoothstep, Whole};
use crate::plan::{Palette, VisualPlan};
use crate::prompt::{Light, Motif};

/// Draws the frame of `plan` at `t` seconds into `frame`, on every core.
pub fn draw(plan: &VisualPlan, t: f64, frame: &mut Frame) {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    draw_with_threads(plan, t, frame, threads);
}

/// [`draw`] on `threads` threads: the same bytes for any number.
pub fn draw_with_threads(plan: &VisualPlan, t: f64, frame: &mut Frame, threads: usize) {
    draw_on(plan, t, frame, threads, Isa::detect(), &NoFootage);
}

/// [`draw_with_threads`] with the pictures of the plan's footage from `footage` (see
/// [`crate::cuts`]): at visibility 1 the footage alone, at 0 the graphics alone (the bytes of a
/// plan without footage), between them the two mixed.
pub fn draw_with_footage(plan: &VisualPlan, t: f64, frame: &mut Frame, threads: usize, footage: &dyn Footage) {
    draw_on(plan, t, frame, threads, Isa::detect(), footage);
}

/// [`draw`] on one thread with the baseline instruction set only (no AVX2 even where the CPU
/// has it): the reference the faster path is held to, byte for byte.
pub fn draw_baseline(plan: &VisualPlan, t: f64, frame: &mut Frame) {
    draw_on(plan, t, frame, 1, Isa::Baseline, &NoFootage);
}

/// [`draw_baseline`] with footage: the reference for [`draw_with_footage`].
pub fn draw_baseline_with_footage(plan: &VisualPlan, t: f64, frame: &mut Frame, footage: &dyn Footage) {
    draw_on(plan, t, frame, 1, Isa::Baseline, footage);
}

fn draw_on(plan: &VisualPlan, t: f64, frame: &mut Frame, threads: usize, isa: Isa, footage: &dyn Footage) {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => draw_using(plan, t, frame, threads, &mut scratch, isa, footage),
        Err(_) => draw_using(plan, t, frame, threads, &mut Scratch::default(), isa, footage),
    });
}

/// The instructions the per-pixel passes are compiled for. The passes are written once and
/// compiled twice: for the baseline x86-64 (SSE2) and, where the CPU has it, for AVX2, whose
/// wider vectors draw a frame in about two thirds of the instructions. Only IEEE addition,
/// multiplication, division, square root, comparisons and conversions are used (no fused
/// multiply-add: FMA is not enabled), each exact, so both give the same bytes; a test holds them
/// to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Baseline,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Isa {
    fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Isa::Avx2;
        }
        Isa::Baseline
    }

    #[allow(unsafe_code)]
    fn soft_rows(self, pass: &SoftPass<'_>, first: usize, chunk: &mut [f32], samples: &mut [[f32; 3]]) {
        match self {
            Isa::Baseline => pass.rows(first, chunk, samples),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Isa::Avx2` is only chosen where the CPU reports AVX2 (`detect`).
            Isa::Avx2 => unsafe { avx2::soft_rows(pass, first, chunk, samples) },
        }
    }

    #[allow(unsafe_code)]
    fn compose_rows(self, pass: &ComposePass<'_>, first: usize, chunk: &mut [u8], rows: &mut (Row, Row)) {
        match self {
            Isa::Baseline => pass.rows(first, chunk, rows),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Isa::Avx2 => unsafe { avx2::compose_rows(pass, first, chunk, rows) },
        }
    }
}

/// The passes compiled for AVX2: everything they call per pixel is `#[inline(always)]`, so it
/// is compiled into these copies with the wider instructions.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{ComposePass, Row, SoftPass};

    #[target_feature(enable = "avx2")]
    pub(super) fn soft_rows(pass: &SoftPass<'_>, first: usize, chunk: &mut [f32], samples: &mut [[f32; 3]]) {
        pass.rows(first, chunk, samples);
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn compose_rows(pass: &ComposePass<'_>, first: usize, chunk: &mut [u8], rows: &mut (Row, Row)) {
        pass.rows(first, chunk, rows);
    }
}

/// Buffers a frame needs besides itself, kept from one frame to the next on the thread that
/// draws (a render draws thousands of frames of one size): every value is written before it is
/// read, so what they held before does not matter.
#[derive(Default)]
struct Scratch {
    /// The soft layers, widened: per soft-grid row, three planes of the output's width.
    wide: Vec<f32>,
    /// The soft grid's samples of one row.
    samples: Vec<[f32; 3]>,
    /// The row being composed and a second one to shift it into.
    rows: Option<(Row, Row)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Soft-grid rows per work item.
const SOFT_CHUNK_ROWS: usize = 8;
/// How far an out-of-focus city light shines: d² < CITY_REACH², in frame heights² (and a little
/// more across, where the lights are looked up: `CITY_ACROSS`² > `CITY_REACH2`).
const CITY_REACH2: f32 = 0.012;
const CITY_ACROSS: f32 = 0.1096;

fn draw_using(
    plan: &VisualPlan,
    t: f64,
    frame: &mut Frame,
    threads: usize,
    scratch: &mut Scratch,
    isa: Isa,
    footage: &dyn Footage,
) {
    let (w, h) = (frame.width as usize, frame.height as usize);
    if w == 0 || h == 0 {
        return;
    }
    let layer = Layer::of(plan, t, (w, h), footage, pulse(&plan.beats, t, 0.12).0);
    if let Some(alone) = layer.as_ref().filter(|l| l.alpha == 256) {
        // The footage alone: no graphics to draw under it.
        rows_in_parallel(
            &mut frame.rgb,
            w * 3 * BIN_ROWS,
            threads,
            &mut (),
            || (),
            |_, first, chunk| {
                for (j, out) in chunk.chunks_mut(w * 3).enumerate() {
                    alone.blend_row(first * BIN_ROWS + j, out);
                }
            },
        );
        return;
    }
    let ctx = Ctx::new(plan, t, w, h);
    let (lw, lh) = soft_size(w, h);
    // The soft layers, sampled on the soft grid and widened to the output's width at once (each
    // row three planes), so that each output row is a blend of two of these rows.
    let runs = upsample_runs(w, lw);
    let soft = SoftPass { ctx: &ctx, runs: &runs, lw, lh, w };
    scratch.wide.resize(lh * 3 * w, 0.0);
    scratch.samples.resize(lw, [0.0; 3]);
    rows_in_parallel(
        &mut scratch.wide,
        3 * w * SOFT_CHUNK_ROWS,
        threads,
        &mut scratch.samples,
        || vec![[0.0f32; 3]; lw],
        |samples, first, chunk| isa.soft_rows(&soft, first, chunk, samples),
    );
    let prims = ctx.primitives();
    let compose = ComposePass {
        ctx: &ctx,
        wide: &scratch.wide,
        bins: bin(&prims, h),
        prims: &prims,
        silhouettes: ctx.silhouettes(),
        bar: ctx.letterbox(),
        layer: layer.as_ref(),
        lh,
        w,
        h,
    };
    let rows = match &mut scratch.rows {
        Some(rows) if rows.0.planes[0].len() == w => rows,
        slot => slot.insert((Row::new(w), Row::new(w))),
    };
    rows_in_parallel(
        &mut frame.rgb,
        w * 3 * BIN_ROWS,
        threads,
        rows,
        || (Row::new(w), Row::new(w)),
        |rows, first, chunk| isa.compose_rows(&compose, first, chunk, rows),
    );
}

/// The soft layers of a frame, sampled on the soft grid and widened.
struct SoftPass<'a> {
    ctx: &'a Ctx<'a>,
    runs: &'a [Run],
    lw: usize,
    lh: usize,
    w: usize,
}

impl SoftPass<'_> {
    /// Soft-grid rows from `first * SOFT_CHUNK_ROWS` on, into `chunk` (three planes a row).
    #[inline(always)]
    fn rows(&self, first: usize, chunk: &mut [f32], samples: &mut [[f32; 3]]) {
        let (ctx, w, lw) = (self.ctx, self.w, self.lw);
        for (j, out) in chunk.chunks_mut(3 * w).enumerate() {
            let v = ((first * SOFT_CHUNK_ROWS + j) as f32 + 0.5) / self.lh as f32;
            for (i, px) in samples.iter_mut().enumerate().take(lw) {
                let u = (i as f32 + 0.5) / lw as f32 * ctx.aspect;
                *px = ctx.soft(u, v);
            }
            for (c, plane) in out.chunks_exact_mut(w).enumerate() {
                for run in self.runs {
                    let a = samples[run.left][c];
                    let d = samples[run.right][c] - a;
                    for (px, &t) in plane[run.from..run.to].iter_mut().zip(&run.tx) {
                        *px = a + d * t;
                    }
                }
            }
        }
    }
}

/// The frame's rows: the soft layers interpolated, then the sharp layers, silhouettes,
/// primitives and finishing, written out as bytes.
struct ComposePass<'a> {
    ctx: &'a Ctx<'a>,
    wide: &'a [f32],
    prims: &'a [Prim],
    bins: Vec<Vec<usize>>,
    silhouettes: Vec<Silhouette>,
    /// The letterbox bars' height, in rows.
    bar: f32,
    /// The footage, mixed with the graphics as each row is written.
    layer: Option<&'a Layer>,
    lh: usize,
    w: usize,
    h: usize,
}

impl ComposePass<'_> {
    /// Output rows from `first * BIN_ROWS` on, into `chunk` (RGB bytes).
    #[inline(always)]
    fn rows(&self, first: usize, chunk: &mut [u8], (row, scratch): &mut (Row, Row)) {
        let (ctx, w, h, lh, wide) = (self.ctx, self.w, self.h, self.lh, self.wide);
        for (j, out) in chunk.chunks_mut(w * 3).enumerate() {
            let y = first * BIN_ROWS + j;
            if (y as f32) < self.bar || (y as f32) >= ctx.h - self.bar {
                // The cinematic letterbox: black, nothing under it drawn.
                out.fill(0);
                continue;
            }
            // Soft layers, interpolated: between two rows of the widened grid.
            let fy = ((y as f32 + 0.5) / h as f32 * lh as f32 - 0.5).clamp(0.0, (lh - 1) as f32);
            let j0 = (fy.ffloor() as usize).min(lh.saturating_sub(2));
            let ty = (fy - j0 as f32).min(1.0);
            let j1 = (j0 + 1).min(lh - 1);
            let (above, below) = (&wide[j0 * 3 * w..(j0 + 1) * 3 * w], &wide[j1 * 3 * w..(j1 + 1) * 3 * w]);
            for ((plane, a), b) in row.planes.iter_mut().zip(above.chunks_exact(w)).zip(below.chunks_exact(w)) {
                for ((px, a), b) in plane.iter_mut().zip(a).zip(b) {
                    *px = a + (b - a) * ty;
                }
            }
            row.flash = (0.0, [0.0; 3]);
            ctx.sharp_row(y, row);
            for s in &self.silhouettes {
                s.draw_row(ctx, y, row);
            }
            for &p in &self.bins[y / BIN_ROWS] {
                self.prims[p].draw_row(y, row);
            }
            ctx.finish_row(y, row, scratch);
            row.write_bytes(out);
            if let Some(layer) = self.layer {
                layer.blend_row(y, out);
            }
        }
    }
}

/// One row of the frame being composed: linear values, one plane per channel so that per-channel
/// loops vectorise, and the cover (0..1 per column) of the layer being drawn (once finished, the
/// vignette's fade).
struct Row {
    planes: [Vec<f32>; 3],
    cover: Vec<f32>,
    /// The flash over the finished row: its strength and colour.
    flash: (f32, [f32; 3]),
}

impl Row {
    fn new(w: usize) -> Row {
        Row { planes: [vec![0.0; w], vec![0.0; w], vec![0.0; w]], cover: vec![0.0; w], flash: (0.0, [0.0; 3]) }
    }

    /// `col` over every column with weight `a` times its cover (none where the cover is 0).
    #[inline(always)]
    fn blend_covered(&mut self, col: [f32; 3], a: f32) {
        self.blend_covered_span(0, self.cover.len(), col, a);
    }

    /// `blend_covered` over the columns `x0..x1` only (`x0 <= x1 <= width`).
    #[inline(always)]
    fn blend_covered_span(&mut self, x0: usize, x1: usize, col: [f32; 3], a: f32) {
        for (plane, c) in self.planes.iter_mut().zip(col) {
            for (v, &k) in plane[x0..x1].iter_mut().zip(&self.cover[x0..x1]) {
                *v += (c - *v) * (k * a);
            }
        }
    }

    /// The row as interleaved RGB bytes, faded by `cover` (the vignette and lift) and
    /// flashed, in one pass (which vectorises, the interleaving included: a third fewer
    /// instructions than converting each plane, then interleaving).
    #[inline(always)]
    fn write_bytes(&mut self, out: &mut [u8]) {
        let (flash, flash_col) = self.flash;
        let [r, g, b] = &self.planes;
        let n = self.cover.len().min(out.len() / 3);
        let pixels = out[..3 * n].chunks_exact_mut(3).zip(&r[..n]).zip(&g[..n]).zip(&b[..n]).zip(&self.cover[..n]);
        if flash > 0.0 {
            for ((((px, r), g), b), fade) in pixels {
                let (r, g, b) = (r * fade, g * fade, b * fade);
                px[0] = to_byte(r + (flash_col[0] - r) * flash);
                px[1] = to_byte(g + (flash_col[1] - g) * flash);
                px[2] = to_byte(b + (flash_col[2] - b) * flash);
            }
        } else {
            for ((((px, r), g), b), fade) in pixels {
                px[0] = to_byte(r * fade);
                px[1] = to_byte(g * fade);
                px[2] = to_byte(b * fade);
            }
        }
    }

    /// `col` times `a` times each column's cover, added.
    #[inline(always)]
    fn add_covered(&mut self, col: [f32; 3], a: f32) {
        for (plane, c) in self.planes.iter_mut().zip(col) {
            for (v, &k) in plane.iter_mut().zip(&self.cover) {
                *v += c * (k * a);
            }
        }
    }
}

/// 0..=1 to 0..=255, rounded to nearest: adding 2²³ leaves the rounded value in the low
/// mantissa bits, which (unlike a saturating float-to-int cast) vectorises.
#[allow(clippy::manual_clamp, reason = "max then min maps NaN to 0; clamp would keep it NaN")]
#[inline(always)]
fn to_byte(v: f32) -> u8 {
    ((v.max(0.0).min(1.0) * 255.0 + 8_388_608.0).to_bits() & 0xff) as u8
}

/// Output columns `from..to` lie between soft columns `left` and `right`, at fractions `tx`.
struct Run {
    from: usize,
    to: usize,
    left: usize,
    right: usize,
    tx: Vec<f32>,
}

/// The runs of output columns that share two soft-grid samples, left to right.
fn upsample_runs(w: usize, lw: usize) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for x in 0..w {
        let fx = ((x as f32 + 0.5) / w as f32 * lw as f32 - 0.5).clamp(0.0, (lw - 1) as f32);
        let i = (fx.ffloor() as usize).min(lw.saturating_sub(2));
        let tx = (fx - i as f32).min(1.0);
        match runs.last_mut() {
            Some(run) if run.left == i => {
                run.to = x + 1;
                run.tx.push(tx);
            }
            _ => runs.push(Run { from: x, to: x + 1, left: i, right: (i + 1).min(lw - 1), tx: vec![tx] }),
        }
    }
    runs
}

/// Rows of the output per work item and per primitive bin.
const BIN_ROWS: usize = 16;

/// The soft grid's rows for a preview-sized frame (at most `PREVIEW_ROWS` rows): those of a
/// 1080p render, so that a preview samples the soft layers where a 1080p render does. Other
/// sizes sample them elsewhere (720p on 90 rows); the soft layers are smooth enough that this
/// moves a preview's pixels by little (the engine tests hold the preview to the 1080p frame).
/// The grid's size jumps at `PREVIEW_ROWS` (135 rows, then 67 at 541): harmless, since no
/// output size is near it and the layers are the same functions sampled more or less densely.
const SOFT_ROWS: usize = 135;
const PREVIEW_ROWS: usize = 540;

/// The grid soft layers are evaluated on: one row for eight output rows (an eighth of the
/// height, as blur and glow need no more), or for a preview (a short edge of `PREVIEW_ROWS` or
/// less) the rows a 1080p render of its shape has: `SOFT_ROWS` on the short edge.
fn soft_size(w: usize, h: usize) -> (usize, usize) {
    let short = w.min(h).max(1);
    let lh = if short <= PREVIEW_ROWS { h.min(SOFT_ROWS * h / short) } else { h / 8 }.max(2);
    let lw = ((lh * w + h / 2) / h).max(2);
    (lw, lh)
}

/// Calls `work(state, index, chunk)` for each `chunk_len` piece of `buf`, on `threads` threads,
/// each with a state of its own: `mine` on this thread, one made by `fresh` on any other.
fn rows_in_parallel<T: Send, S>(
    buf: &mut [T],
    chunk_len: usize,
    threads: usize,
    mine: &mut S,
    fresh: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize, &mut [T]) + Sync,
) {
    let queue = Mutex::new(buf.chunks_mut(chunk_len.max(1)).enumerate());
    let next = || queue.lock().map_or(None, |mut q| q.next());
    let drain = |state: &mut S| {
        while let Some((i, chunk)) = next() {
            work(state, i, chunk);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads.max(1) {
            s.spawn(|| drain(&mut fresh()));
        }
        drain(mine);
    });
}

/// How strongly the last event at or before `t` still shows: 1 on it, decaying with `tau`.
fn pulse(times: &[f64], t: f64, tau: f64) -> (f32, usize) {
    let i = times.partition_point(|b| *b <= t);
    match i.checked_sub(1).and_then(|j| times.get(j)) {
        Some(b) => (exp(-((t - b) / tau) as f32), i),
        None => (0.0, 0),
    }
}

/// The picture's brightness follows the music's energy averaged over this much of the past:
/// read at one instant, a loud note between two beats lit the whole frame at once and made a
/// change as sharp as a beat's. (The pace, its integral, is smooth already.)
pub const ENERGY_WINDOW_SECONDS: f64 = 0.4;

/// Everything about one frame that does not depend on the pixel.
struct Ctx<'a> {
    plan: &'a VisualPlan,
    style: Style,
    w: f32,
    h: f32,
    aspect: f32,
    /// The frame's short edge in units (the height is 1): 1 in 16:9 and 1:1, less in 9:16 and
    /// 4:5. The figures at the centre (polygons, rings, waves, the kaleidoscope) are sized by it,
    /// so a vertical frame is composed for its width, not cropped from a landscape one.
    fit: f32,
    /// `fit`'s square root, once per frame: the suns and the moon belong to the scene more than
    /// to the figures, and shrink less in a narrow frame.
    sun_scale: f32,
    t: f32,
    /// Distance travelled: time, faster when the music is loud and the prompt asks for speed.
    travel: f32,
    beat: f32,
    beat_index: usize,
    down: f32,
    flash: f32,
    flash_index: usize,
    energy: f32,
    low: f32,
    mid: f32,
    high: f32,
    /// How much beats and bands move things: from the effect intensity.
    k: f32,
    /// The footage layer's weight.
    scene_weight: f32,
    /// The style's graphics' weight over the scene.
    graphics: f32,
    pal: Palette,
    variant: u32,
    seed: u32,
    cam_x: f32,
    zoom: f32,
    horizon: Option<f32>,
    frame_no: u32,
    city_lights: Vec<Light2>,
    bokeh: Vec<Light2>,
    /// The geometric grid's vertical lines' cover of each column (the same on every row).
    grid_columns: Vec<f32>,
    /// Per column, the square of its distance from the middle (−1 at the left edge, 1 at the right).
    across_squared: Vec<f32>,
    /// This frame's grain: `GRAIN_LEN` + width values in -0.5..0.5 (for the styles that have
    /// grain).
    grain: Vec<f32>,
    /// The organic field's two colours and its accent at this frame's level.
    field: [[f32; 3]; 3],
    /// How brightly the ground mirrors the sky.
    reflection: f32,
    /// Abstract's palette (primary, secondary, accent) graded vivid, and in its dark hues.
    vivid: [[Rgb; 3]; 2],
    /// The sun's colour ([`Palette::sun`]) and its glow's, once a frame rather than per sample.
    sun_color: Rgb,
    sun_glow: [f32; 3],
    /// How much weather hides the sky's light: 1 under rain or lightning, ½ under clouds or fog.
    overcast: f32,
}

/// Where a row's grain may start in the frame's table: more than the widest frame, so no row
/// repeats itself.
const GRAIN_LEN: usize = 4096;

#[inline(always)]
fn has(plan: &VisualPlan, m: Motif) -> bool {
    plan.motifs.contains(&m)
}

/// Soft lights whose places depend on the frame only: computed once per frame, not per sample.
#[derive(Debug, Clone, Copy)]
struct Light2 {
    u: f32,
    v: f32,
    /// 1 / radius², or the disc's radius for bokeh.
    size: f32,
    color: [f32; 3],
    gain: f32,
}

impl<'a> Ctx<'a> {
    fn new(plan: &'a VisualPlan, t: f64, w: usize, h: usize) -> Self {
        let k = 0.15 + 0.85 * plan.effect_intensity;
        let (beat, beat_index) = pulse(&plan.beats, t, 0.11);
        let (down, _) = pulse(&plan.downbeats, t, 0.35);
        let (flash, flash_index) = pulse(&plan.flashes, t, 0.07);
        let pace = f64::from(plan.pace);
        let travel = (plan.energy.integral(t, 0.45, 0.9) * pace) as f32;
        // The scene, and the palette turning from the previous one over the first second.
        let i = plan.scenes.iter().rposition(|s| s.start <= t).unwrap_or(0);
        let (pal, variant, since) = match plan.scenes.get(i) {
            Some(s) => {
                let since = (t - s.start) as f32;
                let pal = match i.checked_sub(1).and_then(|p| plan.scenes.get(p)) {
                    Some(prev) if since < 1.0 => prev.palette.mix(&s.palette, smoothstep(0.0, 1.0, since)),
                    _ => s.palette,
                };
                (pal, s.variant, if i == 0 { 10.0 } else { since })
            }
            None => (Palette::default_dark(), 0, 10.0),
        };
        // A scene change swings the camera across.
        let swing = if since < 0.8 { (1.0 - smoothstep(0.0, 0.8, since)) * 0.25 } else { 0.0 };
        // The creator's footage takes the place of the scene the prompt describes.
        let scene_weight = (if plan.cuts.is_empty() { plan.footage_visibility } else { 0.0 })
            * match plan.style {
                Style::Minimal => 0.45,
                Style::Abstract => 0.75,
                Style::Geometric => 0.85,
                _ => 1.0,
            };
        let ground =
            [Motif::City, Motif::Forest, Motif::Desert, Motif::Ocean, Motif::Mountains].iter().any(|m| has(plan, *m))
                || plan.style == Style::Retro;
        let (low, mid, high) = (plan.low.at(t), plan.mid.at(t), plan.high.at(t));
        let fit = (w as f32 / h as f32).min(1.0);
        let mut ctx = Ctx {
            plan,
            style: plan.style,
            w: w as f32,
            h: h as f32,
            aspect: w as f32 / h as f32,
            fit,
            sun_scale: fit.sqrt(),
            t: t as f32,
            travel,
            beat,
            beat_index,
            down,
            flash,
            flash_index,
            energy: plan.energy.mean(t - ENERGY_WINDOW_SECONDS, t),
            low,
            mid,
            high,
            k,
            scene_weight,
            graphics: 1.0 - 0.5 * plan.footage_visibility,
            pal,
            variant,
            seed: plan.noise_seed ^ variant,
            cam_x: 0.03 * sin(travel * 0.11) + swing,
            zoom: 1.0 + 0.035 * beat * k + 0.02 * low * k,
            horizon: ground.then_some(if plan.style == Style::Retro { 0.6 } else { 0.66 }),
            frame_no: (t * 30.0).round().max(0.0) as u32,
            city_lights: Vec::new(),
            bokeh: Vec::new(),
            grid_columns: Vec::new(),
            across_squared: (0..w)
                .map(|x| {
                    let du = (x as f32 + 0.5) / w as f32 * 2.0 - 1.0;
                    du * du
                })
                .collect(),
            grain: Vec::new(),
            field: [[0.0; 3]; 3],
            reflection: if matches!(plan.light, Light::Night | Light::Dusk) { 0.3 } else { 0.5 },
            vivid: [[Rgb::BLACK; 3]; 2],
            sun_color: pal.sun(),
            sun_glow: pal.sun().mix(Rgb::hex(0xffe2a0), 0.3).0,
            overcast: if has(plan, Motif::Rain) || has(plan, Motif::Lightning) {
                1.0
            } else if has(plan, Motif::Clouds) || has(plan, Motif::Smoke) {
                0.5
            } else {
                0.0
            },
        };
        if ctx.style == Style::Abstract {
            let p = ctx.pal;
            let vivid = [p.primary, p.secondary, p.accent].map(|c| c.graded(1.25, 1.0));
            ctx.vivid = [vivid, vivid.map(Rgb::amber)];
        }
        if ctx.style == Style::Organic {
            // Brighter under a bright sky; darker yellows turn amber, not olive.
            let base = if matches!(plan.light, Light::Day | Light::Golden | Light::Dawn) { 0.6 } else { 0.45 };
            let level = base + 0.35 * ctx.energy + 0.2 * ctx.beat * ctx.k;
            let p = ctx.pal;
            ctx.field = [p.primary.deepened(level).0, p.secondary.deepened(level).0, p.accent.scale(level).0];
        }
        if matches!(ctx.style, Style::Cinematic | Style::Retro) {
            let frame = hash(ctx.frame_no ^ 0x5bd1_e995);
            // Long enough that a row starting anywhere in the first `GRAIN_LEN` reads a whole row.
            ctx.grain =
                (0..(GRAIN_LEN + w) as u32).map(|i| (hash(i ^ frame) >> 8) as f32 / 16_777_216.0 - 0.5).collect();
        }
        ctx.lights();
        if ctx.style == Style::Geometric {
            ctx.grid_columns = (0..w).map(|x| ctx.grid_line((x as f32 + 0.5) * ctx.px(), true)).collect();
        }
        ctx
    }

    /// The soft lights of this frame: the city's out-of-focus lights and the cinematic bokeh.
    fn lights(&mut self) {
        let (s, p, aspect) = (self.seed, self.pal, w_of(self));
        if has(self.plan, Motif::City) {
            let horizon = self.horizon.unwrap_or(1.0);
            let gain = self.scene_weight * 0.3 * (0.7 + 0.5 * self.high);
            self.city_lights = (0..16u32)
                .map(|i| Light2 {
                    u: fract(rnd(s, 70, i) - self.cam_x * 0.3 + self.travel * 0.002) * (aspect + 0.2) - 0.1,
                    v: horizon - 0.02 - 0.2 * rnd(s, 71, i),
                    size: 900.0,
                    color: [p.primary, p.secondary, p.accent][(i % 3) as usize].0,
                    gain,
                })
                .collect();
            // By position across, so that each sample visits only the lights within its reach.
            self.city_lights.sort_by(|a, b| a.u.total_cmp(&b.u));
        }
        if self.style == Style::Cinematic {
            // The lights bloom on the beat: the one quick thing in a slow, filmic picture.
            let gain = self.graphics * 0.16 * (0.7 + 0.5 * self.mid + 0.8 * self.beat * self.k);
            self.bokeh = (0..14u32)
                .map(|i| Light2 {
                    u: fract(rnd(s, 40, i) + self.travel * 0.004 * (1.0 + rnd(s, 41, i))) * (aspect + 0.2) - 0.1,
                    v: 0.15 + 0.7 * rnd(s, 42, i),
                    size: 0.03 + 0.05 * rnd(s, 43, i),
                    color: if i % 2 == 0 { p.primary.0 } else { p.accent.0 },
                    gain,
                })
                .collect();
        }
    }

    /// Units: the frame's height is 1; `u` runs 0..aspect, `v` 0..1 (top to bottom).
    fn px(&self) -> f32 {
        1.0 / self.h
    }

    /// The soft layers at (u, v).
    #[inline(always)]
    fn soft(&self, u: f32, v: f32) -> [f32; 3] {
        let p = &self.pal;
        let horizon = self.horizon.unwrap_or(1.0);
        let mut c = if v <= horizon {
            p.sky_top.mix(p.sky_bottom, smoothstep(0.0, horizon, v)).0
        } else {
            // The ground mirrors the sky dimly, as wet streets and still water do.
            let mirrored = (2.0 * horizon - v).max(0.0);
            p.sky_top.mix(p.sky_bottom, smoothstep(0.0, horizon, mirrored)).scale(self.reflection).mix(p.ink, 0.4).0
        };
        let sw = self.scene_weight;
        let plan = self.plan;
        if self.style == Style::Retro {
            // A synthwave sky: deep at the top, burning at the horizon, with the sun's glow.
            let top = p.secondary.scale(0.18);
            // Burning at the horizon: the primary with the warmer of the other two.
            let partner = if p.secondary.warmth() >= p.accent.warmth() { p.secondary } else { p.accent };
            let bottom = p.primary.mix(partner, 0.35);
            c = if v <= horizon { top.mix(bottom, smoothstep(0.05, horizon, v)).0 } else { p.ink.scale(0.6).0 };
            let (sx, sy) = (self.aspect * 0.5, horizon - 0.17 * self.sun_scale);
            let d2 = (u - sx) * (u - sx) + (v - sy) * (v - sy);
            add(&mut c, p.accent.0, 0.45 * exp(-d2 * 9.0) * (0.8 + 0.3 * self.low) * (1.0 - 0.7 * self.overcast));
        }
        if self.style == Style::Minimal {
            let flat = if matches!(plan.light, Light::Night | Light::Dusk) {
                Rgb::hex(0x141416).mix(p.primary, 0.06)
            } else {
                Rgb::hex(0xecebe6).mix(p.primary, 0.08)
            };
            c = flat.0;
            let d2 = (u - self.aspect * 0.5).powi(2) + (v - 0.5).powi(2);
            blend(&mut c, p.primary.0, 0.05 * exp(-d2 * 4.0));
        }
        // The scene the prompt describes.
        if sw > 0.0 {
            self.soft_scene(u, v, horizon, sw, &mut c);
        }
        // The style's own soft graphics.
        let g = self.graphics;
        let (zu, zv) = self.zoomed(u, v);
        match self.style {
            Style::Organic => {
                let s = self.seed;
                let drift = self.travel * 0.06;
                // The warp needs less detail than the field it bends.
                let qx = fbm(s, zu * 1.6 + drift, zv * 1.6, 2);
                let qy = fbm(s ^ 7, zu * 1.6 - drift * 0.7, zv * 1.6 + 3.1, 2);
                let r = fbm(s ^ 13, zu * 1.3 + 2.2 * qx + drift * 0.5, zv * 1.3 + 2.2 * qy + self.mid * 0.12, 3);
                let [a, b, accent] = self.field;
                let t = smoothstep(0.35, 0.65, r);
                let mut f = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
                add(&mut f, accent, smoothstep(0.62, 0.8, r) * (0.5 + 0.6 * self.mid));
                blend(&mut c, f, 0.85 * g);
            }
            Style::Geometric => {
                let d2 = (zu - self.aspect * 0.5).powi(2) + (zv - 0.5).powi(2);
                c = scale(c, 1.0 - 0.45 * g);
                add(&mut c, p.primary.0, g * exp(-d2 * 5.0) * (0.25 + 0.35 * self.low + 0.25 * self.beat * self.k));
            }
            Style::Cinematic => {
                // Light leaks drifting across, and out-of-focus lights.
                let lx = self.aspect * (0.15 + 0.7 * fract(self.travel * 0.013 + 0.3));
                let d2 = (u - lx).powi(2) + (v - 0.25).powi(2);
                add(
                    &mut c,
                    Rgb::hex(0xff8a3d).mix(p.accent, 0.3).0,
                    g * 0.35 * exp(-d2 * 3.0) * (0.7 + 0.4 * self.energy),
                );
                for b in &self.bokeh {
                    let d2 = (u - b.u).powi(2) + (v - b.v).powi(2);
                    if d2 < b.size * b.size {
                        add(&mut c, b.color, b.gain * (1.0 - smoothstep(b.size * 0.8, b.size, d2.sqrt())));
                    }
                }
            }
            Style::Abstract => {
                let (f, hue) = self.kaleidoscope(zu, zv);
                let (t1, t2) = (smoothstep(0.2, 0.8, fract(hue)), smoothstep(0.55, 0.9, f));
                // The palette, graded once a frame, bright and in its dark hue (see `deepened`).
                let pick = |set: &[Rgb; 3]| set[0].mix(set[1], t1).mix(set[2], t2);
                let (bright, dark) = (pick(&self.vivid[0]), pick(&self.vivid[1]));
                let level = 0.35 + 0.75 * f * (0.7 + 0.3 * self.energy) + 0.45 * self.beat * self.k;
                let col = if level >= 1.0 { bright.scale(level) } else { dark.mix(bright, level).scale(level) };
                blend(&mut c, col.0, 0.92 * (1.0 - 0.35 * self.plan.footage_visibility));
            }
            Style::Glitch => {
                // Bands of flat digital colour that jump on the beat.
                let band = (v * 18.0).ffloor() as u32;
                // A band shows while its roll is under the beat's level, and fades as the level
                // passes it rather than going out in one frame between the beats.
                let roll = rnd(self.seed, 60 + self.beat_index as u32, band);
                let on = ((0.1 + 0.2 * self.k * self.beat - roll) * 25.0).clamp(0.0, 1.0);
                if on > 0.0 {
                    let col = if roll < 0.05 { p.accent } else { p.secondary };
                    blend(&mut c, col.0, 0.55 * g * on);
                }
                c = scale(c, 0.9);
            }
            Style::Retro | Style::Minimal => {}
        }
        c
    }

    /// The scene's soft layers: sun and moon glow, clouds, nebulae, aurora, fog, fire glow, the sea.
    #[inline(always)]
    fn soft_scene(&self, u: f32, v: f32, horizon: f32, sw: f32, c: &mut [f32; 3]) {
        let p = &self.pal;
        let plan = self.plan;
        let s = self.seed;
        let drift = self.travel * 0.02;
        if has(plan, Motif::Space) {
            let n = fbm(s ^ 101, u * 1.4 + drift, v * 1.4, 4);
            let m = fbm(s ^ 103, u * 2.1 - drift, v * 2.1 + 5.0, 3);
            let neb = p.primary.mix(p.secondary, m).0;
            add(c, neb, sw * 0.7 * smoothstep(0.45, 0.8, n) * (0.8 + 0.4 * self.mid));
        }
        if has(plan, Motif::Aurora) && v < horizon {
            let centre = 0.25
                + 0.08 * sin(u * 2.0 + self.travel * 0.2)
                + 0.05 * (noise(s ^ 5, u * 3.0, self.travel * 0.1) - 0.5);
            let a = exp(-((v - centre) / 0.09).powi(2)) * (0.4 + 0.6 * noise(s ^ 6, u * 6.0 + self.travel * 0.3, 0.0));
            add(c, p.primary.mix(p.secondary, smoothstep(0.1, 0.4, v)).0, sw * 0.8 * a * (0.7 + 0.5 * self.mid));
        }
        if let Some((sx, sy, r)) = self.sun() {
            let d2 = (u - sx).powi(2) + (v - sy).powi(2);
            add(c, self.sun_glow, sw * 0.55 * exp(-d2 / (r * r * 6.0)) * (0.85 + 0.3 * self.low));
        }
        if let Some((mx, my, r)) = self.moon() {
            let d2 = (u - mx).powi(2) + (v - my).powi(2);
            add(c, [0.75, 0.8, 0.95], sw * 0.25 * exp(-d2 / (r * r * 5.0)));
        }
        if has(plan, Motif::Clouds) && v < horizon {
            let n = fbm(s ^ 111, u * 1.3 - self.travel * 0.015, v * 3.5, 4);
            let cloud = if matches!(plan.light, Light::Night) {
                p.sky_bottom.scale(0.7)
            } else {
                p.sky_bottom.mix(Rgb::WHITE, 0.6)
            };
            let lit = if self.flash > 0.0 && has(plan, Motif::Lightning) { 0.5 * self.flash } else { 0.0 };
            blend(c, cloud.mix(Rgb::WHITE, lit).0, sw * 0.75 * smoothstep(0.5, 0.75, n) * (1.0 - v / horizon * 0.5));
        }
        if has(plan, Motif::Chrome) {
            let bend = v + 0.08 * sin(u * 3.0 + self.travel * 0.3) + 0.15 * fbm(s ^ 9, u, v, 2);
            let band = 0.5 + 0.5 * sin(bend * 16.0 + self.travel * 0.5);
            let metal = p.primary.mix(Rgb::hex(0xf0f4f8), band * band).scale(0.35 + 0.65 * band);
            blend(c, metal.0, sw * 0.55);
        }
        if has(plan, Motif::Ocean) && v > horizon {
            let depth = v - horizon;
            let z = 1.0 / (depth + 0.03);
            let ripple = 0.5 + 0.5 * sin(z * 2.5 + self.travel * 1.2 + 3.0 * noise(s ^ 21, u * z * 0.6, z * 0.3));
            let water = p.primary.scale(0.45).mix(p.sky_bottom, 0.35 * (1.0 - smoothstep(0.0, 0.3, depth)));
            let mut wc = water.scale(0.65 + 0.35 * ripple).0;
            if let Some((sx, _, _)) = self.sun() {
                add(&mut wc, self.sun_glow, 0.5 * exp(-((u - sx) / (0.06 + depth * 0.5)).powi(2)) * ripple);
            }
            blend(c, wc, sw.min(1.0) * 0.95);
        }
        if has(plan, Motif::Embers) {
            let heat = smoothstep(0.55, 1.0, v) * (0.6 + 0.5 * fbm(s ^ 31, u * 3.0, v * 2.0 + self.travel * 0.4, 3));
            add(c, Rgb::hex(0xff5a1a).mix(p.primary, 0.3).0, sw * 0.45 * heat * (0.7 + 0.5 * self.low));
        }
        if has(plan, Motif::City) {
            // Out-of-focus city lights along the horizon.
            // Only the lights within reach across (sorted by `u`: see `lights`).
            let from = self.city_lights.partition_point(|l| l.u < u - CITY_ACROSS);
            for l in self.city_lights[from..].iter().take_while(|l| l.u <= u + CITY_ACROSS) {
                let d2 = (u - l.u).powi(2) + (v - l.v).powi(2);
                if d2 < CITY_REACH2 {
                    add(c, l.color, l.gain * exp(-d2 * l.size));
                }
            }
        }
        if has(plan, Motif::Smoke) {
            let n = fbm(s ^ 41, u * 1.8 + self.travel * 0.05, v * 2.6 - self.travel * 0.02, 4);
            let fog = p.sky_bottom.mix(Rgb::hex(0xc8ccd6), 0.5);
            blend(c, fog.0, sw * 0.55 * smoothstep(0.35, 0.8, n));
        }
    }

    /// Where the sun is, if the scene has one: (u, v, radius).
    #[inline(always)]
    fn sun(&self) -> Option<(f32, f32, f32)> {
        if self.style == Style::Retro || !has(self.plan, Motif::Sun) || matches!(self.plan.light, Light::Night) {
            return None;
        }
        let horizon = self.horizon.unwrap_or(0.75);
        let low = matches!(self.plan.light, Light::Dawn | Light::Golden | Light::Dusk);
        Some((
            self.aspect * 0.62 - self.cam_x * 0.2,
            if low { horizon - 0.1 } else { 0.22 },
            if low { 0.1 } else { 0.07 } * self.sun_scale,
        ))
    }

    #[inline(always)]
    fn moon(&self) -> Option<(f32, f32, f32)> {
        has(self.plan, Motif::Moon).then_some((self.aspect * 0.75 - self.cam_x * 0.2, 0.2, 0.055 * self.sun_scale))
    }

    /// (u, v) zoomed about the centre by the beat, and carried by the camera.
    #[inline(always)]
    fn zoomed(&self, u: f32, v: f32) -> (f32, f32) {
        let cx = self.aspect * 0.5;
        ((u - cx) / self.zoom + cx + self.cam_x, (v - 0.5) / self.zoom + 0.5)
    }

    /// The abstract style's field: a kaleidoscope whose echoes zoom out of it, as a feedback
    /// warp does, but computed from time alone. (brightness 0..1, hue position)
    #[inline(always)]
    fn kaleidoscope(&self, u: f32, v: f32) -> (f32, f32) {
        let (x, y) = ((u - self.aspect * 0.5) / self.fit, (v - 0.5) / self.fit);
        let r = (x * x + y * y).sqrt();
        let folds = 5.0 + (self.variant % 4) as f32;
        let seg = std::f32::consts::TAU / folds;
        let spin = self.travel * 0.08 + self.down * 0.2 * self.k;
        let a = atan2(y, x) + spin;
        let a = (a - seg * (a / seg).ffloor() - seg * 0.5).abs();
        let (qx, qy) = (r * cos(a), r * sin(a));
        let mut total = 0.0;
        let mut weight = 1.0;
        let mut norm = 0.0;
        for echo in 0..3 {
            let zoom = 1.0 + echo as f32 * 0.6;
            let tt = self.travel * 0.12 - echo as f32 * 0.15;
            // The fainter echoes need less detail.
            let octaves = 3 - echo;
            let n = fbm(self.seed ^ 77, qx * 3.0 * zoom + tt, qy * 3.0 * zoom - tt * 0.5, octaves);
            let ring = 0.5 + 0.5 * sin(r * 22.0 * zoom - self.travel * 1.5 + n * 6.0 + self.mid * 2.0);
            total += weight * ring * smoothstep(0.3, 0.7, n + 0.2 * self.low);
            norm += weight;
            weight *= 0.55;
        }
        (total / norm, r * 1.5 + self.travel * 0.03)
    }

    /// Sharp layers evaluated at every pixel of the row: the geometric grid, the retro sun and floor.
    #[inline(always)]
    fn sharp_row(&self, y: usize, row: &mut Row) {
        let v = (y as f32 + 0.5) / self.h;
        let p = &self.pal;
        match self.style {
            Style::Geometric => {
                let g = self.graphics * (0.16 + 0.25 * self.mid);
                let row_line = self.grid_line(v, false);
                for (k, &column) in row.cover.iter_mut().zip(&self.grid_columns) {
                    *k = row_line.max(column);
                }
                row.blend_covered(p.secondary.0, g);
            }
            Style::Retro => self.retro_row(v, row),
            _ => {}
        }
    }

    /// The geometric grid's cover of the column at `at` = u (`across`) or of the row at `at` = v.
    #[inline(always)]
    fn grid_line(&self, at: f32, across: bool) -> f32 {
        let spacing = 0.08;
        let off = self.travel * 0.02;
        let hw = 0.0006 * self.h;
        let z = if across { self.zoomed(at, 0.5).0 - off } else { self.zoomed(0.0, at).1 + off };
        let d = (z / spacing - (z / spacing).fround()).abs() * spacing / (self.px() / self.zoom);
        line_coverage(d, hw)
    }

    #[inline(always)]
    fn retro_row(&self, v: f32, row: &mut Row) {
        let px = self.px();
        let p = &self.pal;
        let hz = self.horizon.unwrap_or(0.6);
        let (sx, sy) = (self.aspect * 0.5, hz - 0.17 * self.sun_scale);
        let sr = 0.2 * self.sun_scale * (1.0 + 0.04 * self.low * self.k + 0.06 * self.beat * self.k);
        if (v - sy).abs() < sr + px {
            // The sun: a gradient disc cut by bands that widen towards its foot and scroll down.
            let top = Rgb::hex(0xffe45e).mix(self.sun_color, 0.3);
            let bottom = p.primary;
            let col = top.mix(bottom, smoothstep(sy - sr, sy + sr, v)).0;
            let rel = (v - sy) / sr;
            let gap = if rel > -0.1 {
                let period = 0.16;
                let phase = fract((v - sy) / (sr * period) - self.travel * 0.15);
                let width = 0.1 + 0.45 * (rel + 0.1);
                let d = (phase - 0.5).abs() * sr * period / px;
                ((width * sr * period / px * 0.5) - d + 0.5).clamp(0.0, 1.0)
            } else {
                0.0
            };
            // Only the chord this row crosses (and a pixel either side) is drawn.
            let half = ((sr + px).powi(2) - (v - sy).powi(2)).max(0.0).sqrt();
            let w = row.cover.len();
            let x0 = (((sx - half) / px - 1.0).max(0.0) as usize).min(w);
            let x1 = (((sx + half) / px + 2.0).max(0.0) as usize).clamp(x0, w);
            for (x, k) in (x0..x1).zip(&mut row.cover[x0..x1]) {
                let u = (x as f32 + 0.5) * px;
                let d = ((u - sx).powi(2) + (v - sy).powi(2)).sqrt();
                *k = ((sr - d) / px + 0.5).clamp(0.0, 1.0) * (1.0 - gap);
            }
            // Veiled by a storm: the sky shows through it.
            row.blend_covered_span(x0, x1, col, (0.5 + 0.5 * self.graphics) * (1.0 - 0.75 * self.overcast));
        }
        if v > hz {
            // The floor: a perspective grid rushing towards the viewer, faster on the beat.
            let depth = v - hz;
            let z = 0.09 / depth;
            let zw = z * 5.0 + self.travel * 1.4;
            let dz_dv = 0.45 / (depth * depth);
            let line_px = 0.8 * self.h / 1080.0;
            let spacing_z = 1.0 / (dz_dv * px);
            let fade_z = smoothstep(1.0, 2.0, spacing_z);
            let dz = (zw - zw.fround()).abs() / (dz_dv * px);
            // Lines closer than a few pixels fade to their mean cover, as a smaller frame shows them.
            let zline = line_coverage(dz, line_px) * fade_z + (1.0 - fade_z) * (2.0 * line_px / spacing_z).min(1.0);
            let glow = p.secondary.mix(p.primary, 0.5).graded(1.2, 1.0);
            let floor = p.ink.scale(0.5).0;
            let dx_du = z * 5.0;
            let spacing_x = 1.0 / (dx_du * px);
            let fade_x = smoothstep(1.0, 2.0, spacing_x);
            let bright = 0.75 + 0.8 * self.beat * self.k;
            let inv_x = 1.0 / (dx_du * px);
            for (x, k) in row.cover.iter_mut().enumerate() {
                let u = (x as f32 + 0.5) * px;
                let xw = (u - self.aspect * 0.5) * dx_du;
                let dx = (xw - round_small(xw)).abs() * inv_x;
                let xline = line_coverage(dx, line_px) * fade_x + (1.0 - fade_x) * (2.0 * line_px / spacing_x).min(1.0);
                // Either line: their union, whose mean is the same whether lines are drawn or faded.
                *k = (zline + xline - zline * xline).min(1.0);
            }
            // The floor, and the lines' glow over it.
            let a = bright * (0.4 + 0.6 * self.graphics);
            for ((plane, f), g) in row.planes.iter_mut().zip(floor).zip(glow.0) {
                for (value, k) in plane.iter_mut().zip(&row.cover) {
                    *value = f + (g - f) * (k * a);
                }
            }
        }
    }

    /// Skylines, tree lines, dunes and mountain ridges, each a height per column.
    fn silhouettes(&self) -> Vec<Silhouette> {
        let mut out = Vec::new();
        let sw = self.scene_weight.min(1.0);
        let Some(hz) = self.horizon else { return out };
        if sw <= 0.0 && self.style != Style::Retro {
            return out;
        }
        let w = self.w as usize;
        let px = self.px();
        let p = &self.pal;
        let plan = self.plan;
        // Two samples a column, so the sides of buildings and trees are anti-aliased too.
        let column = |x: usize| (x as f32 + 0.5) * px * 0.5;
        if has(plan, Motif::Mountains) || self.style == Style::Retro {
            for layer in 0..2u32 {
                let par = 0.15 + 0.2 * layer as f32;
                let tops = (0..2 * w)
                    .map(|x| {
                        let u = column(x) - self.cam_x * par + layer as f32 * 3.7;
                        let ridge = 1.0 - (2.0 * noise(self.seed ^ (200 + layer), u * 2.2, 0.5) - 1.0).abs();
                        let n = 0.6 * ridge + 0.4 * noise(self.seed ^ (210 + layer), u * 6.5, 1.5);
                        hz - (0.05 + 0.16 * n) * (1.0 - 0.35 * layer as f32)
                    })
                    .collect();
                let base = if layer == 0 { p.ink.mix(p.sky_bottom, 0.45) } else { p.ink };
                let edge = (self.style == Style::Retro).then_some(p.primary.mix(p.accent, 0.3));
                let alpha = if self.style == Style::Retro { 1.0 } else { sw };
                out.push(Silhouette::new(tops, base, alpha).with_edge(edge).down_to(hz + 0.002));
            }
        }
        if has(plan, Motif::Desert) {
            for layer in 0..2u32 {
                let lf = layer as f32;
                let tops = (0..2 * w)
                    .map(|x| {
                        let u = column(x) - self.cam_x * (0.3 + 0.3 * lf) + self.travel * 0.01 * (1.0 + lf);
                        hz + 0.02 + 0.1 * lf - 0.05 * sin(u * 2.6 + lf * 2.0) - 0.025 * sin(u * 6.1 + 1.3 + lf)
                    })
                    .collect();
                let col = p.primary.mix(Rgb::hex(0xe2b86b), 0.5).mix(p.ink, 0.55 - 0.25 * lf);
                out.push(Silhouette::new(tops, col, sw).shaded(0.5));
            }
        }
        if has(plan, Motif::Forest) {
            for layer in 0..2u32 {
                let lf = layer as f32;
                let spacing = 0.05 - 0.015 * lf;
                let tops = (0..2 * w)
                    .map(|x| {
                        let u = column(x) - self.cam_x * (0.4 + 0.4 * lf) + self.travel * 0.006 * (1.0 + lf);
                        let cell = (u / spacing).ffloor() as i32;
                        let mut top = hz + 0.06 + 0.06 * lf;
                        for i in cell - 3..=cell + 3 {
                            let j = i as u32;
                            let cx = (i as f32 + 0.5 + 0.6 * (rnd(self.seed, 300 + layer, j) - 0.5)) * spacing;
                            let height = (0.12 + 0.2 * rnd(self.seed, 310 + layer, j)) * (1.0 + 0.5 * lf);
                            let sway = 0.004 * sin(self.t * 1.3 + j as f32) * (1.0 + self.mid);
                            let base = hz + 0.06 + 0.06 * lf;
                            top = top.min(base - height + (u - cx - sway).abs() * 3.2);
                        }
                        top
                    })
                    .collect();
                let col = p.ink.mix(p.primary.scale(0.3), 0.3 - 0.2 * lf).mix(p.sky_bottom, 0.25 - 0.2 * lf);
                out.push(Silhouette::new(tops, col, sw));
            }
        }
        if has(plan, Motif::City) {
            for layer in 0..2u32 {
                let street = self.street(layer);
                let tops = (0..2 * w).map(|x| street.top(street.building_at(column(x)))).collect();
                let col = if layer == 0 { p.ink.mix(p.sky_bottom, 0.35) } else { p.ink };
                let windows = (layer == 1).then_some(p.accent.mix(Rgb::hex(0xffd98a), 0.4));
                out.push(Silhouette::new(tops, col, sw).with_windows(windows, self).down_to(hz + 0.012));
            }
        }
        out
    }

    /// Row `layer` of the city's buildings (0 at the back, 1 in front) as this frame sees it.
    fn street(&self, layer: u32) -> Street {
        let lf = layer as f32;
        Street {
            layer,
            seed: self.seed,
            width: if layer == 0 { Street::BACK_WIDTH } else { Street::FRONT_WIDTH },
            shift: -self.cam_x * (0.3 + 0.4 * lf) + self.travel * 0.004 * (1.0 + lf),
            ground: self.horizon.unwrap_or(1.0) + 0.015 * lf,
        }
    }

    /// Neon signs on the front row of the city's buildings: on about one building in four, a
    /// glowing tube frame (a wide sign across the facade or a tall one down its side) with
    /// strokes inside for its lettering. They scroll with their buildings, buzz now and then
    /// and brighten on the beat; scene, not graphics, so every style shows the same street.
    fn neon_signs(&self, out: &mut Vec<Prim>, sw: f32) {
        let (s, p, h) = (self.seed, &self.pal, self.h);
        let at = |u: f32, v: f32| (u * h, v * h);
        let street = self.street(1);
        const BW: f32 = Street::FRONT_WIDTH;
        for b in street.building_at(0.0) - 1..=street.building_at(self.aspect) + 1 {
            let key = b as u32;
            if rnd(s, 420, key) > 0.28 {
                continue;
            }
            let top = street.top(b);
            let height = street.ground - top;
            if height < 0.1 {
                continue;
            }
            let left = street.left(b);
            let col = if rnd(s, 421, key) < 0.5 { p.primary } else { p.secondary };
            let buzz = if rnd(s, 83 + self.beat_index as u32, key) < 0.12 { 0.35 } else { 1.0 };
            let a = sw * buzz * (0.7 + 0.3 * self.beat * self.k);
            let (x0, y0, x1, y1) = if rnd(s, 422, key) < 0.5 {
                // Wide, across the facade.
                let y = top + 0.02 + (height - 0.08) * 0.5 * rnd(s, 423, key);
                (left + 0.008, y, left + BW - 0.008, y + 0.026)
            } else {
                // Tall, down the building's side.
                let y = top + 0.015;
                (left + BW - 0.016, y, left + BW - 0.004, y + 0.07f32.min(height - 0.04))
            };
            let corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)].map(|(u, v)| at(u, v));
            neon_tube(out, &corners, 0.002 * h, col.mix(Rgb::WHITE, 0.35), a, 0.02 * h, col);
            // The lettering: short strokes along the sign's length.
            let wide = x1 - x0 > y1 - y0;
            let (len, strokes) = if wide { (x1 - x0, 3 + hash(s ^ key) % 3) } else { (y1 - y0, 2 + hash(s ^ key) % 3) };
            let step = (len - 0.01) / strokes as f32;
            for j in 0..strokes {
                let along = 0.005 + step * (j as f32 + 0.2);
                let (a0, a1) = (along, along + step * (0.45 + 0.3 * rnd(s, 424 + j, key)));
                let (pa, pb) = if wide {
                    ((x0 + a0, (y0 + y1) * 0.5), (x0 + a1, (y0 + y1) * 0.5))
                } else {
                    (((x0 + x1) * 0.5, y0 + a0), ((x0 + x1) * 0.5, y0 + a1))
                };
                let letter = if j % 2 == 0 { col } else { p.accent };
                neon_tube(
                    out,
                    &[at(pa.0, pa.1), at(pb.0, pb.1)],
                    0.0013 * h,
                    letter.mix(Rgb::WHITE, 0.3),
                    a,
                    0.01 * h,
                    letter,
                );
            }
        }
    }

    /// Lines, rings and particles of this frame, in pixels.
    fn primitives(&self) -> Vec<Prim> {
        let mut out = Vec::new();
        let h = self.h;
        let p = &self.pal;
        let plan = self.plan;
        let s = self.seed;
        let sw = self.scene_weight.min(1.0);
        let aspect = self.aspect;
        let hz = self.horizon.unwrap_or(1.0);
        let at = |u: f32, v: f32| (u * h, v * h);
        if sw > 0.0 {
            if let Some((sx, sy, r)) = self.sun() {
                // A sun is bright and nearly opaque, whatever the footage's weight.
                let col = self.sun_color.mix(Rgb::hex(0xfff3d6), 0.2);
                out.push(Prim::disc(at(sx, sy), r * h, 0.0, col, sw.sqrt().min(1.0), false));
            }
            if let Some((mx, my, r)) = self.moon() {
                out.push(Prim::disc(at(mx, my), r * h, 0.0, Rgb::hex(0xe8ecf5), sw * 0.95, false));
            }
            if has(plan, Motif::Stars) || has(plan, Motif::Space) {
                for i in 0..260u32 {
                    let u = fract(rnd(s, 1, i) - self.cam_x * 0.1) * aspect;
                    let v = rnd(s, 2, i) * hz * 0.95;
                    let tw = 0.5 + 0.5 * sin(self.t * (1.0 + 3.0 * rnd(s, 3, i)) + 6.0 * rnd(s, 4, i));
                    let r = 0.0009 + 0.0012 * rnd(s, 5, i);
                    let a = sw * (0.35 + 0.65 * tw) * (0.7 + 0.5 * self.high);
                    out.push(Prim::disc(at(u, v), r * h, 0.0, Rgb::WHITE.mix(p.accent, 0.15), a.min(1.0), true));
                }
            }
            if has(plan, Motif::Rain) {
                // How far the rain has fallen: it falls faster when the music is loud. The
                // distance is the speed's integral, so a change of speed never moves a drop
                // already in flight (time × the speed now would, by more the later the frame).
                let fallen = (1.4 * plan.energy.integral(f64::from(self.t), 0.8, 0.4)) as f32;
                for i in 0..220u32 {
                    let len = 0.05 + 0.06 * rnd(s, 10, i);
                    let fall = fallen * (0.8 + 0.4 * rnd(s, 11, i)) / 1.3;
                    let v = fract(rnd(s, 12, i) + fall) * 1.3 - 0.15;
                    let u = rnd(s, 13, i) * (aspect + 0.3) - 0.15 - self.cam_x * 0.5;
                    let a = sw * (0.25 + 0.3 * rnd(s, 14, i)) * (0.7 + 0.6 * self.high);
                    out.push(Prim::segment(
                        at(u, v),
                        at(u - len * 0.18, v + len),
                        0.0008 * h,
                        Rgb::hex(0xdfe8ff).mix(p.primary, 0.25),
                        a,
                        true,
                    ));
                }
            }
            for (motif, stream, colour, count, size) in [
                (Motif::Snow, 20u32, Rgb::hex(0xf7fbff), 170u32, 0.0035f32),
                (Motif::Petals, 25u32, p.accent.mix(Rgb::hex(0xffb7d5), 0.6), 90u32, 0.005f32),
            ] {
                if !has(plan, motif) {
                    continue;
                }
                for i in 0..count {
                    let fall = self.t * 0.05 * (0.6 + rnd(s, stream, i)) * plan.pace;
                    let v = fract(rnd(s, stream + 1, i) + fall) * 1.1 - 0.05;
                    let u = rnd(s, stream + 2, i) * aspect + 0.02 * sin(self.t * 0.8 + 6.0 * rnd(s, stream + 3, i))
                        - self.cam_x * 0.4;
                    let r = size * (0.5 + rnd(s, stream + 4, i));
                    out.push(Prim::disc(at(u, v), r * h, r * h * 0.5, colour, sw * 0.85, false));
                }
            }
            if has(plan, Motif::Embers) {
                for i in 0..90u32 {
                    let rise = self.t * 0.09 * (0.5 + rnd(s, 30, i)) * plan.pace;
                    let v = 1.05 - fract(rnd(s, 31, i) + rise) * 1.1;
                    let u = rnd(s, 32, i) * aspect + 0.03 * sin(self.t * 1.1 + 5.0 * rnd(s, 33, i));
                    let flicker = 0.5 + 0.5 * sin(self.t * (4.0 + 6.0 * rnd(s, 34, i)));
                    let r = 0.0018 + 0.0022 * rnd(s, 35, i);
                    let col = Rgb::hex(0xffa040).mix(p.accent, 0.2);
                    let a = sw * (0.4 + 0.6 * flicker) * (0.8 + 0.4 * self.low);
                    out.push(Prim::disc(at(u, v), r * h * 4.0, r * h * 4.0, col, a * 0.25, true));
                    out.push(Prim::disc(at(u, v), r * h, 0.0, col.mix(Rgb::WHITE, 0.3), a.min(1.0), true));
                }
            }
            if has(plan, Motif::Ocean) && hz < 1.0 {
                for i in 0..70u32 {
                    let depth = (rnd(s, 50, i).powi(2)) * (1.0 - hz);
                    let v = hz + 0.005 + depth;
                    let u = fract(rnd(s, 51, i) + self.t * 0.01 * (1.0 + depth * 4.0)) * aspect;
                    let len = 0.01 + 0.05 * depth;
                    let a = sw * 0.5 * (0.5 + 0.5 * sin(self.t * 3.0 + 9.0 * rnd(s, 52, i))) * (0.6 + 0.6 * self.high);
                    out.push(Prim::segment(
                        at(u - len, v),
                        at(u + len, v),
                        0.0006 * h * (1.0 + depth * 6.0),
                        p.sky_bottom.mix(Rgb::WHITE, 0.6),
                        a,
                        true,
                    ));
                }
            }
            if has(plan, Motif::Neon) && has(plan, Motif::City) {
                self.neon_signs(&mut out, sw);
            } else if has(plan, Motif::Neon) {
                let n = 3 + (self.variant % 3);
                for i in 0..n {
                    let cx = aspect * (0.2 + 0.6 * rnd(s, 80, i)) - self.cam_x * 0.6;
                    let cy = 0.2 + 0.5 * rnd(s, 81, i);
                    let rr = 0.05 + 0.08 * rnd(s, 82, i);
                    let sides = 3 + hash(s ^ i) % 3;
                    let col = if i % 2 == 0 { p.primary } else { p.secondary };
                    let buzz = if rnd(s, 83 + self.beat_index as u32, i) < 0.15 { 0.4 } else { 1.0 };
                    let a = sw * buzz * (0.65 + 0.35 * self.beat * self.k);
                    polygon(
                        &mut out,
                        at(cx, cy),
                        rr * h,
                        sides,
                        rnd(s, 84, i) * 3.0,
                        0.0022 * h,
                        col.mix(Rgb::WHITE, 0.35),
                        a,
                        0.022 * h,
                        col,
                    );
                }
            }
            if has(plan, Motif::Chrome) {
                for i in 0..3u32 {
                    let x = fract(rnd(s, 90, i) + self.travel * 0.05) * (aspect + 0.8) - 0.4;
                    out.push(Prim::segment(at(x, -0.05), at(x + 0.35, 1.05), 0.002 * h, Rgb::WHITE, sw * 0.5, true));
                }
            }
            if has(plan, Motif::Lightning) && self.flash > 0.05 {
                let mut x = aspect * (0.2 + 0.6 * rnd(s, 95, self.flash_index as u32));
                let mut y = 0.0;
                for j in 0..10u32 {
                    let nx = x + 0.05 * (rnd(s, 96 + self.flash_index as u32, j) - 0.5);
                    let ny = y + hz * 0.1;
                    out.push(Prim::segment(
                        at(x, y),
                        at(nx, ny),
                        0.0025 * h,
                        Rgb::hex(0xeef0ff),
                        self.flash * sw,
                        true,
                    ));
                    x = nx;
                    y = ny;
                }
            }
        }
        let g = self.graphics;
        let k = self.k;
        let cx = aspect * 0.5;
        match self.style {
            Style::Organic => {
                for i in 0..70u32 {
                    let u = fract(rnd(s, 100, i) + self.travel * 0.015 * (0.4 + rnd(s, 101, i))) * (aspect + 0.2) - 0.1;
                    let v = rnd(s, 102, i) + 0.06 * sin(self.travel * 0.3 + 6.0 * rnd(s, 103, i));
                    let r = (0.004 + 0.012 * rnd(s, 104, i)) * (1.0 + 0.6 * self.mid);
                    let a = g * 0.35 * (0.6 + 0.6 * self.beat * k);
                    out.push(Prim::disc(
                        self.zoom_px(u, v),
                        r * h * self.zoom,
                        r * h * 0.8,
                        p.accent.mix(Rgb::WHITE, 0.3),
                        a,
                        true,
                    ));
                }
            }
            Style::Geometric => {
                let shapes = 4u32;
                for i in 0..shapes {
                    let sides = 3 + hash(self.variant ^ i) % 5;
                    let grow = 1.0 + 0.4 * self.beat * k + 0.1 * self.low * k;
                    let r = (0.09 + 0.085 * i as f32) * grow * self.fit;
                    let dir = if i % 2 == 0 { 1.0 } else { -1.0 };
                    let rot = self.travel * 0.25 * dir + i as f32 + self.down * 0.3 * k;
                    let col = [p.primary, p.secondary, p.accent, p.primary.mix(p.accent, 0.5)][i as usize % 4];
                    let (ccx, ccy) = self.zoom_px(cx, 0.5);
                    polygon(
                        &mut out,
                        (ccx, ccy),
                        r * h * self.zoom,
                        sides,
                        rot,
                        0.0024 * h,
                        col,
                        g.max(0.4),
                        0.012 * h,
                        col,
                    );
                }
                for i in 0..16u32 {
                    let a = self.travel * 0.1 + i as f32 * std::f32::consts::TAU / 16.0;
                    let (r0, r1) = (0.42 * self.fit, (0.5 + 0.12 * self.high) * self.fit);
                    let from = self.zoom_px(cx + r0 * cos(a), 0.5 + r0 * sin(a));
                    let to = self.zoom_px(cx + r1 * cos(a), 0.5 + r1 * sin(a));
                    out.push(Prim::segment(from, to, 0.0015 * h, p.accent, g * (0.3 + 0.6 * self.high), true));
                }
            }
            Style::Cinematic => {
                for i in 0..50u32 {
                    let u = fract(rnd(s, 110, i) + self.t * 0.004 * (1.0 + rnd(s, 111, i))) * aspect;
                    let v = fract(rnd(s, 112, i) + 0.01 * sin(self.t * 0.3 + 5.0 * rnd(s, 113, i)));
                    out.push(Prim::disc(
                        at(u, v),
                        0.0012 * h,
                        0.0006 * h,
                        Rgb::hex(0xfff1d6),
                        g * 0.35 * (0.6 + 0.6 * self.mid),
                        true,
                    ));
                }
            }
            Style::Abstract => {
                // A closed wave, as MilkDrop draws one: its radius follows the recent bands.
                let n = 120u32;
                let radius = 0.2 * (1.0 + 0.25 * self.beat * k) * self.fit;
                let mut pts = Vec::with_capacity(n as usize + 1);
                for i in 0..=n {
                    let f = i % n;
                    let back = f64::from(f) / f64::from(n) * 0.6;
                    let t = f64::from(self.t) - back;
                    let bump = 0.6 * self.plan.mid.at(t) + 0.4 * self.plan.high.at(t);
                    let a = f as f32 / n as f32 * std::f32::consts::TAU + self.travel * 0.2;
                    let r = radius + 0.07 * self.fit * bump * k * sin(f as f32 * 0.9 + self.travel * 2.0);
                    pts.push(self.zoom_px(cx + r * cos(a), 0.5 + r * sin(a)));
                }
                for pair in pts.windows(2) {
                    out.push(Prim::segment(pair[0], pair[1], 0.0016 * h, p.accent.mix(Rgb::WHITE, 0.4), 0.9, true));
                    out.push(Prim::segment(pair[0], pair[1], 0.012 * h, p.accent, 0.18, true).soft());
                }
            }
            Style::Glitch => {
                // Interface boxes that land on the beat.
                for i in 0..6u32 {
                    let b = self.beat_index as u32;
                    let bx = rnd(s, 120 + b, i) * aspect;
                    let by = rnd(s, 130 + b, i);
                    let (bw, bh) = (0.05 + 0.2 * rnd(s, 140 + b, i), 0.02 + 0.1 * rnd(s, 150 + b, i));
                    let a = g * self.beat * k;
                    if a < 0.02 {
                        continue;
                    }
                    let col = if i % 2 == 0 { p.accent } else { p.secondary };
                    let c = [(bx, by), (bx + bw, by), (bx + bw, by + bh), (bx, by + bh), (bx, by)];
                    for e in c.windows(2) {
                        out.push(Prim::segment(at(e[0].0, e[0].1), at(e[1].0, e[1].1), 0.001 * h, col, a, false));
                    }
                }
            }
            Style::Retro => {}
            Style::Minimal => {
                // One precise ring breathing with the kick, and one point going round it once a bar.
                let r = 0.2 * (1.0 + 0.12 * self.low * k + 0.1 * self.beat * k) * self.fit;
                let ink = if matches!(plan.light, Light::Night | Light::Dusk) {
                    Rgb::hex(0xf2efe9)
                } else {
                    Rgb::hex(0x1d1d1f)
                };
                let col = ink.mix(p.secondary, 0.25);
                out.push(Prim::ring(at(cx, 0.5), r * h, 0.0016 * h * (1.0 + 0.8 * self.beat * k), col, 1.0));
                let spb = 60.0 / plan.tempo_bpm.max(30.0) as f32;
                let a = (self.t / (spb * 4.0)) * std::f32::consts::TAU - std::f32::consts::FRAC_PI_2;
                out.push(Prim::disc(at(cx + r * cos(a), 0.5 + r * sin(a)), 0.006 * h, 0.0, p.secondary, 1.0, false));
            }
        }
        out
    }

    /// Rows of black above and below the picture (cinematic's 2.39:1 in a landscape frame);
    /// 0 for other styles and for square and vertical frames, which a scope would leave a strip of.
    fn letterbox(&self) -> f32 {
        match self.style {
            Style::Cinematic if self.aspect > 1.2 => ((self.h - self.w / 2.39) * 0.5).max(0.0),
            _ => 0.0,
        }
    }

    fn zoom_px(&self, u: f32, v: f32) -> (f32, f32) {
        let cx = self.aspect * 0.5;
        (((u - self.cam_x - cx) * self.zoom + cx) * self.h, ((v - 0.5) * self.zoom + 0.5) * self.h)
    }

    /// Per-pixel finishing: grading, letterbox, grain, scan lines, RGB split, block displacement,
    /// vignette, the beat's lift and the flash.
    #[inline(always)]
    fn finish_row(&self, y: usize, row: &mut Row, scratch: &mut Row) {
        let v = (y as f32 + 0.5) / self.h;
        let k = self.k;
        let p = &self.pal;
        let lines_px = self.h / 270.0;
        // Scan lines fade to their mean where the output is too small to show them.
        let line_detail = smoothstep(2.0, 3.0, lines_px);
        let scan = |amount: f32| {
            let phase = fract((y as f32 + 0.5) / lines_px);
            let wave = if phase < 0.5 { 1.0 } else { -1.0 };
            1.0 - amount * 0.5 + amount * 0.5 * wave * line_detail
        };
        // Film grain or tape noise in -0.5..0.5, the same on every channel: this frame's table of
        // noise, read from a different place on each row.
        let start = (hash(y as u32 ^ hash(self.frame_no)) as usize) & (GRAIN_LEN - 1);
        let grain = self.grain.get(start..).unwrap_or_default();
        // What multiplies the whole row (scan lines), applied with the vignette.
        let mut gain = 1.0;
        match self.style {
            Style::Cinematic => {
                // (The letterbox's rows never get here: see `letterbox`.)
                let amount = 0.045 * (self.h / 1080.0).min(1.0);
                let [r, g, b] = &mut row.planes;
                for (((r, g), b), n) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()).zip(grain) {
                    let l = 0.2126 * *r + 0.7152 * *g + 0.0722 * *b;
                    let n = n * amount;
                    *r = mix(*r, l, 0.3) * 1.06 + n;
                    *g = mix(*g, l, 0.3) + n;
                    *b = mix(*b, l, 0.3) * 0.92 + n;
                }
            }
            Style::Glitch => {
                // Block displacement on the beat, then the channels split apart. Blocks are
                // twelve 270p rows high, so they fall on whole rows at 270p and every multiple.
                let block = ((y as f32 + 0.5) / self.h * 270.0 / 12.0).ffloor() as u32;
                let chosen = rnd(self.seed, 500 + self.beat_index as u32, block) < 0.15 + 0.4 * k;
                let hit = self.beat * k;
                let shift = if chosen && self.beat_index > 0 {
                    (rnd(self.seed, 600 + self.beat_index as u32, block) - 0.5) * 0.3 * hit * self.h
                } else {
                    0.0
                };
                let tint = if chosen { hit * 0.5 * 0.6 } else { 0.0 };
                let split = (0.002 + 0.012 * hit + 0.004 * self.high) * self.h;
                let lines = scan(0.22);
                for (((plane, spare), off), accent) in row
                    .planes
                    .iter_mut()
                    .zip(&mut scratch.planes)
                    .zip([split - shift, -shift, -split - shift])
                    .zip(p.accent.0)
                {
                    if off != 0.0 {
                        spare.copy_from_slice(plane);
                        shifted(spare, plane, off);
                    }
                    if tint > 0.0 {
                        for v in plane.iter_mut() {
                            *v += (accent - *v) * tint;
                        }
                    }
                }
                gain = lines;
            }
            Style::Retro => {
                // VHS: a tracking band drifting down, a little chroma bleed, scan lines.
                let band_v = fract(self.t * 0.07) * 1.3 - 0.15;
                let in_band = (v - band_v).abs() < 0.018;
                let shift =
                    if in_band { 0.006 * self.h * (0.5 + rnd(self.seed, 700, (v * 270.0) as u32)) } else { 0.0 };
                let bleed = 0.0018 * self.h;
                let lines = scan(0.16);
                // Its mean is the same at every size; its grain is finer on a larger frame.
                let amount = 0.25 * (self.h / 1080.0).min(1.0);
                for ((plane, spare), off) in
                    row.planes.iter_mut().zip(&mut scratch.planes).zip([bleed - shift, -shift, -shift])
                {
                    if off != 0.0 {
                        spare.copy_from_slice(plane);
                        shifted(spare, plane, off);
                    }
                    if in_band {
                        for (v, n) in plane.iter_mut().zip(grain) {
                            *v = mix(*v * lines, 0.5, 0.25) + n * amount;
                        }
                    }
                }
                if !in_band {
                    gain = lines;
                }
            }
            _ => {}
        }
        let vignette = match self.style {
            Style::Cinematic => 0.55,
            Style::Minimal => 0.0,
            Style::Organic | Style::Retro => 0.3,
            _ => 0.2,
        };
        let lift = 1.0 + 0.12 * self.beat * k;
        let flash = self.flash * (0.35 + 0.45 * self.plan.effect_intensity);
        let flash_col = p.accent.mix(Rgb::WHITE, 0.6).0;
        let dv = (v - 0.5) * 2.0;
        let row_fade = (1.0 - vignette * dv * dv * 0.4) * lift * gain;
        let across = vignette * 0.6 * lift * gain;
        // Applied as the row is written out (`Row::write_bytes`): one pass less.
        for (fade, &du2) in row.cover.iter_mut().zip(&self.across_squared) {
            *fade = row_fade - across * du2;
        }
        row.flash = (flash, flash_col);
    }
}

fn w_of(ctx: &Ctx<'_>) -> f32 {
    ctx.aspect
}

impl Palette {
    fn default_dark() -> Palette {
        Palette {
            sky_top: Rgb::hex(0x05060c),
            sky_bottom: Rgb::hex(0x121a38),
            primary: Rgb::hex(0x2ec4a6),
            secondary: Rgb::hex(0x7b5cff),
            accent: Rgb::hex(0xffd166),
            ink: Rgb::hex(0x020308),
        }
    }
}

/// `dst[x]` = `src` at fractional column `x + off` (linear between pixels, clamped at the ends),
/// so shifts look the same at every size. A shift is the same for the whole row, so the fraction
/// is too: no per-pixel rounding. `dst` starts as a copy of `src`.
#[inline(always)]
fn shifted(src: &[f32], dst: &mut [f32], off: f32) {
    if off == 0.0 {
        // `dst` holds `src` already (the caller copied it).
        return;
    }
    let n = src.len().min(dst.len());
    let Some(last) = n.checked_sub(1) else { return };
    let whole = off.ffloor();
    let f = off - whole;
    let o = whole as isize;
    // Interior columns read `x + o` and `x + o + 1`, both inside the row.
    let lo = (-o).clamp(0, n as isize) as usize;
    let hi = (last as isize - o).clamp(lo as isize, n as isize) as usize;
    dst[..lo].fill(src[0]);
    let first = lo as isize + o;
    if hi > lo && first >= 0 {
        for (d, pair) in dst[lo..hi].iter_mut().zip(src[first as usize..].windows(2)) {
            *d = pair[0] + (pair[1] - pair[0]) * f;
        }
    }
    dst[hi..n].fill(src[last]);
}

/// The share of [`centre` − `width`/2, `centre` + `width`/2] whose fractional part is at least
/// `lo`: a box-filtered (anti-aliased) periodic pattern such as rows of windows.
#[inline(always)]
fn periodic_cover(centre: f32, width: f32, lo: f32) -> f32 {
    let integral = |x: f32| x.ffloor() * (1.0 - lo) + (fract(x) - lo).max(0.0);
    let w = width.max(1e-6);
    ((integral(centre + w * 0.5) - integral(centre - w * 0.5)) / w).clamp(0.0, 1.0)
}

/// Coverage of a pixel whose centre is `d` pixels from the middle of a line `hw` pixels either
/// side: the overlap of the pixel's width with the line's (a box filter), so a line thinner
/// than a pixel keeps its area and looks the same at every size.
#[inline(always)]
fn line_coverage(d: f32, hw: f32) -> f32 {
    ((d + 0.5).min(hw) - (d - 0.5).max(-hw)).clamp(0.0, 1.0)
}

#[inline(always)]
fn add(c: &mut [f32; 3], col: [f32; 3], a: f32) {
    for i in 0..3 {
        c[i] += col[i] * a;
    }
}

#[inline(always)]
fn blend(c: &mut [f32; 3], col: [f32; 3], a: f32) {
    for i in 0..3 {
        c[i] += (col[i] - c[i]) * a;
    }
}

#[inline(always)]
fn scale(c: [f32; 3], k: f32) -> [f32; 3] {
    c.map(|v| v * k)
}

/// A row of the city's buildings: building `b` spans `b * width..(b + 1) * width` along the
/// street, which the camera and the travel move by `shift` (a frame's `u` is the street's
/// `u - shift`); the nearer row is wider,
/// taller, lower and moves faster. The silhouettes and the neon signs on them both read it.
struct Street {
    layer: u32,
    seed: u32,
    width: f32,
    shift: f32,
    /// Where its buildings stand (the horizon, a little lower for the nearer row).
    ground: f32,
}

impl Street {
    const BACK_WIDTH: f32 = 0.035;
    const FRONT_WIDTH: f32 = 0.06;

    /// The building at the frame's `u`.
    fn building_at(&self, u: f32) -> i32 {
        ((u + self.shift) / self.width).ffloor() as i32
    }

    /// The frame's `u` of building `b`'s left side.
    fn left(&self, b: i32) -> f32 {
        b as f32 * self.width - self.shift
    }

    /// The top of building `b`.
    fn top(&self, b: i32) -> f32 {
        let height =
            (0.06 + 0.22 * rnd(self.seed, 400 + self.layer, b as u32).powi(2)) * (1.0 + 0.3 * self.layer as f32);
        self.ground - height
    }
}

/// A closed regular polygon outline with a soft glow around it.
#[allow(clippy::too_many_arguments)]
fn polygon(
    out: &mut Vec<Prim>,
    c: (f32, f32),
    r: f32,
    sides: u32,
    rot: f32,
    hw: f32,
    col: Rgb,
    a: f32,
    glow: f32,
    glow_col: Rgb,
) {
    let pts: Vec<(f32, f32)> = (0..=sides)
        .map(|i| {
            let ang = rot + i as f32 * std::f32::consts::TAU / sides as f32;
            (c.0 + r * cos(ang), c.1 + r * sin(ang))
        })
        .collect();
    neon_tube(out, &pts, hw, col, a, glow, glow_col);
}

/// A glowing tube through `pts` (pixels): its glow, `glow` pixels wide, then the tube.
fn neon_tube(out: &mut Vec<Prim>, pts: &[(f32, f32)], hw: f32, col: Rgb, a: f32, glow: f32, glow_col: Rgb) {
    for e in pts.windows(2) {
        out.push(Prim::segment(e[0], e[1], glow, glow_col, a * 0.22, true).soft());
        out.push(Prim::segment(e[0], e[1], hw, col, a, false));
    }
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    /// From a to b, `hw` pixels either side.
    Segment {
        a: (f32, f32),
        b: (f32, f32),
        hw: f32,
    },
    Disc {
        c: (f32, f32),
        r: f32,
        soft: f32,
    },
    Ring {
        c: (f32, f32),
        r: f32,
        hw: f32,
    },
}

/// A sharp element, in output pixels.
#[derive(Debug, Clone, Copy)]
struct Prim {
    shape: Shape,
    color: [f32; 3],
    alpha: f32,
    additive: bool,
    /// A soft falloff across the width instead of a hard edge (glows).
    soft: bool,
    bbox: (f32, f32, f32, f32),
}

impl Prim {
    fn segment(a: (f32, f32), b: (f32, f32), hw: f32, col: Rgb, alpha: f32, additive: bool) -> Prim {
        let m = hw + 1.0;
        Prim {
            shape: Shape::Segment { a, b, hw },
            color: col.0,
            alpha,
            additive,
            soft: false,
            bbox: (a.0.min(b.0) - m, a.1.min(b.1) - m, a.0.max(b.0) + m, a.1.max(b.1) + m),
        }
    }

    fn disc(c: (f32, f32), r: f32, soft: f32, col: Rgb, alpha: f32, additive: bool) -> Prim {
        let (r, alpha) = if r < 0.7 { (0.7, alpha * (r / 0.7) * (r / 0.7)) } else { (r, alpha) };
        let m = r + soft + 1.0;
        Prim {
            shape: Shape::Disc { c, r, soft },
            color: col.0,
            alpha,
            additive,
            soft: false,
            bbox: (c.0 - m, c.1 - m, c.0 + m, c.1 + m),
        }
    }

    fn ring(c: (f32, f32), r: f32, hw: f32, col: Rgb, alpha: f32) -> Prim {
        let m = r + hw + 1.0;
        Prim {
            shape: Shape::Ring { c, r, hw },
            color: col.0,
            alpha,
            additive: false,
            soft: false,
            bbox: (c.0 - m, c.1 - m, c.0 + m, c.1 + m),
        }
    }

    fn soft(mut self) -> Prim {
        self.soft = true;
        self
    }

    #[inline(always)]
    fn draw_row(&self, y: usize, row: &mut Row) {
        let py = y as f32 + 0.5;
        // A NaN alpha draws nothing, as a zero one.
        if py < self.bbox.1 || py > self.bbox.3 || self.alpha.is_nan() || self.alpha <= 0.0 {
            return;
        }
        let w = row.cover.len();
        let (mut x0, mut x1) = (self.bbox.0.max(0.0) as usize, (self.bbox.2.max(0.0) as usize + 1).min(w));
        let clip = |from: f32, to: f32| ((from.max(0.0) as usize).min(w), ((to.max(0.0) as usize) + 2).min(w));
        match self.shape {
            // The chord this row crosses.
            Shape::Disc { c, .. } => {
                let reach = (self.bbox.2 - c.0).max(0.0);
                let dy = py - c.1;
                let half = (reach * reach - dy * dy).max(0.0).sqrt();
                let (a, b) = clip(c.0 - half, c.0 + half);
                (x0, x1) = (x0.max(a), x1.min(b));
            }
            // The two short spans where the row crosses the ring's band.
            Shape::Ring { c, r, hw } => {
                let dy = py - c.1;
                let outer = ((r + hw + 1.0).powi(2) - dy * dy).max(0.0).sqrt();
                let inner = ((r - hw - 1.0).max(0.0).powi(2) - dy * dy).max(0.0).sqrt();
                if inner > 0.0 {
                    let (a, b) = clip(c.0 - outer, c.0 - inner);
                    self.cover(py, row, a, b);
                    let (a, b) = clip(c.0 + inner, c.0 + outer);
                    self.cover(py, row, a, b);
                    return;
                }
                let (a, b) = clip(c.0 - outer, c.0 + outer);
                (x0, x1) = (x0.max(a), x1.min(b));
            }
            // Where the segment passes within reach of this row.
            Shape::Segment { a, b, hw } => {
                let m = hw + 1.0;
                let dy = b.1 - a.1;
                if dy.abs() > 1e-3 {
                    let t0 = ((py - m - a.1) / dy).clamp(0.0, 1.0);
                    let t1 = ((py + m - a.1) / dy).clamp(0.0, 1.0);
                    let (xa, xb) = (a.0 + (b.0 - a.0) * t0, a.0 + (b.0 - a.0) * t1);
                    let (lo, hi) = clip(xa.min(xb) - m, xa.max(xb) + m);
                    (x0, x1) = (x0.max(lo), x1.min(hi));
                }
            }
        }
        self.cover(py, row, x0, x1);
    }

    /// Draws the pixels `x0..x1` of the row at `py`: their cover first, into the row's cover,
    /// then the colour over the span (two loops without branches, which vectorise).
    #[inline(always)]
    fn cover(&self, py: f32, row: &mut Row, x0: usize, x1: usize) {
        let x1 = x1.min(row.cover.len());
        if x0 >= x1 {
            return;
        }
        let span = &mut row.cover[x0..x1];
        let columns = (x0..x1).map(|x| x as f32 + 0.5);
        match self.shape {
            Shape::Segment { a, b, hw } => {
                let (dx, dy) = (b.0 - a.0, b.1 - a.1);
                let len2 = dx * dx + dy * dy;
                let inv_len2 = if len2 > 0.0 { 1.0 / len2 } else { 0.0 };
                let ay = py - a.1;
                for (k, x) in span.iter_mut().zip(columns) {
                    let ax = x - a.0;
                    let t = ((ax * dx + ay * dy) * inv_len2).clamp(0.0, 1.0);
                    let (ex, ey) = (ax - t * dx, ay - t * dy);
                    let d = (ex * ex + ey * ey).sqrt();
                    *k = if self.soft {
                        let f = (1.0 - d / hw).max(0.0);
                        f * f
                    } else {
                        line_coverage(d, hw)
                    };
                }
            }
            Shape::Disc { c, r, soft } => {
                let dy2 = (py - c.1).powi(2);
                for (k, x) in span.iter_mut().zip(columns) {
                    let d = ((x - c.0).powi(2) + dy2).sqrt();
                    *k =
                        if soft > 0.0 { 1.0 - smoothstep(r - soft, r + 0.5, d) } else { (r + 0.5 - d).clamp(0.0, 1.0) };
                }
            }
            Shape::Ring { c, r, hw } => {
                let dy2 = (py - c.1).powi(2);
                for (k, x) in span.iter_mut().zip(columns) {
                    let d = ((x - c.0).powi(2) + dy2).sqrt();
                    *k = line_coverage((d - r).abs(), hw);
                }
            }
        }
        // A cover of 0 (or below) leaves a column as it was.
        let alpha = self.alpha;
        for (plane, c) in row.planes.iter_mut().zip(self.color) {
            let pixels = plane[x0..x1].iter_mut().zip(&row.cover[x0..x1]);
            if self.additive {
                for (v, &k) in pixels {
                    *v += c * (k.max(0.0) * alpha);
                }
            } else {
                for (v, &k) in pixels {
                    *v += (c - *v) * (k.max(0.0) * alpha).min(1.0);
                }
            }
        }
    }
}

/// Which primitives touch each band of `BIN_ROWS` rows.
fn bin(prims: &[Prim], h: usize) -> Vec<Vec<usize>> {
    let bands = h.div_ceil(BIN_ROWS);
    let mut bins = vec![Vec::new(); bands];
    for (i, p) in prims.iter().enumerate() {
        if p.alpha <= 0.0 || p.bbox.3 < 0.0 || p.bbox.1 > h as f32 {
            continue;
        }
        let first = (p.bbox.1.max(0.0) as usize / BIN_ROWS).min(bands - 1);
        let last = (p.bbox.3.max(0.0) as usize / BIN_ROWS).min(bands - 1);
        for b in bins.iter_mut().take(last + 1).skip(first) {
            b.push(i);
        }
    }
    bins
}

/// A filled skyline, tree line, dune or ridge: for each column, the row its top is at.
struct Silhouette {
    /// In units (the frame's height is 1), per output column: the top at its first quarter, at
    /// its third quarter, and the higher of the two.
    tops_a: Vec<f32>,
    tops_b: Vec<f32>,
    tops: Vec<f32>,
    color: Rgb,
    alpha: f32,
    /// Lit windows in this colour (a city's near layer).
    windows: Option<Rgb>,
    /// A glowing line along the top (retro ridges).
    edge: Option<Rgb>,
    /// How much darker the fill gets further down.
    shade: f32,
    /// Filled down to here.
    until: f32,
    /// The smallest and the largest of the tops.
    highest: f32,
    lowest: f32,
    /// With windows: each column's horizontal window cover.
    window_across: Vec<f32>,
    /// With windows: the runs of columns under one top in one column of cells, where some
    /// window shows across.
    window_runs: Vec<WindowRun>,
}

/// Columns `from..to` of a silhouette with windows: under one top, in one column of cells.
struct WindowRun {
    from: usize,
    to: usize,
    top: f32,
    cell_x: i32,
}

/// A window cell's width and height, in units.
const WINDOW_W: f32 = 0.014;
const WINDOW_H: f32 = 0.02;

impl Silhouette {
    /// A silhouette filled from `tops` to the bottom of the frame, flat, without windows.
    /// `quarters` holds two tops per output column.
    fn new(quarters: Vec<f32>, color: Rgb, alpha: f32) -> Self {
        let highest = quarters.iter().copied().fold(f32::MAX, f32::min);
        let lowest = quarters.iter().copied().fold(f32::MIN, f32::max);
        let (tops_a, tops_b): (Vec<f32>, Vec<f32>) = quarters.chunks_exact(2).map(|q| (q[0], q[1])).unzip();
        let tops = tops_a.iter().zip(&tops_b).map(|(a, b)| a.min(*b)).collect();
        Silhouette {
            tops_a,
            tops_b,
            tops,
            color,
            alpha,
            windows: None,
            edge: None,
            shade: 0.0,
            until: 1.01,
            highest,
            lowest,
            window_across: Vec::new(),
            window_runs: Vec::new(),
        }
    }

    /// Lit windows in `light`, in cells that scroll with the camera.
    fn with_windows(mut self, light: Option<Rgb>, ctx: &Ctx<'_>) -> Self {
        self.windows = light;
        if light.is_some() {
            let px = ctx.px();
            let mut runs: Vec<WindowRun> = Vec::new();
            self.window_across = (0..self.tops.len())
                .map(|x| {
                    let u = (x as f32 + 0.5) * px;
                    let gx = (u - ctx.cam_x * 0.7 + ctx.travel * 0.008) / WINDOW_W;
                    let (across, cell_x) = (periodic_cover(gx, px / WINDOW_W, 0.35), gx.ffloor() as i32);
                    let top = self.tops[x];
                    if across > 0.0 {
                        match runs.last_mut() {
                            Some(run) if run.to == x && run.cell_x == cell_x && run.top.to_bits() == top.to_bits() => {
                                run.to = x + 1;
                            }
                            _ => runs.push(WindowRun { from: x, to: x + 1, top, cell_x }),
                        }
                    }
                    across
                })
                .collect();
            self.window_runs = runs;
        }
        self
    }

    fn with_edge(mut self, glow: Option<Rgb>) -> Self {
        self.edge = glow;
        self
    }

    fn shaded(mut self, shade: f32) -> Self {
        self.shade = shade;
        self
    }

    fn down_to(mut self, until: f32) -> Self {
        self.until = until;
        self
    }

    #[inline(always)]
    fn draw_row(&self, ctx: &Ctx<'_>, y: usize, row: &mut Row) {
        let px = ctx.px();
        let inv = ctx.h;
        let v = (y as f32 + 0.5) * px;
        // Nothing above the highest top (and its glow) or below the bottom.
        if v > self.until + px || v < self.highest - 4.0 * px - 0.003 {
            return;
        }
        let reach = 0.0025 * ctx.h;
        if let Some(edge) = self.edge.filter(|_| v - self.lowest < (reach.max(1.0) + 1.0) * px) {
            for (glow, top) in row.cover.iter_mut().zip(&self.tops) {
                let d = (v - top).abs() * inv;
                *glow = if reach >= 1.0 { (1.0 - d / reach).max(0.0) } else { (1.0 - d).max(0.0) * reach };
            }
            row.add_covered(edge.0, self.alpha);
        }
        let bottom = ((self.until - v) * inv + 0.5).clamp(0.0, 1.0);
        if v - self.lowest >= 0.5 * px && self.shade <= 0.0 && self.windows.is_none() {
            // Below every top: the whole row is covered alike.
            let a = bottom * self.alpha;
            for (plane, c) in row.planes.iter_mut().zip(self.color.0) {
                for value in plane.iter_mut() {
                    *value += (c - *value) * a;
                }
            }
            return;
        }
        // The cover of each column: the share of its two quarters below their tops.
        for ((k, a), b) in row.cover.iter_mut().zip(&self.tops_a).zip(&self.tops_b) {
            *k = 0.5 * (((v - a) * inv + 0.5).clamp(0.0, 1.0) + ((v - b) * inv + 0.5).clamp(0.0, 1.0)) * bottom;
        }
        if self.shade > 0.0 {
            for (plane, c) in row.planes.iter_mut().zip(self.color.0) {
                for ((value, &k), top) in plane.iter_mut().zip(&row.cover).zip(&self.tops) {
                    let col = c * (1.0 - self.shade * ((v - top) * 3.0).min(1.0));
                    *value += (col - *value) * (k * self.alpha);
                }
            }
        } else {
            row.blend_covered(self.color.0, self.alpha);
        }
        if let Some(light) = self.windows {
            self.windows_row(ctx, v, light, row);
        }
    }

    /// Lit windows in rows of cells, where `row.cover` holds the silhouette's cover; each cell's
    /// light is decided once per run of columns that share it (a building's top is flat).
    #[inline(always)]
    fn windows_row(&self, ctx: &Ctx<'_>, v: f32, light: Rgb, row: &mut Row) {
        let px = ctx.px();
        let lit_rate = 0.16 + 0.12 * ctx.high;
        for run in &self.window_runs {
            let gy = (v - run.top) / WINDOW_H;
            if gy <= 0.6 {
                continue;
            }
            let cell = hash((run.cell_x as u32).wrapping_mul(0x9e37) ^ hash(gy.ffloor() as u32));
            let lit = ((cell ^ ctx.seed) >> 8) as f32 / 16_777_216.0;
            if lit >= lit_rate {
                continue;
            }
            // The phase from the cell's low bits: `sin` is exact only for arguments up to a few thousand.
            let phase = (cell & 0xffff) as f32 / 65_536.0 * std::f32::consts::TAU;
            let flick = if lit < lit_rate * 0.1 { 0.5 + 0.5 * sin(ctx.t * 7.0 + phase) } else { 1.0 };
            let weight = periodic_cover(gy, px / WINDOW_H, 0.4) * flick;
            if weight <= 0.0 {
                continue;
            }
            let (from, to) = (run.from.min(row.cover.len()), run.to.min(row.cover.len()));
            let k = weight * self.alpha * 0.85;
            for (plane, c) in row.planes.iter_mut().zip(light.0) {
                for ((v, &across), &cov) in
                    plane[from..to].iter_mut().zip(&self.window_across[from..to]).zip(&row.cover[from..to])
                {
                    *v += (c - *v) * (across * k * cov.max(0.0));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `src` at fractional column `x` the slow way: clamped, then linear between pixels.
    fn sample(src: &[f32], x: f32) -> f32 {
        let last = src.len() - 1;
        let x = x.clamp(0.0, last as f32);
        let i = (x.floor() as usize).min(last);
        let j = (i + 1).min(last);
        src[i] + (src[j] - src[i]) * (x - i as f32)
    }

    #[test]
    fn a_shifted_row_matches_sampling_it_pixel_by_pixel() {
        let src: Vec<f32> = (0..37).map(|i| ((i * 7919) % 101) as f32 / 100.0).collect();
        for off in [0.0f32, 0.25, -0.25, 1.0, -1.0, 3.6, -3.6, 36.5, -36.5, 80.0, -80.0] {
            let mut dst = src.clone();
            shifted(&src, &mut dst, off);
            for (x, d) in dst.iter().enumerate() {
                let want = sample(&src, x as f32 + off);
                assert!((d - want).abs() < 1e-5, "offset {off}, column {x}: {d} vs {want}");
            }
        }
    }

    /// Neon signs hang on the front row of the city: both ends of every tube lie on one
    /// building, between its top and the street, whatever the camera and the travel did.
    #[test]
    fn neon_signs_hang_on_the_city_s_buildings() {
        let analysis: resonance_audio::Analysis = serde_json::from_value(serde_json::json!({
            "duration_seconds": 20.0, "frames": 882000, "sample_rate": 44100, "channels": 2, "bit_depth": 16,
            "codec": "pcm", "container": "wav", "sha256": "x", "tags": {"title": null, "artist": null, "album": null},
            "has_cover_art": false, "warnings": [], "tempo_bpm": 120.0, "tempo_confidence": 0.9,
            "beats": (0..40).map(|i| 0.5 * f64::from(i)).collect::<Vec<_>>(), "downbeats": [0.0, 2.0],
            "sections": [], "energy": vec![0.5; 200], "energy_hop_seconds": 0.1,
            "loudness_lufs": null, "true_peak_dbtp": null
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let look = crate::ProjectLook {
            prompt: "neon rain over a night city".into(),
            style: Style::Minimal,
            effect_intensity: 0.5,
            footage_visibility: 0.6,
        };
        let plan = crate::plan(&analysis, &look, "signs");
        let mut tubes = 0;
        for t in [0.0, 3.3, 9.1, 17.5] {
            let ctx = Ctx::new(&plan, t, 640, 360);
            let street = ctx.street(1);
            let mut signs = Vec::new();
            ctx.neon_signs(&mut signs, 1.0);
            for prim in &signs {
                let Shape::Segment { a, b, .. } = prim.shape else { panic!("a sign is made of tubes") };
                let [a, b] = [a, b].map(|(x, y)| (x / ctx.h, y / ctx.h));
                let building = street.building_at(a.0);
                assert_eq!(street.building_at(b.0), building, "t {t}: a tube across two buildings");
                assert!(street.left(building) < a.0.min(b.0) && a.0.max(b.0) < street.left(building + 1), "t {t}");
                for v in [a.1, b.1] {
                    assert!(street.top(building) < v && v < street.ground, "t {t}: {v} off building {building}");
                }
                tubes += 1;
            }
        }
        assert!(tubes > 20, "only {tubes} tubes: the street shows almost no sign");
    }

    #[test]
    fn a_primitive_with_no_or_nan_alpha_leaves_the_row_alone_and_one_with_alpha_draws() {
        let mut row = Row::new(64);
        for plane in &mut row.planes {
            plane.fill(0.25);
        }
        for alpha in [0.0, f32::NAN] {
            for additive in [false, true] {
                Prim::disc((32.0, 8.0), 10.0, 0.0, Rgb::WHITE, alpha, additive).draw_row(8, &mut row);
                assert!(row.planes.iter().flatten().all(|&v| v == 0.25), "alpha {alpha}, additive {additive}");
            }
        }
        Prim::disc((32.0, 8.0), 10.0, 0.0, Rgb::WHITE, 1.0, false).draw_row(8, &mut row);
        assert_eq!((row.planes[0][32], row.planes[0][0]), (1.0, 0.25), "inside the disc, and outside it");
    }

    #[test]
    fn bytes_round_to_nearest_and_clamp() {
        assert_eq!(to_byte(0.0), 0);
        assert_eq!(to_byte(1.0), 255);
        assert_eq!(to_byte(-3.0), 0);
        assert_eq!(to_byte(7.0), 255);
        assert_eq!(to_byte(f32::NAN), 0);
        for i in 0..=255u8 {
            assert_eq!(to_byte(f32::from(i) / 255.0), i);
            assert_eq!(to_byte((f32::from(i) + 0.4) / 255.0), i, "{i} + 0.4 rounds down");
        }
        assert_eq!(to_byte(100.6 / 255.0), 101, "100.6 rounds up");
    }

    #[test]
    fn upsampling_runs_cover_every_column_once_in_order() {
        for (w, lw) in [(1920, 240), (480, 240), (7, 2), (3840, 480), (1000, 333)] {
            let runs = upsample_runs(w, lw);
            let mut next = 0;
            for run in &runs {
                assert_eq!(run.from, next, "{w}/{lw}: runs are contiguous");
                assert_eq!(run.tx.len(), run.to - run.from);
                assert!(run.right < lw && run.left <= run.right);
                assert!(run.tx.iter().all(|t| (0.0..=1.0).contains(t)));
                next = run.to;
            }
            assert_eq!(next, w, "{w}/{lw}: every column is in a run");
        }
    }
}
