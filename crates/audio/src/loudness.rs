//! Integrated loudness (EBU R128, LUFS, by the ebur128 crate) and true peak (dBTP, by our pruned
//! 4× interpolator), measured while decoding.

use crate::decode::{Format, Sink};

#[derive(Default)]
pub struct Loudness {
    meter: Option<ebur128::EbuR128>,
    true_peak: Option<crate::true_peak::TruePeak>,
    channels: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LoudnessFigures {
    /// `None` for silence (R128's gating leaves nothing to measure).
    pub integrated_lufs: Option<f64>,
    /// `None` for digital silence.
    pub true_peak_dbtp: Option<f64>,
}

impl Loudness {
    pub fn figures(&self) -> LoudnessFigures {
        let Some(m) = &self.meter else { return LoudnessFigures { integrated_lufs: None, true_peak_dbtp: None } };
        let integrated = m.loudness_global().ok().filter(|v| v.is_finite());
        let peak =
            (0..u32::try_from(self.channels).unwrap_or(0)).filter_map(|c| m.true_peak(c).ok()).fold(0.0f64, f64::max);
        LoudnessFigures { integrated_lufs: integrated, true_peak_dbtp: (peak > 0.0).then(|| 20.0 * peak.log10()) }
    }
}

impl Sink for Loudness {
    fn start(&mut self, format: &Format) {
        self.channels = format.channels;
        self.meter =
            ebur128::EbuR128::new(u32::try_from(format.channels).unwrap_or(0), format.sample_rate, ebur128::Mode::I)
                .ok();
        self.true_peak = Some(crate::true_peak::TruePeak::new(format.channels));
    }

    fn push(&mut self, interleaved: &[f32], channels: usize) {
        if channels != self.channels {
            return;
        }
        if let Some(m) = &mut self.meter {
            let _ = m.add_frames_f32(interleaved);
        }
        if let Some(t) = &mut self.true_peak {
            t.push(interleaved, channels);
        }
    }
}
