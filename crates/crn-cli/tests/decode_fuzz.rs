//! Bounded fuzzing of the file decode path: valid WAV (16-bit, float), FLAC, Ogg and MP3 files
//! are mutated at random (byte flips, truncation, junk, absurd header fields) and decoded. Every
//! result must be a clean `Ok` or `Err`: no panic, no abort, channels of equal length.
//! `FUZZ_SECONDS` sets the time budget (default 20 s).

#[path = "../../crn-engine/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crn_cli::audio_io::{decode, encode, Encoding};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let x = common::speech("Fuzzing the decoder.", 16000);
    let x = &x[..x.len().min(8000)];
    let chans = vec![x.to_vec(), x.iter().map(|v| -v).collect()];
    let mut out = Vec::new();
    for (name, enc) in [("wav", Encoding::WavPcm16), ("wav", Encoding::WavFloat32), ("flac", Encoding::Flac(16))] {
        let mut c = std::io::Cursor::new(Vec::new());
        encode(&mut c, &chans, 16000, enc).unwrap();
        out.push((name.to_string(), c.into_inner()));
    }
    let src = dir.join("seed.wav");
    std::fs::write(&src, &out[0].1).unwrap();
    for ext in ["ogg", "mp3"] {
        let dst = dir.join(format!("seed.{ext}"));
        if Command::new("sox").arg(&src).arg(&dst).status().is_ok_and(|s| s.success()) {
            out.push((ext.to_string(), std::fs::read(&dst).unwrap()));
        }
    }
    assert!(out.len() >= 4, "sox should write at least Ogg (libsox-fmt-all)");
    out
}

fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 => {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            1 => d.truncate(rng.below(d.len())),
            2 => {
                // Absurd 32-bit field somewhere in the first 64 bytes (sizes, rates, channels).
                if d.len() < 4 {
                    continue;
                }
                let i = rng.below(d.len().min(64) - 3);
                let v = [0u32, 1, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF][rng.below(5)];
                d[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            3 => {
                let i = rng.below(d.len());
                let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                d.splice(i..i, junk);
            }
            4 => {
                let i = rng.below(d.len());
                let n = rng.below(d.len() - i);
                d.drain(i..i + n);
            }
            _ => {
                let i = rng.below(d.len());
                d[i] = rng.next() as u8;
            }
        }
        if d.is_empty() {
            break;
        }
    }
    d
}

#[test]
fn mutated_files_never_panic_the_decoder() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = seeds(dir.path());
    let budget = Duration::from_secs(std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20));
    // Panics inside the demuxers are caught by `decode`; keep them out of the test log.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.location().is_some_and(|l| l.file().contains("symphonia")) {
            default_hook(info);
        }
    }));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = Instant::now();
    let (mut runs, mut ok) = (0usize, 0usize);
    while start.elapsed() < budget {
        let (ext, seed) = &seeds[runs % seeds.len()];
        let data = mutate(&mut rng, seed);
        let path = dir.path().join(format!("case.{ext}"));
        std::fs::write(&path, &data).unwrap();
        let result = std::panic::catch_unwind(|| decode(&path));
        match result {
            Err(_) => {
                let keep = dir.path().join(format!("panic_{runs}.{ext}"));
                std::fs::copy(&path, &keep).unwrap();
                panic!("decode panicked on a mutated .{ext} (run {runs})");
            }
            Ok(Ok(audio)) => {
                ok += 1;
                let n = audio.frames();
                assert!(audio.channels.iter().all(|c| c.len() == n), "ragged channels");
                assert!(audio.sample_rate > 0);
            }
            Ok(Err(e)) => assert!(!e.is_empty()),
        }
        runs += 1;
    }
    eprintln!("{runs} mutated files decoded in {budget:?}: {ok} decoded, {} rejected", runs - ok);
    assert!(runs > 100, "fuzzing made too few runs ({runs})");
}
