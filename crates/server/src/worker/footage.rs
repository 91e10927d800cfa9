//! The footage a render draws: each cut's pictures decoded by ffmpeg from the project's own files
//! at the video's size (scaled to cover the frame, centre-cropped, on the cut's frame grid from
//! its `source`), handed to `resonance-visuals` as it asks for them. Invariants: a cut is always
//! decoded from its own source (never from where a trim starts), so a trim shows the very pictures
//! of the full render; ffmpeg reads local files only, through footage's demuxers; a cut holds the
//! pictures the frames being drawn may still ask for and a few ahead, a cut behind them is
//! dropped, and every decoder is stopped when the render ends, however it ends ([`Closing`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use resonance_api::footage::FOOTAGE_FORMATS;
use resonance_visuals::{Cut, Footage, FootageItem, Frame, VisualPlan};

/// Pictures a decoder may hold beyond the furthest one asked for.
const AHEAD: u64 = 4;
/// Lines of a decoder's complaints kept to say why it failed.
const TAIL_LINES: usize = 8;

/// One cut's decoder: its pictures by step, and how far it got.
struct Decoder {
    child: Option<Child>,
    /// Steps kept, from `from` on.
    pictures: BTreeMap<u64, Arc<Frame>>,
    /// The last picture it delivered: shown past the clip's end.
    last: Option<Arc<Frame>>,
    /// The next step the decoder will deliver.
    next: u64,
    /// No more pictures will come (the clip's end, or a failure).
    ended: bool,
    /// The furthest step asked for.
    furthest: u64,
    /// Steps below this were dropped.
    from: u64,
    /// Steps that frames are waiting for now (and how many), never dropped.
    waiting: BTreeMap<u64, usize>,
    /// Steps a frame being drawn may still ask for behind the furthest one asked (frames are
    /// drawn out of order by the workers).
    behind: u64,
    /// Bumped when the decoder is restarted, so a stale reader thread stops.
    generation: u64,
}

#[derive(Default)]
struct State {
    decoders: BTreeMap<usize, Decoder>,
    /// Stills decoded at the video's size, by item (`None`: it failed, and is not tried again).
    stills: BTreeMap<usize, Option<Arc<Frame>>>,
    /// Stills being decoded now, so no two threads decode one.
    decoding: BTreeSet<usize>,
    /// The first failure, reported when the render ends.
    error: Option<String>,
    closed: bool,
}

/// The pictures of a plan's footage, read from `paths` (one per item of the plan's `footage`).
pub struct Feed {
    cuts: Vec<Cut>,
    items: Vec<FootageItem>,
    paths: Vec<PathBuf>,
    size: (u32, u32),
    workers: usize,
    fps: u32,
    state: Mutex<State>,
    changed: Condvar,
}

impl Feed {
    /// `paths[i]` is the file of `plan.footage[i]`; `workers` threads draw at once at `fps`.
    pub fn new(plan: &VisualPlan, paths: Vec<PathBuf>, size: (u32, u32), workers: usize, fps: u32) -> Arc<Feed> {
        Arc::new(Feed {
            cuts: plan.cuts.clone(),
            items: plan.footage.clone(),
            paths,
            size,
            workers: workers.max(1),
            fps: fps.max(1),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        })
    }

    /// The first failure, if any (a clip or a still that would not decode).
    pub fn error(&self) -> Option<String> {
        self.state.lock().ok().and_then(|s| s.error.clone())
    }

    /// Stops every decoder (their reader threads end with them). [`Closing`] calls it.
    pub fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
            for d in state.decoders.values_mut() {
                stop(d);
            }
            state.decoders.clear();
        }
        self.changed.notify_all();
    }

    /// Steps of cut `k` that `workers` frames drawn out of order span.
    fn behind(&self, k: usize) -> u64 {
        let Some(cut) = self.cuts.get(k) else { return 0 };
        let rate = f64::from(cut.grid_fps) * f64::from(cut.speed[0].max(cut.speed[1])) / f64::from(self.fps);
        ((self.workers as f64 + 2.0) * rate.max(1.0)).ceil() as u64
    }

    /// The scale-and-crop filter that makes a picture cover the frame.
    fn cover(&self) -> String {
        let (w, h) = self.size;
        format!("scale={w}:{h}:force_original_aspect_ratio=increase:flags=bicubic,crop={w}:{h},setsar=1,format=rgb24")
    }

    fn ffmpeg(&self) -> Command {
        let mut c = Command::new("ffmpeg");
        c.args(["-v", "error", "-nostdin", "-protocol_whitelist", "file", "-format_whitelist", FOOTAGE_FORMATS]);
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }

    fn fail(&self, state: &mut State, message: String) {
        tracing::warn!(error = %message, "footage could not be decoded");
        state.error.get_or_insert(message);
    }

    /// A still, decoded once (a failure too is remembered).
    fn still(&self, item: usize) -> Option<Arc<Frame>> {
        let mut state = self.state.lock().ok()?;
        loop {
            if let Some(known) = state.stills.get(&item) {
                return known.clone();
            }
            if state.closed {
                return None;
            }
            if !state.decoding.contains(&item) {
                break;
            }
            state = self.changed.wait(state).ok()?;
        }
        state.decoding.insert(item);
        drop(state);
        let (w, h) = self.size;
        let out = self.paths.get(item).map(|path| {
            self.ffmpeg()
                .arg("-i")
                .arg(path)
                .args(["-map", "0:V:0", "-frames:v", "1", "-vf", &self.cover(), "-f", "rawvideo", "pipe:1"])
                .output()
        });
        let mut state = self.state.lock().ok()?;
        state.decoding.remove(&item);
        let picture = match out {
            Some(Ok(out)) if out.status.success() && out.stdout.len() == (w * h * 3) as usize => {
                Some(Arc::new(Frame { width: w, height: h, rgb: out.stdout }))
            }
            Some(Ok(out)) => {
                let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                self.fail(&mut state, format!("a still of the footage did not decode: {said}"));
                None
            }
            Some(Err(e)) => {
                self.fail(&mut state, format!("ffmpeg could not be started for the footage: {e}"));
                None
            }
            None => None,
        };
        state.stills.insert(item, picture.clone());
        drop(state);
        self.changed.notify_all();
        picture
    }

    /// Forgets the stills no cut near `k` shows.
    fn forget_stills(&self, k: usize) {
        let near: BTreeSet<usize> =
            self.cuts.iter().skip(k.saturating_sub(1)).take(3).map(|c| c.item as usize).collect();
        if let Ok(mut state) = self.state.lock() {
            state.stills.retain(|item, picture| near.contains(item) || picture.is_none());
        }
    }

    /// Starts (or restarts) the decoder of cut `k` from its first step.
    fn start(self: &Arc<Self>, state: &mut State, k: usize) {
        let generation = state.decoders.get(&k).map_or(0, |d| d.generation + 1);
        if let Some(mut old) = state.decoders.remove(&k) {
            stop(&mut old);
        }
        let mut decoder = Decoder {
            child: None,
            pictures: BTreeMap::new(),
            last: None,
            next: 0,
            ended: false,
            furthest: 0,
            from: 0,
            waiting: BTreeMap::new(),
            behind: self.behind(k),
            generation,
        };
        let (Some(cut), false) = (self.cuts.get(k), state.closed) else {
            decoder.ended = true;
            state.decoders.insert(k, decoder);
            return;
        };
        let Some(path) = self.paths.get(cut.item as usize) else {
            decoder.ended = true;
            state.decoders.insert(k, decoder);
            return;
        };
        let grid = cut.grid_fps.max(1);
        // A frame of the grid more than the cut plays, so its last step exists.
        let span = cut.source_span() + 2.0 / f64::from(grid);
        let spawned = self
            .ffmpeg()
            .args(["-ss", &format!("{:.6}", cut.source), "-i"])
            .arg(path)
            .args(["-t", &format!("{span:.6}"), "-map", "0:V:0", "-an", "-vf"])
            .arg(format!("fps=fps={grid}:start_time=0,{}", self.cover()))
            .args(["-f", "rawvideo", "pipe:1"])
            .spawn();
        match spawned {
            Ok(mut child) => {
                let stdout = child.stdout.take();
                let stderr = child.stderr.take();
                decoder.child = Some(child);
                let feed = Arc::clone(self);
                let reader = std::thread::Builder::new()
                    .name(format!("footage-{k}"))
                    .spawn(move || feed.read(k, generation, stdout, stderr));
                if let Err(e) = reader {
                    stop(&mut decoder);
                    decoder.ended = true;
                    self.fail(state, format!("no thread could be started to decode the footage: {e}"));
                }
            }
            Err(e) => {
                decoder.ended = true;
                self.fail(state, format!("ffmpeg could not be started for the footage: {e}"));
            }
        }
        state.decoders.insert(k, decoder);
    }

    /// The reader of cut `k`'s decoder: pictures into the state, waiting while it is far enough
    /// ahead; its complaints read on a thread of their own (a full pipe would stop ffmpeg).
    fn read(
        &self,
        k: usize,
        generation: u64,
        stdout: Option<std::process::ChildStdout>,
        stderr: Option<std::process::ChildStderr>,
    ) {
        let complaints = stderr.map(|mut err| {
            std::thread::spawn(move || {
                let mut tail: VecDeque<String> = VecDeque::new();
                let mut text = String::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    text.push_str(&String::from_utf8_lossy(&buf[..n]));
                    while let Some(end) = text.find('\n') {
                        tail.push_back(text[..end].trim().to_owned());
                        text.drain(..=end);
                        if tail.len() > TAIL_LINES {
                            tail.pop_front();
                        }
                    }
                }
                tail.into_iter().filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
            })
        });
        let (w, h) = self.size;
        let bytes = (w * h * 3) as usize;
        if let Some(mut out) = stdout {
            loop {
                let mut rgb = vec![0u8; bytes];
                if out.read_exact(&mut rgb).is_err() {
                    break;
                }
                let Ok(mut state) = self.state.lock() else { return };
                loop {
                    let Some(d) = state.decoders.get(&k).filter(|d| d.generation == generation) else { return };
                    if d.next <= d.furthest + AHEAD {
                        break;
                    }
                    let Ok(next) = self.changed.wait(state) else { return };
                    state = next;
                }
                let Some(d) = state.decoders.get_mut(&k) else { return };
                let picture = Arc::new(Frame { width: w, height: h, rgb });
                if d.next >= d.from {
                    d.pictures.insert(d.next, Arc::clone(&picture));
                }
                d.last = Some(picture);
                d.next += 1;
                drop(state);
                self.changed.notify_all();
            }
        }
        let said = complaints.and_then(|t| t.join().ok()).unwrap_or_default();
        if let Ok(mut state) = self.state.lock() {
            let mut failure = None;
            if let Some(d) = state.decoders.get_mut(&k).filter(|d| d.generation == generation) {
                d.ended = true;
                if let Some(mut child) = d.child.take() {
                    // Only its exit says it failed: a seek into open-GOP video complains about
                    // references for frames it then drops.
                    if child.wait().is_ok_and(|s| !s.success()) {
                        failure = Some(format!("a clip of the footage did not decode: {said}"));
                    }
                }
            }
            if let Some(message) = failure {
                self.fail(&mut state, message);
            }
        }
        self.changed.notify_all();
    }

    /// The picture of cut `k` at `step`, waiting for its decoder.
    fn clip(self: &Arc<Self>, k: usize, step: u64) -> Option<Arc<Frame>> {
        let mut state = self.state.lock().ok()?;
        // Cuts behind the frames in flight are done with (none that a frame waits on).
        let behind = self.behind(k);
        let done_below = if step >= behind { k } else { k.saturating_sub(1) };
        let done: Vec<usize> =
            state.decoders.range(..done_below).filter(|(_, d)| d.waiting.is_empty()).map(|(c, _)| *c).collect();
        for c in done {
            if let Some(mut d) = state.decoders.remove(&c) {
                stop(&mut d);
            }
        }
        loop {
            if state.closed {
                return None;
            }
            // Never started, or this step was dropped (a frame drawn far out of order, or the
            // cut asked again from its start): decoded again from the cut's source.
            if state.decoders.get(&k).is_none_or(|d| step < d.from && !d.pictures.contains_key(&step)) {
                self.start(&mut state, k);
            }
            let d = state.decoders.get_mut(&k)?;
            d.furthest = d.furthest.max(step);
            let lowest_waited = d.waiting.keys().next().copied().unwrap_or(u64::MAX).min(step);
            let keep_from = d.furthest.saturating_sub(d.behind).min(lowest_waited);
            if keep_from > d.from {
                d.pictures = d.pictures.split_off(&keep_from);
                d.from = keep_from;
            }
            if let Some(p) = d.pictures.get(&step) {
                let p = Arc::clone(p);
                drop(state);
                self.changed.notify_all();
                return Some(p);
            }
            if d.ended {
                // Past the clip's end (or its failure): its last picture holds.
                let held = d.pictures.range(..=step).next_back().map(|(_, p)| Arc::clone(p)).or_else(|| d.last.clone());
                drop(state);
                self.changed.notify_all();
                return held;
            }
            *d.waiting.entry(step).or_insert(0) += 1;
            self.changed.notify_all();
            state = self.changed.wait(state).ok()?;
            unwait(&mut state, k, step);
        }
    }
}

/// This frame no longer waits on cut `k`'s `step`.
fn unwait(state: &mut MutexGuard<'_, State>, k: usize, step: u64) {
    if let Some(d) = state.decoders.get_mut(&k) {
        if let Some(n) = d.waiting.get_mut(&step) {
            *n -= 1;
            if *n == 0 {
                d.waiting.remove(&step);
            }
        }
    }
}

/// Kills a decoder's ffmpeg (its reader then ends).
fn stop(d: &mut Decoder) {
    if let Some(mut child) = d.child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Closes the feed when dropped: on every way out of a render, a panic included.
pub struct Closing(pub Arc<Feed>);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The feed as the engine asks for pictures.
pub struct Pictures(pub Arc<Feed>);

impl Footage for Pictures {
    fn picture(&self, cut: usize, step: u64) -> Option<Arc<Frame>> {
        let feed = &self.0;
        let item = feed.cuts.get(cut)?.item as usize;
        let picture = match feed.items.get(item)?.range() {
            None => feed.still(item),
            Some(_) => feed.clip(cut, step),
        };
        feed.forget_stills(cut);
        picture
    }
}
