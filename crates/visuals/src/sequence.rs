//! Drawing a run of frames for a video: whole frames on several threads, handed out in order.
//!
//! A render pipes its frames to an encoder that keeps most of the machine busy itself. Each
//! worker thread draws whole frames on its own (frame `k`, `k + workers`, …), so no thread waits
//! for another at the end of every frame, and none is started per frame; the calling thread
//! receives the frames in order and hands them on (to the encoder's pipe) while the workers draw
//! the next ones. Invariant: at most `workers + 1` frames exist at once (one drawing per worker,
//! one being handed on), whatever the number of frames; the bytes are those of [`draw`].

use std::sync::mpsc;

use crate::draw::{draw_with_threads, Frame};
use crate::plan::VisualPlan;

/// Draws frames `0..count` of `plan` (frame `n` at `from + n / fps` seconds) at `width`×`height`
/// on `workers` threads and calls `sink(n, frame)` for each in order on this thread. Stops drawing
/// as soon as `sink` answers `false`.
pub fn draw_frames(
    plan: &VisualPlan,
    (width, height): (u32, u32),
    from: f64,
    count: u64,
    fps: u32,
    workers: usize,
    mut sink: impl FnMut(u64, &Frame) -> bool,
) {
    let workers = workers.clamp(1, count.clamp(1, 64) as usize);
    let fps = f64::from(fps.max(1));
    std::thread::scope(|s| {
        // Per worker: drawn frames to this thread (rendezvous: a worker waits with its frame
        // until it is this frame's turn) and frames back to be drawn over.
        let mut drawn = Vec::with_capacity(workers);
        let mut spare = Vec::with_capacity(workers);
        for k in 0..workers {
            let (full_tx, full_rx) = mpsc::sync_channel::<Frame>(0);
            let (empty_tx, empty_rx) = mpsc::channel::<Frame>();
            drawn.push(full_rx);
            spare.push(empty_tx);
            s.spawn(move || {
                let mut n = k as u64;
                while n < count {
                    let mut frame = empty_rx.try_recv().unwrap_or_else(|_| Frame::new(width, height));
                    draw_with_threads(plan, from + n as f64 / fps, &mut frame, 1);
                    if full_tx.send(frame).is_err() {
                        return;
                    }
                    n += workers as u64;
                }
            });
        }
        for n in 0..count {
            let k = (n % workers as u64) as usize;
            let Ok(frame) = drawn[k].recv() else { break };
            if !sink(n, &frame) {
                break;
            }
            // A worker that has finished its share no longer listens; the frame is dropped.
            let _ = spare[k].send(frame);
        }
        // Dropping the receivers ends the workers still drawing (their next send fails).
        drop(drawn);
    });
}
