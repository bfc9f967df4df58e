//! The user's controls: what they mean, their defaults, and the ramps that smooth them.
//!
//! Per-sample ramps (mix, output gain, output choice, bypass) feed the mixer; per-frame ramps
//! (attenuation floor, stereo link) feed the gain shaping, over the same time in whole hops: a
//! frame's gains already cross-fade into the next through the overlap-add.

use crate::stft::FrameSpec;

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
    /// Gain after the mix, in [`defaults::OUTPUT_GAIN_RANGE_DB`] (clamped to it).
    pub output_gain_db: f32,
    /// One gain (the per-bin maximum) for all channels, so the stereo image stays put.
    pub stereo_link: bool,
    pub bypass: bool,
    pub output: Output,
}

/// The defaults and ranges the plugin's parameters and the CLI's options both start from.
pub mod defaults {
    pub const MIX: f32 = 1.0;
    pub const ATTENUATION_LIMIT_DB: f32 = 30.0;
    pub const OUTPUT_GAIN_DB: f32 = 0.0;
    /// The output gain's range in dB: the plugin's knob, the CLI's `--gain` and the engine's
    /// clamp alike.
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

pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
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

/// A linear ramp to its target over a fixed number of steps, so automation never clicks.
#[derive(Clone, Copy)]
pub(crate) struct Ramp {
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
    pub(crate) fn next(&mut self) -> f32 {
        if self.steps_left > 0 {
            self.steps_left -= 1;
            self.value = if self.steps_left == 0 { self.target } else { self.value + self.step };
        }
        self.value
    }
}

/// The mixer's controls, one value per sample.
pub(crate) struct SampleRamps {
    pub mix: Ramp,
    /// Linear output gain.
    pub gain: Ramp,
    /// 0: the denoised signal is heard, 1: the removed noise.
    pub removed: Ramp,
    /// 1: the latency-aligned dry signal.
    pub bypass: Ramp,
}

/// The gain shaping's controls, one value per frame.
pub(crate) struct FrameRamps {
    /// Linear gain no bin goes below.
    pub floor: Ramp,
    /// 1: one gain for all channels.
    pub link: Ramp,
}

pub(crate) struct Controls {
    pub sample: SampleRamps,
    pub frame: FrameRamps,
}

impl Controls {
    pub fn new(spec: &FrameSpec) -> Self {
        let samples = (spec.sample_rate * defaults::SMOOTHING_MS / 1000.0) as u32;
        let frames = (samples as f32 / spec.hop as f32).round() as u32;
        let s = Settings::default();
        Self {
            sample: SampleRamps {
                mix: Ramp::new(s.mix, samples),
                gain: Ramp::new(db_to_gain(s.output_gain_db), samples),
                removed: Ramp::new(0.0, samples),
                bypass: Ramp::new(0.0, samples),
            },
            frame: FrameRamps {
                floor: Ramp::new(floor_gain(s.attenuation_limit_db), frames),
                link: Ramp::new(if s.stereo_link { 1.0 } else { 0.0 }, frames),
            },
        }
    }

    pub fn set(&mut self, s: &Settings) {
        let (lo, hi) = defaults::OUTPUT_GAIN_RANGE_DB;
        let k = &mut self.sample;
        k.mix.set(s.mix.clamp(0.0, 1.0));
        k.gain.set(db_to_gain(s.output_gain_db.clamp(lo, hi)));
        k.removed.set(if s.output == Output::Removed { 1.0 } else { 0.0 });
        k.bypass.set(if s.bypass { 1.0 } else { 0.0 });
        self.frame.floor.set(floor_gain(s.attenuation_limit_db));
        self.frame.link.set(if s.stereo_link { 1.0 } else { 0.0 });
    }

    /// Every ramp at its target at once (after a reset).
    pub fn snap(&mut self) {
        let SampleRamps { mix, gain, removed, bypass } = &mut self.sample;
        let FrameRamps { floor, link } = &mut self.frame;
        for r in [mix, gain, removed, bypass, floor, link] {
            r.snap();
        }
    }
}
