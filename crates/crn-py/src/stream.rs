//! A stream denoised a block at a time, as a plugin runs: each block comes back as long as it
//! went in, delayed by the engine's latency; `flush` feeds silence to get the last `latency`
//! samples out. The engine renders offline (inference on the calling thread, never a late
//! frame), so the stream's output is the whole-array render's, shifted by the latency, at any
//! block sizes. A long block is processed a chunk at a time with Ctrl-C checked between chunks
//! (`signals`): the call then raises KeyboardInterrupt and the stream is reset, as if new, since
//! what was processed of the block is not returned.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;

use crate::array::{planar, stem_bytes, stems, wants, StemBytes, Stems2};
use crate::errors;
use crate::models::Lease;
use crate::signals;
use crn_cli::cli::args::Stems;
use crn_engine::denormals::DenormalGuard;
use crn_engine::engine::{check_sample_rate, Engine, Mode, Settings, MAX_CHUNK};
use crn_engine::meter::Meters;
use crn_engine::render;

struct Inner {
    engine: Engine,
    stems: Stems,
    /// The output gain, applied to the stems after the engine (`render::stem_settings`).
    gain: f32,
    /// The input delayed by the latency, lined up with the engine's output for the removed stem.
    delay: Vec<VecDeque<f32>>,
    /// Holds the engine's model until the stream is dropped (after `engine`).
    _lease: Lease,
}

impl Inner {
    fn set(&mut self, settings: Settings) {
        let (engine_settings, gain) = render::stem_settings(settings);
        self.engine.set(engine_settings);
        self.gain = gain;
    }

    fn reset(&mut self) {
        self.engine.reset();
        let latency = self.engine.latency();
        for d in &mut self.delay {
            d.clear();
            d.extend(std::iter::repeat_n(0.0, latency));
        }
    }

    /// One block through the engine, into the stems asked for; `Err` (and the stream reset) when
    /// Ctrl-C is asked for between two of its chunks.
    fn process(&mut self, input: Vec<Vec<f32>>) -> Result<Stems2, String> {
        let n = input.first().map_or(0, Vec::len);
        let mut y = input.clone();
        {
            // As the render does around each block: the same arithmetic as the plugin's.
            let _denormals = DenormalGuard::new();
            // The engine's own chunk, so pieces add no model calls of their own.
            for start in (0..n).step_by(MAX_CHUNK) {
                if start > 0 && crn_cli::interrupt::requested() {
                    self.reset();
                    return Err("interrupted".into());
                }
                let end = (start + MAX_CHUNK).min(n);
                let mut slices: Vec<&mut [f32]> = y.iter_mut().map(|c| &mut c[start..end]).collect();
                self.engine.process(&mut slices);
            }
        }
        for (d, x) in self.delay.iter_mut().zip(&input) {
            d.extend(x);
        }
        let delayed: Vec<Vec<f32>> = self.delay.iter_mut().map(|d| d.drain(..n).collect()).collect();
        let y: Vec<&[f32]> = y.iter().map(Vec::as_slice).collect();
        let stem = |f: &dyn Fn(&mut [Vec<f32>])| {
            let mut out = vec![Vec::new(); y.len()];
            f(&mut out);
            out
        };
        let denoised = wants(self.stems, Stems::Denoised).then(|| stem(&|o| render::gained_into(&y, self.gain, o)));
        let removed = wants(self.stems, Stems::Removed).then(|| {
            let x: Vec<&[f32]> = delayed.iter().map(Vec::as_slice).collect();
            stem(&|o| render::removed_into(&x, &y, self.gain, o))
        });
        Ok((denoised, removed))
    }
}

/// The engine for a stream of `channels` channels at `sample_rate` (see the module's text).
#[pyclass(module = "crn_denoise._native")]
pub struct Stream {
    inner: Mutex<Inner>,
    channels: usize,
    latency: usize,
}

impl Stream {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> Result<T, String>) -> Result<T, String> {
        let mut inner = self.inner.lock().map_err(|_| "the stream failed earlier (poisoned)".to_string())?;
        f(&mut inner)
    }
}

#[pymethods]
impl Stream {
    #[new]
    #[pyo3(signature = (sample_rate, channels, settings, output, model=None))]
    fn new(py: Python<'_>, sample_rate: u32, channels: usize, settings: crate::settings::Settings, output: &str, model: Option<PathBuf>) -> PyResult<Self> {
        check_sample_rate(sample_rate).map_err(errors::value)?;
        if channels == 0 {
            return Err(errors::value("channels must be at least 1".into()));
        }
        let stems = stems(output).map_err(errors::value)?;
        let lease = py.detach(|| errors::guarded(|| Lease::take(model), errors::runtime))?;
        let engine = Engine::new(sample_rate as f32, channels, Some(lease.model()), Mode::Offline, Arc::new(Meters::default()));
        let latency = engine.latency();
        let mut inner = Inner { engine, stems, gain: 1.0, delay: vec![VecDeque::new(); channels], _lease: lease };
        inner.set(settings.0);
        inner.reset();
        Ok(Self { inner: Mutex::new(inner), channels, latency })
    }

    /// Samples of delay from input to output.
    #[getter]
    fn latency(&self) -> usize {
        self.latency
    }

    /// One block (planar float32 bytes of every channel) in, the stems of as many samples out.
    fn process<'py>(&self, py: Python<'py>, data: &[u8]) -> PyResult<StemBytes<'py>> {
        let out = signals::interruptible(py, || {
            errors::guarded(
                || {
                    let input = planar(data, self.channels)?;
                    self.with(|s| s.process(input))
                },
                errors::runtime,
            )
        })?;
        Ok(stem_bytes(py, out))
    }

    /// The last `latency` samples (silence fed in), then a reset for the next stream.
    fn flush<'py>(&self, py: Python<'py>) -> PyResult<StemBytes<'py>> {
        let out = py.detach(|| {
            errors::guarded(
                || {
                    self.with(|s| {
                        // At most a few hundred ms of silence: no chunk boundary to stop at.
                        let out = s.process(vec![vec![0.0; s.engine.latency()]; self.channels]);
                        s.reset();
                        out
                    })
                },
                errors::runtime,
            )
        })?;
        Ok(stem_bytes(py, out))
    }

    /// Forgets the stream so far (its delay line and the model's state), as if new.
    fn reset(&self) -> PyResult<()> {
        errors::guarded(
            || {
                self.with(|s| {
                    s.reset();
                    Ok(())
                })
            },
            errors::runtime,
        )
    }

    /// New settings from the next block on; the engine ramps the mix, limit and link over
    /// 20 ms, the gain changes at the block boundary.
    fn set(&self, settings: crate::settings::Settings) -> PyResult<()> {
        errors::guarded(
            || {
                self.with(|s| {
                    s.set(settings.0);
                    Ok(())
                })
            },
            errors::runtime,
        )
    }
}
