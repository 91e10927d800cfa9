//! Drawing a frame of a plan at any size. A frame is composed row by row in three kinds of layer:
//! - soft layers (skies, fog, nebulae, fields, glows, bokeh) evaluated on a grid of at most
//!   a quarter of the output's height (never fewer than 270 rows) and interpolated: blur and glow
//!   carry no detail worth the cost;
//! - sharp layers (lines, rings, particles, skylines, the retro sun and grid) evaluated at every
//!   output pixel with analytic anti-aliasing, so 2160p has four times the edges of 1080p;
//! - per-pixel finishing (letterbox, grain, scan lines, RGB split, block displacement, flashes).
//!
//! Invariant: a frame is a pure function of (plan, t, width, height): rows are shared among
//! threads but each pixel's arithmetic is the same whichever thread draws it, and only the
//! written-out functions of [`crate::math`] are used, so the bytes are the same on every machine.

use std::sync::Mutex;

use resonance_api::model::StylePreference as Style;

use crate::color::Rgb;
use crate::math::{atan2, cos, exp, fbm, fract, hash, mix, noise, rnd, sin, smoothstep, Whole};
use crate::plan::{Palette, VisualPlan};
use crate::prompt::{Light, Motif};

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

/// Draws the frame of `plan` at `t` seconds into `frame`, on every core.
pub fn draw(plan: &VisualPlan, t: f64, frame: &mut Frame) {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    draw_with_threads(plan, t, frame, threads);
}

/// [`draw`] on `threads` threads: the same bytes for any number.
pub fn draw_with_threads(plan: &VisualPlan, t: f64, frame: &mut Frame, threads: usize) {
    let (w, h) = (frame.width as usize, frame.height as usize);
    if w == 0 || h == 0 {
        return;
    }
    let ctx = Ctx::new(plan, t, w, h);
    let (lw, lh) = soft_size(w, h);
    let mut soft = vec![[0.0f32; 3]; lw * lh];
    rows_in_parallel(&mut soft, lw * 8, threads, |first, chunk| {
        for (j, row) in chunk.chunks_mut(lw).enumerate() {
            let v = ((first * 8 + j) as f32 + 0.5) / lh as f32;
            for (i, px) in row.iter_mut().enumerate() {
                let u = (i as f32 + 0.5) / lw as f32 * ctx.aspect;
                *px = ctx.soft(u, v);
            }
        }
    });
    let prims = ctx.primitives();
    let bins = bin(&prims, h);
    let silhouettes = ctx.silhouettes();
    let xmap: Vec<(usize, f32)> = (0..w)
        .map(|x| {
            let fx = ((x as f32 + 0.5) / w as f32 * lw as f32 - 0.5).clamp(0.0, (lw - 1) as f32);
            let i = (fx.ffloor() as usize).min(lw.saturating_sub(2));
            (i, (fx - i as f32).min(1.0))
        })
        .collect();
    rows_in_parallel(&mut frame.rgb, w * 3 * BIN_ROWS, threads, |first, chunk| {
        let mut row = vec![[0.0f32; 3]; w];
        let mut scratch = vec![[0.0f32; 3]; w];
        let mut mid = vec![[0.0f32; 3]; lw];
        for (j, out) in chunk.chunks_mut(w * 3).enumerate() {
            let y = first * BIN_ROWS + j;
            // Soft layers, interpolated.
            let fy = ((y as f32 + 0.5) / h as f32 * lh as f32 - 0.5).clamp(0.0, (lh - 1) as f32);
            let j0 = (fy.ffloor() as usize).min(lh.saturating_sub(2));
            let ty = (fy - j0 as f32).min(1.0);
            let j1 = (j0 + 1).min(lh - 1);
            // Vertically first, on the soft grid's width; then across, per pixel.
            for ((m, a), b) in mid.iter_mut().zip(&soft[j0 * lw..(j0 + 1) * lw]).zip(&soft[j1 * lw..(j1 + 1) * lw]) {
                *m = [a[0] + (b[0] - a[0]) * ty, a[1] + (b[1] - a[1]) * ty, a[2] + (b[2] - a[2]) * ty];
            }
            for (px, &(i, tx)) in row.iter_mut().zip(&xmap) {
                let (a, b) = (mid[i], mid[(i + 1).min(lw - 1)]);
                *px = [a[0] + (b[0] - a[0]) * tx, a[1] + (b[1] - a[1]) * tx, a[2] + (b[2] - a[2]) * tx];
            }
            ctx.sharp_row(y, &mut row);
            for s in &silhouettes {
                s.draw_row(&ctx, y, &mut row);
            }
            for &p in &bins[y / BIN_ROWS] {
                prims[p].draw_row(y, &mut row);
            }
            ctx.finish_row(y, &mut row, &mut scratch);
            for (o, px) in out.chunks_exact_mut(3).zip(&row) {
                for c in 0..3 {
                    o[c] = (px[c].clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
                }
            }
        }
    });
}

/// Rows of the output per work item and per primitive bin.
const BIN_ROWS: usize = 16;

/// Soft layers are evaluated on at least this many rows (and at most an eighth of the output's
/// height above 1080p): the preview at 270 rows evaluates them on the same grid as a 1080p render.
const SOFT_ROWS: usize = 135;

/// The grid soft layers are evaluated on.
fn soft_size(w: usize, h: usize) -> (usize, usize) {
    let lh = (h / 8).max(h.min(SOFT_ROWS)).max(2);
    let lw = ((lh * w + h / 2) / h).max(2);
    (lw, lh)
}

/// Calls `work(index, chunk)` for each `chunk_len` piece of `buf`, on `threads` threads.
fn rows_in_parallel<T: Send>(buf: &mut [T], chunk_len: usize, threads: usize, work: impl Fn(usize, &mut [T]) + Sync) {
    let queue = Mutex::new(buf.chunks_mut(chunk_len.max(1)).enumerate());
    let next = || queue.lock().map_or(None, |mut q| q.next());
    let threads = threads.max(1);
    if threads == 1 {
        while let Some((i, chunk)) = next() {
            work(i, chunk);
        }
        return;
    }
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while let Some((i, chunk)) = next() {
                    work(i, chunk);
                }
            });
        }
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

/// Everything about one frame that does not depend on the pixel.
struct Ctx<'a> {
    plan: &'a VisualPlan,
    style: Style,
    w: f32,
    h: f32,
    aspect: f32,
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
}

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
        let scene_weight = plan.footage_visibility
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
        let mut ctx = Ctx {
            plan,
            style: plan.style,
            w: w as f32,
            h: h as f32,
            aspect: w as f32 / h as f32,
            t: t as f32,
            travel,
            beat,
            beat_index,
            down,
            flash,
            flash_index,
            energy: plan.energy.at(t),
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
        };
        ctx.lights();
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
        }
        if self.style == Style::Cinematic {
            let gain = self.graphics * 0.16 * (0.7 + 0.5 * self.mid);
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
    fn soft(&self, u: f32, v: f32) -> [f32; 3] {
        let p = &self.pal;
        let horizon = self.horizon.unwrap_or(1.0);
        let mut c = if v <= horizon {
            p.sky_top.mix(p.sky_bottom, smoothstep(0.0, horizon, v)).0
        } else {
            // The ground mirrors the sky dimly, as wet streets and still water do.
            let mirrored = (2.0 * horizon - v).max(0.0);
            p.sky_top.mix(p.sky_bottom, smoothstep(0.0, horizon, mirrored)).scale(0.3).mix(p.ink, 0.4).0
        };
        let sw = self.scene_weight;
        let plan = self.plan;
        if self.style == Style::Retro {
            // A synthwave sky: deep at the top, burning at the horizon, with the sun's glow.
            let top = p.secondary.scale(0.18);
            let bottom = p.primary.mix(p.accent, 0.35);
            c = if v <= horizon { top.mix(bottom, smoothstep(0.05, horizon, v)).0 } else { p.ink.scale(0.6).0 };
            let (sx, sy) = (self.aspect * 0.5, horizon - 0.17);
            let d2 = (u - sx) * (u - sx) + (v - sy) * (v - sy);
            add(&mut c, p.accent.0, 0.45 * exp(-d2 * 9.0) * (0.8 + 0.3 * self.low));
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
                let qx = fbm(s, zu * 1.6 + drift, zv * 1.6, 3);
                let qy = fbm(s ^ 7, zu * 1.6 - drift * 0.7, zv * 1.6 + 3.1, 3);
                let r = fbm(s ^ 13, zu * 1.3 + 2.2 * qx + drift * 0.5, zv * 1.3 + 2.2 * qy + self.mid * 0.3, 3);
                let mut f = p.primary.mix(p.secondary, smoothstep(0.35, 0.65, r)).0;
                add(&mut f, p.accent.0, smoothstep(0.62, 0.8, r) * (0.5 + 0.6 * self.mid));
                let level = 0.45 + 0.35 * self.energy + 0.2 * self.beat * self.k;
                blend(&mut c, scale(f, level), 0.85 * g);
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
                let col = p
                    .primary
                    .mix(p.secondary, smoothstep(0.2, 0.8, fract(hue)))
                    .mix(p.accent, smoothstep(0.55, 0.9, f));
                let level = 0.35 + 0.75 * f * (0.7 + 0.3 * self.energy) + 0.3 * self.beat * self.k;
                blend(
                    &mut c,
                    scale(col.graded(1.25, 1.0).0, level),
                    0.92 * (1.0 - 0.35 * self.plan.footage_visibility),
                );
            }
            Style::Glitch => {
                // Bands of flat digital colour that jump on the beat.
                let band = (v * 18.0).ffloor() as u32;
                let roll = rnd(self.seed, 60 + self.beat_index as u32, band);
                if roll < 0.1 + 0.2 * self.k * self.beat {
                    let col = if roll < 0.05 { p.accent } else { p.secondary };
                    blend(&mut c, col.0, 0.55 * g);
                }
                c = scale(c, 0.9);
            }
            Style::Retro | Style::Minimal => {}
        }
        c
    }

    /// The scene's soft layers: sun and moon glow, clouds, nebulae, aurora, fog, fire glow, the sea.
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
            add(
                c,
                p.accent.mix(Rgb::hex(0xffd27a), 0.6).0,
                sw * 0.55 * exp(-d2 / (r * r * 6.0)) * (0.85 + 0.3 * self.low),
            );
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
                add(
                    &mut wc,
                    p.accent.mix(Rgb::hex(0xffd27a), 0.6).0,
                    0.5 * exp(-((u - sx) / (0.06 + depth * 0.5)).powi(2)) * ripple,
                );
            }
            blend(c, wc, sw.min(1.0) * 0.95);
        }
        if has(plan, Motif::Embers) {
            let heat = smoothstep(0.55, 1.0, v) * (0.6 + 0.5 * fbm(s ^ 31, u * 3.0, v * 2.0 + self.travel * 0.4, 3));
            add(c, Rgb::hex(0xff5a1a).mix(p.primary, 0.3).0, sw * 0.45 * heat * (0.7 + 0.5 * self.low));
        }
        if has(plan, Motif::City) {
            // Out-of-focus city lights along the horizon.
            for l in &self.city_lights {
                let d2 = (u - l.u).powi(2) + (v - l.v).powi(2);
                if d2 < 0.012 {
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
    fn sun(&self) -> Option<(f32, f32, f32)> {
        if self.style == Style::Retro || !has(self.plan, Motif::Sun) || matches!(self.plan.light, Light::Night) {
            return None;
        }
        let horizon = self.horizon.unwrap_or(0.75);
        let low = matches!(self.plan.light, Light::Dawn | Light::Golden | Light::Dusk);
        Some((
            self.aspect * 0.62 - self.cam_x * 0.2,
            if low { horizon - 0.1 } else { 0.22 },
            if low { 0.1 } else { 0.07 },
        ))
    }

    fn moon(&self) -> Option<(f32, f32, f32)> {
        has(self.plan, Motif::Moon).then_some((self.aspect * 0.75 - self.cam_x * 0.2, 0.2, 0.055))
    }

    /// (u, v) zoomed about the centre by the beat, and carried by the camera.
    fn zoomed(&self, u: f32, v: f32) -> (f32, f32) {
        let cx = self.aspect * 0.5;
        ((u - cx) / self.zoom + cx + self.cam_x, (v - 0.5) / self.zoom + 0.5)
    }

    /// The abstract style's field: a kaleidoscope whose echoes zoom out of it, as a feedback
    /// warp does, but computed from time alone. (brightness 0..1, hue position)
    fn kaleidoscope(&self, u: f32, v: f32) -> (f32, f32) {
        let (x, y) = (u - self.aspect * 0.5, v - 0.5);
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
            let n = fbm(self.seed ^ 77, qx * 3.0 * zoom + tt, qy * 3.0 * zoom - tt * 0.5, 3);
            let ring = 0.5 + 0.5 * sin(r * 22.0 * zoom - self.travel * 1.5 + n * 6.0 + self.mid * 2.0);
            total += weight * ring * smoothstep(0.3, 0.7, n + 0.2 * self.low);
            norm += weight;
            weight *= 0.55;
        }
        (total / norm, r * 1.5 + self.travel * 0.03)
    }

    /// Sharp layers evaluated at every pixel of the row: the geometric grid, the retro sun and floor.
    fn sharp_row(&self, y: usize, row: &mut [[f32; 3]]) {
        let v = (y as f32 + 0.5) / self.h;
        let px = self.px();
        let p = &self.pal;
        match self.style {
            Style::Geometric => {
                let g = self.graphics * (0.16 + 0.25 * self.mid);
                let spacing = 0.08;
                let (_, zv) = self.zoomed(0.0, v);
                let off = self.travel * 0.02;
                let hw = 0.0006 * self.h;
                let dv = ((zv + off) / spacing - ((zv + off) / spacing).fround()).abs() * spacing / (px / self.zoom);
                let row_line = line_coverage(dv, hw);
                for (x, c) in row.iter_mut().enumerate() {
                    let u = (x as f32 + 0.5) * px;
                    let (zu, _) = self.zoomed(u, v);
                    let du =
                        ((zu - off) / spacing - ((zu - off) / spacing).fround()).abs() * spacing / (px / self.zoom);
                    let cov = row_line.max(line_coverage(du, hw));
                    if cov > 0.0 {
                        blend(c, p.secondary.0, g * cov);
                    }
                }
            }
            Style::Retro => self.retro_row(v, row),
            _ => {}
        }
    }

    fn retro_row(&self, v: f32, row: &mut [[f32; 3]]) {
        let px = self.px();
        let p = &self.pal;
        let hz = self.horizon.unwrap_or(0.6);
        let (sx, sy) = (self.aspect * 0.5, hz - 0.17);
        let sr = 0.2 * (1.0 + 0.04 * self.low * self.k + 0.03 * self.beat * self.k);
        if (v - sy).abs() < sr + px {
            // The sun: a gradient disc cut by bands that widen towards its foot and scroll down.
            let top = Rgb::hex(0xffe45e).mix(p.accent, 0.3);
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
            for (x, c) in row.iter_mut().enumerate() {
                let u = (x as f32 + 0.5) * px;
                let d = ((u - sx).powi(2) + (v - sy).powi(2)).sqrt();
                let cov = ((sr - d) / px + 0.5).clamp(0.0, 1.0) * (1.0 - gap);
                if cov > 0.0 {
                    blend(c, col, cov * (0.5 + 0.5 * self.graphics));
                }
            }
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
            let bright = 0.75 + 0.5 * self.beat * self.k;
            for (x, c) in row.iter_mut().enumerate() {
                let u = (x as f32 + 0.5) * px;
                let xw = (u - self.aspect * 0.5) * dx_du;
                let dx = (xw - xw.fround()).abs() / (dx_du * px);
                let xline = line_coverage(dx, line_px) * fade_x + (1.0 - fade_x) * (2.0 * line_px / spacing_x).min(1.0);
                // Either line: their union, whose mean is the same whether lines are drawn or faded.
                let cov = (zline + xline - zline * xline).min(1.0);
                *c = floor;
                blend(c, glow.0, cov * bright * (0.4 + 0.6 * self.graphics));
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
                let lf = layer as f32;
                let bw = 0.035 + 0.025 * lf;
                let tops = (0..2 * w)
                    .map(|x| {
                        let u = column(x) - self.cam_x * (0.3 + 0.4 * lf) + self.travel * 0.004 * (1.0 + lf);
                        let b = (u / bw).ffloor() as i32 as u32;
                        let height = (0.06 + 0.22 * rnd(self.seed, 400 + layer, b).powi(2)) * (1.0 + 0.3 * lf);
                        hz + 0.015 * lf - height
                    })
                    .collect();
                let col = if layer == 0 { p.ink.mix(p.sky_bottom, 0.35) } else { p.ink };
                let windows = (layer == 1).then_some(p.accent.mix(Rgb::hex(0xffd98a), 0.4));
                out.push(Silhouette::new(tops, col, sw).with_windows(windows).down_to(hz + 0.012));
            }
        }
        out
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
                let col = p.accent.mix(Rgb::hex(0xffe7a8), 0.6);
                out.push(Prim::disc(at(sx, sy), r * h, 0.0, col, sw, false));
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
                let speed = 1.4 * (0.8 + 0.4 * self.energy);
                for i in 0..220u32 {
                    let len = 0.05 + 0.06 * rnd(s, 10, i);
                    let fall = self.t * speed * (0.8 + 0.4 * rnd(s, 11, i)) / 1.3;
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
            if has(plan, Motif::Neon) {
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
                    let r = (0.09 + 0.085 * i as f32) * grow;
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
                    let (r0, r1) = (0.42, 0.5 + 0.12 * self.high);
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
                let radius = 0.2 * (1.0 + 0.25 * self.beat * k);
                let mut pts = Vec::with_capacity(n as usize + 1);
                for i in 0..=n {
                    let f = i % n;
                    let back = f64::from(f) / f64::from(n) * 0.6;
                    let t = f64::from(self.t) - back;
                    let bump = 0.6 * self.plan.mid.at(t) + 0.4 * self.plan.high.at(t);
                    let a = f as f32 / n as f32 * std::f32::consts::TAU + self.travel * 0.2;
                    let r = radius + 0.07 * bump * k * sin(f as f32 * 0.9 + self.travel * 2.0);
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
                let r = 0.2 * (1.0 + 0.12 * self.low * k + 0.1 * self.beat * k);
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

    fn zoom_px(&self, u: f32, v: f32) -> (f32, f32) {
        let cx = self.aspect * 0.5;
        (((u - self.cam_x - cx) * self.zoom + cx) * self.h, ((v - 0.5) * self.zoom + 0.5) * self.h)
    }

    /// Per-pixel finishing: grading, letterbox, grain, scan lines, RGB split, block displacement,
    /// vignette, the beat's lift and the flash.
    fn finish_row(&self, y: usize, row: &mut [[f32; 3]], scratch: &mut [[f32; 3]]) {
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
        match self.style {
            Style::Cinematic => {
                let bar = ((self.h - self.w / 2.39) * 0.5).max(0.0);
                if (y as f32) < bar || (y as f32) >= self.h - bar {
                    row.fill([0.0; 3]);
                    return;
                }
                let grain = 0.045 * (self.h / 1080.0).min(1.0);
                for (x, c) in row.iter_mut().enumerate() {
                    let l = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
                    for ch in c.iter_mut() {
                        *ch = mix(*ch, l, 0.3);
                    }
                    c[0] *= 1.06;
                    c[2] *= 0.92;
                    let n = (hash(x as u32 ^ hash(y as u32 ^ hash(self.frame_no))) >> 8) as f32 / 16_777_216.0 - 0.5;
                    for ch in c.iter_mut() {
                        *ch += n * grain;
                    }
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
                let tint = if chosen { hit * 0.5 } else { 0.0 };
                let split = (0.002 + 0.012 * hit + 0.004 * self.high) * self.h;
                scratch.copy_from_slice(row);
                let lines = scan(0.22);
                for (x, c) in row.iter_mut().enumerate() {
                    let xs = x as f32 - shift;
                    *c = [sample(scratch, xs + split, 0), sample(scratch, xs, 1), sample(scratch, xs - split, 2)];
                    if tint > 0.0 {
                        blend(c, p.accent.0, tint * 0.6);
                    }
                    for ch in c.iter_mut() {
                        *ch *= lines;
                    }
                }
            }
            Style::Retro => {
                // VHS: a tracking band drifting down, a little chroma bleed, scan lines.
                let band_v = fract(self.t * 0.07) * 1.3 - 0.15;
                let in_band = (v - band_v).abs() < 0.018;
                let shift =
                    if in_band { 0.006 * self.h * (0.5 + rnd(self.seed, 700, (v * 270.0) as u32)) } else { 0.0 };
                let bleed = 0.0018 * self.h;
                scratch.copy_from_slice(row);
                let lines = scan(0.16);
                for (x, c) in row.iter_mut().enumerate() {
                    let xs = x as f32 - shift;
                    *c = [sample(scratch, xs + bleed, 0), sample(scratch, xs, 1), sample(scratch, xs, 2)];
                    for ch in c.iter_mut() {
                        *ch *= lines;
                    }
                    if in_band {
                        let n = (hash(x as u32 ^ hash(y as u32 ^ hash(self.frame_no))) >> 8) as f32 / 16_777_216.0;
                        // Its mean is the same at every size; its grain is finer on a larger frame.
                        for ch in c.iter_mut() {
                            *ch = mix(*ch, 0.5, 0.25) + (n - 0.5) * 0.25 * (self.h / 1080.0).min(1.0);
                        }
                    }
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
        let row_fade = (1.0 - vignette * dv * dv * 0.4) * lift;
        let across = vignette * 0.6 * lift;
        let step = 2.0 / self.w;
        let mut du = step * 0.5 - 1.0;
        if flash > 0.0 {
            for c in row.iter_mut() {
                let fade = row_fade - across * du * du;
                du += step;
                for ch in 0..3 {
                    let value = c[ch] * fade;
                    c[ch] = value + (flash_col[ch] - value) * flash;
                }
            }
        } else {
            for c in row.iter_mut() {
                let fade = row_fade - across * du * du;
                du += step;
                *c = [c[0] * fade, c[1] * fade, c[2] * fade];
            }
        }
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

/// Channel `c` of `row` at fractional column `x` (linear between pixels, clamped at the ends), so
/// shifts look the same at every size.
fn sample(row: &[[f32; 3]], x: f32, c: usize) -> f32 {
    let last = row.len().saturating_sub(1);
    let x = x.clamp(0.0, last as f32);
    let i = (x.ffloor() as usize).min(last);
    let j = (i + 1).min(last);
    let f = x - i as f32;
    row[i][c] + (row[j][c] - row[i][c]) * f
}

/// The share of [`centre` − `width`/2, `centre` + `width`/2] whose fractional part is at least
/// `lo`: a box-filtered (anti-aliased) periodic pattern such as rows of windows.
fn periodic_cover(centre: f32, width: f32, lo: f32) -> f32 {
    let integral = |x: f32| x.ffloor() * (1.0 - lo) + (fract(x) - lo).max(0.0);
    let w = width.max(1e-6);
    ((integral(centre + w * 0.5) - integral(centre - w * 0.5)) / w).clamp(0.0, 1.0)
}

/// Coverage of a pixel whose centre is `d` pixels from the middle of a line `hw` pixels either
/// side: the overlap of the pixel's width with the line's (a box filter), so a line thinner
/// than a pixel keeps its area and looks the same at every size.
fn line_coverage(d: f32, hw: f32) -> f32 {
    ((d + 0.5).min(hw) - (d - 0.5).max(-hw)).clamp(0.0, 1.0)
}

fn add(c: &mut [f32; 3], col: [f32; 3], a: f32) {
    for i in 0..3 {
        c[i] += col[i] * a;
    }
}

fn blend(c: &mut [f32; 3], col: [f32; 3], a: f32) {
    for i in 0..3 {
        c[i] += (col[i] - c[i]) * a;
    }
}

fn scale(c: [f32; 3], k: f32) -> [f32; 3] {
    c.map(|v| v * k)
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

    fn draw_row(&self, y: usize, row: &mut [[f32; 3]]) {
        let py = y as f32 + 0.5;
        if py < self.bbox.1 || py > self.bbox.3 || self.alpha <= 0.0 {
            return;
        }
        let w = row.len();
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

    /// Draws the pixels `x0..x1` of the row at `py`.
    fn cover(&self, py: f32, row: &mut [[f32; 3]], x0: usize, x1: usize) {
        for (x, px) in row.iter_mut().enumerate().take(x1).skip(x0) {
            let pxf = x as f32 + 0.5;
            let cov = match self.shape {
                Shape::Segment { a, b, hw } => {
                    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
                    let len2 = dx * dx + dy * dy;
                    let t =
                        if len2 > 0.0 { (((pxf - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
                    let (ex, ey) = (pxf - a.0 - t * dx, py - a.1 - t * dy);
                    let d = (ex * ex + ey * ey).sqrt();
                    if self.soft {
                        let f = (1.0 - d / hw).max(0.0);
                        f * f
                    } else {
                        line_coverage(d, hw)
                    }
                }
                Shape::Disc { c, r, soft } => {
                    let d = ((pxf - c.0).powi(2) + (py - c.1).powi(2)).sqrt();
                    if soft > 0.0 {
                        1.0 - smoothstep(r - soft, r + 0.5, d)
                    } else {
                        (r + 0.5 - d).clamp(0.0, 1.0)
                    }
                }
                Shape::Ring { c, r, hw } => {
                    let d = ((pxf - c.0).powi(2) + (py - c.1).powi(2)).sqrt();
                    line_coverage((d - r).abs(), hw)
                }
            };
            if cov <= 0.0 {
                continue;
            }
            let a = cov * self.alpha;
            if self.additive {
                add(px, self.color, a);
            } else {
                blend(px, self.color, a.min(1.0));
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
    /// In units (the frame's height is 1), two per output column (at its quarters).
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
    /// The smallest of `tops`.
    highest: f32,
}

impl Silhouette {
    /// A silhouette filled from `tops` to the bottom of the frame, flat, without windows.
    fn new(tops: Vec<f32>, color: Rgb, alpha: f32) -> Self {
        let highest = tops.iter().copied().fold(f32::MAX, f32::min);
        Silhouette { tops, color, alpha, windows: None, edge: None, shade: 0.0, until: 1.01, highest }
    }

    fn with_windows(mut self, light: Option<Rgb>) -> Self {
        self.windows = light;
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

    fn draw_row(&self, ctx: &Ctx<'_>, y: usize, row: &mut [[f32; 3]]) {
        let px = ctx.px();
        let v = (y as f32 + 0.5) * px;
        // Nothing above the highest top (and its glow) or below the bottom.
        if v > self.until + px || v < self.highest - 4.0 * px - 0.003 {
            return;
        }
        let lit_rate = 0.16 + 0.12 * ctx.high;
        for (x, c) in row.iter_mut().enumerate() {
            let (ta, tb) = (self.tops[2 * x], self.tops[2 * x + 1]);
            let top = ta.min(tb);
            let bottom = ((self.until - v) / px + 0.5).clamp(0.0, 1.0);
            let cov = 0.5 * (((v - ta) / px + 0.5).clamp(0.0, 1.0) + ((v - tb) / px + 0.5).clamp(0.0, 1.0)) * bottom;
            if let Some(edge) = self.edge {
                let d = (v - top).abs() / px;
                let reach = 0.0025 * ctx.h;
                let glow = if reach >= 1.0 { (1.0 - d / reach).max(0.0) } else { (1.0 - d).max(0.0) * reach };
                if glow > 0.0 {
                    add(c, edge.0, glow * self.alpha);
                }
            }
            if cov <= 0.0 {
                continue;
            }
            let mut col = self.color;
            if self.shade > 0.0 {
                col = col.scale(1.0 - self.shade * ((v - top) * 3.0).min(1.0));
            }
            blend(c, col.0, cov * self.alpha);
            if let Some(light) = self.windows {
                let u = (x as f32 + 0.5) * px;
                let (cw, ch) = (0.014, 0.02);
                let (gx, gy) = ((u - ctx.cam_x * 0.7 + ctx.travel * 0.008) / cw, (v - top) / ch);
                let window = periodic_cover(gx, px / cw, 0.35) * periodic_cover(gy, px / ch, 0.4);
                if gy > 0.6 && window > 0.0 {
                    let cell = hash((gx.ffloor() as i32 as u32).wrapping_mul(0x9e37) ^ hash(gy.ffloor() as u32));
                    let lit = ((cell ^ ctx.seed) >> 8) as f32 / 16_777_216.0;
                    let flick = if lit < lit_rate * 0.1 { 0.5 + 0.5 * sin(ctx.t * 7.0 + cell as f32) } else { 1.0 };
                    if lit < lit_rate {
                        blend(c, light.0, window * cov * self.alpha * 0.85 * flick);
                    }
                }
            }
        }
    }
}
