//! The denoiser's audio path, shared by the plugin and the command-line tool.
//!
//! Per hop (10 ms) and channel a 20 ms frame is analysed and its magnitudes go to the model;
//! the model's estimate becomes per-bin gains, and the frame is resynthesised into the
//! overlap-add output. [`Engine::process`] runs a host block as a list of stages, each in its
//! own module:
//!
//! 1. **ingest** (`stft`, `meter`): the whole block's input goes into the analysis frames; at
//!    every hop boundary the frame is **analysed** and **submitted** to inference at once
//!    (`handoff`: the worker in real time; offline, the calling thread runs the frames the
//!    chunk's emit collects in one model call, `inline`). Submitting every frame of the block
//!    before any output is made keeps the latency independent of the block size.
//! 2. **emit**, sample by sample (`mixer`): the resynthesised signal is mixed with the
//!    latency-aligned dry input. At each hop boundary the frame due is **collected** (its
//!    estimate, waited for up to a deadline in real time: `handoff`), its gains are **shaped**
//!    (attenuation limit, stereo link: `bands`) and it is **synthesised** (`stft`).
//!
//! The frame due at a boundary is the one analysed `slack` hops earlier. Latency is one frame
//! plus the slack, whatever the block size (`config::latency`, the one place it is computed):
//! - [`LatencyMode::Standard`], slack 1: 30 ms. A frame's estimate is needed one hop after its
//!   analysis, so with blocks up to a hop the worker has a whole hop and the audio thread
//!   never waits; with larger blocks it waits only for the frames of its own block.
//! - [`LatencyMode::Low`], slack 0: 20 ms, the STFT's minimum. The estimate is needed in the
//!   block that completed the frame, so every boundary waits for the model (about 0.15 ms a
//!   frame here); small blocks leave little time and fall back more often.
//!
//! In real time the wait ends at a deadline, [`WAIT_SHARE`] of the block's duration after the
//! callback began, and all engines of a process together wait at most that share of real time
//! (the rest is left for the host and other plugins); a frame not back by then holds the
//! previous frame's gains and is counted late. Every frame is resynthesised with its own gains
//! otherwise, so a render is the same at every block size and in both modes, apart from the
//! delay.
//!
//! Everything is preallocated in [`Engine::with_config`]; `process` never allocates or locks,
//! and never calls the model on the audio thread in [`Mode::Realtime`].

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use crate::bands::Shaper;
use crate::config::{self, MAX_SLACK};
use crate::controls::Controls;
use crate::handoff::{Collected, Handoff, Submitted};
use crate::meter::{Levels, Meters};
use crate::mixer::Mixer;
use crate::model::Model;
use crate::stft::{Buffers, FrameSpec, Transform};

pub use crate::config::{check_sample_rate, Config, LatencyMode, Mode, MAX_CHUNK, SAMPLE_RATES, WAIT_SHARE};
pub use crate::controls::{db_to_gain, defaults, Output, Settings, NO_LIMIT_DB};
pub use crate::handoff::WaitStats;
pub use crate::mixer::sanitise;

pub struct Engine {
    config: Config,
    spec: FrameSpec,
    transform: Transform,
    stft: Buffers,
    handoff: Handoff,
    shaper: Shaper,
    mixer: Mixer,
    controls: Controls,
    levels: Levels,
    meters: Arc<Meters>,
    chunk: usize,
    /// Positions within the current hop of the ingest and emit stages (equal between chunks).
    in_pos: usize,
    out_pos: usize,
    /// Number of the next frame to analyse, and of the next hop boundary to emit.
    seq_in: u64,
    seq_out: u64,
    /// First frame analysed since the last reset; earlier ones are silence.
    valid_from: u64,
}

impl Engine {
    /// A standard-latency engine for any block size. `model: None` makes a passthrough engine
    /// with the same latency.
    pub fn new(sample_rate: f32, channels: usize, model: Option<Arc<Model>>, mode: Mode, meters: Arc<Meters>) -> Self {
        Self::with_config(Config::new(sample_rate, channels, mode), model, meters)
    }

    /// A standard-latency engine sized for host blocks of up to `max_block` samples.
    pub fn with_max_block(
        sample_rate: f32,
        channels: usize,
        model: Option<Arc<Model>>,
        mode: Mode,
        meters: Arc<Meters>,
        max_block: usize,
    ) -> Self {
        Self::with_config(Config::new(sample_rate, channels, mode).with_max_block(max_block), model, meters)
    }

    pub fn with_config(config: Config, model: Option<Arc<Model>>, meters: Arc<Meters>) -> Self {
        let spec = FrameSpec::for_rate(config.sample_rate);
        let nch = config.channels;
        let latency = config::latency(&spec, config.latency);
        let longest = spec.frame + MAX_SLACK * spec.hop;
        let e = Self {
            transform: Transform::new(spec),
            stft: Buffers::new(&spec, nch),
            handoff: Handoff::new(&config, &spec, model),
            shaper: Shaper::new(&spec, nch),
            mixer: Mixer::new(nch, spec.hop, latency, longest),
            controls: Controls::new(&spec),
            levels: Levels::new(&spec, nch),
            chunk: config.chunk(),
            in_pos: 0,
            out_pos: 0,
            seq_in: 0,
            seq_out: 0,
            valid_from: 0,
            config,
            spec,
            meters,
        };
        e.meters.publish_static(&spec, e.latency());
        e.meters.model_failed.store(false, std::sync::atomic::Ordering::Relaxed);
        e
    }

    pub fn config(&self) -> Config {
        self.config
    }

    /// Delay from input to output in samples: one frame plus the slack.
    pub fn latency(&self) -> usize {
        config::latency(&self.spec, self.config.latency)
    }

    /// The latency a mode gives at a rate, without making an engine.
    pub fn latency_for(sample_rate: f32, mode: LatencyMode) -> usize {
        config::latency(&FrameSpec::for_rate(sample_rate), mode)
    }

    /// Hops between a frame's analysis and its use.
    pub fn slack(&self) -> usize {
        self.config.latency.slack()
    }

    pub fn spec(&self) -> FrameSpec {
        self.spec
    }

    pub fn channels(&self) -> usize {
        self.config.channels
    }

    pub fn is_denoising(&self) -> bool {
        self.handoff.is_denoising()
    }

    /// Why the engine passes audio through instead of denoising (no model, or no worker
    /// thread), if it does. Allocates: not for the audio thread.
    pub fn passthrough_reason(&self) -> Option<String> {
        self.handoff.passthrough_reason()
    }

    /// Whether a worker thread exists (only in real time with a model).
    pub fn has_worker(&self) -> bool {
        self.handoff.has_worker()
    }

    /// Whether the worker runs with real-time priority.
    pub fn worker_is_realtime(&self) -> bool {
        self.handoff.worker_is_realtime()
    }

    /// Frames that took the fallback gains: late (real time) or skipped (no free slot).
    pub fn late_frames(&self) -> u64 {
        self.handoff.late() + self.handoff.skipped()
    }

    /// Frames that never reached the model because every worker slot was busy.
    pub fn skipped_frames(&self) -> u64 {
        self.handoff.skipped()
    }

    pub fn wait_stats(&self) -> WaitStats {
        self.handoff.wait_stats()
    }

    /// The model's failure message, if it failed (allocates: not for the audio thread).
    pub fn worker_error(&self) -> Option<String> {
        self.handoff.error()
    }

    /// New control values, read once per block; every change is ramped over
    /// [`defaults::SMOOTHING_MS`]. Call [`reset`](Self::reset) after it to start from them at
    /// once instead (as activation does).
    pub fn set(&mut self, s: Settings) {
        self.controls.set(&s);
    }

    /// Switches between 20 and 30 ms. Clears the signal (as `reset` does) since the delay
    /// changes; no allocation. The caller reports the new [`latency`](Self::latency).
    pub fn set_latency_mode(&mut self, mode: LatencyMode) {
        if mode == self.config.latency {
            return;
        }
        self.config.latency = mode;
        self.mixer.set_delay(self.latency());
        self.meters.publish_static(&self.spec, self.latency());
        self.reset();
    }

    /// How long the audio thread may wait for inference from now on, as a share of each
    /// block's duration ([`Config::wait_share`]); no allocation, no reset. A host that runs
    /// faster than real time without saying so (the LADSPA and LV2 plugins tell by its pace)
    /// raises it so every frame is waited for.
    pub fn set_wait_share(&mut self, share: f64) {
        self.config.wait_share = share;
        self.handoff.set_wait_share(share);
    }

    /// Clears every buffer and the model's state, as if the engine were new. No allocation.
    pub fn reset(&mut self) {
        self.stft.clear();
        self.shaper.reset();
        self.mixer.reset();
        self.levels.clear();
        self.handoff.reset();
        self.in_pos = 0;
        self.out_pos = 0;
        // Frame numbers go on, so frames of the old stream still in flight are recognised
        // (older numbers) and dropped when they come back.
        self.seq_in = self.seq_out;
        self.valid_from = self.seq_in;
        self.controls.snap();
    }

    /// Processes one block in place; any length, channel slices of equal length.
    pub fn process(&mut self, buffers: &mut [&mut [f32]]) {
        let n = buffers.first().map_or(0, |b| b.len());
        if n == 0 {
            return;
        }
        let deadline = self.handoff.deadline(n, self.spec.sample_rate);
        let mut done = 0;
        while done < n {
            let len = (n - done).min(self.chunk);
            self.ingest(buffers, done, len);
            self.emit(buffers, done, len, deadline);
            done += len;
        }
    }

    /// Stage 1: input into the analysis frames; every completed frame analysed and submitted.
    fn ingest(&mut self, buffers: &[&mut [f32]], start: usize, len: usize) {
        let hop = self.spec.hop;
        let mut i = 0;
        while i < len {
            let seg = (hop - self.in_pos).min(len - i);
            for (ch, buf) in buffers.iter().enumerate() {
                let dst = self.stft.input_mut(ch, self.in_pos, seg);
                for (d, &x) in dst.iter_mut().zip(&buf[start + i..start + i + seg]) {
                    *d = sanitise(x);
                    self.levels.add_input(*d);
                }
            }
            self.in_pos += seg;
            i += seg;
            if self.in_pos == hop {
                self.in_pos = 0;
                self.levels.publish_input(&self.meters);
                self.analyse_and_submit();
            }
        }
    }

    /// Frames not yet collected: from the one due at the next boundary.
    fn pending(&self) -> Range<u64> {
        self.seq_out.saturating_sub(self.slack() as u64).max(self.valid_from)..self.seq_in
    }

    fn analyse_and_submit(&mut self) {
        let seq = self.seq_in;
        let pending = self.pending();
        let frame = self.handoff.frame_mut(seq);
        self.stft.analyse(&mut self.transform, &mut frame.spectra, &mut frame.mags);
        if self.handoff.submit(seq, pending) == Submitted::Skipped {
            self.meters.count_late();
        }
        self.seq_in += 1;
    }

    /// Stage 2: output, sample by sample; at each hop boundary the next frame is finished.
    fn emit(&mut self, buffers: &mut [&mut [f32]], start: usize, len: usize, deadline: Option<Instant>) {
        let hop = self.spec.hop;
        // The frames this chunk will collect: offline they run through the model in one call.
        let boundaries = ((self.out_pos + len) / hop) as u64;
        self.handoff.due_before((self.seq_out + boundaries).saturating_sub(self.slack() as u64));
        let mut i = 0;
        while i < len {
            let seg = (hop - self.out_pos).min(len - i);
            self.mixer.mix(buffers, start + i, seg, &self.stft, self.out_pos, &mut self.controls.sample, &mut self.levels);
            self.out_pos += seg;
            i += seg;
            if self.out_pos == hop {
                self.out_pos = 0;
                self.finish_hop(deadline);
            }
        }
    }

    /// At a hop boundary: the frame due is collected, shaped and synthesised; the next hop of
    /// output is ready and the meters are published.
    fn finish_hop(&mut self, deadline: Option<Instant>) {
        let boundary = self.seq_out;
        let pending = self.pending();
        self.seq_out += 1;
        let due = boundary.checked_sub(self.slack() as u64).filter(|&f| f >= self.valid_from);
        let (mut power_in, mut power_out) = (0.0, 0.0);
        if let Some(seq) = due {
            if self.collect(seq, pending, deadline) {
                self.shape();
            }
            (power_in, power_out) = self.synthesise(seq);
        }
        self.stft.next_hop();
        self.levels.publish_output(&self.meters, power_in, power_out);
    }

    /// Collect stage: frame `seq`'s estimate into the raw gains. False when the gains are not
    /// to be shaped (the model failed: unity gains).
    fn collect(&mut self, seq: u64, pending: Range<u64>, deadline: Option<Instant>) -> bool {
        match self.handoff.collect(seq, pending, deadline) {
            Collected::Fresh => {
                let f = self.handoff.frame(seq);
                self.shaper.estimate(&self.spec, &f.mags, &f.est);
            }
            Collected::Late => self.meters.count_late(),
            Collected::Held | Collected::Passthrough => {}
            Collected::Failed => {
                self.meters.set_model_failed();
                self.shaper.unity();
                return false;
            }
        }
        true
    }

    /// Shape stage: attenuation limit, then stereo link, each ramped per frame; the mask meter.
    fn shape(&mut self) {
        let floor = self.controls.frame.floor.next();
        let link = self.controls.frame.link.next();
        self.shaper.shape(floor, link);
        self.meters.publish_mask(&self.spec, self.shaper.gains());
    }

    /// Synthesis stage: frame `seq`'s spectra times the gains into the overlap-add. Returns
    /// the frame's spectral power before and after the gains (the reduction meter).
    fn synthesise(&mut self, seq: u64) -> (f32, f32) {
        let (mut power_in, mut power_out) = (0.0f32, 0.0f32);
        let frame = self.handoff.frame_mut(seq);
        for (ch, (spectrum, gains)) in frame.spectra.iter_mut().zip(self.shaper.gains()).enumerate() {
            for (x, &g) in spectrum.iter_mut().zip(gains) {
                let p = x.norm_sqr();
                power_in += p;
                power_out += p * g * g;
                *x *= g;
            }
            self.stft.synthesise(&mut self.transform, ch, spectrum);
        }
        (power_in, power_out)
    }
}

/// Test hooks (feature `test-hooks`): slow, break or inspect the worker. Not production API.
#[cfg(feature = "test-hooks")]
impl Engine {
    /// Whether the worker has finished every frame submitted so far (tests pace a "host").
    pub fn worker_idle(&self) -> bool {
        self.handoff.worker_idle()
    }

    /// Slows the worker by this much per frame.
    pub fn set_worker_delay_us(&self, us: u32) {
        if let Some(w) = self.handoff.worker() {
            w.set_delay_us(us);
        }
    }

    /// The model fails on the next frame, as a broken model would.
    pub fn inject_model_failure(&mut self) {
        self.handoff.inject_model_failure();
    }

    /// Worker slots (a test checks a reset with every frame in flight cannot exhaust them).
    pub fn worker_slots(&self) -> usize {
        self.handoff.worker().map_or(0, |w| w.slots())
    }

    /// Times the worker thread woke up (a test checks it sleeps while there is no work).
    pub fn worker_wakeups(&self) -> u64 {
        self.handoff.worker().map_or(0, |w| w.wakeups())
    }
}
