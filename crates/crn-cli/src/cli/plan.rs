//! The output plan: which input goes to which output file(s) and in what encoding: naming in a
//! directory, the removed-noise stem's name, extensions that must match the format, and the
//! outputs that may not be written (an input, another file's output, an existing file).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::args::{Args, Format, Stems};
use crate::audio_io::{self, Encoding, SourceKind};

/// File extensions taken from a directory given as input.
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave", "flac", "mp3", "ogg", "oga", "m4a", "caf", "aif", "aiff"];

/// Where one input goes.
#[derive(Clone, Debug)]
pub enum Target {
    /// `IN OUT`: this exact path.
    File(PathBuf),
    /// `-o DIR`: the input's name with the output format's extension, in this directory.
    Dir(PathBuf),
}

pub struct Job {
    pub input: PathBuf,
    pub target: Target,
}

/// Paths that stand for no job, each with the reason.
pub type Refused = Vec<(PathBuf, String)>;

/// The jobs the paths on the command line stand for, and the paths that stand for none (a
/// directory without audio files); an error for a command line that makes no sense.
pub fn jobs(args: &Args) -> Result<(Vec<Job>, Refused), String> {
    let mut failures: Refused = Vec::new();
    let jobs: Vec<Job> = match &args.out_dir {
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return Err(format!("cannot create output directory {}: {e}", dir.display()));
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
                return Err(
                    "give one input and one output (crn-denoise IN OUT), or inputs and an output directory (crn-denoise IN... -o OUTDIR)".into(),
                );
            }
            let (input, output) = (args.paths[0].clone(), args.paths[1].clone());
            if input.is_dir() {
                return Err(format!("{} is a directory: use crn-denoise DIR -o OUTDIR", input.display()));
            }
            let target = if output.is_dir() { Target::Dir(output) } else { Target::File(output) };
            vec![Job { input, target }]
        }
    };
    Ok((jobs, failures))
}

/// [`jobs`], less those whose outputs another job of the same run already names or that would
/// write an input (each refused as [`plan`] refuses it, the first in order keeping its name): the
/// CLI's rules for a run whose jobs are planned apart, one worker each (the Python package's Ray
/// runs), checked before any is handed out. Each input's header is read for its kind, which
/// picks the output's extension; an input that cannot be opened stays a job, for its worker to
/// report. Existing files are left to the workers, which must check them when they write anyway.
pub fn jobs_without_clashes(args: &Args) -> Result<(Vec<Job>, Refused), String> {
    let (jobs, mut failures) = jobs(args)?;
    let claims = Claims::new(&jobs);
    let unforced = Args { force: true, ..args.clone() };
    let mut kept = Vec::with_capacity(jobs.len());
    for job in jobs {
        let clash = match audio_io::Decoder::open(&job.input) {
            Ok(d) => plan(&job, &unforced, d.kind, &claims).err(),
            Err(_) => None,
        };
        match clash {
            Some(e) => failures.push((job.input, e)),
            None => kept.push(job),
        }
    }
    Ok((kept, failures))
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

/// The outputs of every job so far, so that no two jobs write one file and none writes an input.
pub struct Claims {
    /// Every input, canonical.
    inputs: HashSet<PathBuf>,
    /// Output (resolved) -> the input writing it.
    claimed: Mutex<HashMap<PathBuf, PathBuf>>,
}

impl Claims {
    pub fn new(jobs: &[Job]) -> Self {
        Self {
            inputs: jobs.iter().filter_map(|j| j.input.canonicalize().ok()).collect(),
            claimed: Mutex::new(HashMap::new()),
        }
    }

    fn is_input(&self, out: &Path, input: &Path) -> bool {
        self.inputs.contains(&resolved(out)) || same_file(out, input)
    }
}

/// Refuses an output that is the input before anything is read (`IN OUT` form).
pub fn check_not_input(job: &Job, claims: &Claims) -> Result<(), String> {
    if let Target::File(out) = &job.target {
        if claims.is_input(out, &job.input) {
            return Err(format!("output {} is an input file; refusing to overwrite it", out.display()));
        }
    }
    Ok(())
}

/// What one job writes: the output paths (the denoised or removed stem first, then with
/// `--output both` the removed stem) and the encoding.
pub struct Plan {
    pub outputs: Vec<PathBuf>,
    pub encoding: Encoding,
}

/// Names a job's outputs for an input of this `kind`, and claims them; refuses outputs that are
/// inputs, another job's outputs, or (without `--force`) existing files.
pub fn plan(job: &Job, args: &Args, kind: SourceKind, claims: &Claims) -> Result<Plan, String> {
    let (output, enc) = match &job.target {
        Target::File(p) => (p.clone(), encoding_for(args.format, kind, p.extension().and_then(|e| e.to_str()))),
        Target::Dir(d) => {
            let enc = encoding_for(args.format, kind, None);
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
        if claims.is_input(out, &job.input) {
            return Err(format!("output {} is an input file; refusing to overwrite it", out.display()));
        }
        let mut c = claims.claimed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(other) = c.get(&r) {
            return Err(format!("output {} is also the output of {}; skipped", out.display(), other.display()));
        }
        c.insert(r, job.input.clone());
    }
    // Checked before any work so a refusal is quick; the rename at the end checks again without
    // a race (a file that appears meanwhile is not replaced either).
    if !args.force {
        if let Some(out) = outputs.iter().find(|o| o.symlink_metadata().is_ok()) {
            return Err(exists_error(out, &job.target));
        }
    }
    Ok(Plan { outputs, encoding: enc })
}

/// The refusal to replace an existing output. In the `IN OUT` form the likely mistake is a glob
/// (`crn-denoise takes/*.wav` on a folder of two takes) that made the second take the output.
pub fn exists_error(out: &Path, target: &Target) -> String {
    let hint = match target {
        Target::File(_) => "; to denoise several files into a folder, give it with -o DIR",
        Target::Dir(_) => "",
    };
    format!("output {} already exists; not replaced (-f/--force replaces it{hint})", out.display())
}
