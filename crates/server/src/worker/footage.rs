//! The footage a render draws: each cut's pictures decoded by ffmpeg from the project's own files
//! at the video's size (scaled to cover the frame, centre-cropped, on the cut's frame grid from
//! its `source`), handed to `resonance-visuals` as it asks for them. Invariants: a cut is always
//! decoded from its own source (never from where a trim starts), so a trim shows the very pictures
//! of the full render; ffmpeg reads local files only, through footage's demuxers; at most a few
//! pictures per cut are held (those the frames being drawn may still ask for, and a few ahead),
//! and a decoder that is no longer needed is killed.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};

use resonance_api::footage::FOOTAGE_FORMATS;
use resonance_visuals::{Cut, Footage, FootageItem, Frame, VisualPlan};

/// Pictures a decoder may hold beyond the furthest one asked for.
const AHEAD: u64 = 4;

/// One cut's decoder: its pictures by step, and how far it got.
struct Decoder {
    child: Option<Child>,
    /// Steps kept, from `from` on.
    pictures: BTreeMap<u64, Arc<Frame>>,
    /// The next step the decoder will deliver.
    next: u64,
    /// No more pictures will come (the clip's end, or a failure).
    ended: bool,
    /// The furthest step asked for.
    furthest: u64,
    /// Steps below this were dropped.
    from: u64,
    /// Bumped when the decoder is restarted, so a stale reader thread stops.
    generation: u64,
}

#[derive(Default)]
struct State {
    decoders: BTreeMap<usize, Decoder>,
    /// Stills, decoded once at the video's size, by item.
    stills: BTreeMap<usize, Arc<Frame>>,
    /// The first failure, reported when the render ends.
    error: Option<String>,
}

/// The pictures of a plan's footage, read from `paths` (one per item of the plan's `footage`).
pub struct Feed {
    cuts: Vec<Cut>,
    items: Vec<FootageItem>,
    paths: Vec<PathBuf>,
    size: (u32, u32),
    /// Steps a frame being drawn may still ask for behind the furthest asked (frames are drawn
    /// out of order by `workers` threads).
    behind: u64,
    state: Mutex<State>,
    changed: Condvar,
}

impl Feed {
    /// `paths[i]` is the file of `plan.footage[i]`; `workers` threads draw at once at `fps`.
    pub fn new(plan: &VisualPlan, paths: Vec<PathBuf>, size: (u32, u32), workers: usize, fps: u32) -> Arc<Feed> {
        let fastest = plan
            .cuts
            .iter()
            .map(|c| f64::from(c.grid_fps) * f64::from(c.speed[0].max(c.speed[1])) / f64::from(fps.max(1)))
            .fold(1.0f64, f64::max);
        Arc::new(Feed {
            cuts: plan.cuts.clone(),
            items: plan.footage.clone(),
            paths,
            size,
            behind: ((workers as f64 + 2.0) * fastest).ceil() as u64,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        })
    }

    /// The first failure, if any (a clip that would not decode).
    pub fn error(&self) -> Option<String> {
        self.state.lock().ok().and_then(|s| s.error.clone())
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

    /// A still, decoded once.
    fn still(self: &Arc<Self>, item: usize) -> Option<Arc<Frame>> {
        if let Some(p) = self.state.lock().ok()?.stills.get(&item) {
            return Some(Arc::clone(p));
        }
        let path = self.paths.get(item)?;
        let (w, h) = self.size;
        let out = self
            .ffmpeg()
            .arg("-i")
            .arg(path)
            .args(["-map", "0:V:0", "-frames:v", "1", "-vf", &self.cover(), "-f", "rawvideo", "pipe:1"])
            .output();
        let mut state = self.state.lock().ok()?;
        match out {
            Ok(out) if out.status.success() && out.stdout.len() == (w * h * 3) as usize => {
                let picture = Arc::new(Frame { width: w, height: h, rgb: out.stdout });
                state.stills.insert(item, Arc::clone(&picture));
                Some(picture)
            }
            Ok(out) => {
                let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                self.fail(&mut state, format!("a still of the footage did not decode: {said}"));
                None
            }
            Err(e) => {
                self.fail(&mut state, format!("ffmpeg could not be started for the footage: {e}"));
                None
            }
        }
    }

    /// Starts (or restarts) the decoder of cut `k` from its first step.
    fn start(self: &Arc<Self>, state: &mut State, k: usize) {
        let generation = state.decoders.get(&k).map_or(0, |d| d.generation + 1);
        if let Some(mut old) = state.decoders.remove(&k) {
            if let Some(mut child) = old.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let mut decoder =
            Decoder { child: None, pictures: BTreeMap::new(), next: 0, ended: false, furthest: 0, from: 0, generation };
        let cut = &self.cuts[k];
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
            .arg(format!("fps={grid},{}", self.cover()))
            .args(["-f", "rawvideo", "pipe:1"])
            .spawn();
        match spawned {
            Ok(mut child) => {
                let stdout = child.stdout.take();
                let stderr = child.stderr.take();
                decoder.child = Some(child);
                let feed = Arc::clone(self);
                std::thread::spawn(move || feed.read(k, generation, stdout, stderr));
            }
            Err(e) => {
                decoder.ended = true;
                self.fail(state, format!("ffmpeg could not be started for the footage: {e}"));
            }
        }
        state.decoders.insert(k, decoder);
    }

    /// The reader of cut `k`'s decoder: pictures into the state, waiting while it is far enough ahead.
    fn read(
        &self,
        k: usize,
        generation: u64,
        stdout: Option<std::process::ChildStdout>,
        stderr: Option<std::process::ChildStderr>,
    ) {
        let (w, h) = self.size;
        let bytes = (w * h * 3) as usize;
        let mut failure = None;
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
                if d.next >= d.from {
                    d.pictures.insert(d.next, Arc::new(Frame { width: w, height: h, rgb }));
                }
                d.next += 1;
                drop(state);
                self.changed.notify_all();
            }
        }
        if let Some(mut err) = stderr {
            let mut said = String::new();
            let _ = err.read_to_string(&mut said);
            let said = said.trim();
            if !said.is_empty() {
                failure = Some(format!("a clip of the footage did not decode: {said}"));
            }
        }
        if let Ok(mut state) = self.state.lock() {
            let current = state.decoders.get(&k).is_some_and(|d| d.generation == generation);
            if current {
                if let Some(message) = failure {
                    self.fail(&mut state, message);
                }
                if let Some(d) = state.decoders.get_mut(&k) {
                    d.ended = true;
                    if let Some(mut child) = d.child.take() {
                        let _ = child.wait();
                    }
                }
            }
        }
        self.changed.notify_all();
    }

    /// The picture of cut `k` at `step`, waiting for its decoder.
    fn clip(self: &Arc<Self>, k: usize, step: u64) -> Option<Arc<Frame>> {
        let mut state = self.state.lock().ok()?;
        // Decoders of cuts well behind this one are done with.
        let done: Vec<usize> = state.decoders.range(..k.saturating_sub(1)).map(|(c, _)| *c).collect();
        for c in done {
            if let Some(mut d) = state.decoders.remove(&c) {
                if let Some(mut child) = d.child.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        // A step already dropped (a frame drawn far out of order, or the thumbnail's cut asked
        // again from its start): decoded again from the cut's source.
        if state.decoders.get(&k).is_none_or(|d| step < d.from) {
            self.start(&mut state, k);
        }
        loop {
            let d = state.decoders.get_mut(&k)?;
            d.furthest = d.furthest.max(step);
            // Pictures no frame will ask for again.
            let keep_from = d.furthest.saturating_sub(self.behind).min(step);
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
                let last = d.pictures.range(..=step).next_back().map(|(_, p)| Arc::clone(p));
                drop(state);
                self.changed.notify_all();
                return last;
            }
            self.changed.notify_all();
            state = self.changed.wait(state).ok()?;
        }
    }
}

impl Feed {
    /// Stops every decoder (their reader threads end with them). Call it when the render ends.
    pub fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            for d in state.decoders.values_mut() {
                if let Some(mut child) = d.child.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            state.decoders.clear();
        }
        self.changed.notify_all();
    }
}

/// The feed as the engine asks for pictures.
pub struct Pictures(pub Arc<Feed>);

impl Footage for Pictures {
    fn picture(&self, cut: usize, step: u64) -> Option<Arc<Frame>> {
        let feed = &self.0;
        let item = feed.cuts.get(cut)?.item as usize;
        match feed.items.get(item)?.range() {
            None => feed.still(item),
            Some(_) => feed.clip(cut, step),
        }
    }
}
