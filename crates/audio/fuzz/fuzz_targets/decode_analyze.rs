//! Any bytes through probe, decode and every analysis: must end in a result or an error, never a
//! panic, a hang or unbounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use resonance_audio::loudness::Loudness;
use resonance_audio::rhythm::RhythmSink;
use resonance_audio::{decode_bytes, PeakPyramid};

fuzz_target!(|data: &[u8]| {
    // Decoder panics become errors (and are reported as such); a panic anywhere else still
    // aborts, which is the crash the fuzzer looks for.
    resonance_audio::quiet_decoder_panics();
    let mut peaks = PeakPyramid::per_second(100, 4);
    let mut loudness = Loudness::default();
    let mut rhythm = RhythmSink::default();
    if decode_bytes(data.to_vec(), &mut [&mut peaks, &mut loudness, &mut rhythm]).is_ok() {
        let _ = peaks.finish();
        let _ = loudness.figures();
        let _ = rhythm.envelopes.analyse();
    }
});
