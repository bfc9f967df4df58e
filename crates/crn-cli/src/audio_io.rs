//! Audio files for the command-line tool: any WAV, FLAC, MP3 or Ogg Vorbis in (through
//! symphonia) as planar `f32`; WAV (float 32, PCM 16, PCM 24, through hound) or FLAC (16 or
//! 24 bit, through flacenc) out. Every failure is an error message, never a panic.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use md5::Digest;
use symphonia::core::audio::{AudioBuffer, Signal};
use symphonia::core::codecs::{self, CodecType, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
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

/// A file being decoded, a packet at a time: what the CLI streams through the engine, so a
/// file of any length takes bounded memory. Errors: unreadable, unsupported, corrupt, truncated
/// (found at the end, for a lossless file shorter than its header says).
pub struct Decoder {
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn codecs::Decoder>,
    track_id: u32,
    pub sample_rate: u32,
    pub channels: usize,
    pub kind: SourceKind,
    /// Frames the lossless container says it holds; the decoder keeps to exactly these.
    expected: Option<u64>,
    delivered: u64,
    /// The last decoded packet, one buffer per channel.
    packet: Vec<Vec<f32>>,
    /// `packet` holds the first packet, decoded by `open` to learn the layout, not handed out.
    first_pending: bool,
    buf: Option<AudioBuffer<f32>>,
    bad_packets: usize,
    ended: bool,
}

/// Decodes a whole file into memory (tests and small tools; the CLI streams with [`Decoder`]).
pub fn decode(path: &Path) -> Result<Audio, String> {
    let mut d = Decoder::open(path)?;
    let mut channels = vec![Vec::new(); d.channels];
    while d.read(&mut channels)? {}
    Ok(Audio { channels, sample_rate: d.sample_rate, kind: d.kind })
}

/// Demuxers can panic on absurd headers (a zero sample rate, say): that is a corrupt file.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    crn_engine::model::catch(f).map_err(|e| match e.strip_prefix("internal error: ") {
        Some(why) => format!("corrupt file ({why})"),
        None => e,
    })
}

impl Decoder {
    /// Opens `path` and decodes its first packet, so the rate and channel count are known.
    pub fn open(path: &Path) -> Result<Self, String> {
        guarded(|| Self::open_unguarded(path))
    }

    /// Appends the next packet's samples to `out` (one buffer per channel); false once the
    /// stream has ended and nothing was appended.
    pub fn read(&mut self, out: &mut [Vec<f32>]) -> Result<bool, String> {
        if out.len() != self.channels {
            return Err(format!("{} output buffers for {} channels", out.len(), self.channels));
        }
        let more = std::mem::take(&mut self.first_pending) || guarded(|| self.next_packet())?;
        if more {
            for (o, p) in out.iter_mut().zip(&self.packet) {
                o.extend_from_slice(p);
            }
        }
        Ok(more)
    }

    fn open_unguarded(path: &Path) -> Result<Self, String> {
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
        let reader = probed.format;
        let track = reader
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != codecs::CODEC_TYPE_NULL)
            .ok_or("no audio track")?;
        let track_id = track.id;
        let params = track.codec_params.clone();
        let kind = source_kind(params.codec, params.bits_per_sample);
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| format!("unsupported codec: {e}"))?;
        // Lossless containers state their length; fewer frames means the file was cut short,
        // and more (a padded last FLAC frame) are not part of the signal.
        let expected = params.n_frames.filter(|&n| n > 0 && kind != SourceKind::Lossy);
        let mut d = Self {
            reader,
            decoder,
            track_id,
            sample_rate: params.sample_rate.unwrap_or(0),
            channels: 0,
            kind,
            expected,
            delivered: 0,
            packet: Vec::new(),
            first_pending: false,
            buf: None,
            bad_packets: 0,
            ended: false,
        };
        if !d.next_packet()? {
            return Err(if d.bad_packets > 0 { "corrupt data: no frame could be decoded".into() } else { "no audio".into() });
        }
        if d.sample_rate == 0 {
            return Err("unknown sample rate".into());
        }
        d.first_pending = true;
        Ok(d)
    }

    /// Decodes packets until one yields samples, into `self.packet`.
    fn next_packet(&mut self) -> Result<bool, String> {
        while !self.ended {
            let packet = match self.reader.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.ended = true;
                    break;
                }
                Err(SymError::ResetRequired) => return Err("stream changes format midway (unsupported)".into()),
                Err(e) => return Err(format!("corrupt data: {e}")),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                // Lossy streams often carry a damaged frame or two; skip them.
                Err(SymError::DecodeError(_)) if self.kind == SourceKind::Lossy => {
                    self.bad_packets += 1;
                    continue;
                }
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.ended = true;
                    break;
                }
                Err(e) => return Err(format!("corrupt data: {e}")),
            };
            let spec = *decoded.spec();
            let n = spec.channels.count();
            if n == 0 {
                return Err("stream has no channels".into());
            }
            if self.channels == 0 {
                self.channels = n;
                self.sample_rate = spec.rate;
            } else if n != self.channels || spec.rate != self.sample_rate {
                return Err("channel count or sample rate changes midway (unsupported)".into());
            }
            if self.packet.len() != n {
                self.packet = vec![Vec::new(); n];
            }
            let mut frames = decoded.frames();
            if let Some(expected) = self.expected {
                frames = frames.min(expected.saturating_sub(self.delivered) as usize);
            }
            if frames == 0 {
                continue;
            }
            let b = match &mut self.buf {
                Some(b) if b.capacity() >= decoded.capacity() && *b.spec() == spec => b,
                _ => self.buf.insert(AudioBuffer::new(decoded.capacity() as u64, spec)),
            };
            decoded.convert(b);
            for (ch, p) in self.packet.iter_mut().enumerate() {
                p.clear();
                p.extend_from_slice(&b.chan(ch)[..frames]);
            }
            self.delivered += frames as u64;
            return Ok(true);
        }
        if let Some(expected) = self.expected {
            if self.delivered > 0 && self.delivered < expected {
                return Err(format!("truncated: {} of {expected} frames present", self.delivered));
            }
        }
        Ok(false)
    }
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

/// An encoder being fed planar pieces of audio: WAV (hound writes as it goes and fixes the
/// header up at the end) or FLAC ([`FlacWriter`]).
pub struct Writer<W: Write + Seek> {
    inner: Inner<W>,
    channels: usize,
    /// Interleaved, quantised samples of the current piece (reused).
    scratch: Vec<i32>,
}

enum Inner<W: Write + Seek> {
    WavFloat(hound::WavWriter<BufWriter<W>>),
    WavInt(hound::WavWriter<BufWriter<W>>, Quantiser),
    Flac(FlacWriter<BufWriter<W>>, Quantiser),
}

impl<W: Write + Seek> Writer<W> {
    pub fn new(out: W, channels: usize, sample_rate: u32, enc: Encoding) -> Result<Self, String> {
        if channels == 0 || channels > u16::MAX as usize {
            return Err(format!("cannot write {channels} channels"));
        }
        let wav = |out: W, bits: u16, format| {
            let spec = hound::WavSpec { channels: channels as u16, sample_rate, bits_per_sample: bits, sample_format: format };
            hound::WavWriter::new(BufWriter::new(out), spec).map_err(|e| format!("cannot write WAV: {e}"))
        };
        let inner = match enc {
            Encoding::WavFloat32 => Inner::WavFloat(wav(out, 32, hound::SampleFormat::Float)?),
            Encoding::WavPcm16 => Inner::WavInt(wav(out, 16, hound::SampleFormat::Int)?, Quantiser::new(16)),
            Encoding::WavPcm24 => Inner::WavInt(wav(out, 24, hound::SampleFormat::Int)?, Quantiser::new(24)),
            Encoding::Flac(bits) => {
                Inner::Flac(FlacWriter::new(BufWriter::new(out), channels, sample_rate, bits)?, Quantiser::new(bits))
            }
        };
        Ok(Self { inner, channels, scratch: Vec::new() })
    }

    /// Appends a piece: one slice per channel, equal lengths.
    pub fn write(&mut self, piece: &[&[f32]]) -> Result<(), String> {
        if piece.len() != self.channels {
            return Err(format!("{} channels given to a {}-channel file", piece.len(), self.channels));
        }
        let frames = piece.first().map_or(0, |c| c.len());
        let wav_err = |e: hound::Error| format!("cannot write WAV: {e}");
        match &mut self.inner {
            Inner::WavFloat(w) => {
                for i in 0..frames {
                    for ch in piece {
                        w.write_sample(ch[i]).map_err(wav_err)?;
                    }
                }
            }
            Inner::WavInt(w, q) => {
                for i in 0..frames {
                    for ch in piece {
                        w.write_sample(q.quantise(ch[i])).map_err(wav_err)?;
                    }
                }
            }
            Inner::Flac(w, q) => {
                self.scratch.clear();
                for i in 0..frames {
                    for ch in piece {
                        self.scratch.push(q.quantise(ch[i]));
                    }
                }
                w.write_interleaved(&self.scratch)?;
            }
        }
        Ok(())
    }

    /// Completes the file (headers that need the length, the FLAC checksum) and flushes it.
    pub fn finish(self) -> Result<(), String> {
        match self.inner {
            Inner::WavFloat(w) | Inner::WavInt(w, _) => w.finalize().map_err(|e| format!("cannot write WAV: {e}")),
            Inner::Flac(w, _) => w.finish(),
        }
    }
}

/// Encodes whole `channels` (planar, equal lengths) into `out`.
pub fn encode<W: Write + Seek>(out: W, channels: &[Vec<f32>], sample_rate: u32, enc: Encoding) -> Result<(), String> {
    let mut w = Writer::new(out, channels.len(), sample_rate, enc)?;
    let piece: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    // In pieces, so Ctrl-C is noticed in a long file.
    let frames = channels.first().map_or(0, Vec::len);
    for start in (0..frames).step_by(1 << 16) {
        if crate::interrupt::requested() {
            return Err("interrupted".into());
        }
        let end = (start + (1 << 16)).min(frames);
        let part: Vec<&[f32]> = piece.iter().map(|c| &c[start..end]).collect();
        w.write(&part)?;
    }
    w.finish()
}

/// FLAC written as it comes: fixed blocks of [`FLAC_BLOCK`] samples encoded by flacenc as
/// each fills, a placeholder STREAMINFO first and the real one (length, frame sizes, MD5)
/// written over it at the end. A last block under flacenc's 64-sample minimum is stored
/// verbatim, a frame this module writes itself.
pub struct FlacWriter<W: Write + Seek> {
    out: W,
    /// Where the stream (its `fLaC` marker) starts, for rewriting STREAMINFO.
    start: u64,
    header_len: usize,
    config: flacenc::error::Verified<flacenc::config::Encoder>,
    info: flacenc::component::StreamInfo,
    /// MD5 of the samples as FLAC defines it: interleaved, little-endian, bytes per sample.
    md5: md5::Md5,
    channels: usize,
    bits: u32,
    /// Interleaved samples of the block being filled.
    block: Vec<i32>,
    frame_number: usize,
    total: usize,
    frame_bytes: (usize, usize),
}

/// FLAC block size (samples per channel), the reference encoder's default.
pub const FLAC_BLOCK: usize = 4096;

impl<W: Write + Seek> FlacWriter<W> {
    pub fn new(mut out: W, channels: usize, sample_rate: u32, bits: u32) -> Result<Self, String> {
        use flacenc::error::Verify;
        if channels > 8 {
            return Err(format!("FLAC holds at most 8 channels, not {channels}"));
        }
        if !(16..=24).contains(&bits) {
            return Err(format!("FLAC at {bits} bits is not supported"));
        }
        let err = |e: &dyn std::fmt::Debug| format!("cannot encode FLAC: {e:?}");
        let mut config = flacenc::config::Encoder::default();
        // Files are already encoded in parallel; one thread each.
        config.multithread = false;
        config.block_size = FLAC_BLOCK;
        let config = config.into_verified().map_err(|(_, e)| format!("FLAC encoder config: {e}"))?;
        let info = flacenc::component::StreamInfo::new(sample_rate as usize, channels, bits as usize).map_err(|e| err(&e))?;
        let start = out.stream_position().map_err(|e| format!("cannot write FLAC: {e}"))?;
        let header = Self::header(&info)?;
        out.write_all(&header).map_err(|e| format!("cannot write FLAC: {e}"))?;
        Ok(Self {
            out,
            start,
            header_len: header.len(),
            config,
            md5: md5::Md5::new(),
            info,
            channels,
            bits,
            block: Vec::with_capacity(FLAC_BLOCK * channels),
            frame_number: 0,
            total: 0,
            frame_bytes: (usize::MAX, 0),
        })
    }

    /// `fLaC` and the STREAMINFO block.
    fn header(info: &flacenc::component::StreamInfo) -> Result<Vec<u8>, String> {
        use flacenc::component::BitRepr;
        let mut sink = flacenc::bitsink::ByteSink::new();
        flacenc::component::Stream::with_stream_info(info.clone())
            .write(&mut sink)
            .map_err(|e| format!("cannot encode FLAC: {e:?}"))?;
        Ok(sink.into_inner())
    }

    pub fn write_interleaved(&mut self, samples: &[i32]) -> Result<(), String> {
        let full = FLAC_BLOCK * self.channels;
        let mut rest = samples;
        while !rest.is_empty() {
            let n = (full - self.block.len()).min(rest.len());
            self.block.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.block.len() == full {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    fn flush_block(&mut self) -> Result<(), String> {
        use flacenc::component::BitRepr;
        use flacenc::source::Fill;
        let err = |e: &dyn std::fmt::Debug| format!("cannot encode FLAC: {e:?}");
        let frames = self.block.len() / self.channels;
        if frames == 0 {
            return Ok(());
        }
        let bytes_per_sample = (self.bits / 8) as usize;
        for v in &self.block {
            self.md5.update(&v.to_le_bytes()[..bytes_per_sample]);
        }
        let bytes = if frames >= flacenc::constant::MIN_BLOCK_SIZE {
            let mut fb = flacenc::source::FrameBuf::with_size(self.channels, frames).map_err(|e| err(&e))?;
            fb.fill_interleaved(&self.block).map_err(|e| err(&e))?;
            let frame = flacenc::encode_fixed_size_frame(&self.config, &fb, self.frame_number, &self.info)
                .map_err(|e| err(&e))?;
            let mut sink = flacenc::bitsink::ByteSink::new();
            frame.write(&mut sink).map_err(|e| err(&e))?;
            sink.into_inner()
        } else {
            verbatim_frame(&self.block, self.channels, self.bits, self.frame_number)
        };
        self.out.write_all(&bytes).map_err(|e| format!("cannot write FLAC: {e}"))?;
        self.frame_bytes = (self.frame_bytes.0.min(bytes.len()), self.frame_bytes.1.max(bytes.len()));
        self.total += frames;
        self.frame_number += 1;
        self.block.clear();
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Debug| format!("cannot encode FLAC: {e:?}");
        self.flush_block()?;
        if self.total == 0 {
            return Err("no audio to write".into());
        }
        let mut info = self.info.clone();
        info.set_md5_digest(&self.md5.clone().finalize().into());
        info.set_total_samples(self.total);
        // Fixed-size blocking: every block but the last is FLAC_BLOCK (STREAMINFO's minimum
        // excludes the last block).
        info.set_block_sizes(FLAC_BLOCK, FLAC_BLOCK).map_err(|e| err(&e))?;
        info.set_frame_sizes(self.frame_bytes.0, self.frame_bytes.1).map_err(|e| err(&e))?;
        let header = Self::header(&info)?;
        debug_assert_eq!(header.len(), self.header_len);
        let io = |e: std::io::Error| format!("cannot write FLAC: {e}");
        let end = self.out.stream_position().map_err(io)?;
        self.out.seek(SeekFrom::Start(self.start)).map_err(io)?;
        self.out.write_all(&header).map_err(io)?;
        self.out.seek(SeekFrom::Start(end)).map_err(io)?;
        self.out.flush().map_err(io)
    }
}

/// A FLAC frame of verbatim subframes (fixed-blocksize numbering, rate and depth from
/// STREAMINFO's values coded in the header): for a last block shorter than flacenc encodes.
fn verbatim_frame(interleaved: &[i32], channels: usize, bits: u32, frame_number: usize) -> Vec<u8> {
    let frames = interleaved.len() / channels;
    debug_assert!((1..=256).contains(&frames));
    let mut f = vec![0xFF, 0xF8];
    // Block size: 8 bits of (size - 1) after the header's number; rate: from STREAMINFO.
    f.push(0x60);
    let depth: u8 = if bits == 16 { 0b100 } else { 0b110 };
    f.push((((channels - 1) as u8) << 4) | (depth << 1));
    utf8_number(frame_number as u64, &mut f);
    f.push((frames - 1) as u8);
    f.push(crc8(&f));
    let bytes = (bits / 8) as usize;
    for ch in 0..channels {
        // Zero pad bit, type 000001 (verbatim), no wasted bits.
        f.push(0x02);
        for i in 0..frames {
            let v = interleaved[i * channels + ch].to_be_bytes();
            f.extend_from_slice(&v[4 - bytes..]);
        }
    }
    let crc = crc16(&f);
    f.extend_from_slice(&crc.to_be_bytes());
    f
}

/// FLAC's "UTF-8" coding of a frame number.
fn utf8_number(n: u64, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
        return;
    }
    let mut len = 2;
    while len < 7 && n >= 1u64 << (5 * len + 1) {
        len += 1;
    }
    let lead_bits = 7 - len;
    let first = (0xFFu8 << (8 - len)) | ((n >> (6 * (len - 1))) as u8 & ((1u8 << lead_bits) - 1));
    out.push(first);
    for k in (0..len - 1).rev() {
        out.push(0x80 | ((n >> (6 * k)) & 0x3F) as u8);
    }
}

fn crc8(data: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in data {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 { (crc << 1) ^ 0x07 } else { crc << 1 };
        }
    }
    crc
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x8005 } else { crc << 1 };
        }
    }
    crc
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

    /// Starts the encoder on the temporary file.
    pub fn writer(&self, channels: usize, sample_rate: u32, enc: Encoding) -> Result<Writer<File>, String> {
        let file = self.tmp.as_file().try_clone().map_err(|e| format!("cannot write: {e}"))?;
        Writer::new(file, channels, sample_rate, enc)
    }

    /// Completes `writer`'s file and moves it to its final name.
    pub fn finish(self, writer: Writer<File>) -> Result<(), String> {
        writer.finish()?;
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

/// Writes whole `channels` to `path` through a [`PendingFile`].
pub fn write_file(path: &Path, channels: &[Vec<f32>], sample_rate: u32, enc: Encoding) -> Result<(), String> {
    let pending = PendingFile::create(path)?;
    let mut w = pending.writer(channels.len(), sample_rate, enc)?;
    let piece: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    w.write(&piece)?;
    pending.finish(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FLAC numbers frames with UTF-8's byte patterns; where those are characters, std agrees.
    #[test]
    fn frame_numbers_are_utf8_coded() {
        for n in (0u32..0x11_0000).step_by(7).chain([0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x1_0000]) {
            let Some(c) = char::from_u32(n) else { continue };
            let mut ours = Vec::new();
            utf8_number(n as u64, &mut ours);
            assert_eq!(ours, c.to_string().into_bytes(), "{n:#x}");
        }
        // Beyond characters: 31 bits in 6 bytes.
        let mut v = Vec::new();
        utf8_number((1 << 31) - 1, &mut v);
        assert_eq!(v, [0xFD, 0xBF, 0xBF, 0xBF, 0xBF, 0xBF]);
    }

    #[test]
    fn crcs_match_flac_check_values() {
        // CRC-8 (poly 0x07) and CRC-16/UMTS (poly 0x8005, FLAC's), of "123456789".
        assert_eq!(crc8(b"123456789"), 0xF4);
        assert_eq!(crc16(b"123456789"), 0xFEE8);
    }
}
