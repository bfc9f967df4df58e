//! How an engine is sized: where inference runs, the latency mode, the host's largest block,
//! and the one function that turns a mode into a latency.

use crate::stft::FrameSpec;

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

/// The delay from input to output in samples: one frame, plus the slack in hops. The only place
/// the latency is computed; the dry path's delay is this long too, so the mix is aligned.
pub fn latency(spec: &FrameSpec, mode: LatencyMode) -> usize {
    spec.frame + mode.slack() * spec.hop
}

/// The most slack any mode uses: buffers are sized for it so the mode switches without allocating.
pub(crate) const MAX_SLACK: usize = 1;

/// Share of a block's duration the audio thread may spend waiting for inference; all engines
/// of a process together also wait at most this share of real time (`budget`).
pub const WAIT_SHARE: f64 = 0.5;

/// The sample rates the engine is meant for, in Hz: 8 kHz telephone speech to 192 kHz studio
/// rates. The STFT works at any rate, but below 8 kHz a 10 ms hop holds too few samples for the
/// model's bands and above 192 kHz no recorder or host runs. Front ends that take a rate from a
/// user (the CLI from a file, the Python package from an argument) refuse others with
/// [`check_sample_rate`].
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 8_000..=192_000;

/// `Err` with the reason for a rate outside [`SAMPLE_RATES`].
pub fn check_sample_rate(rate: u32) -> Result<(), String> {
    if SAMPLE_RATES.contains(&rate) {
        Ok(())
    } else {
        Err(format!("sample rate {rate} Hz is not supported (the denoiser runs at {} to {} Hz)", SAMPLE_RATES.start(), SAMPLE_RATES.end()))
    }
}

/// Longest stretch processed in one ingest / emit pass; longer blocks are split into such
/// chunks (same output, same latency). It bounds the frames in flight and so the preallocation
/// (a ring of about 70 frames at 48 kHz, for hosts that announce such blocks). Offline, a chunk's
/// frames run through the model in one call (`inline`), and the larger the call the less each
/// frame costs: 68 frames (32768 samples at 48 kHz) took 57 µs a frame against 62 for 17
/// (8192 samples) in criterion runs (BENCHMARKS.md), which is why the CLI renders in blocks
/// this long. A real-time host's blocks are far shorter, so real time is unaffected.
pub const MAX_CHUNK: usize = 32768;

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
    /// With the default share the engine also draws on the process-wide budget; any other
    /// share gives it only its own deadline: tests raise it to check the real-time path's
    /// arithmetic without depending on timing, or set 0 never to wait.
    pub wait_share: f64,
    /// Whether the engine may draw on the process-wide budget at all (with the default share).
    /// Off for the LADSPA and LV2 plugins: their hosts cannot say they render offline, and an
    /// offline host (applyplugin, lv2apply, an editor applying an effect) runs faster than real
    /// time, where a budget that accrues with real time runs dry and frames fall back. With
    /// only its own deadline such a host waits for every frame; a real-time host still waits
    /// at most [`WAIT_SHARE`] of each block.
    pub process_budget: bool,
    /// Whether building the engine runs one frame of silence through the worker's own model
    /// binding, and waits for it (ONNX Runtime's first run of a shape is many times slower than
    /// the next). For hosts that may start processing right after instantiating, without a
    /// real-time announcement (the LADSPA and LV2 plugins): their first frames are then on time.
    pub warm_up: bool,
}

impl Config {
    pub fn new(sample_rate: f32, channels: usize, mode: Mode) -> Self {
        Self { sample_rate, channels, mode, latency: LatencyMode::Standard, max_block: MAX_CHUNK, wait_share: WAIT_SHARE, process_budget: true, warm_up: false }
    }

    pub fn with_wait_share(self, wait_share: f64) -> Self {
        Self { wait_share, ..self }
    }

    pub fn with_latency(self, latency: LatencyMode) -> Self {
        Self { latency, ..self }
    }

    /// Without the process-wide budget: only each block's own deadline ([`Config::process_budget`]).
    pub fn without_process_budget(self) -> Self {
        Self { process_budget: false, ..self }
    }

    /// With a warm-up frame through the worker at build time ([`Config::warm_up`]).
    pub fn with_warm_up(self) -> Self {
        Self { warm_up: true, ..self }
    }

    pub fn with_max_block(self, max_block: usize) -> Self {
        Self { max_block, ..self }
    }

    /// The longest stretch one ingest / emit pass takes.
    pub(crate) fn chunk(&self) -> usize {
        self.max_block.clamp(1, MAX_CHUNK)
    }

    /// Whether the engine draws on the process-wide wait budget (see [`Config::wait_share`]).
    pub(crate) fn shares_process_budget(&self) -> bool {
        self.process_budget && self.wait_share == WAIT_SHARE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the default share draws on the process budget, and only while it is not turned off.
    #[test]
    fn process_budget_only_with_the_default_share_and_not_turned_off() {
        let c = Config::new(48_000.0, 1, Mode::Realtime);
        assert!(c.shares_process_budget());
        assert!(!c.without_process_budget().shares_process_budget());
        assert!(!c.with_wait_share(1.0).shares_process_budget());
    }
}
