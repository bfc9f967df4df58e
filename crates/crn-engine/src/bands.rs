//! From the model's magnitude estimate to a gain for every host bin.
//!
//! Below 8 kHz the gain is estimate / noisy magnitude, limited to 0..1. The model knows nothing
//! above 8 kHz, so every bin there takes the mean gain of the model's top band, 4-8 kHz: speech
//! energy above 8 kHz (fricatives, breath) comes with energy in that band, while stationary
//! noise up there is pulled down with the noise below it.

use crate::stft::{FrameSpec, MODEL_BINS};

/// Model bins averaged for the gain above 8 kHz (4-8 kHz at 50 Hz per bin).
pub const HIGH_BAND: std::ops::Range<usize> = 80..MODEL_BINS;

/// Keeps the divide finite on silent bins (about -200 dBFS); such bins pass unchanged.
const SILENT: f32 = 1e-10;

/// Fills `gains` (one per host bin) from the model input `noisy` and its estimate `est`.
pub fn gains_from_estimate(spec: &FrameSpec, noisy: &[f32], est: &[f32], gains: &mut [f32]) {
    let n = spec.model_bins();
    for ((g, &x), &e) in gains[..n].iter_mut().zip(noisy).zip(est) {
        *g = if x > SILENT && e.is_finite() { (e / x).clamp(0.0, 1.0) } else { 1.0 };
    }
    if spec.bins > MODEL_BINS {
        let high = gains[HIGH_BAND].iter().sum::<f32>() / HIGH_BAND.len() as f32;
        gains[MODEL_BINS..].fill(high);
    }
}

/// The attenuation limit: no bin is reduced by more than `floor` (a linear gain).
pub fn apply_floor(gains: &mut [f32], floor: f32) {
    for g in gains {
        *g = g.max(floor);
    }
}
