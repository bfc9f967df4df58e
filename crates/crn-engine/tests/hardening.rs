//! What hosts and users throw at the engine: broken samples, extreme signals, odd block sizes,
//! resets mid-stream, many instances at once, and a slow worker.

mod common;

use std::sync::Arc;

use crn_engine::engine::{Config, Engine, Mode, Output, Settings};
use crn_engine::meter::Meters;
use crn_engine::model::Model;
use crn_engine::render::render;

use common::*;

fn noisy_speech(rate: u32) -> Vec<f32> {
    let clean = speech(SENTENCES, rate);
    mix(&clean, &at_snr(&clean, &pink_noise(clean.len(), 31, 1.0), 5.0))
}

#[test]
fn nan_and_inf_give_finite_output_and_the_model_recovers() {
    let x = noisy_speech(16000);
    let mut reference = vec![x.clone()];
    let mut e = engine(16000.0, 1, Mode::Offline);
    e.reset();
    render(&mut e, &mut reference, 160);

    let mut broken = x.clone();
    let hit = 16000;
    for (i, v) in broken[hit..hit + 400].iter_mut().enumerate() {
        *v = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][i % 3];
    }
    let mut y = vec![broken];
    e.reset();
    render(&mut e, &mut y, 160);
    assert!(y[0].iter().all(|v| v.is_finite()));
    // The broken samples are zeroed at the input; from a few frames later the output is what
    // a clean run gives for the same (zeroed) input, so the recurrent state has recovered.
    let mut zeroed = x.clone();
    zeroed[hit..hit + 400].fill(0.0);
    let mut z = vec![zeroed];
    e.reset();
    render(&mut e, &mut z, 160);
    assert!(y[0] == z[0], "non-finite samples must act as silence");
    let after = hit + 16000 / 2;
    let diff = rms(&y[0][after..].iter().zip(&reference[0][after..]).map(|(a, b)| a - b).collect::<Vec<_>>());
    assert!(diff < 0.05 * rms(&reference[0][after..]), "still off by {diff} half a second later");
}

#[test]
fn silence_dc_square_waves_and_clipping_stay_stable() {
    let rate = 48000usize;
    let signals: Vec<(&str, Vec<f32>)> = vec![
        ("silence", vec![0.0; rate * 20]),
        ("dc", vec![0.5; rate * 3]),
        ("square", (0..rate * 3).map(|i| if (i / 55) % 2 == 0 { 1.0 } else { -1.0 }).collect()),
        ("clipped", noisy_speech(48000).iter().map(|v| (v * 40.0).clamp(-1.0, 1.0)).collect()),
        ("tiny", pink_noise(rate * 3, 2, 1e-30)),
    ];
    for (name, x) in signals {
        let mut e = engine(rate as f32, 1, Mode::Offline);
        e.reset();
        let mut y = vec![x.clone()];
        render(&mut e, &mut y, 512);
        assert!(y[0].iter().all(|v| v.is_finite()), "{name}: non-finite output");
        let peak = y[0].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let in_peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        // Gains are at most one; overlap-add of two windowed frames can at most double a peak.
        assert!(peak <= 2.0 * in_peak + 1e-6, "{name}: output peak {peak} for input peak {in_peak}");
        if name == "silence" {
            assert_eq!(peak, 0.0);
        }
    }
}

#[test]
fn any_block_size_sequence_including_zero_gives_the_same_output() {
    let x = noisy_speech(44100);
    let mut a = vec![x.clone()];
    let mut e = engine(44100.0, 1, Mode::Offline);
    e.reset();
    render(&mut e, &mut a, 512);
    let latency = e.latency();
    e.reset();
    let mut padded = x.clone();
    padded.extend(std::iter::repeat(0.0).take(latency));
    let sizes = [0usize, 1, 8192, 3, 0, 441, 4095, 1, 2, 700];
    let mut pos = 0;
    for &n in sizes.iter().cycle() {
        let n = n.min(padded.len() - pos);
        e.process(&mut [&mut padded[pos..pos + n]]);
        pos += n;
        if pos == padded.len() {
            break;
        }
    }
    // Large blocks put several frames in one model call, which ORT sums in another order: the
    // same output to float rounding (`crn_engine::inline`); a lost or repeated sample is far more.
    let worst = padded[latency..].iter().zip(&a[0]).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-6, "output depends on the block sizes: differs by {worst}");
}

#[test]
fn reset_clears_all_state() {
    let x = noisy_speech(16000);
    let mut e = engine(16000.0, 1, Mode::Offline);
    e.reset();
    let mut first = vec![x.clone()];
    render(&mut e, &mut first, 256);
    // Feed unrelated audio, then reset in the middle of a hop: the next render must not differ.
    let mut junk = pink_noise(12345, 5, 0.5);
    e.process(&mut [&mut junk[..]]);
    e.reset();
    let mut second = vec![x];
    render(&mut e, &mut second, 256);
    assert!(first == second, "state survived reset");
}

#[test]
fn parameter_automation_every_sample_is_smooth() {
    let x = noisy_speech(48000);
    let mut y = x.clone();
    let mut e = engine(48000.0, 1, Mode::Offline);
    e.reset();
    for (i, chunk) in y.chunks_mut(1).enumerate() {
        let t = i as f32 / 48000.0;
        e.set(Settings {
            mix: 0.5 + 0.5 * (t * 7.0).sin(),
            attenuation_limit_db: if (i / 4800) % 2 == 0 { 0.0 } else { 60.0 },
            output_gain_db: 6.0 * (t * 3.0).sin(),
            stereo_link: i % 2 == 0,
            bypass: (i / 24000) % 2 == 1,
            output: Output::Denoised,
        });
        e.process(&mut [chunk]);
    }
    assert!(y.iter().all(|v| v.is_finite()));
    let jump = |s: &[f32]| s.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
    assert!(jump(&y) <= 2.0 * jump(&x) + 1e-3, "automation clicks: {} vs input {}", jump(&y), jump(&x));
}

#[test]
fn many_instances_created_and_destroyed_from_several_threads() {
    let model = model();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let model = model.clone();
            std::thread::spawn(move || {
                for i in 0..6 {
                    let rate = [44100.0, 48000.0, 16000.0, 96000.0][(t + i) % 4];
                    // Each instance loads its own session, as a plugin instance does.
                    let own = if i % 2 == 0 { Arc::new(Model::embedded().unwrap()) } else { model.clone() };
                    let mut e = Engine::with_max_block(rate, 2, Some(own), Mode::Offline, Arc::new(Meters::default()), 512);
                    e.reset();
                    let mut l = pink_noise(rate as usize / 5, t as u64, 0.1);
                    let mut r = l.clone();
                    e.process(&mut [&mut l, &mut r]);
                    assert!(l.iter().all(|v| v.is_finite()));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_missing_or_broken_model_is_an_error_not_a_crash() {
    let err = Model::from_file(std::path::Path::new("/nonexistent/model.onnx")).err().unwrap();
    assert!(err.contains("cannot read model"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.onnx");
    std::fs::write(&bad, b"this is not an onnx file").unwrap();
    assert!(Model::from_file(&bad).is_err());
    let truncated = dir.path().join("truncated.onnx");
    std::fs::write(&truncated, &crn_engine::model::EMBEDDED_MODEL[..5000]).unwrap();
    assert!(Model::from_file(&truncated).is_err());
}

/// A shortened soak (the full hour: `SOAK_SECONDS=3600 cargo test --release --test hardening soak`):
/// 48 kHz stereo through the real-time engine (worker thread, deadlines), paced like a host:
/// each 512-sample block is handed over when its time comes. Output finite, resident memory
/// flat, and late frames rare (the machine running the tests is shared, so a few may be).
#[test]
fn soak() {
    let seconds: usize = std::env::var("SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let rss_kb = || -> usize {
        let s = std::fs::read_to_string("/proc/self/status").unwrap();
        s.lines().find(|l| l.starts_with("VmRSS:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let mut e = Engine::with_max_block(48000.0, 2, Some(model()), Mode::Realtime, Arc::new(Meters::default()), 512);
    e.reset();
    let src = noisy_speech(48000);
    let mut l = vec![0.0f32; 512];
    let mut r = vec![0.0f32; 512];
    let mut pos = 0;
    let mut samples = Vec::new();
    let blocks = seconds * 48000 / 512;
    let period = std::time::Duration::from_secs_f64(512.0 / 48000.0);
    let start = std::time::Instant::now();
    for b in 0..blocks {
        // Pace: block b is due at b periods after the start.
        let due = start + period * b as u32;
        if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
            std::thread::sleep(wait);
        }
        for i in 0..512 {
            l[i] = src[(pos + i) % src.len()];
            r[i] = src[(pos + i + 7777) % src.len()];
        }
        pos += 512;
        e.process(&mut [&mut l, &mut r]);
        assert!(l.iter().chain(&r).all(|v| v.is_finite()), "non-finite output at block {b}");
        if b % (blocks / 10).max(1) == 0 {
            samples.push(rss_kb());
        }
    }
    let frames = (blocks * 512 / 480) as u64;
    let w = e.wait_stats();
    eprintln!("soak: {} of {frames} frames late, {} waits, worst {:?}", e.late_frames(), w.waits, w.worst);
    assert_eq!(e.skipped_frames(), 0, "frames skipped the model");
    assert!(e.late_frames() * 100 <= frames, "{} of {frames} frames late in a paced run", e.late_frames());
    let (first, last) = (samples[1], *samples.last().unwrap());
    assert!(last <= first + 2048, "memory grew from {first} kB to {last} kB: {samples:?}");
}

/// A host reset while every frame of a large block is still in flight, followed at once by
/// the next block's frames: the worker's slots must cover both (the old pool of slack + 4
/// slots did not), so every frame after the reset still reaches the model.
#[test]
fn reset_with_every_frame_in_flight_keeps_frames_going_to_the_model() {
    // A zero wait budget: the audio thread never waits, so a whole block's frames are in
    // flight when process returns.
    let cfg = Config::new(48000.0, 1, Mode::Realtime).with_max_block(4096).with_wait_share(0.0);
    let mut e = Engine::with_config(cfg, Some(model()), Arc::new(Meters::default()));
    e.reset();
    e.set_worker_delay_us(2_000);
    let mut x = pink_noise(4096, 3, 0.1);
    for _ in 0..5 {
        e.process(&mut [&mut x[..]]);
        e.reset();
        e.process(&mut [&mut x[..]]);
        let t = std::time::Instant::now();
        while !e.worker_idle() && t.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    assert_eq!(e.skipped_frames(), 0, "frames skipped the model after resets ({} slots)", e.worker_slots());
}

/// Issue 16, defect 5: a worker thread that cannot start (the system is out of threads) must
/// not panic inside the host's `activate`: the engine passes audio through, latency-aligned,
/// and says why, as for a missing model.
#[test]
fn a_worker_that_cannot_start_leaves_a_latency_aligned_passthrough_that_says_why() {
    crn_engine::test_hooks::fail_next_worker_spawn();
    let meters = Arc::new(Meters::default());
    let mut e = Engine::with_config(Config::new(48000.0, 1, Mode::Realtime).with_max_block(512), Some(model()), meters);
    assert!(!e.is_denoising() && !e.has_worker());
    let why = e.passthrough_reason().expect("a reason for the passthrough");
    assert!(why.contains("inference thread"), "{why}");
    e.reset();
    let x = pink_noise(48000, 4, 0.1);
    let mut y = x.clone();
    for b in y.chunks_mut(512) {
        e.process(&mut [b]);
    }
    let lat = e.latency();
    let err = x[..x.len() - lat].iter().zip(&y[lat..]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(err < 1e-5, "passthrough differs from the input delayed by the latency by {err}");
}
