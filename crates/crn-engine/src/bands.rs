//! Gains for every host bin: from the model's estimate, then shaped by the attenuation limit
//! and the stereo link.
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

/// Every channel's gains, from the latest estimate to what is applied.
pub(crate) struct Shaper {
    /// Per channel: the model's gains for the latest frame it returned (held when one is late).
    raw: Vec<Vec<f32>>,
    /// Per channel: `raw` after the attenuation limit and the stereo link: what is applied.
    gains: Vec<Vec<f32>>,
    /// Scratch: the per-bin maximum over channels.
    linked: Vec<f32>,
}

impl Shaper {
    pub fn new(spec: &FrameSpec, channels: usize) -> Self {
        Self { raw: vec![vec![1.0; spec.bins]; channels], gains: vec![vec![1.0; spec.bins]; channels], linked: vec![0.0; spec.bins] }
    }

    /// New raw gains from a frame's magnitudes and estimate (`channels x 161` each).
    pub fn estimate(&mut self, spec: &FrameSpec, mags: &[f32], est: &[f32]) {
        for ((raw, noisy), est) in self.raw.iter_mut().zip(mags.chunks_exact(MODEL_BINS)).zip(est.chunks_exact(MODEL_BINS)) {
            gains_from_estimate(spec, noisy, est, raw);
        }
    }

    /// Gains of one, unshaped: the model failed, audio passes through.
    pub fn unity(&mut self) {
        for g in self.raw.iter_mut().chain(&mut self.gains) {
            g.fill(1.0);
        }
    }

    /// The attenuation limit (`floor`, a linear gain), then the stereo link (`link`, 0..1: how
    /// far each channel moves to the per-bin maximum over channels).
    pub fn shape(&mut self, floor: f32, link: f32) {
        for (g, r) in self.gains.iter_mut().zip(&self.raw) {
            g.copy_from_slice(r);
            apply_floor(g, floor);
        }
        if self.gains.len() > 1 && link > 0.0 {
            self.linked.copy_from_slice(&self.gains[0]);
            for g in &self.gains[1..] {
                for (l, &g) in self.linked.iter_mut().zip(g) {
                    *l = l.max(g);
                }
            }
            for g in &mut self.gains {
                if link == 1.0 {
                    g.copy_from_slice(&self.linked);
                } else {
                    for (g, &l) in g.iter_mut().zip(&self.linked) {
                        *g = link * l + (1.0 - link) * *g;
                    }
                }
            }
        }
    }

    /// What is applied, per channel.
    pub fn gains(&self) -> &[Vec<f32>] {
        &self.gains
    }

    pub fn reset(&mut self) {
        self.unity();
    }
}
