//! WAV output past RIFF's 4 GiB: RF64 (EBU Tech 3306) instead of a size that wraps, and plain
//! RIFF, byte for byte as before, below it.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};

use crn_cli::audio_io::{self, riff, Encoding, WriteOptions, Writer};

/// A file of any size that keeps only its first bytes: the header, where the sizes are.
struct HeadOnly {
    head: Vec<u8>,
    pos: u64,
    len: u64,
}

impl Write for HeadOnly {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let keep = self.head.len() as u64;
        if self.pos < keep {
            let n = ((keep - self.pos) as usize).min(buf.len());
            self.head[self.pos as usize..self.pos as usize + n].copy_from_slice(&buf[..n]);
        }
        self.pos += buf.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for HeadOnly {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => (self.len as i64 + d) as u64,
            SeekFrom::Current(d) => (self.pos as i64 + d) as u64,
        };
        Ok(self.pos)
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Past 4 GiB of float samples (a 3.5 h stereo 44.1 kHz file crosses it), the file is RF64 with
/// the true sizes in `ds64`, not a RIFF whose 32-bit sizes wrapped (hound's, in a release build).
#[test]
fn wav_over_4_gib_is_rf64() {
    let mut sink = HeadOnly { head: vec![0; 256], pos: 0, len: 0 };
    let piece = vec![0.25f32; 1 << 20];
    let pieces = (4u64 << 30) / (4 << 20) + 1;
    {
        let mut w = Writer::new(&mut sink, 1, 48_000, Encoding::WavFloat32).unwrap();
        for _ in 0..pieces {
            w.write(&[&piece]).unwrap();
        }
        w.finish().unwrap();
    }
    let data = pieces * (4 << 20);
    let h = &sink.head;
    assert_eq!(&h[..4], b"RF64", "4 GiB of data in a RIFF header");
    assert_eq!(u32_at(h, 4), u32::MAX);
    assert_eq!(&h[8..16], b"WAVEds64");
    assert_eq!(u64_at(h, 20), sink.len - 8, "ds64 RIFF size");
    assert_eq!(u64_at(h, 28), data, "ds64 data size");
    assert_eq!(u64_at(h, 36), data / 4, "ds64 sample count");
}

/// Under the limit, the file is what hound wrote: hound, rewriting the samples read back from
/// it, gives the same bytes (a pad byte after odd-sized data aside, which RIFF asks for and hound
/// left out).
#[test]
fn wav_under_the_limit_is_plain_riff_as_before() {
    for enc in [Encoding::WavFloat32, Encoding::WavPcm16, Encoding::WavPcm24] {
        for channels in [1usize, 2, 3] {
            for frames in [0usize, 1, 1000, 4801] {
                let x: Vec<Vec<f32>> = (0..channels)
                    .map(|c| (0..frames).map(|i| 0.5 * ((i * (c + 3)) as f32 * 0.01).sin()).collect())
                    .collect();
                let mut ours = Cursor::new(Vec::new());
                audio_io::encode(&mut ours, &x, 44_100, enc).unwrap();
                let ours = ours.into_inner();
                let mut r = hound::WavReader::new(Cursor::new(&ours)).unwrap();
                let spec = r.spec();
                let mut theirs = Cursor::new(Vec::new());
                {
                    let mut w = hound::WavWriter::new(&mut theirs, spec).unwrap();
                    match spec.sample_format {
                        hound::SampleFormat::Float => r.samples::<f32>().for_each(|s| w.write_sample(s.unwrap()).unwrap()),
                        hound::SampleFormat::Int => r.samples::<i32>().for_each(|s| w.write_sample(s.unwrap()).unwrap()),
                    }
                    w.finalize().unwrap();
                }
                let mut theirs = theirs.into_inner();
                let what = format!("{enc:?}, {channels} channels, {frames} frames");
                if theirs.len() % 2 == 1 {
                    theirs.push(0);
                    let riff = u32_at(&theirs, 4) + 1;
                    theirs[4..8].copy_from_slice(&riff.to_le_bytes());
                }
                assert_eq!(ours, theirs, "{what}");
            }
        }
    }
}

/// Reads a WAV (RIFF or RF64) with the chunk scanner: format tag, channels, bits, data bytes.
fn read_any(bytes: &[u8]) -> (u16, u16, u16, Vec<u8>) {
    let mut c = Cursor::new(bytes);
    let chunks = riff::chunks(&mut c).unwrap().expect("a WAVE file");
    let fmt = chunks.iter().find(|c| &c.id == b"fmt ").unwrap();
    let data = chunks.iter().find(|c| &c.id == b"data").unwrap();
    let f = &bytes[fmt.offset as usize..];
    let tag = u16::from_le_bytes([f[0], f[1]]);
    let channels = u16::from_le_bytes([f[2], f[3]]);
    let bits = u16::from_le_bytes([f[14], f[15]]);
    let mut d = vec![0; data.len as usize];
    c.seek(SeekFrom::Start(data.offset)).unwrap();
    c.read_exact(&mut d).unwrap();
    (tag, channels, bits, d)
}

/// The limit is a constructor parameter, so crossing it is tested on small files: a file whose
/// RIFF size passes it is a valid RF64 holding the same samples (read back by the chunk scanner
/// and, where installed, by sox), whether its length was known beforehand or not; one that
/// stays under it with an unknown length is RIFF with the room kept as a JUNK chunk, which every
/// reader skips; and more audio than was announced, past the limit, is an error, not a file.
#[test]
fn wav_crossing_a_small_limit_is_valid_rf64() {
    let dir = tempfile::tempdir().unwrap();
    let frames = 3000usize;
    let x: Vec<Vec<f32>> = (0..2).map(|c| (0..frames).map(|i| 0.3 * ((i * (c + 2)) as f32 * 0.013).sin()).collect()).collect();
    let piece: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
    for enc in [Encoding::WavFloat32, Encoding::WavPcm16, Encoding::WavPcm24] {
        let mut plain = Cursor::new(Vec::new());
        audio_io::encode(&mut plain, &x, 16_000, enc).unwrap();
        let plain = plain.into_inner();
        let (tag, ch, bits, samples) = read_any(&plain);
        for (limit, known) in [(10_000u64, None), (10_000, Some(frames as u64)), (1 << 20, None)] {
            let opts = WriteOptions { riff_limit: limit, frames: known, ..WriteOptions::default() };
            let mut out = Cursor::new(Vec::new());
            let mut w = Writer::with_options(&mut out, 2, 16_000, enc, &opts).unwrap();
            w.write(&piece).unwrap();
            w.finish().unwrap();
            let out = out.into_inner();
            let what = format!("{enc:?}, limit {limit}, length {known:?}");
            assert_eq!(read_any(&out), (tag, ch, bits, samples.clone()), "{what}: same format and samples");
            if limit < plain.len() as u64 {
                assert_eq!(&out[..4], b"RF64", "{what}");
                assert_eq!(u32_at(&out, 4), u32::MAX);
                assert_eq!(&out[12..16], b"ds64", "{what}: ds64 first");
                assert_eq!(u64_at(&out, 20), out.len() as u64 - 8);
                assert_eq!(u64_at(&out, 28), samples.len() as u64);
                assert_eq!(u64_at(&out, 36), frames as u64);
                let path = dir.path().join("rf64.wav");
                std::fs::write(&path, &out).unwrap();
                if let Some(sox) = sox_samples(&path) {
                    let want: Vec<f32> = x[0].iter().zip(&x[1]).flat_map(|(a, b)| [*a, *b]).collect();
                    let tol = match enc {
                        Encoding::WavPcm16 => 2.0 / 32768.0,
                        _ => 1e-6,
                    };
                    assert_eq!(sox.len(), want.len(), "{what}: sox reads every sample");
                    assert!(sox.iter().zip(&want).all(|(a, b)| (a - b).abs() <= tol), "{what}: sox reads the samples");
                }
            } else {
                assert_eq!(&out[..4], b"RIFF", "{what}");
                assert_eq!(&out[12..16], b"JUNK", "{what}: room for ds64 kept");
                let path = dir.path().join("junk.wav");
                std::fs::write(&path, &out).unwrap();
                let a = audio_io::decode(&path).unwrap();
                assert_eq!(a.frames(), frames, "{what}: decodes");
                assert_eq!(hound::WavReader::open(&path).unwrap().len() as usize, 2 * frames, "{what}: hound reads it");
            }
        }
        // A length announced as fitting, then exceeded past the limit: no file can be made.
        let opts = WriteOptions { riff_limit: 10_000, frames: Some(100), ..WriteOptions::default() };
        let mut out = Cursor::new(Vec::new());
        let mut w = Writer::with_options(&mut out, 2, 16_000, enc, &opts).unwrap();
        w.write(&piece).unwrap();
        assert!(w.finish().is_err(), "{enc:?}: more than announced");
    }
}

/// The samples as sox reads them (interleaved f32), or None where sox is not installed.
fn sox_samples(path: &std::path::Path) -> Option<Vec<f32>> {
    let o = std::process::Command::new("sox").arg(path).args(["-t", "f32", "-e", "floating-point", "-"]).output().ok()?;
    assert!(o.status.success(), "sox: {}", String::from_utf8_lossy(&o.stderr));
    Some(o.stdout.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect())
}
