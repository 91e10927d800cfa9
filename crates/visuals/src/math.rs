//! Deterministic arithmetic for drawing: sine, cosine, exponential and arctangent written out
//! here, not taken from the platform's libm, so a frame is the same bytes on every machine (IEEE
//! addition, multiplication, division, square root and rounding are exact everywhere; libm's
//! transcendental functions are not). Plus integer hashing and value noise.

use std::f32::consts::{FRAC_PI_2, PI, TAU};

/// Sine, to within 4e-6 for |x| up to a few thousand.
#[inline(always)]
pub fn sin(x: f32) -> f32 {
    let k = (x * (1.0 / TAU)).fround();
    let mut r = x - k * TAU;
    if r > FRAC_PI_2 {
        r = PI - r;
    } else if r < -FRAC_PI_2 {
        r = -PI - r;
    }
    let r2 = r * r;
    r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362_880.0)))))
}

#[inline(always)]
pub fn cos(x: f32) -> f32 {
    sin(x + FRAC_PI_2)
}

/// e^x, to within 2e-7 relative; 0 below −87.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    if x < -87.0 {
        return 0.0;
    }
    let x = x.min(88.0);
    let y = x * std::f32::consts::LOG2_E;
    let n = y.fround();
    let f = y - n;
    // 2^f on [−½, ½]: a polynomial in f·ln 2.
    let z = f * std::f32::consts::LN_2;
    let p = 1.0 + z * (1.0 + z * (0.5 + z * (1.0 / 6.0 + z * (1.0 / 24.0 + z * (1.0 / 120.0 + z * (1.0 / 720.0))))));
    p * f32::from_bits(((n as i32 + 127).clamp(1, 254) as u32) << 23)
}

/// atan2(y, x) in (−π, π], to within 1e-5.
#[inline(always)]
pub fn atan2(y: f32, x: f32) -> f32 {
    let (ax, ay) = (x.abs(), y.abs());
    if ax == 0.0 && ay == 0.0 {
        return 0.0;
    }
    let (a, swap) = if ay > ax { (ax / ay, true) } else { (ay / ax, false) };
    let s = a * a;
    // atan on [0, 1].
    let mut r = a * (0.999_866 + s * (-0.330_299_5 + s * (0.180_141 + s * (-0.085_133 + s * 0.020_835_1))));
    if swap {
        r = FRAC_PI_2 - r;
    }
    if x < 0.0 {
        r = PI - r;
    }
    if y < 0.0 {
        -r
    } else {
        r
    }
}

/// Floor and rounding by integer conversion: the same results as `f32::floor`/`round` (for
/// |x| < 2³¹, ties rounded up), but a single instruction on every x86-64, where the library
/// calls are function calls without SSE4.1.
pub trait Whole {
    fn ffloor(self) -> f32;
    fn fround(self) -> f32;
}

impl Whole for f32 {
    #[inline(always)]
    fn ffloor(self) -> f32 {
        let i = self as i32 as f32;
        if i > self {
            i - 1.0
        } else {
            i
        }
    }

    #[inline(always)]
    fn fround(self) -> f32 {
        (self + 0.5).ffloor()
    }
}

/// `x` rounded to the nearest whole number (ties to even) for |x| < 2²², by adding and taking
/// away 1.5·2²³: exact IEEE arithmetic that, unlike a float-to-int conversion, vectorises. For
/// inner loops over pixels, where values are small.
#[inline(always)]
pub fn round_small(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (x + MAGIC) - MAGIC
}

#[inline(always)]
pub fn fract(x: f32) -> f32 {
    x - x.ffloor()
}

#[inline(always)]
pub fn mix(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

#[inline(always)]
pub fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A well-mixed 32-bit hash (lowbias32).
#[inline(always)]
pub fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// A number in [0, 1) for item `i` of stream `k` under `seed`.
#[inline(always)]
pub fn rnd(seed: u32, k: u32, i: u32) -> f32 {
    (hash(seed ^ hash(k.wrapping_mul(0x9e37_79b9) ^ hash(i))) >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// One hash per lattice point: the multipliers spread neighbouring points apart before it mixes.
#[inline(always)]
fn lattice(seed: u32, x: i32, y: i32) -> f32 {
    (hash(seed ^ (x as u32).wrapping_mul(0x8da6_b343) ^ (y as u32).wrapping_mul(0xd816_3841)) >> 8) as f32
        * (1.0 / 16_777_216.0)
}

/// Smooth value noise in [0, 1].
#[inline(always)]
pub fn noise(seed: u32, x: f32, y: f32) -> f32 {
    let (fx, fy) = (x.ffloor(), y.ffloor());
    let (ix, iy) = (fx as i32, fy as i32);
    let (tx, ty) = (x - fx, y - fy);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let a = lattice(seed, ix, iy);
    let b = lattice(seed, ix + 1, iy);
    let c = lattice(seed, ix, iy + 1);
    let d = lattice(seed, ix + 1, iy + 1);
    mix(mix(a, b, sx), mix(c, d, sx), sy)
}

/// Fractal noise of `octaves` octaves in [0, 1].
#[inline(always)]
pub fn fbm(seed: u32, x: f32, y: f32, octaves: u32) -> f32 {
    let (mut sum, mut amp, mut norm, mut f) = (0.0, 0.5, 0.0, 1.0);
    for o in 0..octaves {
        sum += amp * noise(seed.wrapping_add(o * 131), x * f + o as f32 * 17.3, y * f - o as f32 * 9.1);
        norm += amp;
        amp *= 0.5;
        f *= 2.03;
    }
    sum / norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_out_functions_match_the_platforms() {
        let mut x = -700.0f32;
        while x < 700.0 {
            assert!((sin(x) - x.sin()).abs() < 2e-4, "sin {x}");
            assert!((cos(x) - x.cos()).abs() < 2e-4, "cos {x}");
            x += 0.37;
        }
        for x in [-80.0f32, -10.0, -1.0, -0.1, 0.0, 0.3, 1.0, 5.0, 20.0] {
            assert!((exp(x) - x.exp()).abs() <= 1e-6 * x.exp().max(1e-30), "exp {x}: {} vs {}", exp(x), x.exp());
        }
        for (y, x) in [(0.0f32, 1.0f32), (1.0, 1.0), (1.0, -1.0), (-2.0, -0.5), (-1.0, 3.0), (0.3, -7.0), (5.0, 0.0)] {
            assert!((atan2(y, x) - y.atan2(x)).abs() < 2e-5, "atan2 {y} {x}");
        }
    }

    #[test]
    fn small_rounding_matches_rounding_away_from_ties() {
        for i in -40_000..40_000 {
            let x = i as f32 * 0.0173;
            if (x.fract().abs() - 0.5).abs() > 1e-3 {
                assert_eq!(round_small(x), x.round(), "{x}");
            }
        }
    }

    #[test]
    fn noise_is_smooth_and_in_range() {
        let mut last = noise(7, 0.0, 0.5);
        for i in 1..2000 {
            let v = noise(7, i as f32 * 0.01, 0.5);
            assert!((0.0..=1.0).contains(&v));
            assert!((v - last).abs() < 0.05, "a small step moves noise a little");
            last = v;
        }
        assert_ne!(noise(7, 3.3, 1.1), noise(8, 3.3, 1.1), "the seed matters");
    }
}
