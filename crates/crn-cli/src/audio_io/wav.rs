//! WAV written as it streams: a header with placeholder sizes, the samples, and the sizes filled
//! in at the end.
//!
//! RIFF counts sizes in 32 bits, so data past 4 GiB cannot be described by it (hound, used before,
//! wrapped its `u32` count and wrote a corrupt file). A file that may pass the limit reserves room
//! for RF64's `ds64` chunk as a `JUNK` chunk right after `WAVE` (the usual way, EBU Tech 3306 and
//! its successor BW64); if the data did pass it, [`WavWriter::finish`] turns the header into RF64:
//! `RF64`, `ds64` with the 64-bit sizes, and 0xFFFFFFFF in the 32-bit fields. A file whose length
//! is known and fits is plain RIFF, byte for byte what hound wrote (plus the pad byte RIFF wants
//! after odd-sized data, which hound left out).

use std::io::{Seek, SeekFrom, Write};

/// The largest value a RIFF size field holds; files whose RIFF size would pass it become RF64.
pub const RIFF_LIMIT: u64 = u32::MAX as u64;

/// Sample formats the CLI writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavFormat {
    Float32,
    Pcm16,
    Pcm24,
}

impl WavFormat {
    pub fn bytes(self) -> usize {
        match self {
            WavFormat::Pcm16 => 2,
            WavFormat::Pcm24 => 3,
            WavFormat::Float32 => 4,
        }
    }
}

/// A chunk copied into the header as it is (`bext`, `iXML`, `LIST`): its id and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawChunk {
    pub id: [u8; 4],
    pub body: Vec<u8>,
}

/// `JUNK` (later `ds64`) body: RIFF size, data size, sample count (u64 each), table length (u32).
const DS64_BODY: usize = 28;
const KSDATAFORMAT_SUBTYPE_PCM: [u8; 16] = [1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71];
const KSDATAFORMAT_SUBTYPE_IEEE_FLOAT: [u8; 16] = [3, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71];

pub struct WavWriter<W: Write + Seek> {
    out: W,
    /// Where the file starts in `out`.
    start: u64,
    format: WavFormat,
    channels: usize,
    /// The largest RIFF size written as RIFF: [`RIFF_LIMIT`], smaller in tests.
    limit: u64,
    /// Offset (from `start`) of the reserved `JUNK` chunk, when the file may need RF64.
    junk_at: Option<u64>,
    /// Offset of the data chunk's size field; the samples follow it.
    data_size_at: u64,
    data_bytes: u64,
    /// Interleaved sample bytes of the current piece (reused).
    bytes: Vec<u8>,
}

fn chunk_header(id: &[u8; 4], len: u32) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[..4].copy_from_slice(id);
    h[4..].copy_from_slice(&len.to_le_bytes());
    h
}

impl<W: Write + Seek> WavWriter<W> {
    /// Writes the header. `frames`, when the length is known exactly beforehand, lets a file that
    /// fits be plain RIFF; otherwise room for RF64 is reserved. `limit` is [`RIFF_LIMIT`] except in
    /// tests, which set it small to cross it without writing 4 GiB.
    pub fn new(
        mut out: W,
        channels: usize,
        sample_rate: u32,
        format: WavFormat,
        chunks: &[RawChunk],
        frames: Option<u64>,
        limit: u64,
    ) -> Result<Self, String> {
        let io = |e: std::io::Error| format!("cannot write WAV: {e}");
        if channels == 0 || channels > u16::MAX as usize {
            return Err(format!("cannot write {channels} channels"));
        }
        let block_align = (channels * format.bytes()) as u64;
        let byte_rate = sample_rate as u64 * block_align;
        if block_align > u16::MAX as u64 || byte_rate > u32::MAX as u64 {
            return Err(format!("WAV cannot hold {channels} channels at {sample_rate} Hz"));
        }
        let fmt = fmt_body(channels as u16, sample_rate, format, byte_rate as u32, block_align as u16);
        let mut header = Vec::with_capacity(128);
        header.extend_from_slice(b"RIFF\0\0\0\0WAVE");
        // RIFF size of everything but the samples (and their pad byte).
        let mut fixed = 4 + 8 + fmt.len() as u64 + 8;
        for c in chunks {
            fixed += 8 + padded(c.body.len() as u64);
        }
        let fits = frames.is_some_and(|f| fixed + padded(f * block_align) <= limit);
        let junk_at = if fits {
            None
        } else {
            let at = header.len() as u64;
            header.extend_from_slice(&chunk_header(b"JUNK", DS64_BODY as u32));
            header.extend_from_slice(&[0; DS64_BODY]);
            Some(at)
        };
        header.extend_from_slice(&chunk_header(b"fmt ", fmt.len() as u32));
        header.extend_from_slice(&fmt);
        for c in chunks {
            let len = u32::try_from(c.body.len()).map_err(|_| "metadata chunk too large".to_string())?;
            header.extend_from_slice(&chunk_header(&c.id, len));
            header.extend_from_slice(&c.body);
            if c.body.len() % 2 == 1 {
                header.push(0);
            }
        }
        header.extend_from_slice(b"data");
        let data_size_at = header.len() as u64;
        header.extend_from_slice(&[0; 4]);
        let start = out.stream_position().map_err(io)?;
        out.write_all(&header).map_err(io)?;
        Ok(Self { out, start, format, channels, limit, junk_at, data_size_at, data_bytes: 0, bytes: Vec::new() })
    }

    /// Appends interleaved float samples (float files only).
    pub fn write_float(&mut self, samples: &[f32]) -> Result<(), String> {
        debug_assert_eq!(self.format, WavFormat::Float32);
        self.bytes.clear();
        self.bytes.extend(samples.iter().flat_map(|x| x.to_le_bytes()));
        self.flush_bytes()
    }

    /// Appends interleaved integer samples, already quantised to the file's depth.
    pub fn write_int(&mut self, samples: &[i32]) -> Result<(), String> {
        let n = self.format.bytes();
        debug_assert!(n < 4);
        self.bytes.clear();
        for v in samples {
            self.bytes.extend_from_slice(&v.to_le_bytes()[..n]);
        }
        self.flush_bytes()
    }

    fn flush_bytes(&mut self) -> Result<(), String> {
        self.out.write_all(&self.bytes).map_err(|e| format!("cannot write WAV: {e}"))?;
        self.data_bytes += self.bytes.len() as u64;
        Ok(())
    }

    /// The RIFF size of the file as written so far (past the limit, it must be RF64).
    fn riff_size(&self) -> u64 {
        self.data_size_at + 4 - 8 + padded(self.data_bytes)
    }

    /// Pads odd-sized data, fills in the sizes (converting to RF64 if the data passed the
    /// limit) and flushes. A file that cannot be described is an error, never written wrong.
    pub fn finish(mut self) -> Result<(), String> {
        let io = |e: std::io::Error| format!("cannot write WAV: {e}");
        if self.data_bytes % 2 == 1 {
            self.out.write_all(&[0]).map_err(io)?;
        }
        let end = self.out.stream_position().map_err(io)?;
        let riff_size = self.riff_size();
        let (riff_field, data_field) = if riff_size <= self.limit {
            (riff_size as u32, self.data_bytes as u32)
        } else {
            // Only reachable with a length stated beforehand that was wrong: RF64 needs the room
            // reserved at the start.
            let Some(junk_at) = self.junk_at else {
                return Err("more audio than the input stated: the WAV cannot be completed".into());
            };
            let frames = self.data_bytes / (self.channels * self.format.bytes()) as u64;
            let mut ds64 = Vec::with_capacity(8 + DS64_BODY);
            ds64.extend_from_slice(&chunk_header(b"ds64", DS64_BODY as u32));
            ds64.extend_from_slice(&riff_size.to_le_bytes());
            ds64.extend_from_slice(&self.data_bytes.to_le_bytes());
            ds64.extend_from_slice(&frames.to_le_bytes());
            ds64.extend_from_slice(&0u32.to_le_bytes());
            self.out.seek(SeekFrom::Start(self.start)).map_err(io)?;
            self.out.write_all(b"RF64").map_err(io)?;
            self.out.seek(SeekFrom::Start(self.start + junk_at)).map_err(io)?;
            self.out.write_all(&ds64).map_err(io)?;
            (u32::MAX, u32::MAX)
        };
        self.out.seek(SeekFrom::Start(self.start + 4)).map_err(io)?;
        self.out.write_all(&riff_field.to_le_bytes()).map_err(io)?;
        self.out.seek(SeekFrom::Start(self.start + self.data_size_at)).map_err(io)?;
        self.out.write_all(&data_field.to_le_bytes()).map_err(io)?;
        self.out.seek(SeekFrom::Start(end)).map_err(io)?;
        self.out.flush().map_err(io)
    }
}

/// RIFF chunks are padded to an even size.
fn padded(n: u64) -> u64 {
    n + n % 2
}

/// The `fmt ` body: PCMWAVEFORMAT for up to two channels of up to 16 bits, else
/// WAVE_FORMAT_EXTENSIBLE (which more channels or bits require), as hound chose.
fn fmt_body(channels: u16, rate: u32, format: WavFormat, byte_rate: u32, block_align: u16) -> Vec<u8> {
    let bits = (format.bytes() * 8) as u16;
    let mut f = Vec::with_capacity(40);
    let extensible = channels > 2 || bits > 16;
    let tag: u16 = if extensible {
        0xfffe
    } else if format == WavFormat::Float32 {
        3
    } else {
        1
    };
    f.extend_from_slice(&tag.to_le_bytes());
    f.extend_from_slice(&channels.to_le_bytes());
    f.extend_from_slice(&rate.to_le_bytes());
    f.extend_from_slice(&byte_rate.to_le_bytes());
    f.extend_from_slice(&block_align.to_le_bytes());
    f.extend_from_slice(&bits.to_le_bytes());
    if extensible {
        // cbSize, valid bits, channel mask (the first speaker positions, as hound), subformat.
        f.extend_from_slice(&22u16.to_le_bytes());
        f.extend_from_slice(&bits.to_le_bytes());
        let mask: u32 = (0..channels.min(18) as u32).fold(0, |m, c| m | 1 << c);
        f.extend_from_slice(&mask.to_le_bytes());
        let sub = if format == WavFormat::Float32 { KSDATAFORMAT_SUBTYPE_IEEE_FLOAT } else { KSDATAFORMAT_SUBTYPE_PCM };
        f.extend_from_slice(&sub);
    }
    f
}
