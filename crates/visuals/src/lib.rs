//! resonance-visuals: the video engine, with no I/O. [`prompt::read`] reads a prompt into colours,
//! motifs, light, moods and pace, and says which words chose what; [`plan`] turns an analysis, a
//! project's look and a seed into a [`VisualPlan`], the whole recipe of a video; [`draw`] draws
//! any frame of it at any size. The render worker draws every frame at the output size with it;
//! the desktop draws its live preview with it, from the same plan.

pub mod color;
pub mod draw;
mod math;
pub mod measure;
pub mod plan;
pub mod prompt;
pub mod sequence;

pub use color::Rgb;
pub use draw::{draw, draw_baseline, draw_with_threads, Frame};
pub use plan::{
    plan, Envelope, Palette, ProjectLook, Scene, Trim, TrimError, VisualPlan, ENGINE_VERSION, MIN_FLASH_GAP_SECONDS,
};
pub use prompt::{read as read_prompt, Light, Mood, Motif, PromptReading};
pub use sequence::draw_frames;
