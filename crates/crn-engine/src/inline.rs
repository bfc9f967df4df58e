//! The offline backend of the hand-off (`handoff`): inference on the calling thread, a block's
//! frames at a time.
//!
//! A frame is queued when it is analysed. The engine analyses a whole chunk of its block before
//! it emits any of it, and tells the hand-off which frames the chunk's emit will collect
//! ([`Inline::due_before`]); the first of them to be collected runs all of them through the
//! model in one call. ORT then runs each layer once over all of them, reading its weights once
//! (stream.py; BENCHMARKS.md has what a frame costs alone and in a block). A frame analysed but
//! due only in a later chunk (the standard mode's slack) waits for that chunk's call, so with
//! blocks up to a hop every call is one frame, exactly as the real-time worker runs them, and
//! the render equals the real-time one bit for bit. Larger blocks group more frames per call;
//! ORT sums in another order for another number of frames, so their renders agree with the
//! others to float rounding (about 1e-7 of full scale), not bit for bit; a render at one block
//! size is the same every time.

use std::ops::Range;
use std::sync::Arc;

use crate::handoff::{Frame, Sent};
use crate::inference::{self, Outcome};
use crate::model::Model;
use crate::stft::MODEL_BINS;

pub(crate) struct Inline {
    model: Arc<Model>,
    state: inference::State,
    /// Set when the model fails: every later frame passes through.
    pub error: Option<String>,
    /// Frames analysed but not yet run, consecutive.
    queued: Range<u64>,
    /// Frames before this one are due in the chunk being emitted.
    due_end: u64,
    /// `channels x frames x 161` staging for one call, sized for a full ring of frames.
    mags: Vec<f32>,
    est: Vec<f32>,
    channels: usize,
}

impl Inline {
    /// For up to `ring` frames queued at once.
    pub fn new(model: Arc<Model>, channels: usize, ring: usize) -> Self {
        Self {
            state: inference::State::new(&model, channels),
            model,
            error: None,
            queued: 0..0,
            due_end: 0,
            mags: vec![0.0; channels * ring * MODEL_BINS],
            est: vec![0.0; channels * ring * MODEL_BINS],
            channels,
        }
    }

    /// Queues frame `seq`, the one after the last queued (or the first after a run or reset).
    pub fn queue(&mut self, seq: u64) {
        if self.queued.is_empty() || self.queued.end != seq {
            debug_assert!(self.queued.is_empty(), "frames are queued in order");
            self.queued = seq..seq + 1;
        } else {
            self.queued.end += 1;
        }
    }

    /// The chunk being emitted collects the frames before `end`.
    pub fn due_before(&mut self, end: u64) {
        self.due_end = end;
    }

    /// Runs the queued frames due in this chunk (at least the first) in one call; each gets its estimate (`Sent::Estimated`) or, if
    /// the model discarded or failed them, none (`Sent::No`: the previous gains are held).
    pub fn run_queued(&mut self, frames: &mut [Frame]) {
        let end = self.due_end.max(self.queued.start + 1).min(self.queued.end);
        let queued = self.queued.start..end;
        self.queued = end..self.queued.end.max(end);
        let n = (queued.end - queued.start) as usize;
        let ring = frames.len() as u64;
        let at = |seq: u64| (seq % ring) as usize;
        let (c, b) = (self.channels, MODEL_BINS);
        for (t, seq) in queued.clone().enumerate() {
            let mags = &frames[at(seq)].mags;
            for ch in 0..c {
                self.mags[(ch * n + t) * b..][..b].copy_from_slice(&mags[ch * b..][..b]);
            }
        }
        let ok = n > 0
            && self.error.is_none()
            && match self.state.run_frames(&self.model, n, &self.mags[..c * n * b], &mut self.est[..c * n * b]) {
                Outcome::Ok => true,
                Outcome::Discarded => false,
                Outcome::Failed(e) => {
                    self.error = Some(e);
                    false
                }
            };
        for (t, seq) in queued.enumerate() {
            let f = &mut frames[at(seq)];
            f.state = Sent::No;
            if ok {
                for ch in 0..c {
                    f.est[ch * b..][..b].copy_from_slice(&self.est[(ch * n + t) * b..][..b]);
                }
                f.state = Sent::Estimated;
            }
        }
    }

    /// Forgets the queue and zeroes the model state. No allocation.
    pub fn clear(&mut self) {
        self.queued = 0..0;
        self.state.clear();
    }
}
