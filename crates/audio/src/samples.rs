//! Sample tracks made here, for a first run that shows the product (`cargo xtask dev` seeds
//! projects from them; the desktop's empty projects screen offers "Try a sample track"). Each is
//! synthesised from code in this file (drums, bass, pads and a lead, arranged in sections over a
//! chord progression), so the repository ships no recording and the tracks are ours to give away
//! (CC0). Invariant: the same sample renders to the same bytes on every call; no I/O here.

use std::f64::consts::TAU;

/// The sample rate of every sample track.
pub const RATE: u32 = 44_100;

/// Who made the sample tracks, for credits.
pub const CREDIT: &str = "Synthesised by resonance-audio's sample generator (code in this repository), CC0";

/// One sample track: its title and its music.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The track's title (and its file's name).
    pub title: &'static str,
    pub bpm: f64,
    /// Bars of four beats.
    pub bars: usize,
    /// The root of each bar's chord (MIDI note) and whether it is minor; repeats.
    chords: &'static [(u8, bool)],
    sections: &'static [Section],
    /// The drum pattern's feel.
    groove: Groove,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Groove {
    /// Kick on every beat, snare on 2 and 4, eighth hats.
    Drive,
    /// Kick on 1 and 3, brushed hats, no snare.
    Soft,
    /// Four on the floor, claps on 2 and 4, off-beat open hats.
    House,
}

/// What plays from `from_bar` on (until the next section).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Section {
    from_bar: usize,
    drums: bool,
    backbeat: bool,
    bass: bool,
    lead: bool,
    /// A rising noise sweep over the section, into the next one.
    riser: bool,
}

const fn section(from_bar: usize, drums: bool, backbeat: bool, bass: bool, lead: bool, riser: bool) -> Section {
    Section { from_bar, drums, backbeat, bass, lead, riser }
}

/// The sample tracks, in the order they are offered.
pub const SAMPLES: [Sample; 3] = [
    Sample {
        title: "Neon Drive",
        bpm: 100.0,
        bars: 12,
        chords: &[(57, true), (53, false), (48, false), (55, false)],
        sections: &[
            section(0, false, false, false, false, false),
            section(2, true, false, true, false, false),
            section(5, true, false, true, false, true),
            section(6, true, true, true, true, false),
            section(10, true, false, false, false, false),
        ],
        groove: Groove::Drive,
    },
    Sample {
        title: "Slow Tide",
        bpm: 76.0,
        bars: 8,
        chords: &[(50, false), (47, true), (43, false), (45, false)],
        sections: &[
            section(0, false, false, false, false, false),
            section(2, true, false, true, false, false),
            section(4, true, false, true, true, false),
            section(7, false, false, true, true, false),
        ],
        groove: Groove::Soft,
    },
    Sample {
        title: "Spark Circuit",
        bpm: 126.0,
        bars: 14,
        chords: &[(53, true), (49, false), (44, false), (51, false)],
        sections: &[
            section(0, true, false, false, false, false),
            section(2, true, true, true, false, false),
            section(8, false, false, false, false, true),
            section(10, true, true, true, true, false),
        ],
        groove: Groove::House,
    },
];

impl Sample {
    pub fn by_title(title: &str) -> Option<&'static Sample> {
        SAMPLES.iter().find(|s| s.title.eq_ignore_ascii_case(title))
    }

    pub fn seconds(&self) -> f64 {
        self.bars as f64 * 4.0 * 60.0 / self.bpm
    }

    fn section_at(&self, bar: usize) -> Section {
        let mut current = self.sections[0];
        for s in self.sections {
            if s.from_bar <= bar {
                current = *s;
            }
        }
        current
    }

    /// The track as mono samples in [-1, 1] at `RATE`.
    pub fn render(&self) -> Vec<f32> {
        let beat = 60.0 / self.bpm;
        let total = (self.seconds() * f64::from(RATE)).ceil() as usize + RATE as usize; // a tail to ring out
        let mut mix = vec![0.0f64; total];
        let mut noise = Noise(0x9E37_79B9_7F4A_7C15 ^ self.title.len() as u64);
        for bar in 0..self.bars {
            let s = self.section_at(bar);
            let (root, minor) = self.chords[bar % self.chords.len()];
            let bar_start = bar as f64 * 4.0 * beat;
            let last = bar + 1 == self.bars;
            // Pads: the chord, held for the bar, in every section.
            for interval in chord(minor) {
                let f = midi(root + 12 + interval);
                add(&mut mix, bar_start, 4.0 * beat + 0.6, |t| pad(t, f, 4.0 * beat) * 0.11);
            }
            if s.drums {
                for step in 0..16 {
                    let at = bar_start + step as f64 * beat / 4.0;
                    let on_beat = step % 4 == 0;
                    let kick = match self.groove {
                        Groove::Drive | Groove::House => on_beat,
                        Groove::Soft => step == 0 || step == 8,
                    };
                    if kick {
                        add(&mut mix, at, 0.5, |t| kick_drum(t) * if self.groove == Groove::Soft { 0.6 } else { 0.9 });
                    }
                    let hat = match self.groove {
                        Groove::Drive | Groove::Soft => step % 2 == 0,
                        Groove::House => step % 4 == 2,
                    };
                    if hat {
                        let (len, level) = match self.groove {
                            Groove::House => (0.18, 0.22),
                            Groove::Soft => (0.12, 0.10),
                            Groove::Drive => (0.05, 0.16),
                        };
                        let hits = noise.burst(len);
                        add(&mut mix, at, len, |t| hat_drum(t, &hits, len) * level);
                    }
                    if s.backbeat && (step == 4 || step == 12) {
                        let hits = noise.burst(0.3);
                        add(&mut mix, at, 0.3, |t| snare_drum(t, &hits) * 0.45);
                    }
                }
            }
            if s.bass {
                let steps = if self.groove == Groove::Soft { 2 } else { 8 };
                for step in 0..steps {
                    let len = 4.0 * beat / steps as f64;
                    let offbeat = if self.groove == Groove::House { len / 2.0 } else { 0.0 };
                    let at = bar_start + step as f64 * len + offbeat;
                    let note = if self.groove == Groove::Drive && step % 2 == 1 { root } else { root - 12 };
                    let f = midi(note);
                    let hold = if self.groove == Groove::House { len * 0.45 } else { len * 0.9 };
                    add(&mut mix, at, hold + 0.05, |t| bass(t, f, hold) * 0.32);
                }
            }
            if s.lead {
                let arpeggio = chord(minor);
                let (per_beat, level) = if self.groove == Groove::Soft { (2, 0.07) } else { (4, 0.08) };
                for step in 0..4 * per_beat {
                    let at = bar_start + step as f64 * beat / per_beat as f64;
                    let note = root + 24 + arpeggio[step % arpeggio.len()] + if step / 4 % 2 == 1 { 12 } else { 0 };
                    let f = midi(note);
                    let len = beat / per_beat as f64;
                    add(&mut mix, at, len * 2.0, |t| lead(t, f, len) * level);
                }
            }
            if s.riser {
                let hits = noise.burst(4.0 * beat);
                add(&mut mix, bar_start, 4.0 * beat, |t| riser(t, &hits, 4.0 * beat) * 0.12);
            }
            if last {
                // The end: a low chord to close on.
                add(&mut mix, bar_start + 4.0 * beat, 1.0, |t| pad(t, midi(root), 0.2) * 0.2);
            }
        }
        master(&mix)
    }

    /// The track as a 16-bit mono WAV file.
    pub fn wav(&self) -> Vec<u8> {
        let pcm: Vec<i16> = self.render().iter().map(|s| (s.clamp(-1.0, 1.0) * 32_767.0).round() as i16).collect();
        crate::wav::pcm16_file(&pcm, 1, RATE)
    }
}

/// The intervals of a triad with a seventh.
fn chord(minor: bool) -> [u8; 4] {
    if minor {
        [0, 3, 7, 10]
    } else {
        [0, 4, 7, 11]
    }
}

fn midi(note: u8) -> f64 {
    440.0 * 2f64.powf((f64::from(note) - 69.0) / 12.0)
}

/// Mixes `voice(t)` (t in seconds from its start) into `mix` from `at` for `len` seconds.
fn add(mix: &mut [f64], at: f64, len: f64, voice: impl Fn(f64) -> f64) {
    let start = (at * f64::from(RATE)).round() as usize;
    let n = (len * f64::from(RATE)) as usize;
    for i in 0..n {
        let Some(slot) = mix.get_mut(start + i) else { break };
        *slot += voice(i as f64 / f64::from(RATE));
    }
}

/// A repeatable noise source (xorshift), so a track renders the same every time.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    /// `seconds` of noise at `RATE`.
    fn burst(&mut self, seconds: f64) -> Vec<f64> {
        (0..(seconds * f64::from(RATE)) as usize).map(|_| self.next()).collect()
    }
}

/// A sine whose pitch falls from 150 to 45 Hz.
fn kick_drum(t: f64) -> f64 {
    let phase = 45.0 * t + 105.0 / 22.0 * (1.0 - (-22.0 * t).exp());
    (TAU * phase).sin() * (-6.5 * t).exp() * (t * 400.0).min(1.0)
}

/// Noise with a fast decay, its low end removed (differences of neighbours).
fn hat_drum(t: f64, hits: &[f64], len: f64) -> f64 {
    let i = (t * f64::from(RATE)) as usize;
    let bright = hits.get(i).copied().unwrap_or(0.0) - hits.get(i.wrapping_sub(1)).copied().unwrap_or(0.0);
    bright * 0.5 * (-(t / len) * 5.0).exp()
}

fn snare_drum(t: f64, hits: &[f64]) -> f64 {
    let i = (t * f64::from(RATE)) as usize;
    let rattle = hits.get(i).copied().unwrap_or(0.0) * (-16.0 * t).exp();
    let body = (TAU * 185.0 * t).sin() * (-28.0 * t).exp();
    rattle * 0.8 + body * 0.5
}

/// A few harmonics of a sawtooth, closing like a low-pass filter.
fn bass(t: f64, f: f64, hold: f64) -> f64 {
    let env = (t * 300.0).min(1.0) * if t < hold { 1.0 } else { (-(t - hold) * 60.0).exp() };
    let bright = 0.35 + 0.65 * (-t * 8.0).exp();
    (1..=6).map(|k| (TAU * f * k as f64 * t).sin() / k as f64 * bright.powi(k - 1)).sum::<f64>() * env
}

/// Slow to rise and to fall: two detuned soft (odd-harmonic) tones.
fn pad(t: f64, f: f64, hold: f64) -> f64 {
    let env = (t / 0.35).min(1.0) * if t < hold { 1.0 } else { (-(t - hold) * 6.0).exp() };
    let tone = |f: f64| (1..=5).step_by(2).map(|k| (TAU * f * k as f64 * t).sin() / (k * k) as f64).sum::<f64>();
    (tone(f * 0.997) + tone(f * 1.003)) * 0.5 * env
}

/// A plucked square-ish tone with a little vibrato.
fn lead(t: f64, f: f64, len: f64) -> f64 {
    let env = (t * 500.0).min(1.0) * (-(t / len) * 2.2).exp();
    let wobble = 1.0 + 0.004 * (TAU * 5.5 * t).sin();
    (1..=7).step_by(2).map(|k| (TAU * f * wobble * k as f64 * t).sin() / k as f64).sum::<f64>() * env
}

/// Noise getting louder and brighter over `len`.
fn riser(t: f64, hits: &[f64], len: f64) -> f64 {
    let i = (t * f64::from(RATE)) as usize;
    let x = hits.get(i).copied().unwrap_or(0.0);
    x * (t / len).powi(2)
}

/// Gentle saturation, then the peak at -1 dBFS, with short fades at the ends.
fn master(mix: &[f64]) -> Vec<f32> {
    let shaped: Vec<f64> = mix.iter().map(|x| (x * 1.2).tanh()).collect();
    let peak = shaped.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-9);
    let gain = 10f64.powf(-1.0 / 20.0) / peak;
    let fade = (0.01 * f64::from(RATE)) as usize;
    let n = shaped.len();
    shaped
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let edge = (i.min(n - 1 - i) as f64 / fade as f64).min(1.0);
            (x * gain * edge) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_sample_is_music_of_its_length_at_its_tempo_and_the_same_each_time() {
        for sample in &SAMPLES {
            let wav = sample.wav();
            assert_eq!(wav, sample.wav(), "{} renders the same bytes twice", sample.title);
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join(format!("{}.wav", sample.title));
            std::fs::write(&file, &wav).unwrap();
            let analysis = crate::analyze(&file).unwrap();
            let length = analysis.facts.duration_seconds;
            assert!((length - sample.seconds() - 1.0).abs() < 0.05, "{}: {length} s", sample.title);
            let found = analysis.rhythm.tempo_bpm.unwrap();
            // The beat tracker may count half or double time; the pulse is what matters.
            let agrees = [0.5, 1.0, 2.0].iter().any(|m| (found - sample.bpm * m).abs() / (sample.bpm * m) < 0.04);
            assert!(agrees, "{}: {found} BPM found, {} made", sample.title, sample.bpm);
            let peak = sample.render().iter().fold(0.0f32, |m, x| m.max(x.abs()));
            assert!((0.85..=0.9).contains(&peak), "{}: peak {peak}", sample.title);
        }
    }

    #[test]
    fn samples_are_found_by_title() {
        assert_eq!(Sample::by_title("slow tide").map(|s| s.bpm), Some(76.0));
        assert!(Sample::by_title("Unknown").is_none());
    }
}
