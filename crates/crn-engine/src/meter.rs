//! What the audio thread shows the editor: atomics only, written once per hop.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use atomic_float::AtomicF32;

use crate::stft::MODEL_BINS;

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
}

pub fn to_db(power: f32) -> f32 {
    10.0 * power.max(1e-12).log10()
}
