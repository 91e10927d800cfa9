//! Drawing a run of frames for a video: whole frames on several threads, handed out in order.
//!
//! A render pipes its frames to an encoder that keeps most of the machine busy itself. Each
//! worker thread draws whole frames on its own (frame `k`, `k + workers`, …), so no thread waits
//! for another at the end of every frame, and none is started per frame; the calling thread
//! receives the frames in order and hands them on (to the encoder's pipe) while the workers draw
//! the next ones. Invariant: at most `workers + 1` frames exist at once (a shared pool: one
//! drawing or drawn per worker, one being handed on), whatever the number of frames; the bytes
//! are those of [`draw()`](crate::draw()).

use std::sync::{mpsc, Condvar, Mutex};

use crate::cuts::{Footage, NoFootage};
use crate::draw::draw_with_footage;
use crate::frame::Frame;
use crate::plan::VisualPlan;

/// Draws `count` frames of `plan` from frame `first` of the song (frame `n` of the run at
/// `(first + n) / fps` seconds, so a run from the middle draws the very frames of a run from the
/// start) at `width`×`height` on `workers` threads and calls `sink(n, frame)` for each in order on
/// this thread. Stops drawing as soon as `sink` answers `false`.
pub fn draw_frames(
    plan: &VisualPlan,
    size: (u32, u32),
    first: u64,
    count: u64,
    fps: u32,
    workers: usize,
    sink: impl FnMut(u64, &Frame) -> bool,
) {
    draw_frames_with(plan, size, first, count, fps, workers, &NoFootage, sink);
}

/// [`draw_frames`] with the pictures of the plan's footage from `footage`.
#[allow(clippy::too_many_arguments)]
pub fn draw_frames_with(
    plan: &VisualPlan,
    (width, height): (u32, u32),
    first: u64,
    count: u64,
    fps: u32,
    workers: usize,
    footage: &dyn Footage,
    mut sink: impl FnMut(u64, &Frame) -> bool,
) {
    let workers = workers.clamp(1, count.clamp(1, 64) as usize);
    let fps = f64::from(fps.max(1));
    // The frames: (spare ones, how many exist, stopped), shared by the workers and this thread.
    let pool = Mutex::new((Vec::<Frame>::new(), 0usize, false));
    let returned = Condvar::new();
    // A frame to draw into: a spare one, a new one while fewer than `workers + 1` exist, or
    // the next one handed back; `None` once the run has stopped.
    let take = || {
        let mut guard = pool.lock().ok()?;
        loop {
            let (spare, made, stopped) = &mut *guard;
            if *stopped {
                return None;
            }
            if let Some(frame) = spare.pop() {
                return Some(frame);
            }
            if *made <= workers {
                *made += 1;
                return Some(Frame::new(width, height));
            }
            guard = returned.wait(guard).ok()?;
        }
    };
    let give_back = |frame: Option<Frame>, stop: bool| {
        if let Ok(mut guard) = pool.lock() {
            guard.0.extend(frame);
            guard.2 |= stop;
        }
        returned.notify_all();
    };
    std::thread::scope(|s| {
        // Per worker, its drawn frames to this thread (rendezvous: a worker waits with its frame
        // until it is this frame's turn).
        let mut drawn = Vec::with_capacity(workers);
        for k in 0..workers {
            let (full_tx, full_rx) = mpsc::sync_channel::<Frame>(0);
            drawn.push(full_rx);
            let take = &take;
            s.spawn(move || {
                let mut n = k as u64;
                while n < count {
                    let Some(mut frame) = take() else { return };
                    draw_with_footage(plan, (first + n) as f64 / fps, &mut frame, 1, footage);
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
            give_back(Some(frame), false);
        }
        // Stopping ends the workers: those waiting for a frame get none, and those waiting to
        // hand one over find no receiver.
        give_back(None, true);
        drop(drawn);
    });
}
