//! The denoiser's audio path, shared by the plugin and the command-line tool.
//!
//! Per hop (10 ms) and channel a 20 ms frame is analysed and its magnitudes go to the model;
//! the model's estimate becomes per-bin gains, and the frame is resynthesised into the
//! overlap-add output. [`Engine::process`] runs a host block as named stages:
//!
//! 1. **ingest**: the whole block's input goes into the analysis frame; at every hop boundary
//!    the frame is **analysed** and handed to inference at once (the worker in real time, the
//!    calling thread offline). Submitting every frame of the block before any output is made
//!    is what keeps the latency independent of the block size.
//! 2. **emit**, sample by sample: at each hop boundary the frame due is **collected** (its
//!    estimate, waited for up to a deadline in real time), its gains are **shaped**
//!    (attenuation limit, stereo link), it is **synthesised**, and every sample is **mixed**
//!    with the latency-aligned dry input.
//!
//! The frame due at a boundary is the one analysed `slack` hops earlier. Latency is one frame
//! plus the slack, whatever the block size:
//! - [`LatencyMode::Standard`], slack 1: 30 ms. A frame's estimate is needed one hop after its
//!   analysis, so with blocks up to a hop the worker has a whole hop and the audio thread
//!   never waits; with larger blocks it waits only for the frames of its own block.
//! - [`LatencyMode::Low`], slack 0: 20 ms, the STFT's minimum. The estimate is needed in the
//!   block that completed the frame, so every boundary waits for the model (about 0.15 ms a
//!   frame here); small blocks leave little time and fall back more often.
//!
//! In real time the wait ends at a deadline, [`WAIT_SHARE`] of the block's duration after the
//! callback began (the rest is left for the host and other plugins); a frame not back by then holds the previous frame's gains and is counted
//! late. Every frame is resynthesised with its own gains otherwise, so a render is the same at
//! every block size and in both modes, apart from the delay.
//!
//! Everything is preallocated in [`Engine::with_config`]; `process` never allocates or locks,
//! and never calls the model on the audio thread in [`Mode::Realtime`].

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use realfft::num_complex::Complex32;

use crate::bands;
use crate::budget::{self, WaitBudget};
use crate::inference::{self, Outcome};
use crate::meter::{self, Meters, EXTENDED_BAND};
use crate::model::Model;
use crate::stft::{FrameSpec, Transform, MODEL_BINS};
use crate::worker::Worker;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Inference on a worker thread; a frame not back by its deadline takes the fallback gains.
    Realtime,
    /// Inference on the calling thread (bounces, the CLI): no worker, no waiting, no late frames.
    Offline,
}

/// How long the engine delays the signal, and so how much time inference gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LatencyMode {
    /// 30 ms: one hop of slack between a frame's analysis and its use.
    #[default]
    Standard,
    /// 20 ms: no slack; a frame's estimate is needed in the block that completed it.
    Low,
}

impl LatencyMode {
    /// Hops between a frame's analysis and its resynthesis.
    pub fn slack(self) -> usize {
        match self {
            LatencyMode::Standard => 1,
            LatencyMode::Low => 0,
        }
    }

    /// Latency in milliseconds (exact where 10 ms is a whole number of samples).
    pub fn ms(self) -> u32 {
        20 + 10 * self.slack() as u32
    }
}

/// The most slack any mode uses: buffers are sized for it so the mode switches without allocating.
const MAX_SLACK: usize = 1;

/// What the output carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Output {
    /// The denoised signal (after the mix), times the output gain.
    #[default]
    Denoised,
    /// What was taken away: the latency-aligned input minus the denoised signal, both before
    /// the output gain, which then applies to it as to the denoised signal. Denoised plus
    /// removed equals the delayed input times the gain.
    Removed,
}

/// The user's controls, read once per block; the engine smooths them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Wet share, 0..1; the dry path is delayed by the latency so 0 nulls against the input.
    pub mix: f32,
    /// Largest reduction of any bin in dB; 0 leaves the signal untouched, 100 or more is no limit.
    pub attenuation_limit_db: f32,
    pub output_gain_db: f32,
    /// One gain (the per-bin maximum) for all channels, so the stereo image stays put.
    pub stereo_link: bool,
    pub bypass: bool,
    pub output: Output,
}

/// The defaults the plugin's parameters and the CLI's options both start from.
pub mod defaults {
    pub const MIX: f32 = 1.0;
    pub const ATTENUATION_LIMIT_DB: f32 = 30.0;
    pub const OUTPUT_GAIN_DB: f32 = 0.0;
    /// The output gain's range in dB, the plugin's knob and the CLI's `--gain` alike.
    pub const OUTPUT_GAIN_RANGE_DB: (f32, f32) = (-24.0, 24.0);
    pub const STEREO_LINK: bool = true;
    /// Every control ramps to a new value over this long.
    pub const SMOOTHING_MS: f32 = 20.0;
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mix: defaults::MIX,
            attenuation_limit_db: defaults::ATTENUATION_LIMIT_DB,
            output_gain_db: defaults::OUTPUT_GAIN_DB,
            stereo_link: defaults::STEREO_LINK,
            bypass: false,
            output: Output::Denoised,
        }
    }
}

/// Above this the limit means "no limit": the gain may reach zero.
pub const NO_LIMIT_DB: f32 = 100.0;
/// Input beyond this magnitude is treated as broken rather than as audio.
const MAX_INPUT: f32 = 1.0e4;
/// Share of a block's duration the audio thread may spend waiting for inference.
pub const WAIT_SHARE: f64 = 0.5;
/// Longest stretch processed in one ingest / emit pass; longer blocks are split into such
/// chunks (same output, same latency). It bounds the frames in flight and so the preallocation.
pub const MAX_CHUNK: usize = 8192;

/// The sizing of an engine. The plugin builds one from the host's configuration and keeps its
/// engine when the value is unchanged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    pub sample_rate: f32,
    pub channels: usize,
    pub mode: Mode,
    pub latency: LatencyMode,
    /// The host's largest block; sizes the frame ring (blocks beyond it are split, not refused).
    pub max_block: usize,
    /// Share of a block's duration the audio thread may wait for inference ([`WAIT_SHARE`]).
    /// With the default share the engine also draws on the process-wide budget (all engines
    /// together wait at most that share of real time); another share gives the engine only its
    /// own deadline: tests raise it to check the real-time path's arithmetic without depending
    /// on timing.
    pub wait_share: f64,
}

impl Config {
    pub fn new(sample_rate: f32, channels: usize, mode: Mode) -> Self {
        Self { sample_rate, channels, mode, latency: LatencyMode::Standard, max_block: MAX_CHUNK, wait_share: WAIT_SHARE }
    }

    pub fn with_wait_share(self, wait_share: f64) -> Self {
        Self { wait_share, ..self }
    }

    pub fn with_latency(self, latency: LatencyMode) -> Self {
        Self { latency, ..self }
    }

    pub fn with_max_block(self, max_block: usize) -> Self {
        Self { max_block, ..self }
    }

    fn chunk(&self) -> usize {
        self.max_block.clamp(1, MAX_CHUNK)
    }
}

/// Sanitises one input sample: non-finite values become silence, absurd ones are clamped.
/// The CLI uses it too, so its removed-noise stem matches the engine's exactly.
#[inline]
pub fn sanitise(x: f32) -> f32 {
    if x.is_finite() {
        x.clamp(-MAX_INPUT, MAX_INPUT)
    } else {
        0.0
    }
}

/// A linear ramp to its target over a fixed number of steps, so automation never clicks.
#[derive(Clone, Copy)]
struct Ramp {
    value: f32,
    target: f32,
    step: f32,
    steps_left: u32,
    len: u32,
}

impl Ramp {
    fn new(value: f32, len: u32) -> Self {
        Self { value, target: value, step: 0.0, steps_left: 0, len: len.max(1) }
    }

    fn set(&mut self, target: f32) {
        if target != self.target {
            self.target = target;
            self.steps_left = self.len;
            self.step = (target - self.value) / self.len as f32;
        }
    }

    fn snap(&mut self) {
        self.value = self.target;
        self.steps_left = 0;
    }

    #[inline]
    fn next(&mut self) -> f32 {
        if self.steps_left > 0 {
            self.steps_left -= 1;
            self.value = if self.steps_left == 0 { self.target } else { self.value + self.step };
        }
        self.value
    }
}

/// Per-sample ramps (mix, gain, output choice, bypass) over [`defaults::SMOOTHING_MS`], and
/// per-frame ramps (attenuation floor, link) over the same time in whole hops: a frame's gains
/// already cross-fade into the next through the overlap-add.
struct Controls {
    mix: Ramp,
    gain: Ramp,
    removed: Ramp,
    bypass: Ramp,
    floor: Ramp,
    link: Ramp,
}

impl Controls {
    fn new(spec: &FrameSpec) -> Self {
        let samples = (spec.sample_rate * defaults::SMOOTHING_MS / 1000.0) as u32;
        let frames = (samples as f32 / spec.hop as f32).round() as u32;
        let s = Settings::default();
        Self {
            mix: Ramp::new(s.mix, samples),
            gain: Ramp::new(1.0, samples),
            removed: Ramp::new(0.0, samples),
            bypass: Ramp::new(0.0, samples),
            floor: Ramp::new(floor_gain(s.attenuation_limit_db), frames),
            link: Ramp::new(1.0, frames),
        }
    }

    fn set(&mut self, s: &Settings) {
        self.mix.set(s.mix.clamp(0.0, 1.0));
        self.gain.set(db_to_gain(s.output_gain_db.clamp(-60.0, 60.0)));
        self.removed.set(if s.output == Output::Removed { 1.0 } else { 0.0 });
        self.bypass.set(if s.bypass { 1.0 } else { 0.0 });
        self.floor.set(floor_gain(s.attenuation_limit_db));
        self.link.set(if s.stereo_link { 1.0 } else { 0.0 });
    }

    fn snap(&mut self) {
        for r in [&mut self.mix, &mut self.gain, &mut self.removed, &mut self.bypass, &mut self.floor, &mut self.link] {
            r.snap();
        }
    }
}

/// The linear gain no bin may go below for a limit in dB.
fn floor_gain(limit_db: f32) -> f32 {
    let limit = limit_db.max(0.0);
    if limit >= NO_LIMIT_DB {
        0.0
    } else {
        db_to_gain(-limit)
    }
}

struct Channel {
    /// The newest `frame` input samples; the last hop of it fills sample by sample.
    input: Vec<f32>,
    /// Overlap-add accumulator of the synthesised frames.
    ola: Vec<f32>,
    /// Finished output, emitted sample by sample during the next hop.
    ready: Vec<f32>,
    /// The model's gains for the latest frame it returned (held when a frame is late).
    raw: Vec<f32>,
    /// `raw` after the attenuation limit and the stereo link: what is applied.
    gains: Vec<f32>,
    /// Dry input delayed by the latency: a ring of `dry_len` samples.
    dry: Vec<f32>,
    dry_pos: usize,
}

/// A frame between analysis and resynthesis.
struct Frame {
    spectra: Vec<Vec<Complex32>>,
    /// `channels x 161` magnitudes as sent to the model.
    mags: Vec<f32>,
    /// Offline: the estimate, computed at analysis.
    est: Vec<f32>,
    /// Offline: whether `est` is valid. Real time: whether the frame reached the worker.
    ready: bool,
    /// Real time: the worker's finished slot for this frame, claimed from the done queue
    /// before the frame was due (so the queue never fills with slots nobody reads).
    slot: Option<Box<crate::worker::Slot>>,
}

/// Where inference runs.
enum Inference {
    /// No model, or no worker thread (the reason): gains stay at one (the same latency, so the
    /// host's compensation holds).
    None(Option<String>),
    Worker(Worker),
    Inline { model: Arc<Model>, state: inference::State, error: Option<String> },
}

/// How a due frame's estimate turned out.
enum Collected {
    /// New raw gains are in each channel's `raw`.
    Fresh,
    /// Not back in time, or never sent: the previous gains are held.
    Held,
    /// The model has failed: gains of one.
    Failed,
    Passthrough,
}

/// Worst wait for inference and how often a wait ran out, since the engine was made.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WaitStats {
    /// Frames the audio thread had to wait for (not yet back when needed).
    pub waits: u64,
    pub worst: Duration,
    pub total: Duration,
}

pub struct Engine {
    config: Config,
    spec: FrameSpec,
    transform: Transform,
    channels: Vec<Channel>,
    /// Frames analysed and not yet resynthesised, indexed by frame number modulo its length.
    frames: Vec<Frame>,
    slack: usize,
    dry_len: usize,
    chunk: usize,
    /// Positions within the current hop of the ingest and emit stages (equal between chunks).
    in_pos: usize,
    out_pos: usize,
    /// Number of the next frame to analyse, and of the next hop boundary to emit.
    seq_in: u64,
    seq_out: u64,
    /// First frame analysed since the last reset; earlier ones are silence.
    valid_from: u64,
    /// The next frame submitted tells the worker to clear its model state.
    reset_pending: bool,
    inference: Inference,
    settings: Settings,
    controls: Controls,
    scratch_mix: Vec<f32>,
    scratch_gain: Vec<f32>,
    scratch_removed: Vec<f32>,
    scratch_bypass: Vec<f32>,
    linked: Vec<f32>,
    in_power: f32,
    out_power: f32,
    meters: Arc<Meters>,
    late: u64,
    skipped: u64,
    wait: WaitStats,
    /// Where waiting time comes from besides the engine's own deadline: the process's budget.
    budget: Option<&'static WaitBudget>,
    /// The current block's own wait share (the most the process budget saves up for it).
    block_share: Duration,
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
        let transform = Transform::new(spec);
        let chunk = config.chunk();
        // Frames alive at once: the slack, plus every boundary one chunk can hold, plus one.
        let ring = MAX_SLACK + chunk.div_ceil(spec.hop) + 1;
        let nch = config.channels;
        let chans = (0..nch)
            .map(|_| Channel {
                input: vec![0.0; spec.frame],
                ola: vec![0.0; spec.frame],
                ready: vec![0.0; spec.hop],
                raw: vec![1.0; spec.bins],
                gains: vec![1.0; spec.bins],
                dry: vec![0.0; spec.frame + MAX_SLACK * spec.hop],
                dry_pos: 0,
            })
            .collect();
        let frames = (0..ring)
            .map(|_| Frame {
                spectra: (0..nch).map(|_| transform.new_spectrum()).collect(),
                mags: vec![0.0; nch * MODEL_BINS],
                est: vec![0.0; nch * MODEL_BINS],
                ready: false,
                slot: None,
            })
            .collect();
        let inference = match (model, config.mode) {
            (None, _) => Inference::None(None),
            // After a reset the frames of the old stream may all still be in flight while a
            // full ring of new ones goes out: twice the ring, plus one.
            (Some(m), Mode::Realtime) => match Worker::spawn(m, nch, 2 * ring + 1) {
                Ok(w) => Inference::Worker(w),
                // No thread, no denoising; but never a panic inside the host's `activate`.
                Err(e) => Inference::None(Some(e)),
            },
            (Some(m), Mode::Offline) => {
                Inference::Inline { state: inference::State::new(&m, nch), model: m, error: None }
            }
        };
        let slack = config.latency.slack();
        let e = Self {
            config,
            inference,
            frames,
            slack,
            dry_len: spec.frame + slack * spec.hop,
            chunk,
            in_pos: 0,
            out_pos: 0,
            seq_in: 0,
            seq_out: 0,
            valid_from: 0,
            reset_pending: true,
            settings: Settings::default(),
            controls: Controls::new(&spec),
            scratch_mix: vec![0.0; spec.hop],
            scratch_gain: vec![0.0; spec.hop],
            scratch_removed: vec![0.0; spec.hop],
            scratch_bypass: vec![0.0; spec.hop],
            linked: vec![0.0; spec.bins],
            in_power: 0.0,
            out_power: 0.0,
            channels: chans,
            spec,
            transform,
            meters,
            late: 0,
            skipped: 0,
            wait: WaitStats::default(),
            budget: (config.wait_share == WAIT_SHARE).then_some(&budget::PROCESS),
            block_share: Duration::ZERO,
        };
        budget::init();
        e.publish_static_meters();
        e.meters.model_failed.store(false, Ordering::Relaxed);
        e
    }

    fn publish_static_meters(&self) {
        let m = &self.meters;
        m.sample_rate.store(self.spec.sample_rate, Ordering::Relaxed);
        m.nyquist_hz.store(self.spec.sample_rate / 2.0, Ordering::Relaxed);
        m.latency_samples.store(self.latency() as u32, Ordering::Relaxed);
    }

    pub fn config(&self) -> Config {
        self.config
    }

    /// Delay from input to output in samples: one frame plus the slack.
    pub fn latency(&self) -> usize {
        self.spec.frame + self.slack * self.spec.hop
    }

    /// The latency a mode gives at a rate, without making an engine.
    pub fn latency_for(sample_rate: f32, mode: LatencyMode) -> usize {
        let spec = FrameSpec::for_rate(sample_rate);
        spec.frame + mode.slack() * spec.hop
    }

    /// Hops between a frame's analysis and its use.
    pub fn slack(&self) -> usize {
        self.slack
    }

    pub fn spec(&self) -> FrameSpec {
        self.spec
    }

    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    pub fn is_denoising(&self) -> bool {
        !matches!(self.inference, Inference::None(_))
    }

    /// Why the engine passes audio through instead of denoising, if it does (allocates).
    pub fn passthrough_reason(&self) -> Option<String> {
        match &self.inference {
            Inference::None(why) => Some(why.clone().unwrap_or_else(|| "no model".into())),
            _ => None,
        }
    }

    /// Whether a worker thread exists (only in real time with a model).
    pub fn has_worker(&self) -> bool {
        matches!(self.inference, Inference::Worker(_))
    }

    /// Whether the worker runs with real-time priority.
    pub fn worker_is_realtime(&self) -> bool {
        matches!(&self.inference, Inference::Worker(w) if w.is_realtime())
    }

    /// Frames that took the fallback gains: late (real time) or skipped (no free slot).
    pub fn late_frames(&self) -> u64 {
        self.late + self.skipped
    }

    /// Frames that never reached the model because every worker slot was busy.
    pub fn skipped_frames(&self) -> u64 {
        self.skipped
    }

    pub fn wait_stats(&self) -> WaitStats {
        self.wait
    }

    /// The model's failure message, if it failed (allocates: not for the audio thread).
    pub fn worker_error(&self) -> Option<String> {
        match &self.inference {
            Inference::Worker(w) => w.error(),
            Inference::Inline { error, .. } => error.clone(),
            Inference::None(_) => None,
        }
    }

    /// Whether the worker has finished every frame submitted so far (a test hook for pacing).
    #[cfg(feature = "test-hooks")]
    pub fn worker_idle(&self) -> bool {
        match &self.inference {
            Inference::Worker(w) => w.idle(),
            _ => true,
        }
    }

    /// Test hook: slows the worker by this much per frame.
    #[cfg(feature = "test-hooks")]
    pub fn set_worker_delay_us(&self, us: u32) {
        if let Inference::Worker(w) = &self.inference {
            w.set_delay_us(us);
        }
    }

    /// Test hook: the model fails on the next frame, as a broken model would.
    #[cfg(feature = "test-hooks")]
    pub fn inject_model_failure(&mut self) {
        match &mut self.inference {
            Inference::Worker(w) => w.inject_failure(),
            Inference::Inline { error, .. } => *error = Some("injected failure (test hook)".into()),
            Inference::None(_) => {}
        }
    }

    /// Worker slots (a test checks a reset with every frame in flight cannot exhaust them).
    #[cfg(feature = "test-hooks")]
    pub fn worker_slots(&self) -> usize {
        match &self.inference {
            Inference::Worker(w) => w.slots(),
            _ => 0,
        }
    }

    /// Times the worker thread woke up (a test checks it sleeps while there is no work).
    #[cfg(feature = "test-hooks")]
    pub fn worker_wakeups(&self) -> u64 {
        match &self.inference {
            Inference::Worker(w) => w.wakeups(),
            _ => 0,
        }
    }

    /// New control values, read once per block; every change is ramped over
    /// [`defaults::SMOOTHING_MS`]. Call [`reset`](Self::reset) after it to start from them at
    /// once instead (as activation does).
    pub fn set(&mut self, s: Settings) {
        self.settings = s;
        self.controls.set(&s);
    }

    /// Switches between 20 and 30 ms. Clears the signal (as `reset` does) since the delay
    /// changes; no allocation. The caller reports the new [`latency`](Self::latency).
    pub fn set_latency_mode(&mut self, mode: LatencyMode) {
        if mode == self.config.latency {
            return;
        }
        self.config.latency = mode;
        self.slack = mode.slack();
        self.dry_len = self.spec.frame + self.slack * self.spec.hop;
        self.meters.latency_samples.store(self.latency() as u32, Ordering::Relaxed);
        self.reset();
    }

    /// Clears every buffer and the model's state, as if the engine were new. No allocation.
    pub fn reset(&mut self) {
        for c in &mut self.channels {
            c.input.fill(0.0);
            c.ola.fill(0.0);
            c.ready.fill(0.0);
            c.raw.fill(1.0);
            c.gains.fill(1.0);
            c.dry.fill(0.0);
            c.dry_pos = 0;
        }
        for f in &mut self.frames {
            f.ready = false;
            if let (Some(slot), Inference::Worker(w)) = (f.slot.take(), &self.inference) {
                w.recycle(slot);
            }
        }
        self.in_pos = 0;
        self.out_pos = 0;
        // Frame numbers go on, so frames of the old stream still in flight are recognised
        // (older numbers) and dropped when they come back.
        self.seq_in = self.seq_out;
        self.valid_from = self.seq_in;
        match &mut self.inference {
            Inference::Worker(w) => {
                while let Some(slot) = w.take_done() {
                    w.recycle(slot);
                }
            }
            Inference::Inline { state, .. } => state.clear(),
            Inference::None(_) => {}
        }
        self.reset_pending = true;
        self.controls.snap();
    }

    /// Processes one block in place; any length, channel slices of equal length.
    pub fn process(&mut self, buffers: &mut [&mut [f32]]) {
        let n = buffers.first().map_or(0, |b| b.len());
        if n == 0 {
            return;
        }
        let deadline = match self.inference {
            Inference::Worker(_) => {
                let secs = (n as f64 / self.spec.sample_rate as f64 * self.config.wait_share).min(3600.0);
                self.block_share = Duration::from_nanos((secs * 1e9) as u64);
                Some(Instant::now() + self.block_share)
            }
            _ => None,
        };
        let mut done = 0;
        while done < n {
            let len = (n - done).min(self.chunk);
            self.ingest(buffers, done, len);
            self.emit(buffers, done, len, deadline);
            done += len;
        }
    }

    /// Stage 1: input into the analysis frame; every completed frame analysed and sent.
    fn ingest(&mut self, buffers: &mut [&mut [f32]], start: usize, len: usize) {
        let (hop, frame) = (self.spec.hop, self.spec.frame);
        let mut i = 0;
        while i < len {
            let seg = (hop - self.in_pos).min(len - i);
            let tail = frame - hop + self.in_pos;
            for (c, buf) in self.channels.iter_mut().zip(buffers.iter()) {
                for (dst, &x) in c.input[tail..tail + seg].iter_mut().zip(&buf[start + i..start + i + seg]) {
                    let x = sanitise(x);
                    self.in_power += x * x;
                    *dst = x;
                }
            }
            self.in_pos += seg;
            i += seg;
            if self.in_pos == hop {
                self.in_pos = 0;
                // The IN meter is the level of this hop. (Published with the output at emit,
                // a long block's whole input was divided by one hop.)
                let samples = (hop * self.channels.len().max(1)) as f32;
                self.meters.input_db.store(meter::to_db(self.in_power / samples), Ordering::Relaxed);
                self.in_power = 0.0;
                self.analyse();
            }
        }
    }

    /// Analyses the completed frame and hands it to inference.
    fn analyse(&mut self) {
        let hop = self.spec.hop;
        let ring = self.frames.len() as u64;
        let f = &mut self.frames[(self.seq_in % ring) as usize];
        for (ch, c) in self.channels.iter_mut().enumerate() {
            self.transform.analyse(&c.input, &mut f.spectra[ch]);
            self.transform.model_input(&f.spectra[ch], &mut f.mags[ch * MODEL_BINS..(ch + 1) * MODEL_BINS]);
            c.input.copy_within(hop.., 0);
        }
        f.ready = false;
        let pending = self.seq_out.saturating_sub(self.slack as u64).max(self.valid_from)..self.seq_in;
        let free = match &self.inference {
            Inference::Worker(w) => w.take_free().or_else(|| {
                // Slots may sit unread in the done queue (stale after a reset, or late): claim
                // them, which frees the stale ones, before calling this frame skipped.
                claim_done(w, &mut self.frames, pending);
                w.take_free()
            }),
            _ => None,
        };
        let f = &mut self.frames[(self.seq_in % ring) as usize];
        match &mut self.inference {
            Inference::None(_) => {}
            Inference::Worker(w) => match free {
                Some(mut slot) => {
                    slot.seq = self.seq_in;
                    // Kept pending through skipped frames: the worker must still clear its state.
                    slot.reset = std::mem::take(&mut self.reset_pending);
                    slot.mags.copy_from_slice(&f.mags);
                    w.submit(slot);
                    f.ready = true;
                }
                // Every slot in flight: the worker is far behind. This frame skips the model
                // and holds the previous gains when its turn comes.
                None => {
                    self.skipped += 1;
                    self.meters.late_frames.fetch_add(1, Ordering::Relaxed);
                }
            },
            Inference::Inline { model, state, error } => {
                if error.is_none() {
                    match state.run(model, &f.mags, &mut f.est) {
                        Outcome::Ok => f.ready = true,
                        Outcome::Discarded => {}
                        Outcome::Failed(e) => *error = Some(e),
                    }
                }
            }
        }
        self.seq_in += 1;
    }

    /// Stage 2: output, sample by sample; at each hop boundary the next frame is finished.
    fn emit(&mut self, buffers: &mut [&mut [f32]], start: usize, len: usize, deadline: Option<Instant>) {
        let hop = self.spec.hop;
        let mut i = 0;
        while i < len {
            let seg = (hop - self.out_pos).min(len - i);
            self.mix(buffers, start + i, seg);
            self.out_pos += seg;
            i += seg;
            if self.out_pos == hop {
                self.out_pos = 0;
                self.finish_frame(deadline);
            }
        }
    }

    /// Mix stage for `seg` samples at `at` (within one hop): wet, latency-aligned dry, output
    /// gain, removed-noise choice, bypass.
    fn mix(&mut self, buffers: &mut [&mut [f32]], at: usize, seg: usize) {
        let k = &mut self.controls;
        for i in 0..seg {
            self.scratch_mix[i] = k.mix.next();
            self.scratch_gain[i] = k.gain.next();
            self.scratch_removed[i] = k.removed.next();
            self.scratch_bypass[i] = k.bypass.next();
        }
        let dry_len = self.dry_len;
        for (c, buf) in self.channels.iter_mut().zip(buffers.iter_mut()) {
            for (i, s) in buf[at..at + seg].iter_mut().enumerate() {
                let x = sanitise(*s);
                let dry = c.dry[c.dry_pos];
                c.dry[c.dry_pos] = x;
                c.dry_pos = if c.dry_pos + 1 >= dry_len { 0 } else { c.dry_pos + 1 };
                let wet = c.ready[self.out_pos + i];
                let m = self.scratch_mix[i];
                let denoised = m * wet + (1.0 - m) * dry;
                let r = self.scratch_removed[i];
                // Removed noise before the gain: taken after it, a gain above 0 dB would put
                // speech into it (input minus more than the denoised signal).
                let heard = if r == 0.0 {
                    denoised
                } else if r == 1.0 {
                    dry - denoised
                } else {
                    (1.0 - r) * denoised + r * (dry - denoised)
                };
                let y = heard * self.scratch_gain[i];
                let b = self.scratch_bypass[i];
                let y = if b == 0.0 { y } else { b * dry + (1.0 - b) * y };
                let y = if y.is_finite() { y } else { 0.0 };
                self.out_power += y * y;
                *s = y;
            }
        }
    }

    /// At a hop boundary: collect, shape and synthesise the frame due, then publish meters.
    fn finish_frame(&mut self, deadline: Option<Instant>) {
        let hop = self.spec.hop;
        let boundary = self.seq_out;
        self.seq_out += 1;
        let due = boundary.checked_sub(self.slack as u64).filter(|&f| f >= self.valid_from);
        let mut power_in = 0.0f32;
        let mut power_out = 0.0f32;
        if let Some(f) = due {
            let idx = (f % self.frames.len() as u64) as usize;
            match self.collect(idx, f, deadline) {
                Collected::Fresh | Collected::Held | Collected::Passthrough => self.shape_gains(),
                Collected::Failed => {
                    for c in &mut self.channels {
                        c.raw.fill(1.0);
                        c.gains.fill(1.0);
                    }
                }
            }
            let frame = &mut self.frames[idx];
            for (c, spectrum) in self.channels.iter_mut().zip(&mut frame.spectra) {
                for (x, &g) in spectrum.iter_mut().zip(&c.gains) {
                    let p = x.norm_sqr();
                    power_in += p;
                    power_out += p * g * g;
                    *x *= g;
                }
                self.transform.synthesise_add(spectrum, &mut c.ola);
            }
        }
        for c in &mut self.channels {
            c.ready.copy_from_slice(&c.ola[..hop]);
            c.ola.copy_within(hop.., 0);
            let len = c.ola.len();
            c.ola[len - hop..].fill(0.0);
        }
        self.publish_meters(power_in, power_out);
    }

    /// Collect stage: frame `seq` (ring index `idx`)'s estimate into each channel's raw gains.
    fn collect(&mut self, idx: usize, seq: u64, deadline: Option<Instant>) -> Collected {
        let spec = self.spec;
        let frame = &self.frames[idx];
        match &self.inference {
            Inference::None(_) => Collected::Passthrough,
            Inference::Inline { error, .. } => {
                if error.is_some() {
                    self.meters.model_failed.store(true, Ordering::Relaxed);
                    return Collected::Failed;
                }
                if !frame.ready {
                    return Collected::Held;
                }
                for (ch, c) in self.channels.iter_mut().enumerate() {
                    let r = ch * MODEL_BINS..(ch + 1) * MODEL_BINS;
                    bands::gains_from_estimate(&spec, &frame.mags[r.clone()], &frame.est[r], &mut c.raw);
                }
                Collected::Fresh
            }
            Inference::Worker(w) => {
                if w.failed() {
                    self.meters.model_failed.store(true, Ordering::Relaxed);
                    // Drain what comes back so the slots stay in circulation.
                    while let Some(slot) = w.take_done() {
                        w.recycle(slot);
                    }
                    if let Some(slot) = self.frames[idx].slot.take() {
                        w.recycle(slot);
                    }
                    return Collected::Failed;
                }
                let pending = self.seq_out.saturating_sub(self.slack as u64 + 1).max(self.valid_from)..self.seq_in;
                // Claim whatever is finished, even for a skipped frame: a done queue nobody
                // drains would keep its slots from the free list for good.
                claim_done(w, &mut self.frames, pending.clone());
                let frame = &self.frames[idx];
                if !frame.ready {
                    return Collected::Held; // skipped at submission, already counted
                }
                let block_share = self.block_share;
                let (slot, waited) = wait_for(w, &mut self.frames, idx, seq, pending, deadline, self.budget, block_share);
                if let Some(t) = waited {
                    self.wait.waits += 1;
                    self.wait.total += t;
                    self.wait.worst = self.wait.worst.max(t);
                }
                let frame = &self.frames[idx];
                match slot {
                    Some(slot) if slot.ok => {
                        for (ch, c) in self.channels.iter_mut().enumerate() {
                            let r = ch * MODEL_BINS..(ch + 1) * MODEL_BINS;
                            bands::gains_from_estimate(&spec, &frame.mags[r.clone()], &slot.est[r], &mut c.raw);
                        }
                        w.recycle(slot);
                        Collected::Fresh
                    }
                    Some(slot) => {
                        w.recycle(slot);
                        if w.failed() {
                            self.meters.model_failed.store(true, Ordering::Relaxed);
                            Collected::Failed
                        } else {
                            Collected::Held // a non-finite frame: discarded by the worker
                        }
                    }
                    None => {
                        self.late += 1;
                        self.meters.late_frames.fetch_add(1, Ordering::Relaxed);
                        Collected::Held
                    }
                }
            }
        }
    }

    /// Shape stage: attenuation limit, then stereo link, each ramped per frame; and the mask meter.
    fn shape_gains(&mut self) {
        let floor = self.controls.floor.next();
        let link = self.controls.link.next();
        for c in &mut self.channels {
            for (g, &r) in c.gains.iter_mut().zip(&c.raw) {
                *g = r.max(floor);
            }
        }
        if self.channels.len() > 1 && link > 0.0 {
            self.linked.copy_from_slice(&self.channels[0].gains);
            for c in &self.channels[1..] {
                for (l, &g) in self.linked.iter_mut().zip(&c.gains) {
                    *l = l.max(g);
                }
            }
            for c in &mut self.channels {
                if link == 1.0 {
                    c.gains.copy_from_slice(&self.linked);
                } else {
                    for (g, &l) in c.gains.iter_mut().zip(&self.linked) {
                        *g = link * l + (1.0 - link) * *g;
                    }
                }
            }
        }
        let nch = self.channels.len() as f32;
        let nb = self.spec.model_bins();
        for b in 0..=MODEL_BINS {
            let v = if b < nb {
                self.channels.iter().map(|c| c.gains[b]).sum::<f32>() / nch
            } else if b == EXTENDED_BAND && self.spec.bins > MODEL_BINS {
                self.channels.iter().map(|c| c.gains[MODEL_BINS]).sum::<f32>() / nch
            } else {
                1.0
            };
            self.meters.mask[b].store(v, Ordering::Relaxed);
        }
    }

    fn publish_meters(&mut self, power_in: f32, power_out: f32) {
        let m = &self.meters;
        if power_in > 1e-9 {
            m.reduction_db.store(meter::to_db(power_out / power_in), Ordering::Relaxed);
        }
        let samples = (self.spec.hop * self.channels.len().max(1)) as f32;
        m.output_db.store(meter::to_db(self.out_power / samples), Ordering::Relaxed);
        self.out_power = 0.0;
    }
}

/// Moves every finished slot from the worker's done queue into its frame's entry when that
/// frame is still pending (numbers in `pending`), and recycles the rest (from before a reset,
/// or late frames already resynthesised). Never waits.
fn claim_done(w: &Worker, frames: &mut [Frame], pending: std::ops::Range<u64>) {
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

/// Spins before sleeping: on another core a frame is often microseconds away.
const SPINS: u32 = 200;

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
    pending: std::ops::Range<u64>,
    deadline: Option<Instant>,
    budget: Option<&WaitBudget>,
    block_share: Duration,
) -> (Option<Box<crate::worker::Slot>>, Option<Duration>) {
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

pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}
