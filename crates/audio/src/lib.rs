//! resonance-audio: what a creator sees and hears of a track before rendering, and what the
//! render worker follows: exact facts from the decoded frames (never a header's estimate),
//! waveform peaks, and loudness. Invariant: a file is decoded once, as a stream, and every
//! measurement is a sink fed chunk by chunk, so memory does not grow with the track's length.

mod container;
pub mod decode;
pub mod error;
pub mod facts;
pub mod loudness;
pub mod peaks;
pub mod rhythm;
pub mod threaded;
pub mod true_peak;

pub use decode::{decode, decode_bytes, quiet_decoder_panics, Format, Sink};
pub use error::{AudioError, ErrorKind};
pub use facts::{probe, Facts, Tags};
pub use peaks::{PeakLevel, PeakPyramid};
