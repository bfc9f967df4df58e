//! Signals for tests, made here: espeak-ng speech (installed by .ci/run), seeded noise, and
//! measurements. Nothing comes from ../shared.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use crn_engine::engine::{Engine, Mode};
use crn_engine::meter::Meters;
use crn_engine::model::Model;

/// The shipped model, loaded once per test binary.
pub fn model() -> Arc<Model> {
    static MODEL: std::sync::OnceLock<Arc<Model>> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| Arc::new(Model::embedded().expect("shipped model loads (run scripts/fetch-onnxruntime.sh)"))).clone()
}

pub fn engine(rate: f32, channels: usize, mode: Mode) -> Engine {
    Engine::new(rate, channels, Some(model()), mode, Arc::new(Meters::default()))
}

fn tmp_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("signals");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Spoken English from espeak-ng at `rate` Hz (resampled by sox), cached per text and rate.
pub fn speech(text: &str, rate: u32) -> Vec<f32> {
    let key = format!("{:x}", text.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3)));
    let out = tmp_dir().join(format!("speech_{key}_{rate}.wav"));
    if !out.exists() {
        // Tests run in parallel threads of one process and in several processes: every writer
        // gets its own temporary names, and the rename into place is atomic.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let me = format!("{}_{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let raw = tmp_dir().join(format!("speech_{key}_raw_{me}.wav"));
        let st = Command::new("espeak-ng").args(["-v", "en-us", "-s", "150", "-w"]).arg(&raw).arg(text).status()
            .expect("espeak-ng is installed (.ci/run installs it)");
        assert!(st.success());
        let tmp = tmp_dir().join(format!("speech_{key}_{rate}_{me}.tmp.wav"));
        let st = Command::new("sox").arg(&raw).args(["-b", "32", "-e", "floating-point"]).arg(&tmp)
            .args(["rate", "-v", &rate.to_string()]).status().expect("sox is installed (.ci/run installs it)");
        assert!(st.success());
        std::fs::rename(&tmp, &out).unwrap();
        let _ = std::fs::remove_file(raw);
    }
    let mut r = hound::WavReader::open(&out).unwrap();
    r.samples::<f32>().map(Result::unwrap).collect()
}

pub const SENTENCES: &str = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. \
It is easy to tell the depth of a well. These days a chicken leg is a rare dish.";

/// Deterministic white noise.
pub fn noise(len: usize, seed: u64, amp: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    (0..len)
        .map(|_| {
            // Sum of four uniforms: close enough to Gaussian for a noise floor.
            let mut acc = 0.0f32;
            for _ in 0..4 {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                acc += (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            }
            acc * amp * 1.732
        })
        .collect()
}

/// Noise with a -3 dB/octave tilt (Voss-McCartney pink), more speech-like than white.
pub fn pink_noise(len: usize, seed: u64, amp: f32) -> Vec<f32> {
    let w = noise(len * 8 + 64, seed, 1.0);
    let mut rows = [0.0f32; 8];
    let mut out = Vec::with_capacity(len);
    for i in 0..len {
        let n = i + 1;
        let k = (n.trailing_zeros() as usize).min(7);
        rows[k] = w[i * 8 + k];
        out.push(rows.iter().sum::<f32>() + w[i * 8 + 7 + 1]);
    }
    let r = rms(&out);
    out.iter().map(|x| x / r * amp).collect()
}

pub fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt() as f32
}

pub fn db(x: f32) -> f32 {
    20.0 * x.max(1e-12).log10()
}

/// Projection SNR of `est` against `clean` (scale-invariant), in dB.
pub fn si_snr(est: &[f32], clean: &[f32]) -> f32 {
    let dot: f64 = est.iter().zip(clean).map(|(a, b)| *a as f64 * *b as f64).sum();
    let cc: f64 = clean.iter().map(|b| (*b as f64).powi(2)).sum();
    let a = dot / cc.max(1e-20);
    let (mut s, mut e) = (0.0f64, 0.0f64);
    for (x, c) in est.iter().zip(clean) {
        let t = a * *c as f64;
        s += t * t;
        e += (*x as f64 - t).powi(2);
    }
    10.0 * (s / e.max(1e-20)).log10() as f32
}

pub fn mix(clean: &[f32], noise: &[f32]) -> Vec<f32> {
    clean.iter().zip(noise).map(|(a, b)| a + b).collect()
}

/// Scales `noise` so that clean / noise is `snr_db`.
pub fn at_snr(clean: &[f32], noise: &[f32], snr_db: f32) -> Vec<f32> {
    let g = rms(clean) / rms(noise) / 10f32.powf(snr_db / 20.0);
    noise.iter().map(|x| x * g).collect()
}
