//! The usual measures of a beat tracker against reference beats (as in MIREX and mir_eval).

/// Beats within this distance of a reference beat count as found (the MIREX ±70 ms window).
pub const WINDOW: f64 = 0.07;

/// F-measure of `estimated` against `reference` times, ±`WINDOW`, each reference matched once.
pub fn f_measure(reference: &[f64], estimated: &[f64]) -> f64 {
    let mut used = vec![false; reference.len()];
    let mut hits = 0usize;
    for e in estimated {
        if let Some(i) = (0..reference.len()).find(|&i| !used[i] && (reference[i] - e).abs() <= WINDOW) {
            used[i] = true;
            hits += 1;
        }
    }
    if hits == 0 {
        return 0.0;
    }
    let (p, r) = (hits as f64 / estimated.len() as f64, hits as f64 / reference.len() as f64);
    2.0 * p * r / (p + r)
}

/// How an estimated tempo relates to the reference, within 4%.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TempoMatch {
    /// Within 4% ("accuracy 1").
    Right,
    /// Within 4% of twice, half, three times or a third of it ("accuracy 2" only).
    Metrical,
    /// Within 4% of two thirds or three halves: the pulse falls between the beats.
    ThreeTwo,
    Wrong,
}

pub fn tempo_match(reference: f64, estimated: Option<f64>) -> TempoMatch {
    let Some(estimated) = estimated.filter(|e| *e > 0.0) else { return TempoMatch::Wrong };
    let near = |k: f64| (estimated / (reference * k) - 1.0).abs() <= 0.04;
    if near(1.0) {
        TempoMatch::Right
    } else if [2.0, 0.5, 3.0, 1.0 / 3.0].into_iter().any(near) {
        TempoMatch::Metrical
    } else if [2.0 / 3.0, 1.5].into_iter().any(near) {
        TempoMatch::ThreeTwo
    } else {
        TempoMatch::Wrong
    }
}

/// The tempo of a list of beat times: 60 ÷ the median interval.
pub fn tempo_of(beats: &[f64]) -> f64 {
    let mut gaps: Vec<f64> = beats.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_by(f64::total_cmp);
    gaps.get(gaps.len() / 2).map_or(0.0, |g| 60.0 / g)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}
