//! FLAC written as it streams (flacenc for the frames, this module for the rest).

use std::io::{Seek, SeekFrom, Write};

use md5::Digest;

/// FLAC output depth for a source depth: 16 for up to 16 bits, 24 above (flacenc's maximum).
pub fn flac_bits(source_bits: u32) -> u32 {
    if source_bits <= 16 {
        16
    } else {
        24
    }
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
