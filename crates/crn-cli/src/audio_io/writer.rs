//! The encoder a file is written with: WAV or FLAC, fed planar pieces of `f32`.

use std::io::{BufWriter, Seek, Write};

use super::decode::SourceKind;
use super::dither::{Dither, Quantiser};
use super::flac::{flac_bits, FlacWriter};

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

/// How a file is written beyond its encoding.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// Integer outputs: which dither sequence (see [`Dither`]).
    pub dither: Dither,
}

impl<W: Write + Seek> Writer<W> {
    pub fn new(out: W, channels: usize, sample_rate: u32, enc: Encoding) -> Result<Self, String> {
        Self::with_options(out, channels, sample_rate, enc, &WriteOptions::default())
    }

    pub fn with_options(out: W, channels: usize, sample_rate: u32, enc: Encoding, opts: &WriteOptions) -> Result<Self, String> {
        let q = |bits| Quantiser::new(bits, opts.dither);
        if channels == 0 || channels > u16::MAX as usize {
            return Err(format!("cannot write {channels} channels"));
        }
        let wav = |out: W, bits: u16, format| {
            let spec = hound::WavSpec { channels: channels as u16, sample_rate, bits_per_sample: bits, sample_format: format };
            hound::WavWriter::new(BufWriter::new(out), spec).map_err(|e| format!("cannot write WAV: {e}"))
        };
        let inner = match enc {
            Encoding::WavFloat32 => Inner::WavFloat(wav(out, 32, hound::SampleFormat::Float)?),
            Encoding::WavPcm16 => Inner::WavInt(wav(out, 16, hound::SampleFormat::Int)?, q(16)),
            Encoding::WavPcm24 => Inner::WavInt(wav(out, 24, hound::SampleFormat::Int)?, q(24)),
            Encoding::Flac(bits) => {
                Inner::Flac(FlacWriter::new(BufWriter::new(out), channels, sample_rate, bits)?, q(bits))
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
