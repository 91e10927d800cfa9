//! The start's timeline: when each step of the start was reached (epoch milliseconds), from the
//! process's `main` to the UI's first drawn list. The app logs it once the list is drawn, and
//! `cargo xtask bench` reads it from `RESONANCE_READY_FILE` to say where a start's time goes.

use std::sync::Mutex;

/// One step of the start and when it was reached.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, specta::Type)]
pub struct StartMark {
    pub step: String,
    /// Milliseconds since the Unix epoch (fractional: the webview's clock is finer).
    pub at_ms: f64,
}

static MARKS: Mutex<Vec<StartMark>> = Mutex::new(Vec::new());

pub fn now_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

/// Notes that the start reached `step` now.
pub fn mark(step: &str) {
    let at_ms = now_ms();
    crate::state::lock(&MARKS).push(StartMark { step: step.to_owned(), at_ms });
}

/// The whole timeline: the app's own steps, then the UI's, in time order.
pub fn timeline(ui: Vec<StartMark>) -> Vec<StartMark> {
    let mut all = crate::state::lock(&MARKS).clone();
    all.extend(ui);
    all.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    all
}

/// "setup +12 ms, page +80 ms, …": each step after the one before it, from `main`.
pub fn describe(marks: &[StartMark]) -> String {
    let mut out = Vec::new();
    for pair in marks.windows(2) {
        out.push(format!("{} +{:.0} ms", pair[1].step, pair[1].at_ms - pair[0].at_ms));
    }
    let total = match (marks.first(), marks.last()) {
        (Some(first), Some(last)) => last.at_ms - first.at_ms,
        _ => 0.0,
    };
    format!("{:.0} ms from {}: {}", total, marks.first().map_or("", |m| m.step.as_str()), out.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(step: &str, at_ms: f64) -> StartMark {
        StartMark { step: step.to_owned(), at_ms }
    }

    #[test]
    fn the_timeline_says_each_step_after_the_one_before() {
        let marks = vec![at("main", 1000.0), at("setup", 1012.4), at("drawn", 1300.0)];
        assert_eq!(describe(&marks), "300 ms from main: setup +12 ms, drawn +288 ms");
        assert_eq!(describe(&[]), "0 ms from : ");
    }
}
