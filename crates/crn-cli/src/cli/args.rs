//! The command line: options, their ranges, and the engine settings they stand for.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crn_engine::engine::{defaults, Output, Settings, NO_LIMIT_DB};

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

#[derive(Parser, Debug, Clone)]
#[command(
    name = "crn-denoise",
    version,
    about = "Removes background noise from speech recordings (the CRN Denoise plugin's engine, offline).",
    long_about = None,
    after_help = "Examples:\n  crn-denoise noisy.wav clean.wav\n  crn-denoise --atten-limit 20 --format flac interview.mp3 interview.flac\n  crn-denoise takes/ extra.flac -o denoised/\n\n\
An existing output file is never replaced without -f/--force.\n\
--output both writes both stems or neither; the gain applies to each, and they sum to the gained input.\n\
WAV outputs past 4 GiB are RF64. 16/24-bit and FLAC outputs that clip get a warning with the count.\n\
Metadata: WAV to WAV keeps the input's bext (Broadcast WAV), iXML and LIST-INFO chunks; other WAV chunks\n\
(cue points, markers) and every tag of other inputs or outputs (FLAC/Vorbis comments, ID3, pictures) are not kept.\n\n\
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

    /// Replace output files that already exist (default: refuse, leaving them untouched)
    #[arg(short = 'f', long)]
    pub force: bool,

    /// Files processed at once [default: number of cores]
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
}

fn number(s: &str, lo: f32, hi: f32, what: &str) -> Result<f32, String> {
    let v: f32 = s.trim().trim_end_matches('%').parse().map_err(|_| format!("'{s}' is not a number"))?;
    in_range(v, lo, hi, what)
}

/// `v` if it lies in `lo..=hi` (NaN does not), else why not: the range check of every option,
/// as the CLI parses it and in [`checked_settings`].
fn in_range(v: f32, lo: f32, hi: f32, what: &str) -> Result<f32, String> {
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
        settings(self.mix / 100.0, self.atten_limit, self.gain, !self.no_link)
    }
}

/// The engine settings for the options' values, with the mix as a share (0..1).
pub fn settings(mix: f32, atten_limit_db: f32, gain_db: f32, link: bool) -> Settings {
    Settings {
        mix,
        attenuation_limit_db: atten_limit_db,
        output_gain_db: gain_db,
        stereo_link: link,
        bypass: false,
        // The pipeline forms the stems itself, before the gain (see `render::stem_settings`).
        output: Output::Denoised,
    }
}

/// [`settings`], refusing values outside the options' ranges, as the CLI's parser does: for
/// callers that take the values from elsewhere (the Python package).
pub fn checked_settings(mix: f32, atten_limit_db: f32, gain_db: f32, link: bool) -> Result<Settings, String> {
    let (lo, hi) = defaults::OUTPUT_GAIN_RANGE_DB;
    in_range(mix, 0.0, 1.0, "mix")?;
    in_range(atten_limit_db, 0.0, NO_LIMIT_DB, "attenuation limit")?;
    in_range(gain_db, lo, hi, "gain")?;
    Ok(settings(mix, atten_limit_db, gain_db, link))
}
