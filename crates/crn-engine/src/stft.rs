//! Short-time Fourier analysis and overlap-add synthesis at the host rate.
//!
//! Frames are 20 ms with a 10 ms hop at every sample rate, so bins are 50 Hz apart
//! everywhere and the first 161 bins are exactly the model's 0-8 kHz input. Where 10 ms is not
//! a whole number of samples (11.025, 22.05, 88.2 kHz ...) the hop is rounded down
//! (`floor(rate / 100)`), giving bins `rate / (2 * hop)` apart (50.11 Hz at 11.025 kHz): model
//! bin k still maps to host bin k, at most 0.25 % off in frequency, well under half a bin.
//!
//! The window is the square root of a periodic Hann, used for analysis and synthesis: the
//! product is a periodic Hann, which sums to exactly one at 50 % overlap, so analysis followed by
//! synthesis with unit gains reconstructs the input (delayed by one frame).

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// The model's own analysis: 16 kHz, 320-sample frames, 160-sample hop, 161 bins.
pub const MODEL_RATE: f32 = 16_000.0;
pub const MODEL_FRAME: usize = 320;
pub const MODEL_BINS: usize = 161;

/// Frame geometry at one sample rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameSpec {
    pub sample_rate: f32,
    pub hop: usize,
    pub frame: usize,
    pub bins: usize,
    /// Multiplies host-rate magnitudes so they equal what the 16 kHz analysis gives for the same
    /// band-limited signal: bin magnitudes grow with the window's length.
    pub mag_scale: f32,
}

impl FrameSpec {
    pub fn for_rate(sample_rate: f32) -> Self {
        let hop = ((sample_rate / 100.0).floor() as usize).max(1);
        let frame = 2 * hop;
        Self {
            sample_rate,
            hop,
            frame,
            bins: frame / 2 + 1,
            mag_scale: window_sum(MODEL_FRAME) / window_sum(frame),
        }
    }

    /// Host bins the model sees (fewer than 161 below 16 kHz).
    pub fn model_bins(&self) -> usize {
        self.bins.min(MODEL_BINS)
    }
}

/// Square root of the periodic Hann window of length `n`.
pub fn sqrt_hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let h = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos();
            h.sqrt() as f32
        })
        .collect()
}

fn window_sum(n: usize) -> f32 {
    sqrt_hann(n).iter().map(|&w| w as f64).sum::<f64>() as f32
}

/// FFT plans and scratch for one frame size, shared by every channel of an engine.
pub struct Transform {
    pub spec: FrameSpec,
    window: Vec<f32>,
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    time: Vec<f32>,
    scratch_fwd: Vec<Complex32>,
    scratch_inv: Vec<Complex32>,
}

impl Transform {
    pub fn new(spec: FrameSpec) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let fwd = planner.plan_fft_forward(spec.frame);
        let inv = planner.plan_fft_inverse(spec.frame);
        Self {
            window: sqrt_hann(spec.frame),
            scratch_fwd: fwd.make_scratch_vec(),
            scratch_inv: inv.make_scratch_vec(),
            time: vec![0.0; spec.frame],
            fwd,
            inv,
            spec,
        }
    }

    pub fn new_spectrum(&self) -> Vec<Complex32> {
        vec![Complex32::default(); self.spec.bins]
    }

    /// Windowed forward FFT of one frame of samples.
    pub fn analyse(&mut self, frame: &[f32], out: &mut [Complex32]) {
        for ((t, &x), &w) in self.time.iter_mut().zip(frame).zip(&self.window) {
            *t = x * w;
        }
        self.fwd
            .process_with_scratch(&mut self.time, out, &mut self.scratch_fwd)
            .expect("FFT sizes are fixed at construction");
    }

    /// Inverse FFT of `spectrum` (consumed as scratch), windowed and added into `acc`.
    pub fn synthesise_add(&mut self, spectrum: &mut [Complex32], acc: &mut [f32]) {
        // A real signal's DC and Nyquist bins are real; gains keep them so, rounding may not.
        spectrum[0].im = 0.0;
        if let Some(last) = spectrum.last_mut() {
            last.im = 0.0;
        }
        self.inv
            .process_with_scratch(spectrum, &mut self.time, &mut self.scratch_inv)
            .expect("FFT sizes are fixed at construction");
        let norm = 1.0 / self.spec.frame as f32;
        for ((a, &t), &w) in acc.iter_mut().zip(&self.time).zip(&self.window) {
            *a += t * w * norm;
        }
    }

    /// Model input: the first 161 magnitudes scaled to the 16 kHz analysis, zero above the
    /// host's Nyquist.
    pub fn model_input(&self, spectrum: &[Complex32], out: &mut [f32]) {
        let n = self.spec.model_bins();
        for (o, c) in out[..n].iter_mut().zip(spectrum) {
            *o = c.norm() * self.spec.mag_scale;
        }
        out[n..].fill(0.0);
    }
}

/// The STFT's buffering for every channel: each channel's newest frame of input, filled a hop
/// at a time, and its overlap-add output, emitted a hop at a time.
pub(crate) struct Buffers {
    /// Per channel: the newest `frame` input samples; the last hop fills sample by sample.
    input: Vec<Vec<f32>>,
    /// Per channel: overlap-add accumulator of the synthesised frames.
    ola: Vec<Vec<f32>>,
    /// Per channel: the finished hop being emitted.
    ready: Vec<Vec<f32>>,
    hop: usize,
}

impl Buffers {
    pub fn new(spec: &FrameSpec, channels: usize) -> Self {
        Self {
            input: vec![vec![0.0; spec.frame]; channels],
            ola: vec![vec![0.0; spec.frame]; channels],
            ready: vec![vec![0.0; spec.hop]; channels],
            hop: spec.hop,
        }
    }

    /// Where the input samples at `pos..pos + len` of the hop being filled go, for channel `ch`.
    pub fn input_mut(&mut self, ch: usize, pos: usize, len: usize) -> &mut [f32] {
        let tail = self.input[ch].len() - self.hop + pos;
        &mut self.input[ch][tail..tail + len]
    }

    /// Windowed analysis of every channel's complete frame into `spectra` and the model's
    /// magnitudes into `mags` (`channels x 161`); then the frame moves on by a hop.
    pub fn analyse(&mut self, t: &mut Transform, spectra: &mut [Vec<Complex32>], mags: &mut [f32]) {
        for ((input, spectrum), m) in self.input.iter_mut().zip(spectra).zip(mags.chunks_exact_mut(MODEL_BINS)) {
            t.analyse(input, spectrum);
            t.model_input(spectrum, m);
            input.copy_within(self.hop.., 0);
        }
    }

    /// Adds channel `ch`'s resynthesised `spectrum` (consumed as scratch) into its overlap-add.
    pub fn synthesise(&mut self, t: &mut Transform, ch: usize, spectrum: &mut [Complex32]) {
        t.synthesise_add(spectrum, &mut self.ola[ch]);
    }

    /// At a hop boundary: the next finished hop becomes the one emitted.
    pub fn next_hop(&mut self) {
        let hop = self.hop;
        for (ola, ready) in self.ola.iter_mut().zip(&mut self.ready) {
            ready.copy_from_slice(&ola[..hop]);
            ola.copy_within(hop.., 0);
            let len = ola.len();
            ola[len - hop..].fill(0.0);
        }
    }

    /// Channel `ch`'s finished output at `pos..pos + len` of the hop.
    pub fn output(&self, ch: usize, pos: usize, len: usize) -> &[f32] {
        &self.ready[ch][pos..pos + len]
    }

    pub fn clear(&mut self) {
        for b in self.input.iter_mut().chain(&mut self.ola).chain(&mut self.ready) {
            b.fill(0.0);
        }
    }
}
