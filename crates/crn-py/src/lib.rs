//! The `crn_denoise._native` extension module: what the Python package (`python/crn_denoise`)
//! wraps. It holds no audio code of its own: arrays go through the CLI's render
//! (`crn_cli::cli::denoise_stream`), files through the CLI's pipeline (naming, formats, the
//! temporary file and rename), streams through the engine. The Python side checks dtypes and
//! shapes and moves samples as planar native-endian `float32` bytes, which the limited API
//! (abi3) can pass without numpy's C interface.
//!
//! Every entry point releases the GIL while audio is processed and turns a panic into an
//! exception: nothing may unwind into the interpreter. Whole arrays and files stop between
//! blocks on Ctrl-C (`signals`).

mod array;
mod errors;
mod file;
mod models;
mod settings;
mod signals;
mod stream;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crn_engine::engine::{defaults, Engine, LatencyMode, NO_LIMIT_DB, SAMPLE_RATES};

/// Loads ONNX Runtime from `path` (the `onnxruntime` wheel's library) unless `$CRN_ORT_LIB`
/// is set; the package calls it on import, before any model loads. False if too late.
#[pyfunction]
fn use_runtime_library(path: std::path::PathBuf) -> bool {
    crn_engine::model::use_runtime_library(&path)
}

/// The defaults and ranges of the settings, from their one home in the engine, so the
/// Python signatures show the same values as the plugin and the CLI.
fn defaults_dict<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("mix", defaults::MIX)?;
    d.set_item("atten_limit_db", defaults::ATTENUATION_LIMIT_DB)?;
    d.set_item("gain_db", defaults::OUTPUT_GAIN_DB)?;
    d.set_item("link", defaults::STEREO_LINK)?;
    d.set_item("gain_range_db", defaults::OUTPUT_GAIN_RANGE_DB)?;
    d.set_item("no_limit_db", NO_LIMIT_DB)?;
    d.set_item("sample_rates", (*SAMPLE_RATES.start(), *SAMPLE_RATES.end()))?;
    Ok(d)
}

/// The engine's latency in samples at `sample_rate`.
#[pyfunction]
fn latency(sample_rate: u32) -> PyResult<usize> {
    crn_engine::engine::check_sample_rate(sample_rate).map_err(errors::value)?;
    Ok(Engine::latency_for(sample_rate as f32, LatencyMode::Standard))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Outputs get the permissions a new file gets (0666 less the umask), as the CLI's do.
    crn_cli::interrupt::record_umask();
    m.add("DEFAULTS", defaults_dict(m.py())?)?;
    m.add_function(wrap_pyfunction!(use_runtime_library, m)?)?;
    m.add_function(wrap_pyfunction!(latency, m)?)?;
    m.add_function(wrap_pyfunction!(array::render, m)?)?;
    m.add_function(wrap_pyfunction!(file::denoise_file, m)?)?;
    m.add_function(wrap_pyfunction!(file::plan_inputs, m)?)?;
    m.add_class::<stream::Stream>()?;
    m.add_class::<settings::Settings>()?;
    Ok(())
}
