//! The denoiser's audio path, shared by the plugin and the command-line tool.
//!
//! Per hop (10 ms) and channel: the newest 20 ms frame is analysed and its magnitudes sent to
//! the inference worker; the estimate of the frame sent `slack` hops earlier comes back,
//! becomes per-bin gains, and that frame is resynthesised into the overlap-add output.
//!
//! The worker must get real time to run between a frame's submission and its use. A host
//! block of `B` samples can hold up to `ceil(B / hop)` hop boundaries that all run within
//! microseconds, so `slack = max(1, ceil(max_block / hop))` hops: then every frame is used in a
//! later host callback than the one that submitted it. Latency is one frame plus the slack:
//! `frame + slack * hop` samples, 30 ms at every rate for blocks up to 10 ms, 40 ms for 512 at
//! 48 kHz. Each frame is always resynthesised with its own gains, so the slack changes when the
//! output comes, never what it is: a render is the same at every block size.
//!
//! Everything here is preallocated in [`Engine::new`]; [`Engine::process`] never allocates,
//! locks or waits in [`Mode::Realtime`]. In [`Mode::Offline`] it waits for every frame, so a
//! render is deterministic and equal to a real-time run in which no frame was late.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use realfft::num_complex::Complex32;

use crate::bands;
use crate::meter::{self, Meters, EXTENDED_BAND};
use crate::model::Model;
use crate::stft::{FrameSpec, Transform, MODEL_BINS};
use crate::worker::Worker;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Never wait: a frame the worker has not finished in time takes the fallback gains.
    Realtime,
    /// Wait for every frame (bounces, the CLI).
    Offline,
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
}

impl Default for Settings {
    fn default() -> Self {
        Self { mix: 1.0, attenuation_limit_db: 30.0, output_gain_db: 0.0, stereo_link: true, bypass: false }
    }
}

/// Above this the limit means "no limit": the gain may reach zero.
pub const NO_LIMIT_DB: f32 = 100.0;
/// Input beyond this magnitude is treated as broken rather than as audio.
const MAX_INPUT: f32 = 1.0e4;

/// A linear ramp to its target over a fixed time, so automation never clicks.
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

struct Channel {
    /// The newest `frame` input samples; the last hop of it fills sample by sample.
    input: Vec<f32>,
    /// Overlap-add accumulator of the synthesised frames.
    ola: Vec<f32>,
    /// Finished output, emitted sample by sample during the next hop.
    ready: Vec<f32>,
    gains: Vec<f32>,
    /// Dry input delayed by the latency.
    dry: Vec<f32>,
    dry_pos: usize,
}

/// A frame between analysis and resynthesis: its spectra and model input for every channel.
struct InFlight {
    spectra: Vec<Vec<Complex32>>,
    /// `channels x 161` magnitudes as sent to the model.
    mags: Vec<f32>,
    /// Whether it reached the worker (not after a reset, nor when every slot was busy).
    submitted: bool,
}

pub struct Engine {
    spec: FrameSpec,
    transform: Transform,
    mode: Mode,
    channels: Vec<Channel>,
    /// Ring of `slack + 1` frames, indexed by frame number.
    frames: Vec<InFlight>,
    slack: usize,
    pos: usize,
    /// Index of the next frame to analyse.
    seq: u64,
    /// The next frame submitted tells the worker to clear its model state.
    reset_pending: bool,
    worker: Option<Worker>,
    settings: Settings,
    mix: Ramp,
    gain: Ramp,
    bypass: Ramp,
    scratch_mix: Vec<f32>,
    scratch_gain: Vec<f32>,
    scratch_bypass: Vec<f32>,
    in_power: f32,
    out_power: f32,
    meters: Arc<Meters>,
    late: u64,
}

impl Engine {
    /// An engine for host blocks of at most one hop (and for offline use, where the block
    /// size does not matter). `model: None` makes a passthrough engine with the same latency.
    pub fn new(sample_rate: f32, channels: usize, model: Option<Arc<Model>>, mode: Mode, meters: Arc<Meters>) -> Self {
        Self::with_max_block(sample_rate, channels, model, mode, meters, 0)
    }

    /// An engine whose worker keeps up with host blocks of up to `max_block` samples.
    pub fn with_max_block(
        sample_rate: f32,
        channels: usize,
        model: Option<Arc<Model>>,
        mode: Mode,
        meters: Arc<Meters>,
        max_block: usize,
    ) -> Self {
        let spec = FrameSpec::for_rate(sample_rate);
        let transform = Transform::new(spec);
        let slack = slack_for(sample_rate, max_block);
        let latency = spec.frame + slack * spec.hop;
        let chans = (0..channels)
            .map(|_| Channel {
                input: vec![0.0; spec.frame],
                ola: vec![0.0; spec.frame],
                ready: vec![0.0; spec.hop],
                gains: vec![1.0; spec.bins],
                dry: vec![0.0; latency],
                dry_pos: 0,
            })
            .collect();
        let frames = (0..=slack)
            .map(|_| InFlight {
                spectra: (0..channels).map(|_| transform.new_spectrum()).collect(),
                mags: vec![0.0; channels * MODEL_BINS],
                submitted: false,
            })
            .collect();
        let ramp = |v, ms: f32| Ramp::new(v, (sample_rate * ms / 1000.0) as u32);
        let settings = Settings::default();
        meters.sample_rate.store(sample_rate, Ordering::Relaxed);
        meters.nyquist_hz.store(sample_rate / 2.0, Ordering::Relaxed);
        meters.latency_samples.store(latency as u32, Ordering::Relaxed);
        meters.model_failed.store(false, Ordering::Relaxed);
        Self {
            // Every frame of the slack window may be in flight at once, plus room to drain.
            worker: model.map(|m| Worker::spawn(m, channels, slack + 4)),
            frames,
            slack,
            pos: 0,
            seq: 0,
            reset_pending: true,
            mix: ramp(settings.mix, 20.0),
            gain: ramp(1.0, 20.0),
            bypass: ramp(0.0, 10.0),
            settings,
            scratch_mix: vec![0.0; spec.hop],
            scratch_gain: vec![0.0; spec.hop],
            scratch_bypass: vec![0.0; spec.hop],
            in_power: 0.0,
            out_power: 0.0,
            channels: chans,
            spec,
            transform,
            mode,
            meters,
            late: 0,
        }
    }

    /// Delay from input to output in samples: one frame plus the worker's slack.
    pub fn latency(&self) -> usize {
        self.spec.frame + self.slack * self.spec.hop
    }

    /// Hops between a frame's submission to the worker and its use.
    pub fn slack(&self) -> usize {
        self.slack
    }

    pub fn spec(&self) -> FrameSpec {
        self.spec
    }

    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    pub fn is_denoising(&self) -> bool {
        self.worker.is_some()
    }

    /// Frames whose estimate came too late (real-time) and took the fallback gains.
    pub fn late_frames(&self) -> u64 {
        self.late
    }

    pub fn worker_error(&self) -> Option<String> {
        self.worker.as_ref().and_then(Worker::error)
    }

    /// Whether the worker has finished every frame submitted so far (a test hook for pacing).
    pub fn worker_idle(&self) -> bool {
        self.worker.as_ref().map_or(true, Worker::idle)
    }

    /// Test hook: slows the worker by this much per frame.
    pub fn set_worker_delay_us(&self, us: u32) {
        if let Some(w) = &self.worker {
            w.set_delay_us(us);
        }
    }

    /// New control values; jumps are smoothed. The first call after `new`/`reset` applies
    /// them at once.
    pub fn set(&mut self, s: Settings) {
        self.settings = s;
        self.mix.set(s.mix.clamp(0.0, 1.0));
        self.gain.set(db_to_gain(s.output_gain_db.clamp(-60.0, 60.0)));
        self.bypass.set(if s.bypass { 1.0 } else { 0.0 });
    }

    /// Clears every buffer and the model's state, as if the engine were new. No allocation.
    pub fn reset(&mut self) {
        for c in &mut self.channels {
            c.input.fill(0.0);
            c.ola.fill(0.0);
            c.ready.fill(0.0);
            c.gains.fill(1.0);
            c.dry.fill(0.0);
            c.dry_pos = 0;
        }
        for f in &mut self.frames {
            for s in &mut f.spectra {
                s.fill(Complex32::default());
            }
            f.mags.fill(0.0);
            f.submitted = false;
        }
        self.pos = 0;
        if let Some(w) = &self.worker {
            while let Some(slot) = w.take_done() {
                w.recycle(slot);
            }
        }
        // Frames still in flight come back with older numbers and are dropped.
        self.reset_pending = true;
        self.mix.snap();
        self.gain.snap();
        self.bypass.snap();
    }

    /// Processes one block in place; any length, channel slices of equal length.
    pub fn process(&mut self, buffers: &mut [&mut [f32]]) {
        let n = buffers.first().map_or(0, |b| b.len());
        let hop = self.spec.hop;
        let frame = self.spec.frame;
        let mut done = 0;
        while done < n {
            let len = (hop - self.pos).min(n - done);
            for i in 0..len {
                self.scratch_mix[i] = self.mix.next();
                self.scratch_gain[i] = self.gain.next();
                self.scratch_bypass[i] = self.bypass.next();
            }
            for (c, buf) in self.channels.iter_mut().zip(buffers.iter_mut()) {
                let block = &mut buf[done..done + len];
                let tail = frame - hop + self.pos;
                for i in 0..len {
                    let x = block[i];
                    let x = if x.is_finite() { x.clamp(-MAX_INPUT, MAX_INPUT) } else { 0.0 };
                    self.in_power += x * x;
                    c.input[tail + i] = x;
                    let dry = c.dry[c.dry_pos];
                    c.dry[c.dry_pos] = x;
                    c.dry_pos = if c.dry_pos + 1 == c.dry.len() { 0 } else { c.dry_pos + 1 };
                    let wet = c.ready[self.pos + i];
                    let m = self.scratch_mix[i];
                    let y = (m * wet + (1.0 - m) * dry) * self.scratch_gain[i];
                    let b = self.scratch_bypass[i];
                    let y = if b == 0.0 { y } else { b * dry + (1.0 - b) * y };
                    let y = if y.is_finite() { y } else { 0.0 };
                    self.out_power += y * y;
                    block[i] = y;
                }
            }
            self.pos += len;
            done += len;
            if self.pos == hop {
                self.pos = 0;
                self.hop();
            }
        }
    }

    fn hop(&mut self) {
        let hop = self.spec.hop;
        let nch = self.channels.len();
        let ring = self.frames.len();
        let newest = &mut self.frames[(self.seq % ring as u64) as usize];
        for (ch, c) in self.channels.iter_mut().enumerate() {
            self.transform.analyse(&c.input, &mut newest.spectra[ch]);
            self.transform
                .model_input(&newest.spectra[ch], &mut newest.mags[ch * MODEL_BINS..(ch + 1) * MODEL_BINS]);
            c.input.copy_within(hop.., 0);
        }
        self.submit_newest();
        // The frame submitted `slack` hops ago: its estimate should be back by now.
        let due = (self.seq + 1) % ring as u64;
        self.gains_for(due as usize);

        let mut power_in = 0.0f32;
        let mut power_out = 0.0f32;
        let frame = &mut self.frames[due as usize];
        for (c, spectrum) in self.channels.iter_mut().zip(&mut frame.spectra) {
            for (x, &g) in spectrum.iter_mut().zip(&c.gains) {
                let p = x.norm_sqr();
                power_in += p;
                power_out += p * g * g;
                *x *= g;
            }
            self.transform.synthesise_add(spectrum, &mut c.ola);
            c.ready.copy_from_slice(&c.ola[..hop]);
            c.ola.copy_within(hop.., 0);
            let len = c.ola.len();
            c.ola[len - hop..].fill(0.0);
        }
        self.seq += 1;

        let m = &self.meters;
        if power_in > 1e-9 {
            m.reduction_db.store(meter::to_db(power_out / power_in), Ordering::Relaxed);
        }
        let samples = (hop * nch.max(1)) as f32;
        m.input_db.store(meter::to_db(self.in_power / samples), Ordering::Relaxed);
        m.output_db.store(meter::to_db(self.out_power / samples), Ordering::Relaxed);
        self.in_power = 0.0;
        self.out_power = 0.0;
    }

    fn submit_newest(&mut self) {
        let i = (self.seq % self.frames.len() as u64) as usize;
        self.frames[i].submitted = false;
        let Some(w) = &self.worker else { return };
        match w.take_free() {
            Some(mut slot) => {
                slot.seq = self.seq;
                slot.reset = std::mem::take(&mut self.reset_pending);
                slot.mags.copy_from_slice(&self.frames[i].mags);
                w.submit(slot);
                self.frames[i].submitted = true;
            }
            // Every slot in flight: the worker is far behind. This frame skips the model and
            // takes the fallback when its turn comes.
            None => self.count_late(),
        }
    }

    /// Turns the worker's estimate for frame `due` (ring index) into gains, or applies the
    /// fallback: the previous frame's gains are held (no jump, no click) and the frame is
    /// counted late. The model state still advances, so it recovers at the next frame.
    fn gains_for(&mut self, due: usize) {
        let spec = self.spec;
        let Some(w) = &self.worker else {
            return; // passthrough: gains stay at one
        };
        let submitted = self.frames[due].submitted;
        let want = self.seq.wrapping_sub(self.slack as u64);
        let mut found = None;
        if submitted {
            loop {
                let next = match self.mode {
                    Mode::Realtime => w.take_done(),
                    Mode::Offline => w.wait_done(),
                };
                let Some(slot) = next else { break };
                if slot.seq == want {
                    found = Some(slot);
                    break;
                }
                w.recycle(slot); // a frame from before a reset, or one that came too late
            }
        }
        match found {
            Some(slot) if slot.ok => {
                let mags = &self.frames[due].mags;
                for (ch, c) in self.channels.iter_mut().enumerate() {
                    let r = ch * MODEL_BINS..(ch + 1) * MODEL_BINS;
                    bands::gains_from_estimate(&spec, &mags[r.clone()], &slot.est[r], &mut c.gains);
                }
                w.recycle(slot);
            }
            Some(slot) => {
                w.recycle(slot);
                if w.error().is_some() {
                    self.meters.model_failed.store(true, Ordering::Relaxed);
                    for c in &mut self.channels {
                        c.gains.fill(1.0);
                    }
                    return;
                }
            }
            None if submitted => self.count_late(),
            None => {}
        }
        self.shape_gains();
    }

    fn count_late(&mut self) {
        self.late += 1;
        self.meters.late_frames.fetch_add(1, Ordering::Relaxed);
    }

    /// Attenuation limit, stereo link, and the mask meter.
    fn shape_gains(&mut self) {
        let limit = self.settings.attenuation_limit_db.max(0.0);
        let floor = if limit >= NO_LIMIT_DB { 0.0 } else { db_to_gain(-limit) };
        for c in &mut self.channels {
            bands::apply_floor(&mut c.gains, floor);
        }
        if self.settings.stereo_link && self.channels.len() > 1 {
            let (first, rest) = self.channels.split_at_mut(1);
            for c in rest.iter() {
                for (g, &o) in first[0].gains.iter_mut().zip(&c.gains) {
                    *g = g.max(o);
                }
            }
            for c in rest.iter_mut() {
                c.gains.copy_from_slice(&first[0].gains);
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
}

/// Hops of slack the worker needs for host blocks of up to `max_block` samples.
pub fn slack_for(sample_rate: f32, max_block: usize) -> usize {
    max_block.div_ceil(FrameSpec::for_rate(sample_rate).hop).max(1)
}

pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}
