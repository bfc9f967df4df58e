//! Decoding any WAV, FLAC, MP3 or Ogg Vorbis (through symphonia) into planar `f32`, a packet at
//! a time. Every failure is an error message, never a panic.

use std::fs::File;
use std::path::Path;

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
    /// Frames the container states, lossy or not: what progress is measured against.
    stated: Option<u64>,
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

    /// The number of frames [`Decoder::read`] delivers, where the container states it for a
    /// lossless stream: exactly these or an error (a lossy stream's stated length is an estimate).
    pub fn exact_frames(&self) -> Option<u64> {
        self.expected
    }

    /// The length the container states (for a lossy stream, an estimate), for progress.
    pub fn stated_frames(&self) -> Option<u64> {
        self.stated
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
            stated: params.n_frames.filter(|&n| n > 0),
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
