//! The user's settings, checked once against the CLI's ranges, as every entry point takes them.

use pyo3::prelude::*;

use crate::errors;
use crn_cli::cli::args::checked_settings;

/// Mix (0..1), attenuation limit and gain in dB, stereo link: checked on construction.
#[pyclass(module = "crn_denoise._native", frozen, from_py_object)]
#[derive(Clone, Copy)]
pub struct Settings(pub crn_engine::engine::Settings);

#[pymethods]
impl Settings {
    #[new]
    fn new(mix: f32, atten_limit_db: f32, gain_db: f32, link: bool) -> PyResult<Self> {
        checked_settings(mix, atten_limit_db, gain_db, link).map(Settings).map_err(errors::value)
    }
}
