//! Runs a sink on a thread of its own, fed through a bounded channel, so that independent
//! measurements of one decode use more than one core. Invariant: the channel is bounded, so a slow
//! sink holds the decoder back instead of buffering the track in memory.

use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use crate::decode::{Format, Sink};
use crate::error::{AudioError, ErrorKind, Result};

/// Chunks in flight at most (a few hundred milliseconds of audio).
const IN_FLIGHT: usize = 32;

enum Message {
    Start(Format),
    Push(Vec<f32>, usize),
}

pub struct Threaded<S: Sink + Send + 'static> {
    sender: Option<SyncSender<Message>>,
    worker: Option<JoinHandle<S>>,
}

impl<S: Sink + Send + 'static> Threaded<S> {
    pub fn new(mut sink: S) -> Self {
        let (sender, receiver) = sync_channel::<Message>(IN_FLIGHT);
        let worker = std::thread::spawn(move || {
            for message in receiver {
                match message {
                    Message::Start(format) => sink.start(&format),
                    Message::Push(samples, channels) => sink.push(&samples, channels),
                }
            }
            sink
        });
        Self { sender: Some(sender), worker: Some(worker) }
    }

    /// Waits for the sink to take in everything sent, and returns it.
    pub fn finish(mut self) -> Result<S> {
        drop(self.sender.take());
        let worker =
            self.worker.take().ok_or_else(|| AudioError::new(ErrorKind::Io, "the measurement already finished"))?;
        worker.join().map_err(|_| AudioError::new(ErrorKind::Io, "a measurement thread failed"))
    }
}

impl<S: Sink + Send + 'static> Sink for Threaded<S> {
    fn start(&mut self, format: &Format) {
        if let Some(s) = &self.sender {
            let _ = s.send(Message::Start(format.clone()));
        }
    }

    fn push(&mut self, interleaved: &[f32], channels: usize) {
        if let Some(s) = &self.sender {
            let _ = s.send(Message::Push(interleaved.to_vec(), channels));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Count(usize);

    impl Sink for Count {
        fn push(&mut self, interleaved: &[f32], _channels: usize) {
            self.0 += interleaved.len();
        }
    }

    #[test]
    fn everything_sent_arrives_before_finish_returns() {
        let mut t = Threaded::new(Count::default());
        for _ in 0..1000 {
            t.push(&[0.0; 64], 2);
        }
        assert_eq!(t.finish().unwrap().0, 64_000);
    }
}
