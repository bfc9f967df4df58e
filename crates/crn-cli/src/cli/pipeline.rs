//! The pipeline for one file: decoder -> engine (offline, as a host's bounce renders) ->
//! encoders writing temporary files -> renamed into place.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::args::{Args, Stems};
use super::plan::{self, Claims, Job};
use super::progress::Progress;
use crate::audio_io::{self, Decoder, Writer};
use crn_engine::engine::{Engine, Mode, Settings};
use crn_engine::meter::Meters;
use crn_engine::model::{self, Model};
use crn_engine::render::{self, Piece, Streamer};

/// Host block size for the offline render: the engine's largest chunk, so each model call takes
/// every frame of 8192 samples at once (17 frames at 48 kHz; `crn_engine::inline`). Another
/// block size gives the same output to float rounding.
pub const BLOCK: usize = crn_engine::engine::MAX_CHUNK;

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

    fn take(&self) -> Arc<Model> {
        if let Some(m) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            return m;
        }
        // Loaded once already, so this should not fail; if it does, share the first session.
        Self::load(self.path.as_deref()).map(Arc::new).unwrap_or_else(|_| self.first.clone())
    }

    fn give(&self, m: Arc<Model>) {
        if let Ok(mut v) = self.idle.lock() {
            v.push(m);
        }
    }
}
/// Streams `decoder` through the engine exactly as the plugin's offline bounce renders, a
/// host block at a time, into the stems asked for: `denoised` and `removed` (input minus
/// denoised), both formed before the output gain, which then applies to each (so at any gain
/// the removed stem holds only what was taken away, and the two sum to the gained input).
/// `progress` hears the frames decoded so far after each packet. Returns the seconds of audio
/// processed.
pub fn denoise_stream(
    model: Arc<Model>,
    decoder: &mut Decoder,
    settings: Settings,
    mut denoised: Option<&mut Writer<File>>,
    mut removed: Option<&mut Writer<File>>,
    progress: &mut dyn FnMut(u64),
) -> Result<f64, String> {
    let channels = decoder.channels;
    let mut engine = Engine::new(decoder.sample_rate as f32, channels, Some(model), Mode::Offline, Arc::new(Meters::default()));
    let (engine_settings, gain) = render::stem_settings(settings);
    engine.set(engine_settings);
    engine.reset();
    let mut streamer = Streamer::new(&engine, channels, BLOCK, removed.is_some());
    let mut stem: Vec<Vec<f32>> = vec![Vec::new(); channels];
    let mut sink = |piece: Piece| -> Result<(), String> {
        if let Some(w) = denoised.as_deref_mut() {
            render::gained_into(piece.output, gain, &mut stem);
            w.write(&stem.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
        }
        if let (Some(w), Some(input)) = (removed.as_deref_mut(), piece.input) {
            render::removed_into(input, piece.output, gain, &mut stem);
            w.write(&stem.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
        }
        Ok(())
    };
    let mut packet: Vec<Vec<f32>> = vec![Vec::new(); channels];
    let mut frames = 0u64;
    loop {
        if crate::interrupt::requested() {
            return Err("interrupted".into());
        }
        packet.iter_mut().for_each(Vec::clear);
        if !decoder.read(&mut packet)? {
            break;
        }
        frames += packet[0].len() as u64;
        progress(frames);
        let slices: Vec<&[f32]> = packet.iter().map(Vec::as_slice).collect();
        streamer.push(&mut engine, &slices, &mut sink)?;
    }
    streamer.finish(&mut engine, &mut sink)?;
    match engine.worker_error() {
        Some(e) => Err(format!("inference failed: {e}")),
        None => Ok(frames as f64 / decoder.sample_rate as f64),
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
        let mut denoised = None;
        let mut removed = None;
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
