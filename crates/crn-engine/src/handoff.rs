//! Frames between analysis and resynthesis, and how each gets its estimate: the hand-off to
//! inference. One interface ([`Handoff::submit`] after analysis, [`Handoff::collect`] when the
//! frame is due) over three backends: none (passthrough), inline (offline: the model runs on
//! the calling thread, a block's frames in one call: `inline`) and the real-time worker (slots through lock-free
//! queues; collecting claims finished slots and waits, until a deadline, on the worker's
//! doorbell). Either way a fresh estimate ends up in the frame's `est`.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use realfft::num_complex::Complex32;

use crate::budget::{self, WaitBudget};
use crate::config::{Config, Mode, MAX_SLACK};
use crate::inline::Inline;
use crate::model::Model;
use crate::stft::{FrameSpec, MODEL_BINS};
use crate::worker::{Slot, Worker};

/// A frame between analysis and resynthesis.
pub(crate) struct Frame {
    pub spectra: Vec<Vec<Complex32>>,
    /// `channels x 161` magnitudes as sent to the model.
    pub mags: Vec<f32>,
    /// `channels x 161`: the model's estimate, valid when [`Handoff::collect`] said `Fresh`.
    pub est: Vec<f32>,
    pub(crate) state: Sent,
    /// Real time: the worker's finished slot for this frame, claimed from the done queue
    /// before the frame was due (so the queue never fills with slots nobody reads).
    slot: Option<Box<Slot>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Never reached the model (skipped, discarded, or before a reset).
    No,
    /// In the worker's hands.
    ToWorker,
    /// Offline: waiting for the call that runs its block's frames.
    Queued,
    /// Offline: the estimate is in `est`.
    Estimated,
}

/// How a due frame's estimate turned out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Collected {
    /// The estimate is in the frame's `est`.
    Fresh,
    /// Never sent to the model, or discarded by it (non-finite): the previous gains are held.
    Held,
    /// Not back by its deadline: the previous gains are held, and the frame counts as late.
    Late,
    /// The model has failed: gains of one from now on.
    Failed,
    /// No model: gains of one.
    Passthrough,
}

/// Whether a frame reached inference at submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Submitted {
    Sent,
    /// Every worker slot was in flight: the worker is far behind. The frame skips the model
    /// and holds the previous gains when its turn comes (counted late).
    Skipped,
}

/// Worst wait for inference and how often a wait ran out, since the engine was made.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WaitStats {
    /// Frames the audio thread had to wait for (not yet back when needed).
    pub waits: u64,
    pub worst: Duration,
    pub total: Duration,
}

/// Where inference runs.
enum Backend {
    /// No model, or no worker thread (the reason): gains stay at one, same latency.
    Passthrough(Option<String>),
    Inline(Inline),
    Worker(Worker),
}

pub(crate) struct Handoff {
    /// Indexed by frame number modulo its length.
    frames: Vec<Frame>,
    backend: Backend,
    /// The next frame submitted tells the worker to clear its model state.
    reset_pending: bool,
    /// Share of each block the audio thread may wait, and whether it also draws on the
    /// process-wide budget.
    wait_share: f64,
    budget: Option<&'static WaitBudget>,
    /// The current block's own wait share (the most the process budget saves up for it).
    block_share: Duration,
    late: u64,
    skipped: u64,
    wait: WaitStats,
}

/// Spins before sleeping: on another core a frame is often microseconds away.
const SPINS: u32 = 200;

impl Handoff {
    pub fn new(config: &Config, spec: &FrameSpec, model: Option<Arc<Model>>) -> Self {
        let nch = config.channels;
        // Frames alive at once: the slack, plus every boundary one chunk can hold, plus one.
        let ring = MAX_SLACK + config.chunk().div_ceil(spec.hop) + 1;
        let frames = (0..ring)
            .map(|_| Frame {
                spectra: (0..nch).map(|_| vec![Complex32::default(); spec.bins]).collect(),
                mags: vec![0.0; nch * MODEL_BINS],
                est: vec![0.0; nch * MODEL_BINS],
                state: Sent::No,
                slot: None,
            })
            .collect();
        let backend = match (model, config.mode) {
            (None, _) => Backend::Passthrough(None),
            // After a reset the frames of the old stream may all still be in flight while a
            // full ring of new ones goes out: twice the ring, plus one.
            (Some(m), Mode::Realtime) => match Worker::spawn(m, nch, 2 * ring + 1, config.warm_up) {
                Ok(w) => Backend::Worker(w),
                // No thread, no denoising; but never a panic inside the host's `activate`.
                Err(e) => Backend::Passthrough(Some(e)),
            },
            (Some(m), Mode::Offline) => Backend::Inline(Inline::new(m, nch, ring)),
        };
        budget::init();
        Self {
            frames,
            backend,
            reset_pending: true,
            wait_share: config.wait_share,
            budget: config.shares_process_budget().then_some(&budget::PROCESS),
            block_share: Duration::ZERO,
            late: 0,
            skipped: 0,
            wait: WaitStats::default(),
        }
    }

    fn index(&self, seq: u64) -> usize {
        (seq % self.frames.len() as u64) as usize
    }

    /// Frame `seq`'s entry, for the analysis to fill.
    pub fn frame_mut(&mut self, seq: u64) -> &mut Frame {
        let i = self.index(seq);
        &mut self.frames[i]
    }

    pub fn frame(&self, seq: u64) -> &Frame {
        &self.frames[self.index(seq)]
    }

    /// A new share of each block the audio thread may wait (`Engine::set_wait_share`).
    pub fn set_wait_share(&mut self, share: f64) {
        self.wait_share = share;
    }

    /// When this block's waiting must end: its share of the block's duration from now, in
    /// real time; `None` where nothing is waited for.
    pub fn deadline(&mut self, block_len: usize, sample_rate: f32) -> Option<Instant> {
        let Backend::Worker(_) = self.backend else { return None };
        let secs = (block_len as f64 / sample_rate as f64 * self.wait_share).min(3600.0);
        self.block_share = Duration::from_nanos((secs * 1e9) as u64);
        Some(Instant::now() + self.block_share)
    }

    /// Hands analysed frame `seq` to inference. `pending` are the frames not yet collected.
    pub fn submit(&mut self, seq: u64, pending: Range<u64>) -> Submitted {
        let i = self.index(seq);
        match &mut self.backend {
            Backend::Passthrough(_) => {
                self.frames[i].state = Sent::No;
                Submitted::Sent
            }
            Backend::Inline(inline) => {
                self.frames[i].state = Sent::Queued;
                inline.queue(seq);
                Submitted::Sent
            }
            Backend::Worker(w) => {
                self.frames[i].state = Sent::No;
                // Slots may sit unread in the done queue (stale after a reset, or late): claim
                // them, which frees the stale ones, before calling this frame skipped.
                let free = w.take_free().or_else(|| {
                    claim_done(w, &mut self.frames, pending);
                    w.take_free()
                });
                let Some(mut slot) = free else {
                    self.skipped += 1;
                    return Submitted::Skipped;
                };
                let f = &mut self.frames[i];
                slot.seq = seq;
                // Kept pending through skipped frames: the worker must still clear its state.
                slot.reset = std::mem::take(&mut self.reset_pending);
                slot.mags.copy_from_slice(&f.mags);
                w.submit(slot);
                f.state = Sent::ToWorker;
                Submitted::Sent
            }
        }
    }

    /// Frame `seq`'s estimate, waited for until `deadline` in real time. `pending` are the
    /// frames not yet collected, `seq` first.
    pub fn collect(&mut self, seq: u64, pending: Range<u64>, deadline: Option<Instant>) -> Collected {
        let i = self.index(seq);
        match &self.backend {
            Backend::Passthrough(_) => Collected::Passthrough,
            Backend::Inline(_) => self.collect_inline(i),
            Backend::Worker(w) => {
                if w.failed() {
                    // Drain what comes back so the slots stay in circulation.
                    while let Some(slot) = w.take_done() {
                        w.recycle(slot);
                    }
                    if let Some(slot) = self.frames[i].slot.take() {
                        w.recycle(slot);
                    }
                    return Collected::Failed;
                }
                // Claim whatever is finished, even for a skipped frame: a done queue nobody
                // drains would keep its slots from the free list for good.
                claim_done(w, &mut self.frames, pending.clone());
                if self.frames[i].state != Sent::ToWorker {
                    return Collected::Held; // skipped at submission, already counted
                }
                let (slot, waited) = wait_for(w, &mut self.frames, i, seq, pending, deadline, self.budget, self.block_share);
                if let Some(t) = waited {
                    self.wait.waits += 1;
                    self.wait.total += t;
                    self.wait.worst = self.wait.worst.max(t);
                }
                let Some(slot) = slot else {
                    self.late += 1;
                    return Collected::Late;
                };
                let ok = slot.ok;
                if ok {
                    self.frames[i].est.copy_from_slice(&slot.est);
                }
                w.recycle(slot);
                match (ok, w.failed()) {
                    (true, _) => Collected::Fresh,
                    (false, true) => Collected::Failed,
                    (false, false) => Collected::Held, // a non-finite frame: discarded by the worker
                }
            }
        }
    }

    /// The chunk about to be emitted collects the frames before `end` (offline, they run in one
    /// call: `inline`).
    pub fn due_before(&mut self, end: u64) {
        if let Backend::Inline(inline) = &mut self.backend {
            inline.due_before(end);
        }
    }

    /// Offline: the frame's estimate, running every queued frame first if it is one of them.
    fn collect_inline(&mut self, i: usize) -> Collected {
        let Backend::Inline(inline) = &mut self.backend else { unreachable!("inline backend") };
        if self.frames[i].state == Sent::Queued {
            inline.run_queued(&mut self.frames);
        }
        match (&inline.error, self.frames[i].state) {
            (Some(_), _) => Collected::Failed,
            (None, Sent::Estimated) => Collected::Fresh,
            (None, _) => Collected::Held,
        }
    }

    /// Forgets every frame and clears the model's state (no allocation). Frames of the old
    /// stream still with the worker come back with older numbers and are dropped.
    pub fn reset(&mut self) {
        for f in &mut self.frames {
            f.state = Sent::No;
            if let (Some(slot), Backend::Worker(w)) = (f.slot.take(), &self.backend) {
                w.recycle(slot);
            }
        }
        match &mut self.backend {
            Backend::Worker(w) => {
                while let Some(slot) = w.take_done() {
                    w.recycle(slot);
                }
            }
            Backend::Inline(inline) => inline.clear(),
            Backend::Passthrough(_) => {}
        }
        self.reset_pending = true;
    }

    pub fn is_denoising(&self) -> bool {
        !matches!(self.backend, Backend::Passthrough(_))
    }

    pub fn passthrough_reason(&self) -> Option<String> {
        match &self.backend {
            Backend::Passthrough(why) => Some(why.clone().unwrap_or_else(|| "no model".into())),
            _ => None,
        }
    }

    pub fn has_worker(&self) -> bool {
        matches!(self.backend, Backend::Worker(_))
    }

    pub fn worker_is_realtime(&self) -> bool {
        matches!(&self.backend, Backend::Worker(w) if w.is_realtime())
    }

    pub fn error(&self) -> Option<String> {
        match &self.backend {
            Backend::Worker(w) => w.error(),
            Backend::Inline(inline) => inline.error.clone(),
            Backend::Passthrough(_) => None,
        }
    }

    /// Frames that were late (real time) and that skipped the model (no free slot).
    pub fn late(&self) -> u64 {
        self.late
    }

    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    pub fn wait_stats(&self) -> WaitStats {
        self.wait
    }

    /// Whether the worker has finished every frame submitted so far. A finished frame may
    /// wait in the done queue or already in its frame's entry (claimed while another frame
    /// was waited for): both count as finished.
    #[cfg(feature = "test-hooks")]
    pub fn worker_idle(&self) -> bool {
        match &self.backend {
            Backend::Worker(w) => w.unfinished() == self.frames.iter().filter(|f| f.slot.is_some()).count(),
            _ => true,
        }
    }

    #[cfg(feature = "test-hooks")]
    pub fn worker(&self) -> Option<&Worker> {
        match &self.backend {
            Backend::Worker(w) => Some(w),
            _ => None,
        }
    }

    #[cfg(feature = "test-hooks")]
    pub fn inject_model_failure(&mut self) {
        match &mut self.backend {
            Backend::Worker(w) => w.inject_failure(),
            Backend::Inline(inline) => inline.error = Some("injected failure (test hook)".into()),
            Backend::Passthrough(_) => {}
        }
    }
}

/// Moves every finished slot from the worker's done queue into its frame's entry when that
/// frame is still pending (numbers in `pending`), and recycles the rest (from before a reset,
/// or late frames already resynthesised). Never waits.
fn claim_done(w: &Worker, frames: &mut [Frame], pending: Range<u64>) {
    let ring = frames.len() as u64;
    while let Some(slot) = w.take_done() {
        if pending.contains(&slot.seq) {
            if let Some(old) = frames[(slot.seq % ring) as usize].slot.replace(slot) {
                w.recycle(old);
            }
        } else {
            w.recycle(slot);
        }
    }
}

/// Frame `seq` (ring index `idx`)'s finished slot, waited for until `deadline`, and no longer
/// than the process's `budget` grants (at most `block_share` saved up): spins briefly, then
/// sleeps on the worker's doorbell, which hands the core to a worker that shares it (a
/// spinning or yielding real-time thread kept a lower-priority worker on its core from running).
/// Never a lock or a condition variable. Returns the slot, and how long it waited when it had to.
#[allow(clippy::too_many_arguments)]
fn wait_for(
    w: &Worker,
    frames: &mut [Frame],
    idx: usize,
    seq: u64,
    pending: Range<u64>,
    deadline: Option<Instant>,
    budget: Option<&WaitBudget>,
    block_share: Duration,
) -> (Option<Box<Slot>>, Option<Duration>) {
    // When the wait began, and how long it may go on.
    let mut started: Option<(Instant, Duration)> = None;
    let mut spins = 0u32;
    let end = |started: Option<(Instant, Duration)>| {
        let (t0, granted) = started?;
        let used = t0.elapsed();
        if let Some(b) = budget {
            b.settle(granted, used);
        }
        Some(used)
    };
    loop {
        // Read before looking, so a frame finished after the look changes it.
        let seen = w.doorbell().count();
        claim_done(w, frames, pending.clone());
        if frames[idx].slot.as_ref().is_some_and(|s| s.seq == seq) {
            return (frames[idx].slot.take(), end(started));
        }
        let Some(deadline) = deadline else { return (None, None) };
        let now = Instant::now();
        let (t0, granted) = *started.get_or_insert_with(|| {
            let want = deadline.saturating_duration_since(now);
            (now, budget.map_or(want, |b| b.take(now, want, block_share)))
        });
        let until = t0 + granted;
        if now >= until {
            return (None, end(started));
        }
        if spins < SPINS {
            spins += 1;
            std::hint::spin_loop();
        } else {
            w.doorbell().wait(seen, until - now);
        }
    }
}
