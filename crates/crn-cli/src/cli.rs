//! The `crn-denoise` command: files in, denoised files out, through exactly the plugin's
//! engine in offline mode (what a host's bounce renders).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::audio_io::{self, Decoder, Encoding, SourceKind, Writer};
use crn_engine::engine::{defaults, Engine, Mode, Output, Settings, NO_LIMIT_DB};
use crn_engine::meter::Meters;
use crn_engine::model::{self, Model};
use crn_engine::render::{self, Piece, Streamer};

/// Host block size for the offline render; the output does not depend on it.
pub const BLOCK: usize = 512;

/// File extensions taken from a directory given as input.
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave", "flac", "mp3", "ogg", "oga", "m4a", "caf", "aif", "aiff"];

/// Exit status when some file failed (the others were still written).
pub const EXIT_FILE_FAILED: i32 = 1;
/// Exit status for usage errors and a model (or ONNX Runtime) that cannot be loaded.
pub const EXIT_SETUP: i32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// WAV, 32-bit float
    Wav32,
    /// WAV, 16-bit PCM
    Wav16,
    /// WAV, 24-bit PCM
    Wav24,
    /// FLAC, 16 or 24 bit (24 for float or lossy inputs)
    Flac,
}

/// Which stems to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Stems {
    /// The denoised signal
    Denoised,
    /// The removed noise alone: input minus denoised, so the two sum to the input
    Removed,
    /// Both in one pass: OUT, and the removed noise next to it as NAME.removed.EXT
    Both,
}

#[derive(Parser, Debug)]
#[command(
    name = "crn-denoise",
    version,
    about = "Removes background noise from speech recordings (the CRN Denoise plugin's engine, offline).",
    long_about = None,
    after_help = "Examples:\n  crn-denoise noisy.wav clean.wav\n  crn-denoise --atten-limit 20 --format flac interview.mp3 interview.flac\n  crn-denoise takes/ extra.flac -o denoised/\n\n\
Exit status: 0 all files written, 1 some file failed (the others are still written), 2 usage or model error."
)]
pub struct Args {
    /// Input file and output file (`IN OUT`), or with -o: input files and/or directories
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// Output directory for many inputs (created if missing); outputs keep the input names
    #[arg(short = 'o', long = "out-dir", value_name = "OUTDIR")]
    pub out_dir: Option<PathBuf>,

    /// Wet share in percent (0 = dry input, latency-aligned)
    #[arg(long, value_name = "PERCENT", default_value_t = defaults::MIX * 100.0, value_parser = percent)]
    pub mix: f32,

    /// Largest reduction of any frequency in dB (0 = no change, 100 = no limit)
    #[arg(long = "atten-limit", value_name = "DB", default_value_t = defaults::ATTENUATION_LIMIT_DB, value_parser = atten_db)]
    pub atten_limit: f32,

    /// Output gain in dB (-24 to +24, as in the plugin)
    #[arg(long, value_name = "DB", default_value_t = defaults::OUTPUT_GAIN_DB, value_parser = gain_db, allow_hyphen_values = true)]
    pub gain: f32,

    /// Process channels independently (default: one gain for all channels, image kept)
    #[arg(long = "no-link")]
    pub no_link: bool,

    /// Another ONNX model with the same contract (default: the built-in model)
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,

    /// Output format [default: like the input: float WAV, 16/24-bit WAV and FLAC keep
    /// theirs; MP3/Ogg become float WAV; with IN OUT, an OUT ending in .flac means FLAC]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,

    /// What to write: the denoised signal, the removed noise, or both stems in one pass
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = Stems::Denoised)]
    pub output: Stems,

    /// No progress bar and no list of written files (errors are still shown)
    #[arg(short, long)]
    pub quiet: bool,

    /// Files processed at once [default: number of cores]
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
}

fn number(s: &str, lo: f32, hi: f32, what: &str) -> Result<f32, String> {
    let v: f32 = s.trim().trim_end_matches('%').parse().map_err(|_| format!("'{s}' is not a number"))?;
    if !(lo..=hi).contains(&v) {
        return Err(format!("{what} must be between {lo} and {hi}"));
    }
    Ok(v)
}

fn percent(s: &str) -> Result<f32, String> {
    number(s, 0.0, 100.0, "mix")
}

fn atten_db(s: &str) -> Result<f32, String> {
    number(s, 0.0, NO_LIMIT_DB, "attenuation limit")
}

fn gain_db(s: &str) -> Result<f32, String> {
    let (lo, hi) = defaults::OUTPUT_GAIN_RANGE_DB;
    number(s, lo, hi, "gain")
}

impl Args {
    /// The engine settings these options stand for.
    pub fn settings(&self) -> Settings {
        Settings {
            mix: self.mix / 100.0,
            attenuation_limit_db: self.atten_limit,
            output_gain_db: self.gain,
            stereo_link: !self.no_link,
            bypass: false,
            output: if self.output == Stems::Removed { Output::Removed } else { Output::Denoised },
        }
    }
}

/// Where one input goes.
#[derive(Clone, Debug)]
enum Target {
    /// `IN OUT`: this exact path.
    File(PathBuf),
    /// `-o DIR`: the input's name with the output format's extension, in this directory.
    Dir(PathBuf),
}

struct Job {
    input: PathBuf,
    target: Target,
}

/// Result of one file.
struct Done {
    output: PathBuf,
    seconds: f64,
}

/// Loaded models for the worker threads: sessions are not shared between files at the same
/// time (a session runs one inference at a time), so each concurrent file takes its own.
struct ModelPool {
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

    fn new(path: Option<PathBuf>) -> Result<Self, String> {
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

/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Streams `decoder` through the engine exactly as the plugin's offline bounce renders, a
/// host block at a time, into `denoised` and, if given, the removed-noise stem `removed`.
/// Returns the seconds of audio processed.
pub fn denoise_stream(
    model: Arc<Model>,
    decoder: &mut Decoder,
    settings: Settings,
    denoised: &mut Writer<File>,
    mut removed: Option<&mut Writer<File>>,
) -> Result<f64, String> {
    let channels = decoder.channels;
    let mut engine = Engine::new(decoder.sample_rate as f32, channels, Some(model), Mode::Offline, Arc::new(Meters::default()));
    engine.set(settings);
    engine.reset();
    let mut streamer = Streamer::new(&engine, channels, BLOCK, removed.is_some());
    let mut removed_buf: Vec<Vec<f32>> = vec![Vec::new(); channels];
    let mut sink = |piece: Piece| -> Result<(), String> {
        denoised.write(piece.output)?;
        if let (Some(w), Some(input)) = (removed.as_deref_mut(), piece.input) {
            render::removed_into(input, piece.output, &mut removed_buf);
            let slices: Vec<&[f32]> = removed_buf.iter().map(Vec::as_slice).collect();
            w.write(&slices)?;
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
        let slices: Vec<&[f32]> = packet.iter().map(Vec::as_slice).collect();
        streamer.push(&mut engine, &slices, &mut sink)?;
    }
    streamer.finish(&mut engine, &mut sink)?;
    match engine.worker_error() {
        Some(e) => Err(format!("inference failed: {e}")),
        None => Ok(frames as f64 / decoder.sample_rate as f64),
    }
}

/// Parses the command line, runs, and returns the exit status.
pub fn main() -> i32 {
    // Panics are caught per file and reported as that file's error; the default hook's
    // message would only repeat it (set RUST_BACKTRACE to see it).
    if std::env::var_os("RUST_BACKTRACE").is_none() {
        std::panic::set_hook(Box::new(|_| {}));
    }
    crate::interrupt::install();
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_SETUP } else { 0 };
        }
    };
    run(args)
}

fn setup_error(msg: impl std::fmt::Display) -> i32 {
    eprintln!("crn-denoise: {msg}");
    EXIT_SETUP
}

pub fn run(args: Args) -> i32 {
    let mut failures: Vec<(PathBuf, String)> = Vec::new();
    let jobs: Vec<Job> = match &args.out_dir {
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return setup_error(format_args!("cannot create output directory {}: {e}", dir.display()));
            }
            let mut jobs = Vec::new();
            for p in &args.paths {
                if p.is_dir() {
                    let files = audio_files_in(p);
                    match files {
                        Ok(f) if f.is_empty() => failures.push((p.clone(), "no audio files in this directory".into())),
                        Ok(f) => jobs.extend(f.into_iter().map(|input| Job { input, target: Target::Dir(dir.clone()) })),
                        Err(e) => failures.push((p.clone(), format!("cannot list directory: {e}"))),
                    }
                } else {
                    jobs.push(Job { input: p.clone(), target: Target::Dir(dir.clone()) });
                }
            }
            jobs
        }
        None => {
            if args.paths.len() != 2 {
                return setup_error(
                    "give one input and one output (crn-denoise IN OUT), or inputs and an output directory (crn-denoise IN... -o OUTDIR)",
                );
            }
            let (input, output) = (args.paths[0].clone(), args.paths[1].clone());
            if input.is_dir() {
                return setup_error(format_args!("{} is a directory: use crn-denoise DIR -o OUTDIR", input.display()));
            }
            let target = if output.is_dir() { Target::Dir(output) } else { Target::File(output) };
            vec![Job { input, target }]
        }
    };

    let pool = match ModelPool::new(args.model.clone()) {
        Ok(p) => Arc::new(p),
        Err(e) => return setup_error(format_args!("cannot load the model: {e}")),
    };

    let threads = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let threads = threads.min(jobs.len().max(1));
    let thread_pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(p) => p,
        Err(e) => return setup_error(format_args!("cannot start worker threads: {e}")),
    };

    // Every input, so that no output can land on any of them.
    let inputs: HashSet<PathBuf> = jobs.iter().filter_map(|j| j.input.canonicalize().ok()).collect();
    let claimed: Mutex<HashMap<PathBuf, PathBuf>> = Mutex::new(HashMap::new());

    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(jobs.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let start = Instant::now();
    let audio_seconds = Mutex::new(0.0f64);
    let settings = args.settings();

    let results: Vec<Result<Done, String>> = thread_pool.install(|| {
        jobs.par_iter()
            .map(|job| {
                let r = model::catch(|| process(job, &args, settings, &pool, &inputs, &claimed));
                if let Ok(d) = &r {
                    let mut s = audio_seconds.lock().unwrap_or_else(|p| p.into_inner());
                    *s += d.seconds;
                    let rtf = *s / start.elapsed().as_secs_f64().max(1e-6);
                    bar.set_message(format!("{rtf:.0}x realtime"));
                }
                bar.inc(1);
                r
            })
            .collect()
    });
    bar.finish_and_clear();

    for (job, r) in jobs.iter().zip(&results) {
        match r {
            Ok(d) if !args.quiet => println!("{} -> {}", job.input.display(), d.output.display()),
            Ok(_) => {}
            Err(e) => failures.push((job.input.clone(), e.clone())),
        }
    }
    if !args.quiet && results.iter().any(Result::is_ok) {
        let secs = *audio_seconds.lock().unwrap_or_else(|p| p.into_inner());
        let wall = start.elapsed().as_secs_f64().max(1e-6);
        let ok = results.iter().filter(|r| r.is_ok()).count();
        eprintln!("crn-denoise: {ok} file(s), {secs:.1} s of audio in {wall:.1} s ({:.0}x realtime)", secs / wall);
    }
    if crate::interrupt::requested() {
        eprintln!("crn-denoise: interrupted; unfinished outputs removed");
        return EXIT_INTERRUPTED;
    }
    for (path, e) in &failures {
        eprintln!("crn-denoise: {}: {e}", path.display());
    }
    if failures.is_empty() {
        0
    } else {
        EXIT_FILE_FAILED
    }
}

fn audio_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// FLAC depth for an input: its own when it is 16 or 24-bit integer, else 24.
fn flac_bits_for(kind: SourceKind) -> u32 {
    match kind {
        SourceKind::Pcm(b) | SourceKind::Flac(b) => audio_io::flac_bits(b),
        _ => 24,
    }
}

fn encoding_for(format: Option<Format>, kind: SourceKind, out_ext: Option<&str>) -> Encoding {
    match format {
        Some(Format::Wav32) => Encoding::WavFloat32,
        Some(Format::Wav16) => Encoding::WavPcm16,
        Some(Format::Wav24) => Encoding::WavPcm24,
        Some(Format::Flac) => Encoding::Flac(flac_bits_for(kind)),
        None => match out_ext.map(str::to_ascii_lowercase).as_deref() {
            Some("flac") => Encoding::Flac(flac_bits_for(kind)),
            Some("wav") | Some("wave") => match kind {
                SourceKind::Flac(b) if b <= 16 => Encoding::WavPcm16,
                SourceKind::Flac(_) => Encoding::WavPcm24,
                k => Encoding::like(k),
            },
            _ => Encoding::like(kind),
        },
    }
}

/// The path `p` names once written: canonical directory plus file name.
fn resolved(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    let name = p.file_name().map(PathBuf::from).unwrap_or_default();
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.canonicalize().unwrap_or_else(|_| d.to_path_buf()).join(name),
        _ => std::env::current_dir().map(|d| d.join(&name)).unwrap_or(name),
    }
}

#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &Path, _: &Path) -> bool {
    false
}

/// The output's name in a directory: the input's file name with its last extension (only)
/// replaced, so `2024.01.05 meeting.wav` stays `2024.01.05 meeting.wav` and `take.v1.wav` and
/// `take.v2.wav` stay apart.
pub fn output_name(input: &Path, ext: &str) -> Option<PathBuf> {
    let stem = input.file_stem()?;
    let mut name = stem.to_os_string();
    name.push(".");
    name.push(ext);
    Some(PathBuf::from(name))
}

/// Where the removed-noise stem goes next to `output`: `NAME.removed.EXT`.
pub fn removed_path(output: &Path) -> PathBuf {
    let ext = output.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = output.file_stem().map(|s| s.to_os_string()).unwrap_or_default();
    let mut name = stem;
    name.push(".removed");
    if !ext.is_empty() {
        name.push(".");
        name.push(ext);
    }
    output.with_file_name(name)
}

/// An explicit output extension must be the format written: WAV bytes under `.mp3` would
/// mislead every player and tool.
fn check_extension(output: &Path, enc: Encoding) -> Result<(), String> {
    let Some(ext) = output.extension().and_then(|e| e.to_str()) else { return Ok(()) };
    let ext = ext.to_ascii_lowercase();
    let ok = match enc {
        Encoding::Flac(_) => ext == "flac",
        _ => ext == "wav" || ext == "wave",
    };
    if ok {
        Ok(())
    } else {
        let written = if matches!(enc, Encoding::Flac(_)) { "FLAC" } else { "WAV" };
        Err(format!(
            "output {} ends in .{ext}, but {written} would be written (crn-denoise writes WAV or FLAC: name it .{} or pick --format)",
            output.display(),
            enc.extension()
        ))
    }
}

fn process(
    job: &Job,
    args: &Args,
    settings: Settings,
    pool: &ModelPool,
    inputs: &HashSet<PathBuf>,
    claimed: &Mutex<HashMap<PathBuf, PathBuf>>,
) -> Result<Done, String> {
    // Refuse an output that is the input before reading anything (`IN OUT` form).
    if let Target::File(out) = &job.target {
        let r = resolved(out);
        if inputs.contains(&r) || same_file(out, &job.input) {
            return Err(format!("output {} is an input file; refusing to overwrite it", out.display()));
        }
    }
    let mut decoder = Decoder::open(&job.input)?;
    let (output, enc) = match &job.target {
        Target::File(p) => (p.clone(), encoding_for(args.format, decoder.kind, p.extension().and_then(|e| e.to_str()))),
        Target::Dir(d) => {
            let enc = encoding_for(args.format, decoder.kind, None);
            (d.join(output_name(&job.input, enc.extension()).ok_or("input has no file name")?), enc)
        }
    };
    check_extension(&output, enc)?;
    let mut outputs = vec![output.clone()];
    if args.output == Stems::Both {
        outputs.push(removed_path(&output));
    }
    for out in &outputs {
        let r = resolved(out);
        if inputs.contains(&r) || same_file(out, &job.input) {
            return Err(format!("output {} is an input file; refusing to overwrite it", out.display()));
        }
        let mut c = claimed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(other) = c.get(&r) {
            return Err(format!("output {} is also the output of {}; skipped", out.display(), other.display()));
        }
        c.insert(r, job.input.clone());
    }
    // The temporary files exist from here on, so an unwritable directory fails before the
    // work; they are removed again unless everything succeeds.
    let (rate, channels) = (decoder.sample_rate, decoder.channels);
    let mut files = Vec::new();
    for o in &outputs {
        let pending = audio_io::PendingFile::create(o)?;
        let writer = pending.writer(channels, rate, enc)?;
        files.push((pending, writer));
    }
    let model = pool.take();
    let result = {
        let mut writers = files.iter_mut().map(|(_, w)| w);
        let denoised = writers.next().ok_or("no output")?;
        denoise_stream(model.clone(), &mut decoder, settings, denoised, writers.next())
    };
    pool.give(model);
    let seconds = result?;
    for (pending, writer) in files {
        pending.finish(writer)?;
    }
    Ok(Done { output, seconds })
}
