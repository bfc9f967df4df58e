//! Arrays in memory: planar `float32` bytes from Python to channels and back, and the render of
//! a whole array, which is the CLI's render of a file (`denoise_stream`) with the array as its
//! source and memory as its sinks, so both give the same samples.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors;
use crate::models::Lease;
use crate::settings::Settings;
use crate::signals;
use crn_cli::cli::args::Stems;
use crn_cli::cli::{denoise_stream, Sink, Source};

/// The two stems, `(denoised, removed)`, each only if asked for: one buffer per channel.
pub type Stems2 = (Option<Vec<Vec<f32>>>, Option<Vec<Vec<f32>>>);
/// The same as planar bytes for Python.
pub type StemBytes<'py> = (Option<Bound<'py, PyBytes>>, Option<Bound<'py, PyBytes>>);

/// `bytes` (native-endian `float32`, channel after channel) as `channels` buffers.
pub fn planar(bytes: &[u8], channels: usize) -> Result<Vec<Vec<f32>>, String> {
    if channels == 0 || !bytes.len().is_multiple_of(4 * channels) {
        return Err(format!("{} bytes are not {channels} channel(s) of float32", bytes.len()));
    }
    let samples: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])).collect();
    let len = samples.len() / channels;
    Ok((0..channels).map(|c| samples[c * len..(c + 1) * len].to_vec()).collect())
}

/// Channels back as planar native-endian `float32` bytes.
pub fn to_bytes<'py>(py: Python<'py>, channels: &[Vec<f32>]) -> Bound<'py, PyBytes> {
    let bytes: Vec<u8> = channels.iter().flatten().flat_map(|x| x.to_ne_bytes()).collect();
    PyBytes::new(py, &bytes)
}

/// Which stems `output` ("denoised", "removed" or "both") asks for, by the CLI's names.
pub fn stems(output: &str) -> Result<Stems, String> {
    use clap::ValueEnum;
    Stems::from_str(output, false).map_err(|_| format!("output must be 'denoised', 'removed' or 'both', not {output:?}"))
}

/// Whether `asked` (the `output` argument) includes the stem `stem`.
pub fn wants(asked: Stems, stem: Stems) -> bool {
    asked == stem || asked == Stems::Both
}

/// An array as a [`Source`], handed out in pieces as a decoder hands out packets: the render
/// is then the CLI's render of a file holding these samples.
struct Memory {
    channels: Vec<Vec<f32>>,
    rate: u32,
    pos: usize,
}

/// Samples handed to the render at a time (any size gives the same output).
const PIECE: usize = 4096;

impl Source for Memory {
    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn channels(&self) -> usize {
        self.channels.len()
    }

    fn read(&mut self, out: &mut [Vec<f32>]) -> Result<bool, String> {
        let len = self.channels.first().map_or(0, Vec::len);
        if self.pos >= len {
            return Ok(false);
        }
        let end = (self.pos + PIECE).min(len);
        for (o, c) in out.iter_mut().zip(&self.channels) {
            o.extend_from_slice(&c[self.pos..end]);
        }
        self.pos = end;
        Ok(true)
    }
}

/// Denoises a whole array: `data` holds `channels` planar channels at `sample_rate`. Returns
/// the stems asked for (the other `None`), each as long as the input, as planar bytes.
#[pyfunction]
#[pyo3(signature = (data, channels, sample_rate, settings, output, model=None))]
pub fn render<'py>(
    py: Python<'py>,
    data: &[u8],
    channels: usize,
    sample_rate: u32,
    settings: Settings,
    output: &str,
    model: Option<PathBuf>,
) -> PyResult<StemBytes<'py>> {
    let settings = settings.0;
    let stems = stems(output).map_err(errors::value)?;
    // Checked here as well as by the render, so a bad rate is a ValueError, not a failed render.
    crn_engine::engine::check_sample_rate(sample_rate).map_err(errors::value)?;
    let lease = py.detach(|| errors::guarded(|| Lease::take(model), errors::runtime))?;
    let (denoised, removed) = signals::interruptible(py, || {
        errors::guarded(
            || {
                let mut source = Memory { channels: planar(data, channels)?, rate: sample_rate, pos: 0 };
                let want = |s: Stems| wants(stems, s).then(|| vec![Vec::new(); channels]);
                let (mut denoised, mut removed) = (want(Stems::Denoised), want(Stems::Removed));
                denoise_stream(
                    lease.model(),
                    &mut source,
                    settings,
                    denoised.as_mut().map(|d| d as &mut dyn Sink),
                    removed.as_mut().map(|r| r as &mut dyn Sink),
                    &mut |_| {},
                )?;
                Ok((denoised, removed))
            },
            errors::runtime,
        )
    })?;
    Ok(stem_bytes(py, (denoised, removed)))
}

/// Both stems as bytes for Python.
pub fn stem_bytes<'py>(py: Python<'py>, (d, r): Stems2) -> StemBytes<'py> {
    (d.map(|d| to_bytes(py, &d)), r.map(|r| to_bytes(py, &r)))
}
