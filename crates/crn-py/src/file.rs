//! Files: the CLI's pipeline for one input, with the CLI's rules (the output named and encoded
//! as `crn-denoise IN OUT` or `crn-denoise IN -o DIR` would, no existing file replaced without
//! `force`, a temporary file renamed into place, every stem or none).

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::array::stems;
use crate::errors;
use crate::models;
use crate::settings::Settings;
use crate::signals;
use crn_cli::cli::args::{Args, Format, Stems};
use crn_engine::engine::defaults;
use crn_cli::cli::{pipeline, plan};

/// Denoises `src` into `dst` (a file, or an existing directory) or, with `out_dir`, into that
/// directory (created if missing) under the input's name. Returns the output written (with
/// `output="both"`, the denoised one; the removed stem is next to it), the seconds of audio and
/// the warnings (clipped samples).
#[pyfunction]
#[pyo3(signature = (src, dst, out_dir, settings, output, format=None, force=false, model=None))]
#[allow(clippy::too_many_arguments)]
pub fn denoise_file(
    py: Python<'_>,
    src: PathBuf,
    dst: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    settings: Settings,
    output: &str,
    format: Option<&str>,
    force: bool,
    model: Option<PathBuf>,
) -> PyResult<(PathBuf, f64, Vec<String>)> {
    let s = settings.0;
    let format = match format {
        None => None,
        Some(f) => Some(parse_format(f).map_err(errors::value)?),
    };
    let args = Args {
        mix: s.mix * 100.0,
        atten_limit: s.attenuation_limit_db,
        gain: s.output_gain_db,
        no_link: !s.stereo_link,
        model: model.clone(),
        format,
        output: stems(output).map_err(errors::value)?,
        force,
        ..cli_args(std::iter::once(src).chain(dst).collect(), out_dir)
    };
    let pool = py.detach(|| errors::guarded(|| models::pool(model), errors::runtime))?;
    signals::interruptible(py, || {
        errors::guarded(
            || {
                let (jobs, failures) = plan::jobs(&args)?;
                if let Some((path, e)) = failures.into_iter().next() {
                    return Err(format!("{}: {e}", path.display()));
                }
                let job = jobs.first().ok_or("no input")?;
                let done = pipeline::process_one(job, &args, &pool).map_err(|e| format!("{}: {e}", job.input.display()))?;
                Ok((done.output, done.seconds, done.warnings))
            },
            errors::file,
        )
    })
}

/// The CLI's options for `paths` (and `-o out_dir`) at their defaults, quiet, one job.
fn cli_args(paths: Vec<PathBuf>, out_dir: Option<PathBuf>) -> Args {
    Args {
        paths,
        out_dir,
        mix: defaults::MIX * 100.0,
        atten_limit: defaults::ATTENUATION_LIMIT_DB,
        gain: defaults::OUTPUT_GAIN_DB,
        no_link: !defaults::STEREO_LINK,
        model: None,
        format: None,
        output: Stems::Denoised,
        quiet: true,
        force: false,
        jobs: Some(1),
    }
}

/// The files `crn-denoise PATHS -o OUT_DIR` would denoise (directories expanded to the audio
/// files in them, as the CLI does), and the paths that stand for none with the reason: a
/// directory without audio, or an input whose output (named for `output` and `format`) an
/// earlier input's already is or that would write an input, as one CLI run refuses them.
/// Creates `out_dir`.
#[pyfunction]
#[pyo3(signature = (paths, out_dir, output, format=None))]
pub fn plan_inputs(paths: Vec<PathBuf>, out_dir: PathBuf, output: &str, format: Option<&str>) -> PyResult<(Vec<PathBuf>, plan::Refused)> {
    let args = Args {
        output: stems(output).map_err(errors::value)?,
        format: format.map(parse_format).transpose().map_err(errors::value)?,
        ..cli_args(paths, Some(out_dir))
    };
    let (jobs, failures) = plan::jobs_without_clashes(&args).map_err(errors::file)?;
    Ok((jobs.into_iter().map(|j| j.input).collect(), failures))
}

fn parse_format(f: &str) -> Result<Format, String> {
    use clap::ValueEnum;
    Format::from_str(f, true).map_err(|_| format!("format must be 'wav32', 'wav16', 'wav24' or 'flac', not {f:?}"))
}
