//! The pipeline for one file: decoder -> engine (offline, as a host's bounce renders) ->
//! encoders writing temporary files -> renamed into place.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::args::{Args, Stems};
use super::plan::{self, Claims, Job};
use super::progress::Progress;
use super::stream::{denoise_stream, Sink};
use crate::audio_io::{self, Decoder};
use crn_engine::engine::Settings;
use crn_engine::model::{self, Model};

/// Result of one file.
pub struct Done {
    pub output: PathBuf,
    pub seconds: f64,
    /// What the user should know about the written files (samples clipped).
    pub warnings: Vec<String>,
}

/// Loaded models for the worker threads: sessions are not shared between files at the same
/// time (a session runs one inference at a time), so each concurrent file takes its own.
pub struct ModelPool {
    path: Option<PathBuf>,
    idle: Mutex<Vec<Arc<Model>>>,
    first: Arc<Model>,
}

impl ModelPool {
    fn load(path: Option<&Path>) -> Result<Model, String> {
        model::catch(|| match path {
            Some(p) => Model::from_file(p),
            None => Model::embedded(),
        })
    }

    pub fn new(path: Option<PathBuf>) -> Result<Self, String> {
        let first = Arc::new(Self::load(path.as_deref())?);
        Ok(Self { path, idle: Mutex::new(vec![first.clone()]), first })
    }

    /// A model no other file is using now; give it back with [`ModelPool::give`].
    pub fn take(&self) -> Arc<Model> {
        if let Some(m) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            return m;
        }
        // Loaded once already, so this should not fail; if it does, share the first session.
        Self::load(self.path.as_deref()).map(Arc::new).unwrap_or_else(|_| self.first.clone())
    }

    pub fn give(&self, m: Arc<Model>) {
        if let Ok(mut v) = self.idle.lock() {
            v.push(m);
        }
    }
}
/// One output file's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stem {
    Denoised,
    Removed,
}

impl Stem {
    /// The removed stem's dither is the denoised stem's negated, so the two sum to the input
    /// with the dither cancelled; `--output removed` alone writes the same file as `both` does.
    fn dither(self) -> audio_io::Dither {
        match self {
            Stem::Denoised => audio_io::Dither::Plain,
            Stem::Removed => audio_io::Dither::Negated,
        }
    }
}

/// The stems of `--output`, in the order of the plan's outputs.
fn stems(output: Stems) -> &'static [Stem] {
    match output {
        Stems::Denoised => &[Stem::Denoised],
        Stems::Removed => &[Stem::Removed],
        Stems::Both => &[Stem::Denoised, Stem::Removed],
    }
}

/// Denoises one input on its own, as the CLI would with these options: no progress shown, the
/// outputs claimed by this job alone, a panic turned into the error. What the Python package
/// runs for each file.
pub fn process_one(job: &Job, args: &Args, pool: &ModelPool) -> Result<Done, String> {
    let claims = Claims::new(std::slice::from_ref(job));
    let progress = Progress::new(1, true);
    model::catch(|| process(job, args, args.settings(), pool, &claims, &progress))
}

/// Denoises one job's input into its planned outputs: all of them or none.
pub fn process(job: &Job, args: &Args, settings: Settings, pool: &ModelPool, claims: &Claims, progress: &Progress) -> Result<Done, String> {
    plan::check_not_input(job, claims)?;
    let mut decoder = Decoder::open(&job.input)?;
    let plan::Plan { outputs, encoding: enc } = plan::plan(job, args, decoder.kind, claims)?;
    let output = outputs[0].clone();
    // WAV to WAV keeps the input's Broadcast WAV, iXML and INFO chunks (none for other inputs).
    let chunks = if enc.is_wav() { audio_io::riff::metadata_chunks(&job.input)? } else { Vec::new() };
    // The temporary files exist from here on, so an unwritable directory fails before the
    // work; they are removed again unless everything succeeds.
    let (rate, channels) = (decoder.sample_rate, decoder.channels);
    let mut files = Vec::new();
    for (o, stem) in outputs.iter().zip(stems(args.output)) {
        let pending = audio_io::PendingFile::create(o)?;
        // The output has exactly the input's length, so a WAV is RF64 only if it must be.
        let opts = audio_io::WriteOptions {
            dither: stem.dither(),
            frames: decoder.exact_frames(),
            chunks: chunks.clone(),
            ..Default::default()
        };
        let writer = pending.writer_with(channels, rate, enc, &opts)?;
        files.push((pending, writer, stem));
    }
    let model = pool.take();
    let result = {
        let mut denoised: Option<&mut dyn Sink> = None;
        let mut removed: Option<&mut dyn Sink> = None;
        for (_, w, stem) in files.iter_mut() {
            *match stem {
                Stem::Denoised => &mut denoised,
                Stem::Removed => &mut removed,
            } = Some(w);
        }
        let mut bar = progress.file(&job.input, decoder.stated_frames(), rate);
        denoise_stream(model.clone(), &mut decoder, settings, denoised, removed, &mut |f| bar.update(f))
    };
    pool.give(model);
    let seconds = result?;
    let warnings = outputs
        .iter()
        .zip(&files)
        .filter(|(_, (_, w, _))| w.clipped() > 0)
        .map(|(o, (_, w, _))| {
            let share = w.clipped() as f64 / (seconds * rate as f64 * channels as f64).max(1.0) * 100.0;
            format!(
                "{}: {} samples clipped ({share:.3} % of them); lower --gain, or write float WAV (--format wav32)",
                o.display(),
                w.clipped()
            )
        })
        .collect();
    let files = files.into_iter().map(|(p, w, _)| (p, w)).collect();
    audio_io::commit(files, args.force).map_err(|e| match e {
        audio_io::FinishError::Exists(p) => plan::exists_error(&p, &job.target),
        audio_io::FinishError::Other(e) => e,
    })?;
    Ok(Done { output, seconds, warnings })
}
