//! Audio files for the command-line tool: any WAV, FLAC, MP3 or Ogg Vorbis in (through
//! symphonia) as planar `f32`; WAV (float 32, PCM 16, PCM 24, through hound) or FLAC (16 or
//! 24 bit, through flacenc) out. Every failure is an error message, never a panic.

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::Path;

use symphonia::core::audio::{AudioBuffer, Signal};
use symphonia::core::codecs::{self, CodecType, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// How the input stored its samples; picks the default output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// Float WAV (32 or 64 bit), unusual integer PCM depths, anything else lossless.
    Float,
    /// Integer PCM of this many bits (16 or 24).
    Pcm(u32),
    /// FLAC of this many bits per sample.
    Flac(u32),
    /// MP3, Vorbis and other lossy codecs.
    Lossy,
}

/// A decoded file: one `Vec` per channel, all of the same length.
#[derive(Clone, Debug)]
pub struct Audio {
    pub channels: Vec<Vec<f32>>,
    pub sample_rate: u32,
    pub kind: SourceKind,
}

impl Audio {
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    pub fn seconds(&self) -> f64 {
        self.frames() as f64 / self.sample_rate.max(1) as f64
    }
}

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    WavFloat32,
    WavPcm16,
    WavPcm24,
    /// FLAC with 16 or 24 bits per sample.
    Flac(u32),
}

impl Encoding {
    /// The same kind of file as the input: float stays float, 16 / 24-bit PCM keeps its depth,
    /// FLAC stays FLAC, lossy inputs become float WAV.
    pub fn like(kind: SourceKind) -> Self {
        match kind {
            SourceKind::Pcm(16) => Encoding::WavPcm16,
            SourceKind::Pcm(24) => Encoding::WavPcm24,
            SourceKind::Flac(bits) => Encoding::Flac(flac_bits(bits)),
            _ => Encoding::WavFloat32,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Encoding::Flac(_) => "flac",
            _ => "wav",
        }
    }
}

/// FLAC output depth for a source depth: 16 for up to 16 bits, 24 above (flacenc's maximum).
pub fn flac_bits(source_bits: u32) -> u32 {
    if source_bits <= 16 {
        16
    } else {
        24
    }
}

/// Decodes a whole file. Errors: unreadable, unsupported, corrupt, truncated.
pub fn decode(path: &Path) -> Result<Audio, String> {
    // Demuxers can panic on absurd headers (a zero sample rate, say): that is a corrupt file.
    crate::model::catch(|| decode_unguarded(path)).map_err(|e| match e.strip_prefix("internal error: ") {
        Some(why) => format!("corrupt file ({why})"),
        None => e,
    })
}

fn decode_unguarded(path: &Path) -> Result<Audio, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    match file.metadata() {
        Ok(m) if m.is_dir() => return Err("is a directory".into()),
        Ok(m) if m.len() == 0 => return Err("empty file (no audio)".into()),
        _ => {}
    }
    let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let fmt_opts = FormatOptions { enable_gapless: true, ..Default::default() };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &fmt_opts, &MetadataOptions::default())
        .map_err(|e| match e {
            SymError::Unsupported(_) => "unsupported or unrecognised format".to_string(),
            SymError::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                "unsupported format, or file too short".to_string()
            }
            e => format!("cannot read: {e}"),
        })?;
    let mut reader = probed.format;
    let track = reader
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != codecs::CODEC_TYPE_NULL)
        .ok_or("no audio track")?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let kind = source_kind(params.codec, params.bits_per_sample);
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| format!("unsupported codec: {e}"))?;

    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut rate = params.sample_rate.unwrap_or(0);
    let mut buf: Option<AudioBuffer<f32>> = None;
    let mut bad_packets = 0usize;
    let mut good_packets = 0usize;
    loop {
        let packet = match reader.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => return Err("stream changes format midway (unsupported)".into()),
            Err(e) => return Err(format!("corrupt data: {e}")),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // Lossy streams often carry a damaged frame or two; skip them.
            Err(SymError::DecodeError(_)) if kind == SourceKind::Lossy => {
                bad_packets += 1;
                continue;
            }
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(format!("corrupt data: {e}")),
        };
        good_packets += 1;
        let spec = *decoded.spec();
        let n = spec.channels.count();
        if n == 0 {
            return Err("stream has no channels".into());
        }
        if channels.is_empty() {
            channels = vec![Vec::new(); n];
            rate = spec.rate;
        } else if n != channels.len() || spec.rate != rate {
            return Err("channel count or sample rate changes midway (unsupported)".into());
        }
        let frames = decoded.frames();
        let b = match &mut buf {
            Some(b) if b.capacity() >= decoded.capacity() && *b.spec() == spec => b,
            _ => buf.insert(AudioBuffer::new(decoded.capacity() as u64, spec)),
        };
        decoded.convert(b);
        for (ch, out) in channels.iter_mut().enumerate() {
            out.extend_from_slice(&b.chan(ch)[..frames]);
        }
    }
    if good_packets == 0 && bad_packets > 0 {
        return Err("corrupt data: no frame could be decoded".into());
    }
    let frames = channels.first().map_or(0, Vec::len);
    if frames == 0 {
        return Err("no audio".into());
    }
    if rate == 0 {
        return Err("unknown sample rate".into());
    }
    // Lossless containers state their length; fewer frames means the file was cut short, and
    // more (a padded last FLAC frame) are not part of the signal.
    if kind != SourceKind::Lossy {
        if let Some(expected) = params.n_frames.filter(|&n| n > 0) {
            if (frames as u64) < expected {
                return Err(format!("truncated: {frames} of {expected} frames present"));
            }
            for ch in &mut channels {
                ch.truncate(expected as usize);
            }
        }
    }
    Ok(Audio { channels, sample_rate: rate, kind })
}

fn source_kind(codec: CodecType, bits: Option<u32>) -> SourceKind {
    use symphonia::core::codecs::*;
    match codec {
        CODEC_TYPE_FLAC => SourceKind::Flac(bits.unwrap_or(16)),
        CODEC_TYPE_PCM_S16LE | CODEC_TYPE_PCM_S16BE => SourceKind::Pcm(16),
        CODEC_TYPE_PCM_S24LE | CODEC_TYPE_PCM_S24BE => SourceKind::Pcm(24),
        CODEC_TYPE_MP1 | CODEC_TYPE_MP2 | CODEC_TYPE_MP3 | CODEC_TYPE_VORBIS | CODEC_TYPE_AAC | CODEC_TYPE_OPUS => {
            SourceKind::Lossy
        }
        _ => SourceKind::Float,
    }
}

/// Float to integer of `bits`: rounded and clipped, with TPDF dither at 16 bits.
///
/// Re-quantising to 16 bits without dither turns quiet passages (a denoised noise floor, a
/// fade) into distortion correlated with the signal; triangular dither of +-1 LSB makes the
/// error a constant, signal-independent hiss instead. 24 bits needs none (its error is below
/// any converter's noise).
struct Quantiser {
    bits: u32,
    /// xorshift state; a fixed seed so a file encodes the same way every time (and 16-bit WAV
    /// and FLAC of the same audio hold the same samples).
    rng: u64,
}

impl Quantiser {
    fn new(bits: u32) -> Self {
        Self { bits, rng: 0x9e37_79b9_7f4a_7c15 }
    }

    fn uniform(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    fn quantise(&mut self, x: f32) -> i32 {
        let scale = (1i64 << (self.bits - 1)) as f64;
        let max = ((1i64 << (self.bits - 1)) - 1) as f64;
        let dither = if self.bits <= 16 { self.uniform() - self.uniform() } else { 0.0 };
        let v = (x as f64 * scale + dither).round();
        if v.is_nan() {
            0
        } else {
            v.clamp(-max - 1.0, max) as i32
        }
    }
}

/// Set by the CLI's Ctrl-C handler: encoding stops and the temporary file is removed.
pub fn interrupted() -> bool {
    crate::interrupt::requested()
}

fn check_interrupt(i: usize) -> Result<(), String> {
    if i % 65536 == 0 && interrupted() {
        return Err("interrupted".into());
    }
    Ok(())
}

/// Encodes `channels` (planar, equal lengths) into `out`.
pub fn encode<W: Write + Seek>(out: W, channels: &[Vec<f32>], sample_rate: u32, enc: Encoding) -> Result<(), String> {
    let nch = channels.len();
    let frames = channels.first().map_or(0, Vec::len);
    if nch == 0 || nch > u16::MAX as usize {
        return Err(format!("cannot write {nch} channels"));
    }
    match enc {
        Encoding::Flac(bits) => encode_flac(out, channels, sample_rate, bits),
        _ => {
            let (bits, format) = match enc {
                Encoding::WavPcm16 => (16, hound::SampleFormat::Int),
                Encoding::WavPcm24 => (24, hound::SampleFormat::Int),
                _ => (32, hound::SampleFormat::Float),
            };
            let spec = hound::WavSpec { channels: nch as u16, sample_rate, bits_per_sample: bits, sample_format: format };
            let err = |e: hound::Error| format!("cannot write WAV: {e}");
            let mut w = hound::WavWriter::new(BufWriter::new(out), spec).map_err(err)?;
            let mut q = Quantiser::new(bits as u32);
            for i in 0..frames {
                check_interrupt(i)?;
                for ch in channels {
                    match format {
                        hound::SampleFormat::Float => w.write_sample(ch[i]),
                        hound::SampleFormat::Int => w.write_sample(q.quantise(ch[i])),
                    }
                    .map_err(err)?;
                }
            }
            w.finalize().map_err(err)
        }
    }
}

fn encode_flac<W: Write>(mut out: W, channels: &[Vec<f32>], sample_rate: u32, bits: u32) -> Result<(), String> {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;
    use flacenc::source::Fill;

    let nch = channels.len();
    if nch > 8 {
        return Err(format!("FLAC holds at most 8 channels, not {nch}"));
    }
    if !(16..=24).contains(&bits) {
        return Err(format!("FLAC at {bits} bits is not supported"));
    }
    let frames = channels.first().map_or(0, Vec::len);
    let mut interleaved = Vec::with_capacity(frames * nch);
    let mut q = Quantiser::new(bits);
    for i in 0..frames {
        check_interrupt(i)?;
        for ch in channels {
            interleaved.push(q.quantise(ch[i]));
        }
    }
    let bs = flac_block_size(frames).ok_or("too short for FLAC (under 64 samples)")?;
    let mut config = flacenc::config::Encoder::default();
    // Files are already encoded in parallel; one thread each.
    config.multithread = false;
    config.block_size = bs;
    let config = config.into_verified().map_err(|(_, e)| format!("FLAC encoder config: {e}"))?;
    let err = |e: &dyn std::fmt::Debug| format!("cannot encode FLAC: {e:?}");
    // Frame by frame rather than `encode_with_fixed_block_size`, which pads the last frame to
    // the full block size with stale samples (decoders that ignore the total length play them).
    let base = flacenc::component::StreamInfo::new(sample_rate as usize, nch, bits as usize).map_err(|e| err(&e))?;
    let mut info = base.clone();
    let mut md5 = flacenc::source::Context::new(bits as usize, nch, bs);
    let mut frames_out = Vec::with_capacity(frames / bs + 1);
    for (n, chunk) in interleaved.chunks(bs * nch).enumerate() {
        let mut fb = flacenc::source::FrameBuf::with_size(nch, chunk.len() / nch).map_err(|e| err(&e))?;
        fb.fill_interleaved(chunk).map_err(|e| err(&e))?;
        md5.fill_interleaved(chunk).map_err(|e| err(&e))?;
        let frame = flacenc::encode_fixed_size_frame(&config, &fb, n, &base).map_err(|e| err(&e))?;
        info.update_frame_info(&frame);
        frames_out.push(frame);
    }
    info.set_md5_digest(&md5.md5_digest());
    info.set_total_samples(frames);
    // STREAMINFO's minimum excludes the last block.
    info.set_block_sizes(bs, bs).map_err(|e| err(&e))?;
    // The header (fLaC and STREAMINFO), then the frames.
    let mut sink = flacenc::bitsink::ByteSink::new();
    flacenc::component::Stream::with_stream_info(info).write(&mut sink).map_err(|e| err(&e))?;
    for f in &frames_out {
        f.write(&mut sink).map_err(|e| err(&e))?;
    }
    out.write_all(sink.as_slice()).map_err(|e| format!("cannot write FLAC: {e}"))?;
    out.flush().map_err(|e| format!("cannot write FLAC: {e}"))
}

/// A fixed FLAC block size near 4096 whose last, shorter block still has the 64 samples
/// flacenc needs; `None` below 64 samples.
fn flac_block_size(frames: usize) -> Option<usize> {
    const MIN: usize = flacenc::constant::MIN_BLOCK_SIZE;
    if frames < MIN {
        return None;
    }
    if frames <= 4096 {
        return Some(frames);
    }
    (MIN..=4096).rev().find(|bs| frames % bs == 0 || frames % bs >= MIN)
}

/// An output being written: a temporary file beside its final name (so an interrupted run never
/// leaves a partial file under that name), renamed into place by [`PendingFile::finish`].
/// Dropped unfinished (an error, or Ctrl-C, which the CLI turns into an error) it is removed.
pub struct PendingFile {
    tmp: tempfile::NamedTempFile,
    path: std::path::PathBuf,
}

impl PendingFile {
    /// Creates the temporary file now, so an unwritable directory fails before any work.
    pub fn create(path: &Path) -> Result<Self, String> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".crn-denoise-")
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(|e| format!("cannot create a file in {}: {e}", dir.display()))?;
        Ok(Self { tmp, path: path.to_path_buf() })
    }

    pub fn finish(mut self, channels: &[Vec<f32>], sample_rate: u32, enc: Encoding) -> Result<(), String> {
        encode(self.tmp.as_file_mut(), channels, sample_rate, enc)?;
        self.tmp.as_file().sync_all().map_err(|e| format!("cannot write: {e}"))?;
        // Temporary files are private (0600); an output gets what a new file gets: 0666 less
        // the umask, as `cp` or a shell redirection would give it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = 0o666 & !crate::interrupt::umask();
            let _ = self.tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode));
        }
        self.tmp.persist(&self.path).map_err(|e| format!("cannot write {}: {}", self.path.display(), e.error))?;
        Ok(())
    }
}

/// Writes `channels` to `path` through a [`PendingFile`].
pub fn write_file(path: &Path, channels: &[Vec<f32>], sample_rate: u32, enc: Encoding) -> Result<(), String> {
    PendingFile::create(path)?.finish(channels, sample_rate, enc)
}
