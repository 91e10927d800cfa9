//! Colours as the engine uses them: sRGB components in 0..1 (frames are composed in sRGB, as
//! the encoder receives them), written as `#rrggbb` in plans so a plan reads like a recipe.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::math::Whole;

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rgb(pub [f32; 3]);

impl Rgb {
    pub const BLACK: Rgb = Rgb([0.0; 3]);
    pub const WHITE: Rgb = Rgb([1.0; 3]);

    pub fn hex(v: u32) -> Self {
        let c = |s: u32| ((v >> s) & 0xff) as f32 / 255.0;
        Rgb([c(16), c(8), c(0)])
    }

    pub fn parse(text: &str) -> Option<Self> {
        let digits = text.strip_prefix('#')?;
        (digits.len() == 6).then(|| u32::from_str_radix(digits, 16).ok().map(Self::hex)).flatten()
    }

    pub fn to_hex(self) -> String {
        let [r, g, b] = self.0.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8);
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// Quantised to 8 bits, as it is stored: a plan read back draws the same frames.
    pub fn stored(self) -> Self {
        Self(self.0.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() / 255.0))
    }

    #[inline(always)]
    pub fn mix(self, other: Rgb, t: f32) -> Rgb {
        Rgb([0, 1, 2].map(|i| self.0[i] + (other.0[i] - self.0[i]) * t))
    }

    #[inline(always)]
    pub fn scale(self, k: f32) -> Rgb {
        Rgb(self.0.map(|c| c * k))
    }

    /// Rec. 709 luma of the sRGB values (a perceptual brightness, 0..1).
    pub fn luma(self) -> f32 {
        0.2126 * self.0[0] + 0.7152 * self.0[1] + 0.0722 * self.0[2]
    }

    /// Hue in degrees, saturation and value (HSV).
    pub fn hsv(self) -> (f32, f32, f32) {
        let [r, g, b] = self.0;
        let max = r.max(g).max(b);
        let min = r.min(g).min(b);
        let d = max - min;
        let h = if d <= 1e-6 {
            0.0
        } else if max == r {
            let x = (g - b) / d;
            60.0 * (x - 6.0 * (x / 6.0).ffloor())
        } else if max == g {
            60.0 * ((b - r) / d + 2.0)
        } else {
            60.0 * ((r - g) / d + 4.0)
        };
        (h, if max <= 1e-6 { 0.0 } else { d / max }, max)
    }

    pub fn from_hsv(h: f32, s: f32, v: f32) -> Rgb {
        // Whole-number arithmetic instead of `%`, which is a slow library call per sample.
        let h = h / 60.0;
        let h = h - 6.0 * (h / 6.0).ffloor();
        let c = v * s;
        let x = c * (1.0 - (h - 2.0 * (h * 0.5).ffloor() - 1.0).abs());
        let (r, g, b) = match h as u32 {
            0 => (c, x, 0.0),
            1 => (x, c, 0.0),
            2 => (0.0, c, x),
            3 => (0.0, x, c),
            4 => (x, 0.0, c),
            _ => (c, 0.0, x),
        };
        let m = v - c;
        Rgb([r + m, g + m, b + m])
    }

    /// The same colour with its saturation times `s` and its value times `v`.
    pub fn graded(self, s: f32, v: f32) -> Rgb {
        let (h, sat, val) = self.hsv();
        Rgb::from_hsv(h, (sat * s).clamp(0.0, 1.0), (val * v).clamp(0.0, 1.0))
    }

    /// Darker by `k` (0..1) as a painter darkens: yellows turn towards ochre and amber instead
    /// of the olive that plain scaling makes of them. Above 1, plain scaling. Linear in this
    /// colour and its [`amber`](Rgb::amber), so a frame can mix the two per pixel.
    pub fn deepened(self, k: f32) -> Rgb {
        if k >= 1.0 {
            return self.scale(k);
        }
        let k = k.max(0.0);
        self.amber().mix(self, k).scale(k)
    }

    /// The hue a yellow takes in the dark: turned towards orange (other hues are kept).
    pub fn amber(self) -> Rgb {
        let (h, s, v) = self.hsv();
        // 1 at pure yellow, 0 from orange and from green.
        let yellow = 1.0 - ((h - 55.0).abs() / 25.0).min(1.0);
        if yellow <= 0.0 || s < 0.2 {
            return self;
        }
        Rgb::from_hsv(h - 24.0 * yellow, s, v)
    }

    /// How much this colour reads as warm (red, orange, gold): 0 to 1.
    pub fn warmth(self) -> f32 {
        let (h, s, v) = self.hsv();
        let from_orange = (h - 35.0).abs().min(360.0 - (h - 35.0).abs());
        (1.0 - from_orange / 60.0).max(0.0) * s * v.sqrt()
    }

    pub fn rotate_hue(self, degrees: f32) -> Rgb {
        let (h, s, v) = self.hsv();
        Rgb::from_hsv(h + degrees, s, v)
    }
}

impl Serialize for Rgb {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Rgb {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Rgb::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a #rrggbb colour")))
    }
}

#[cfg(feature = "specta")]
impl specta::Type for Rgb {
    fn inline(types: &mut specta::TypeCollection, generics: specta::Generics) -> specta::datatype::DataType {
        <String as specta::Type>::inline(types, generics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_round_trip_through_hex_and_hsv() {
        for hex in ["#ff00aa", "#000000", "#ffffff", "#17b3c2", "#dbb40c"] {
            let c = Rgb::parse(hex).unwrap();
            assert_eq!(c.to_hex(), hex);
            let (h, s, v) = c.hsv();
            assert_eq!(Rgb::from_hsv(h, s, v).to_hex(), hex);
        }
        assert_eq!(Rgb::parse("ff00aa"), None);
        assert_eq!(Rgb::parse("#ff00a"), None);
    }
}
