//! The encoder a file is written with: WAV or FLAC, fed planar pieces of `f32`.

use std::io::{BufWriter, Seek, Write};

use super::decode::SourceKind;
use super::dither::{Dither, Quantiser};
use super::flac::{flac_bits, FlacWriter};
use super::wav::{RawChunk, WavFormat, WavWriter, RIFF_LIMIT};

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

    pub fn is_wav(self) -> bool {
        !matches!(self, Encoding::Flac(_))
    }

    pub fn extension(self) -> &'static str {
        match self {
            Encoding::Flac(_) => "flac",
            _ => "wav",
        }
    }
}

/// An encoder being fed planar pieces of audio: WAV ([`WavWriter`]) or FLAC ([`FlacWriter`]),
/// both writing as they go and completing their headers at the end.
pub struct Writer<W: Write + Seek> {
    inner: Inner<W>,
    channels: usize,
    /// Interleaved samples of the current piece (reused): floats, or quantised integers.
    floats: Vec<f32>,
    ints: Vec<i32>,
}

enum Inner<W: Write + Seek> {
    WavFloat(WavWriter<BufWriter<W>>),
    WavInt(WavWriter<BufWriter<W>>, Quantiser),
    Flac(FlacWriter<BufWriter<W>>, Quantiser),
}

/// How a file is written beyond its encoding.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Integer outputs: which dither sequence (see [`Dither`]).
    pub dither: Dither,
    /// The number of frames that will be written, when known exactly beforehand: a WAV that
    /// fits in RIFF's 32-bit sizes is then plain RIFF, with no room kept for RF64.
    pub frames: Option<u64>,
    /// WAV: chunks copied into the header (metadata of a WAV input).
    pub chunks: Vec<RawChunk>,
    /// WAV: the largest RIFF size written as RIFF; beyond it the file is RF64. [`RIFF_LIMIT`]
    /// except in tests, which cross a small one.
    pub riff_limit: u64,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self { dither: Dither::Plain, frames: None, chunks: Vec::new(), riff_limit: RIFF_LIMIT }
    }
}

impl<W: Write + Seek> Writer<W> {
    pub fn new(out: W, channels: usize, sample_rate: u32, enc: Encoding) -> Result<Self, String> {
        Self::with_options(out, channels, sample_rate, enc, &WriteOptions::default())
    }

    pub fn with_options(out: W, channels: usize, sample_rate: u32, enc: Encoding, opts: &WriteOptions) -> Result<Self, String> {
        if channels == 0 || channels > u16::MAX as usize {
            return Err(format!("cannot write {channels} channels"));
        }
        let q = |bits| Quantiser::new(bits, opts.dither);
        let wav = |out: W, format| {
            WavWriter::new(BufWriter::new(out), channels, sample_rate, format, &opts.chunks, opts.frames, opts.riff_limit)
        };
        let inner = match enc {
            Encoding::WavFloat32 => Inner::WavFloat(wav(out, WavFormat::Float32)?),
            Encoding::WavPcm16 => Inner::WavInt(wav(out, WavFormat::Pcm16)?, q(16)),
            Encoding::WavPcm24 => Inner::WavInt(wav(out, WavFormat::Pcm24)?, q(24)),
            Encoding::Flac(bits) => {
                Inner::Flac(FlacWriter::new(BufWriter::new(out), channels, sample_rate, bits)?, q(bits))
            }
        };
        Ok(Self { inner, channels, floats: Vec::new(), ints: Vec::new() })
    }

    /// Appends a piece: one slice per channel, equal lengths.
    pub fn write(&mut self, piece: &[&[f32]]) -> Result<(), String> {
        if piece.len() != self.channels {
            return Err(format!("{} channels given to a {}-channel file", piece.len(), self.channels));
        }
        let frames = piece.first().map_or(0, |c| c.len());
        if let Inner::WavFloat(w) = &mut self.inner {
            self.floats.clear();
            self.floats.extend((0..frames).flat_map(|i| piece.iter().map(move |ch| ch[i])));
            return w.write_float(&self.floats);
        }
        self.ints.clear();
        match &mut self.inner {
            Inner::WavInt(w, q) => {
                self.ints.extend((0..frames).flat_map(|i| piece.iter().map(move |ch| ch[i])).map(|x| q.quantise(x)));
                w.write_int(&self.ints)
            }
            Inner::Flac(w, q) => {
                self.ints.extend((0..frames).flat_map(|i| piece.iter().map(move |ch| ch[i])).map(|x| q.quantise(x)));
                w.write_interleaved(&self.ints)
            }
            Inner::WavFloat(_) => unreachable!("handled above"),
        }
    }

    /// Samples clipped so far: beyond the range of an integer output (float holds any value).
    pub fn clipped(&self) -> u64 {
        match &self.inner {
            Inner::WavFloat(_) => 0,
            Inner::WavInt(_, q) | Inner::Flac(_, q) => q.clipped(),
        }
    }

    /// Completes the file (headers that need the length, the FLAC checksum) and flushes it.
    pub fn finish(self) -> Result<(), String> {
        match self.inner {
            Inner::WavFloat(w) | Inner::WavInt(w, _) => w.finish(),
            Inner::Flac(w, _) => w.finish(),
        }
    }
}

/// Encodes whole `channels` (planar, equal lengths) into `out`.
pub fn encode<W: Write + Seek>(out: W, channels: &[Vec<f32>], sample_rate: u32, enc: Encoding) -> Result<(), String> {
    let frames = channels.first().map_or(0, Vec::len);
    let opts = WriteOptions { frames: Some(frames as u64), ..WriteOptions::default() };
    let mut w = Writer::with_options(out, channels.len(), sample_rate, enc, &opts)?;
    let piece: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    // In pieces, so Ctrl-C is noticed in a long file.
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
