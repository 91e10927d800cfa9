//! Runs a sink on a thread of its own, fed through a bounded channel, so that independent
//! measurements of one decode use more than one core. Invariant: the channel is bounded, so a slow
//! sink holds the decoder back instead of buffering the track in memory. Decoders hand out small
//! packets (1,152 frames of MP3), so they are gathered into batches of `BATCH_FRAMES` before
//! they cross: fewer copies, fewer wake-ups.

use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use crate::decode::{Format, Sink};
use crate::error::{AudioError, ErrorKind, Result};

/// Batches in flight at most (about 1.5 s of audio at 44.1 kHz).
const IN_FLIGHT: usize = 8;
/// Frames gathered before a batch is sent.
const BATCH_FRAMES: usize = 8192;

enum Message {
    Start(Format),
    Push(Vec<f32>, usize),
}

pub struct Threaded<S: Sink + Send + 'static> {
    sender: Option<SyncSender<Message>>,
    batch: Vec<f32>,
    batch_channels: usize,
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
        Self { sender: Some(sender), batch: Vec::new(), batch_channels: 0, worker: Some(worker) }
    }

    /// Waits for the sink to take in everything sent, and returns it.
    pub fn finish(mut self) -> Result<S> {
        self.flush();
        drop(self.sender.take());
        let worker =
            self.worker.take().ok_or_else(|| AudioError::new(ErrorKind::Io, "the measurement already finished"))?;
        worker.join().map_err(|_| AudioError::new(ErrorKind::Io, "a measurement thread failed"))
    }
}

impl<S: Sink + Send + 'static> Threaded<S> {
    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_FRAMES * self.batch_channels.max(1)));
        if let Some(s) = &self.sender {
            let _ = s.send(Message::Push(batch, self.batch_channels));
        }
    }
}

impl<S: Sink + Send + 'static> Sink for Threaded<S> {
    fn start(&mut self, format: &Format) {
        self.flush();
        if let Some(s) = &self.sender {
            let _ = s.send(Message::Start(format.clone()));
        }
    }

    fn push(&mut self, interleaved: &[f32], channels: usize) {
        if channels != self.batch_channels {
            self.flush();
            self.batch_channels = channels;
        }
        if self.batch.len() + interleaved.len() > BATCH_FRAMES * channels.max(1) {
            self.flush();
        }
        self.batch.extend_from_slice(interleaved);
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

    /// Records what arrives, in order.
    #[derive(Default)]
    struct Record(Vec<(f32, usize)>, usize);

    impl Sink for Record {
        fn start(&mut self, _format: &Format) {
            self.1 += 1;
        }
        fn push(&mut self, interleaved: &[f32], channels: usize) {
            self.0.extend(interleaved.iter().map(|v| (*v, channels)));
        }
    }

    #[test]
    fn batches_keep_order_and_the_channel_count_of_each_sample() {
        let mut t = Threaded::new(Record::default());
        let format = Format { sample_rate: 8000, channels: 2, bit_depth: None, codec: "pcm".into(), container: "wav" };
        t.start(&format);
        let mut sent = Vec::new();
        for i in 0..40_000u32 {
            let channels = if (10_000..10_010).contains(&i) { 1 } else { 2 };
            let v = i as f32;
            t.push(&vec![v; channels], channels);
            sent.extend(std::iter::repeat_n((v, channels), channels));
        }
        let record = t.finish().unwrap();
        assert_eq!(record.1, 1);
        assert_eq!(record.0, sent);
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
