//! What the audio thread shows the editor: atomics only, written once per hop.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use atomic_float::AtomicF32;

use crate::stft::{FrameSpec, MODEL_BINS};

/// Index of the gain shared by every bin above 8 kHz, after the 161 model bins.
pub const EXTENDED_BAND: usize = MODEL_BINS;

pub struct Meters {
    /// Per model bin (50 Hz apart) gain of the latest frame, averaged over channels, then the
    /// gain of the band above 8 kHz.
    pub mask: [AtomicF32; MODEL_BINS + 1],
    /// Highest frequency the host rate carries.
    pub nyquist_hz: AtomicF32,
    /// Energy-weighted gain of the latest frame in dB (0 = nothing removed).
    pub reduction_db: AtomicF32,
    pub input_db: AtomicF32,
    pub output_db: AtomicF32,
    /// Frames that took the fallback gains (late or skipped), since the plugin was made; the
    /// editor shows how many in the last seconds ([`RecentCount`]).
    pub late_frames: AtomicU64,
    /// Set by the audio thread when the model failed while running (it then passes through).
    pub model_failed: AtomicBool,
    pub sample_rate: AtomicF32,
    pub latency_samples: AtomicU32,
    /// What activation found (denoising, or passthrough and why). Written outside the audio
    /// thread, read by the editor; a failure while running is `model_failed`.
    pub status: Mutex<Status>,
    pub model_name: Mutex<String>,
}

impl Default for Meters {
    fn default() -> Self {
        Self {
            mask: std::array::from_fn(|_| AtomicF32::new(1.0)),
            nyquist_hz: AtomicF32::new(0.0),
            reduction_db: AtomicF32::new(0.0),
            input_db: AtomicF32::new(-120.0),
            output_db: AtomicF32::new(-120.0),
            late_frames: AtomicU64::new(0),
            model_failed: AtomicBool::new(false),
            sample_rate: AtomicF32::new(0.0),
            latency_samples: AtomicU32::new(0),
            status: Mutex::new(Status::Denoising { note: String::new() }),
            model_name: Mutex::new(String::new()),
        }
    }
}

/// What the plugin is doing, for the editor.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Denoising; `note` is a caution worth showing (an unusual sample rate), or empty.
    Denoising { note: String },
    /// No model could be loaded: audio passes through, latency-aligned.
    Passthrough(String),
    /// The model failed while running: audio passes through from then on.
    ModelFailed,
}

impl Meters {
    pub fn set_status(&self, s: Status) {
        if let Ok(mut st) = self.status.lock() {
            *st = s;
        }
    }

    pub fn status(&self) -> Status {
        if self.model_failed.load(Ordering::Relaxed) {
            return Status::ModelFailed;
        }
        self.status.lock().map(|s| s.clone()).unwrap_or(Status::Denoising { note: String::new() })
    }

    pub fn late(&self) -> u64 {
        self.late_frames.load(Ordering::Relaxed)
    }

    /// A frame took the fallback gains.
    pub(crate) fn count_late(&self) {
        self.late_frames.fetch_add(1, Ordering::Relaxed);
    }

    /// The model failed while running (a flag: the audio thread never touches the message).
    pub(crate) fn set_model_failed(&self) {
        self.model_failed.store(true, Ordering::Relaxed);
    }

    /// What does not change while an engine runs: its rate and latency.
    pub(crate) fn publish_static(&self, spec: &FrameSpec, latency: usize) {
        self.sample_rate.store(spec.sample_rate, Ordering::Relaxed);
        self.nyquist_hz.store(spec.sample_rate / 2.0, Ordering::Relaxed);
        self.latency_samples.store(latency as u32, Ordering::Relaxed);
    }

    /// The mask view: per model bin the gain averaged over channels, then the band above 8 kHz.
    pub(crate) fn publish_mask(&self, spec: &FrameSpec, gains: &[Vec<f32>]) {
        let nch = gains.len().max(1) as f32;
        let nb = spec.model_bins();
        let mean = |b: usize| gains.iter().map(|g| g[b]).sum::<f32>() / nch;
        for b in 0..=MODEL_BINS {
            let v = if b < nb {
                mean(b)
            } else if b == EXTENDED_BAND && spec.bins > MODEL_BINS {
                mean(MODEL_BINS)
            } else {
                1.0
            };
            self.mask[b].store(v, Ordering::Relaxed);
        }
    }
}

/// Signal power summed over a hop, published as levels once the hop is complete: the input's
/// when its hop is analysed, the output's (and the frame's reduction) at each output hop.
pub(crate) struct Levels {
    input: f32,
    output: f32,
    /// Samples in a hop over all channels.
    samples: f32,
}

impl Levels {
    pub fn new(spec: &FrameSpec, channels: usize) -> Self {
        Self { input: 0.0, output: 0.0, samples: (spec.hop * channels.max(1)) as f32 }
    }

    #[inline]
    pub fn add_input(&mut self, x: f32) {
        self.input += x * x;
    }

    #[inline]
    pub fn add_output(&mut self, y: f32) {
        self.output += y * y;
    }

    /// A hop of input is complete: its level.
    pub fn publish_input(&mut self, m: &Meters) {
        m.input_db.store(to_db(self.input / self.samples), Ordering::Relaxed);
        self.input = 0.0;
    }

    /// A hop of output is complete: its level, and the reduction of the frame just
    /// synthesised (spectral power before and after its gains; none when nothing was).
    pub fn publish_output(&mut self, m: &Meters, power_in: f32, power_out: f32) {
        if power_in > 1e-9 {
            m.reduction_db.store(to_db(power_out / power_in), Ordering::Relaxed);
        }
        m.output_db.store(to_db(self.output / self.samples), Ordering::Relaxed);
        self.output = 0.0;
    }

    pub fn clear(&mut self) {
        self.input = 0.0;
        self.output = 0.0;
    }
}

/// How many of an ever-growing count (late frames) happened in the last [`RecentCount::WINDOW_S`]
/// seconds, from readings of the total at any times (the editor's repaints). A count that
/// went back (a new engine) starts afresh.
#[derive(Clone, Debug, Default)]
pub struct RecentCount {
    /// (time in s, total): a reading per second at most, oldest first; allocation-free once
    /// full (the editor's thread, never the audio thread).
    marks: std::collections::VecDeque<(f64, u64)>,
}

impl RecentCount {
    pub const WINDOW_S: f64 = 10.0;

    /// Takes the total at time `now_s` (seconds, any origin); returns the count in the window.
    pub fn update(&mut self, total: u64, now_s: f64) -> u64 {
        if self.marks.back().is_some_and(|&(t, n)| n > total || t > now_s) {
            self.marks.clear();
        }
        if self.marks.back().is_none_or(|&(t, _)| now_s - t >= 1.0) {
            self.marks.push_back((now_s, total));
        }
        while self.marks.len() > 1 && now_s - self.marks[1].0 >= Self::WINDOW_S {
            self.marks.pop_front();
        }
        // The front is the newest reading at least a window old (or the oldest there is).
        total - self.marks.front().map_or(total, |&(_, n)| n)
    }
}

pub fn to_db(power: f32) -> f32 {
    10.0 * power.max(1e-12).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_count_shows_the_last_ten_seconds_only() {
        let mut r = RecentCount::default();
        assert_eq!(r.update(0, 0.0), 0);
        assert_eq!(r.update(5, 2.0), 5);
        assert_eq!(r.update(5, 9.0), 5);
        // 5 late frames at 2 s have left the window by 13 s.
        assert_eq!(r.update(5, 13.0), 0);
        assert_eq!(r.update(8, 14.0), 3);
        // Many readings a second (repaints) change nothing.
        for i in 0..100 {
            assert_eq!(r.update(8, 14.0 + i as f64 * 0.01), 3);
        }
        assert_eq!(r.update(8, 30.0), 0);
        // A new engine's count starts below the old one's: afresh.
        assert_eq!(r.update(2, 31.0), 0);
        assert_eq!(r.update(4, 32.0), 2);
    }
}
