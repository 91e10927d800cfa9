//! Tempo and beats on generated click tracks and drum patterns with known beat times, including
//! tempos that trackers confuse with their double or half (70 and 140).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use resonance_audio::rhythm::{Envelopes, Rhythm, RhythmSink};

const RATE: u32 = 44_100;
const SECONDS: f64 = 30.0;
const START: f64 = 0.5;

/// A tiny deterministic noise source.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Clicks,
    Drums,
}

/// The beat times and the signal.
fn track(kind: Kind, bpm: f64) -> (Vec<f64>, Vec<f32>) {
    let n = (SECONDS * f64::from(RATE)) as usize;
    let mut out = vec![0.0f32; n];
    let period = 60.0 / bpm;
    let beats: Vec<f64> = (0..).map(|i| START + f64::from(i) * period).take_while(|t| *t < SECONDS - 0.2).collect();
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let mut add = |at: f64, len: f64, f: &mut dyn FnMut(f64) -> f32| {
        let s = (at * f64::from(RATE)) as usize;
        for i in 0..(len * f64::from(RATE)) as usize {
            if let Some(x) = out.get_mut(s + i) {
                *x += f(i as f64 / f64::from(RATE));
            }
        }
    };
    for (i, &t) in beats.iter().enumerate() {
        match kind {
            Kind::Clicks => {
                add(t, 0.03, &mut |x| ((x * 1000.0 * std::f64::consts::TAU).sin() * (-x / 0.008).exp() * 0.8) as f32)
            }
            Kind::Drums => {
                if i % 2 == 0 {
                    // Kick: a falling sine.
                    add(t, 0.25, &mut |x| {
                        let phase = std::f64::consts::TAU * (50.0 * x + 70.0 * 0.03 * (1.0 - (-x / 0.03).exp()));
                        (phase.sin() * (-x / 0.09).exp() * 0.9) as f32
                    });
                } else {
                    // Snare: a noise burst over a body tone.
                    add(t, 0.2, &mut |x| {
                        let body = (x * 190.0 * std::f64::consts::TAU).sin() * (-x / 0.04).exp() * 0.3;
                        (body + f64::from(noise.next()) * (-x / 0.06).exp() * 0.45) as f32
                    });
                }
            }
        }
    }
    if let Kind::Drums = kind {
        // Closed hats on every eighth note, quieter.
        let mut t = START;
        let mut prev = 0.0f32;
        while t < SECONDS - 0.2 {
            add(t, 0.05, &mut |x| {
                let v = noise.next();
                let hp = v - prev;
                prev = v;
                (f64::from(hp) * (-x / 0.012).exp() * 0.12) as f32
            });
            t += period / 2.0;
        }
    }
    (beats, out)
}

fn envelopes(samples: &[f32]) -> Envelopes {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.wav");
    common::write_wav(&path, samples, 1, RATE, None);
    let mut sink = RhythmSink::default();
    resonance_audio::decode(&path, &mut [&mut sink]).unwrap();
    sink.envelopes
}

fn analyse(samples: &[f32]) -> Rhythm {
    envelopes(samples).analyse()
}

/// F-measure with a ±70 ms window, each reference beat matched at most once.
fn f_measure(reference: &[f64], estimated: &[f64]) -> f64 {
    let mut used = vec![false; reference.len()];
    let mut hits = 0;
    for e in estimated {
        if let Some(j) = (0..reference.len()).find(|&j| !used[j] && (reference[j] - e).abs() <= 0.07) {
            used[j] = true;
            hits += 1;
        }
    }
    if hits == 0 {
        return 0.0;
    }
    let (p, r) = (f64::from(hits) / estimated.len() as f64, f64::from(hits) / reference.len() as f64);
    2.0 * p * r / (p + r)
}

#[test]
fn tempo_and_beats_from_60_to_200_bpm() {
    let mut failures = Vec::new();
    for kind in [Kind::Clicks, Kind::Drums] {
        for bpm in [60.0, 70.0, 88.0, 100.0, 120.0, 128.0, 140.0, 160.0, 174.0, 200.0] {
            let (reference, samples) = track(kind, bpm);
            let r = analyse(&samples);
            let tempo = r.tempo_bpm.unwrap_or(0.0);
            let f = f_measure(&reference, &r.beats);
            let ok = (tempo - bpm).abs() / bpm <= 0.01 && f >= 0.95;
            println!(
                "{kind:?} {bpm:>5} BPM: tempo {tempo:7.2} (confidence {:.2}), F {f:.3} {}",
                r.tempo_confidence,
                if ok { "" } else { "<-- FAIL" }
            );
            if !ok {
                failures.push(format!("{kind:?} {bpm} BPM: tempo {tempo:.2}, F {f:.3}"));
            }
        }
    }
    assert!(failures.is_empty(), "tempo within ±1% and beat F ≥ 0.95 failed for: {failures:?}");
}

#[test]
fn silence_has_no_tempo_and_no_beats() {
    let r = analyse(&vec![0.0; RATE as usize * 10]);
    assert_eq!(r.tempo_bpm, None);
    assert!(r.beats.is_empty());
}

#[test]
fn a_change_of_character_is_a_section_boundary() {
    // 20 s of quiet low hum, then 20 s of loud bright noise.
    let mut noise = Noise(7);
    let n = RATE as usize * 20;
    let mut samples: Vec<f32> =
        (0..n).map(|i| ((i as f32 / RATE as f32) * 110.0 * std::f32::consts::TAU).sin() * 0.1).collect();
    samples.extend((0..n).map(|_| noise.next() * 0.6));
    let r = analyse(&samples);
    assert!(r.sections.iter().any(|t| (t - 20.0).abs() < 1.0), "expected a boundary near 20 s, got {:?}", r.sections);
    assert!(r.sections.len() <= 2, "{:?}", r.sections);
}

#[test]
fn downbeats_follow_an_accented_first_beat() {
    // The drum kit, with a second, deeper kick on the first beat of every bar.
    let bpm = 120.0;
    let (beats, mut samples) = track(Kind::Drums, bpm);
    for &t in beats.iter().step_by(4) {
        let s = (t * f64::from(RATE)) as usize;
        for i in 0..(0.2 * f64::from(RATE)) as usize {
            let x = i as f64 / f64::from(RATE);
            if let Some(v) = samples.get_mut(s + i) {
                *v += ((x * 45.0 * std::f64::consts::TAU).sin() * (-x / 0.1).exp() * 0.9) as f32;
            }
        }
    }
    let r = analyse(&samples);
    let bars: Vec<f64> = beats.iter().step_by(4).copied().collect();
    let f = f_measure(&bars, &r.downbeats);
    assert!(f >= 0.9, "downbeats F {f:.3}: {:?} vs {:?}", &r.downbeats[..r.downbeats.len().min(4)], &bars[..4]);
}

#[test]
fn a_kit_with_no_accented_beat_claims_no_downbeats() {
    // Kick on 1 and 3 alike: the bar's first beat cannot be told from its third.
    let r = analyse(&track(Kind::Drums, 120.0).1);
    assert!(r.downbeats.is_empty(), "{:?}", &r.downbeats[..r.downbeats.len().min(4)]);
}

#[test]
fn chords_that_change_every_bar_give_the_downbeats_in_four_and_in_three() {
    // Chords struck on every beat, with nothing in the bass to accent a bar's first beat: only
    // the change of chord on it says where bars start, and whether they have four beats or three.
    let chords: [[f64; 3]; 4] =
        [[261.6, 329.6, 392.0], [220.0, 261.6, 329.6], [174.6, 220.0, 261.6], [196.0, 246.9, 293.7]];
    for (bpm, meter) in [(120.0, 4), (96.0, 3)] {
        let beat = 60.0 / bpm;
        let n = (SECONDS * f64::from(RATE)) as usize;
        let mut samples = vec![0.0f32; n];
        let beats = ((SECONDS - START - 0.5) / beat) as usize;
        for b in 0..beats {
            let at = ((START + b as f64 * beat) * f64::from(RATE)) as usize;
            let chord = chords[(b / meter) % chords.len()];
            for i in 0..(beat * f64::from(RATE)) as usize {
                let x = i as f64 / f64::from(RATE);
                let tone: f64 = chord
                    .iter()
                    .flat_map(|f| {
                        (1..=4).map(move |h| (std::f64::consts::TAU * f * f64::from(h) * x).sin() / f64::from(h))
                    })
                    .sum();
                if let Some(s) = samples.get_mut(at + i) {
                    *s += (tone * (-x / 0.3).exp() * 0.12) as f32;
                }
            }
        }
        let r = analyse(&samples);
        let tempo = r.tempo_bpm.unwrap_or(0.0);
        assert!((tempo - bpm).abs() / bpm <= 0.02, "{meter}/4: tempo {tempo:.1}, want {bpm}");
        let bars: Vec<f64> =
            (0..).map(|k| START + f64::from(k) * meter as f64 * beat).take_while(|t| *t < SECONDS - 1.0).collect();
        let f = f_measure(&bars, &r.downbeats);
        assert!(
            f >= 0.9,
            "{meter}/4: downbeats F {f:.3}: {:?} vs {:?}",
            &r.downbeats[..r.downbeats.len().min(4)],
            &bars[..4]
        );
        assert!(r.tempo_confidence >= 0.5, "{meter}/4: confidence {:.2}", r.tempo_confidence);
        // At a creator's half tempo, the beats fall on every other chord.
        let half = envelopes(&samples).analyse_at(Some(bpm / 2.0));
        let reference: Vec<f64> = (0..beats).map(|b| START + b as f64 * beat).collect();
        let (even, odd): (Vec<f64>, Vec<f64>) =
            (reference.iter().step_by(2).copied().collect(), reference.iter().skip(1).step_by(2).copied().collect());
        let f = f_measure(&even, &half.beats).max(f_measure(&odd, &half.beats));
        assert!(f >= 0.95, "{meter}/4 at half tempo: beats F {f:.3}");
        assert_eq!(half.tempo_bpm, Some(bpm / 2.0));
    }
}

#[test]
fn a_creator_s_tempo_sets_the_grid_on_the_music() {
    // The kit at 120 BPM, read at half and at twice the tempo: the grid keeps to the hits.
    let (reference, samples) = track(Kind::Drums, 120.0);
    let envelopes = envelopes(&samples);
    let half = envelopes.analyse_at(Some(60.0));
    assert_eq!((half.tempo_bpm, half.tempo_confidence), (Some(60.0), 1.0));
    let every_other: Vec<f64> = reference.iter().step_by(2).copied().collect();
    let odd: Vec<f64> = reference.iter().skip(1).step_by(2).copied().collect();
    let f = f_measure(&every_other, &half.beats).max(f_measure(&odd, &half.beats));
    assert!(f >= 0.95, "at 60 BPM the beats fall on every other hit: F {f:.3}");
    let double = envelopes.analyse_at(Some(240.0));
    let gaps: Vec<f64> = double.beats.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| (g - 0.25).abs() < 0.03), "at 240 BPM a beat every quarter second: {gaps:?}");
    assert!(f_measure(&reference, &double.beats) >= 0.6, "and half of them on the hits");
}
