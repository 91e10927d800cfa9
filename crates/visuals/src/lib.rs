//! resonance-visuals: the video engine, with no I/O. [`prompt::read`] reads a prompt into colours,
//! motifs, light, moods and pace, and says which words chose what; [`plan()`] turns an analysis, a
//! project's look and a seed into a [`VisualPlan`], the whole recipe of a video; [`draw()`] draws
//! any frame of it at any size. With the creator's footage, [`plan_with_footage`] also cuts it to
//! the music ([`cuts`]) and [`draw_with_footage`] lays its pictures, which the caller supplies
//! ([`Footage`]), with the graphics. The render worker draws every frame at the output size with
//! it; the desktop draws its live preview with it, from the same plan.

pub mod color;
pub mod cuts;
pub mod draw;
pub mod envelope;
pub mod frame;
mod layer;
mod math;
pub mod measure;
pub mod plan;
pub mod prompt;
pub mod sequence;

pub use color::Rgb;
pub use cuts::{Cut, Footage, FootageItem, NoFootage};
pub use draw::{draw, draw_baseline, draw_baseline_with_footage, draw_with_footage, draw_with_threads};
pub use envelope::Envelope;
pub use frame::Frame;
pub use plan::{
    plan, plan_with_footage, Palette, ProjectLook, Scene, Trim, TrimError, VisualPlan, ENGINE_VERSION,
    MIN_FLASH_GAP_SECONDS,
};
pub use prompt::{read as read_prompt, Light, Mood, Motif, PromptReading};
pub use sequence::{draw_frames, draw_frames_with};
