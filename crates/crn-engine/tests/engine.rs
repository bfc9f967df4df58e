//! The audio path end to end: reconstruction, model input at every rate, latency, mix, and
//! that it denoises. Signals are made here (tests/common), never read from ../shared.

mod common;

use std::sync::Arc;

use crn_engine::engine::{Config, Engine, LatencyMode, Mode, Output, Settings};
use crn_engine::meter::Meters;
use crn_engine::render::render;
use crn_engine::stft::{FrameSpec, Transform, MODEL_BINS};

use common::*;

fn passthrough(rate: f32) -> Engine {
    Engine::new(rate, 1, None, Mode::Offline, Arc::new(Meters::default()))
}

fn run_blocks(e: &mut Engine, input: &[Vec<f32>], blocks: &mut dyn FnMut() -> usize) -> Vec<Vec<f32>> {
    let len = input[0].len();
    let mut out: Vec<Vec<f32>> = input.to_vec();
    let mut pos = 0;
    while pos < len {
        let n = blocks().min(len - pos);
        let mut slices: Vec<&mut [f32]> = out.iter_mut().map(|c| &mut c[pos..pos + n]).collect();
        e.process(&mut slices);
        pos += n;
    }
    out
}

#[test]
fn analysis_and_synthesis_reconstruct_at_every_rate() {
    for rate in [8000.0, 11025.0, 16000.0, 22050.0, 44100.0, 48000.0, 96000.0, 192000.0] {
        let mut e = passthrough(rate);
        let x = noise(rate as usize / 2, 7, 0.3);
        let y = run_blocks(&mut e, &[x.clone()], &mut || 333)[0].clone();
        let lat = e.latency();
        let err = x[..x.len() - lat].iter().zip(&y[lat..]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-5, "{rate} Hz: reconstruction error {err}");
        // The hop is the whole number of samples in 10 ms, rounded down where it is not whole.
        assert_eq!(e.spec().hop, (rate / 100.0).floor() as usize);
    }
}

/// The model sees the same 0-8 kHz magnitudes whatever the host rate.
#[test]
fn model_input_at_host_rates_matches_the_16k_analysis() {
    let tones: Vec<(f32, f32)> = (0..40).map(|i| (60.0 + 187.3 * i as f32, 0.02 + 0.01 * (i % 5) as f32)).collect();
    let signal = |rate: f32, n: usize| -> Vec<f32> {
        (0..n)
            .map(|t| tones.iter().map(|(f, a)| a * (2.0 * std::f32::consts::PI * f * t as f32 / rate + f * 0.01).sin()).sum())
            .collect()
    };
    let analyse = |rate: f32| -> Vec<f32> {
        let spec = FrameSpec::for_rate(rate);
        let mut t = Transform::new(spec);
        let x = signal(rate, spec.frame);
        let mut s = t.new_spectrum();
        t.analyse(&x, &mut s);
        let mut m = vec![0.0; MODEL_BINS];
        t.model_input(&s, &mut m);
        m
    };
    let reference = analyse(16000.0);
    for rate in [44100.0, 48000.0, 96000.0] {
        let m = analyse(rate);
        let num: f32 = m.iter().zip(&reference).map(|(a, b)| (a - b).powi(2)).sum();
        let den: f32 = reference.iter().map(|b| b * b).sum();
        let rel = (num / den).sqrt();
        assert!(rel < 0.01, "{rate} Hz: model input differs from 16 kHz by {:.3} %", rel * 100.0);
    }
}

/// Cross-correlation lag (in samples) at which `y` best matches `x`, searched in 0..max_lag.
fn delay_of(x: &[f32], y: &[f32], max_lag: usize) -> usize {
    (0..max_lag)
        .max_by(|&a, &b| {
            let c = |l: usize| x.iter().zip(&y[l..]).map(|(p, q)| p * q).sum::<f32>();
            c(a).partial_cmp(&c(b)).unwrap()
        })
        .unwrap()
}

/// Latency is the same for every block size the host announces or uses: 30 ms, or 20 ms in
/// the low-latency mode, and an impulse comes out exactly that late.
#[test]
fn reported_latency_is_the_measured_delay_at_every_rate_block_size_and_mode() {
    let mut seed = 99u64;
    let mut random = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        1 + (seed >> 33) as usize % 1500
    };
    for rate in [44100.0f32, 48000.0, 96000.0] {
        let len = (rate * 1.2) as usize;
        // Speech-like noise with clicks every 0.3 s: the clicks make one sharp correlation peak.
        let mut x = pink_noise(len, 3, 0.01);
        for k in 1..4 {
            x[(k as f32 * 0.3 * rate) as usize] += 0.8;
        }
        for mode in [LatencyMode::Standard, LatencyMode::Low] {
            for (block, announced) in [(1usize, 1usize), (64, 8192), (480, 480), (512, 512), (4096, 4096), (8192, 8192), (0, 1500), (0, 8192)] {
                let cfg = Config::new(rate, 1, Mode::Offline).with_latency(mode).with_max_block(announced);
                let mut e = Engine::with_config(cfg, Some(model()), Arc::new(Meters::default()));
                e.set(Settings::default());
                e.reset();
                let y = if block == 0 {
                    run_blocks(&mut e, &[x.clone()], &mut random)
                } else {
                    run_blocks(&mut e, &[x.clone()], &mut || block)
                };
                let d = delay_of(&x[..len / 2], &y[0], (rate * 0.15) as usize);
                let what = format!("{rate} Hz, {mode:?}, block {block} of announced {announced}");
                assert_eq!(d, e.latency(), "{what}: reported {} measured {d}", e.latency());
                assert_eq!(e.latency(), Engine::latency_for(rate, mode), "{what}");
                let ms = e.latency() as f32 / rate * 1000.0;
                assert!(ms <= mode.ms() as f32 + 1e-3, "{what}: {ms} ms");
            }
        }
    }
}

#[test]
fn latency_is_30_ms_or_20_ms_whatever_the_announced_block() {
    let m = Arc::new(Meters::default());
    for max_block in [1, 64, 480, 512, 2048, 8192, 65536] {
        let e = Engine::with_max_block(48000.0, 1, None, Mode::Realtime, m.clone(), max_block);
        assert_eq!(e.latency(), 1440, "announced {max_block}");
        let cfg = Config::new(48000.0, 1, Mode::Realtime).with_max_block(max_block).with_latency(LatencyMode::Low);
        assert_eq!(Engine::with_config(cfg, None, m.clone()).latency(), 960, "announced {max_block}");
    }
    let e = Engine::with_max_block(44100.0, 1, None, Mode::Realtime, m, 8192);
    assert_eq!(e.latency(), 882 + 441);
}

/// Real time, with the worker given all the time it needs (so the check does not depend on
/// this machine's load): at every block size and in both modes the output equals the offline
/// render, delay included. This is the submit-everything-then-wait path of large blocks.
#[test]
fn realtime_path_equals_offline_at_every_block_size_in_both_modes() {
    let clean = speech(SENTENCES, 16000);
    let x = mix(&clean, &at_snr(&clean, &pink_noise(clean.len(), 9, 1.0), 5.0));
    let x = x[..16000 * 2].to_vec();
    for mode in [LatencyMode::Standard, LatencyMode::Low] {
        let mut off = Engine::with_config(Config::new(16000.0, 1, Mode::Offline).with_latency(mode), Some(model()), Arc::new(Meters::default()));
        off.reset();
        let a = run_blocks(&mut off, &[x.clone()], &mut || 160);
        for (block, announced) in [(64usize, 64usize), (160, 8192), (1000, 1000), (8192, 8192), (8192, 512)] {
            let cfg = Config::new(16000.0, 1, Mode::Realtime).with_latency(mode).with_max_block(announced).with_wait_share(1e6);
            let mut rt = Engine::with_config(cfg, Some(model()), Arc::new(Meters::default()));
            rt.reset();
            let b = run_blocks(&mut rt, &[x.clone()], &mut || block);
            assert_eq!(rt.late_frames(), 0, "{mode:?} block {block}");
            assert!(a == b, "{mode:?} block {block} (announced {announced}): real time differs from offline");
        }
    }
}

#[test]
fn offline_engines_run_no_worker_thread() {
    let e = engine(48000.0, 2, Mode::Offline);
    assert!(e.is_denoising() && !e.has_worker());
    let e = engine(48000.0, 2, Mode::Realtime);
    assert!(e.has_worker());
}

/// Denoised plus removed noise is the latency-aligned input times the output gain, at any mix.
#[test]
fn removed_noise_and_denoised_sum_to_the_delayed_input() {
    let clean = speech(SENTENCES, 48000);
    let x = mix(&clean, &at_snr(&clean, &pink_noise(clean.len(), 14, 1.0), 0.0));
    let x = x[..48000 * 2].to_vec();
    for s in [Settings::default(), Settings { mix: 0.7, output_gain_db: -3.0, stereo_link: false, ..Settings::default() }] {
        let run = |output| {
            let mut e = engine(48000.0, 1, Mode::Offline);
            e.set(Settings { output, ..s });
            e.reset();
            let lat = e.latency();
            (run_blocks(&mut e, &[x.clone()], &mut || 512).remove(0), lat)
        };
        let (d, lat) = run(Output::Denoised);
        let (r, _) = run(Output::Removed);
        let g = crn_engine::engine::db_to_gain(s.output_gain_db);
        let err = (0..x.len() - lat).map(|t| (d[t + lat] + r[t + lat] - g * x[t]).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-6, "{s:?}: denoised + removed differs from the delayed input times the gain by {err}");
        assert!(rms(&r) > 0.1 * rms(&x), "removed stem is nearly silent");
    }
}

/// Issue 16, defect 3: the removed noise is input minus denoised, both before the output gain;
/// the gain applies to whichever stem is heard. It was taken after the gain, so at +6 dB it
/// was the input minus twice the denoised signal: mostly (inverted) speech.
#[test]
fn removed_noise_at_plus_6_db_is_the_gained_input_minus_the_denoised_signal() {
    let clean = speech(SENTENCES, 48000);
    let noise = at_snr(&clean, &pink_noise(clean.len(), 15, 1.0), 10.0);
    let x = mix(&clean, &noise)[..48000 * 2].to_vec();
    let run = |output, gain_db| {
        let mut e = engine(48000.0, 1, Mode::Offline);
        e.set(Settings { output, output_gain_db: gain_db, ..Settings::default() });
        e.reset();
        let lat = e.latency();
        (run_blocks(&mut e, &[x.clone()], &mut || 512).remove(0), lat)
    };
    let (d0, lat) = run(Output::Denoised, 0.0);
    let (r6, _) = run(Output::Removed, 6.0);
    let g = crn_engine::engine::db_to_gain(6.0);
    let err = (0..x.len() - lat).map(|t| (r6[t + lat] - g * (x[t] - d0[t + lat])).abs()).fold(0.0f32, f32::max);
    assert!(err < 1e-6, "removed at +6 dB differs from g * (input - denoised at 0 dB) by {err}");
    // What is removed is at most about the noise that was there (times the gain): taken after
    // the gain it was the input minus twice the denoised signal, the speech inverted, about
    // 1.6 times the noise's level. The bound holds for any model that removes no speech.
    let ratio = rms(&r6[lat..]) / g / rms(&noise[..x.len() - lat]);
    assert!(ratio < 1.2, "removed noise at +6 dB, over the gain, is {:.2} x the noise's RMS", ratio);
}

/// Issue 16, defect 5: the IN meter shows the level of the latest hop whatever the block size.
/// It divided the whole block's power by one hop (too high), then showed silence for the rest
/// of the block's hops.
#[test]
fn input_meter_shows_the_level_at_every_block_size() {
    let rate = 48000.0;
    let amp = 0.25f32;
    let x: Vec<f32> = (0..48000).map(|t| amp * (2.0 * std::f32::consts::PI * 1000.0 * t as f32 / rate).sin()).collect();
    let expected = 10.0 * (amp * amp / 2.0).log10();
    for block in [64usize, 480, 1000, 4096, 8192] {
        let meters = Arc::new(Meters::default());
        let mut e = Engine::with_config(Config::new(rate, 2, Mode::Offline).with_max_block(block), None, meters.clone());
        e.reset();
        let mut pos = 0;
        while pos + block <= x.len() {
            let mut l = x[pos..pos + block].to_vec();
            let mut r = l.clone();
            e.process(&mut [&mut l, &mut r]);
            pos += block;
            if pos < e.spec().hop {
                continue; // no hop of input complete yet
            }
            let shown = meters.input_db.load(std::sync::atomic::Ordering::Relaxed);
            assert!((shown - expected).abs() < 0.2, "block {block}: IN shows {shown:.1} dB for a {expected:.1} dB signal");
        }
    }
}

#[test]
fn mix_zero_nulls_against_the_delayed_input() {
    let rate = 48000.0;
    let x = mix(&speech(SENTENCES, 48000)[..48000], &pink_noise(48000, 5, 0.05));
    let mut e = engine(rate, 1, Mode::Offline);
    e.set(Settings { mix: 0.0, ..Settings::default() });
    e.reset();
    let y = run_blocks(&mut e, &[x.clone()], &mut || 256)[0].clone();
    let lat = e.latency();
    let err = x[..x.len() - lat].iter().zip(&y[lat..]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert_eq!(err, 0.0, "mix 0 must be the input exactly, delayed by the latency");
}

#[test]
fn noise_alone_is_attenuated() {
    for rate in [16000.0f32, 48000.0] {
        let n = pink_noise(rate as usize * 3, 11, 0.03);
        let mut e = engine(rate, 1, Mode::Offline);
        e.reset();
        let mut y = vec![n.clone()];
        render(&mut e, &mut y, 512);
        let settle = rate as usize;
        let reduction = db(rms(&n[settle..])) - db(rms(&y[0][settle..]));
        assert!(reduction > 10.0, "{rate} Hz: noise only reduced by {reduction:.1} dB");
    }
}

#[test]
fn speech_in_noise_gains_snr_at_several_rates_in_stereo() {
    for rate in [16000u32, 44100, 48000] {
        let clean = speech(SENTENCES, rate);
        let noise_l = at_snr(&clean, &pink_noise(clean.len(), 21, 1.0), 0.0);
        let noise_r = at_snr(&clean, &noise(clean.len(), 22, 1.0), 5.0);
        let mut y = vec![mix(&clean, &noise_l), mix(&clean, &noise_r)];
        let before = [si_snr(&y[0], &clean), si_snr(&y[1], &clean)];
        let mut e = engine(rate as f32, 2, Mode::Offline);
        e.set(Settings { stereo_link: false, ..Settings::default() });
        e.reset();
        render(&mut e, &mut y, 480);
        for ch in 0..2 {
            let after = si_snr(&y[ch], &clean);
            assert!(after > before[ch] + 4.0, "{rate} Hz ch {ch}: SI-SNR {:.1} -> {after:.1} dB", before[ch]);
        }
    }
}

#[test]
fn stereo_link_applies_one_gain_to_both_channels() {
    let clean = speech(SENTENCES, 16000);
    let n = at_snr(&clean, &pink_noise(clean.len(), 4, 1.0), 0.0);
    let x = mix(&clean, &n);
    // Same signal on both sides but one 6 dB quieter: linked, the ratio must stay exactly 2.
    let mut y = vec![x.clone(), x.iter().map(|v| v * 0.5).collect()];
    let mut e = engine(16000.0, 2, Mode::Offline);
    e.reset();
    render(&mut e, &mut y, 160);
    let worst = y[0].iter().zip(&y[1]).map(|(a, b)| (a - 2.0 * b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "linked channels diverge by {worst}");
}

/// Offline, the model runs the frames each chunk collects in one call (`inline`). A render is
/// the same every time at one block size; with blocks up to a hop every call is one frame, so
/// those renders are bit-identical to each other (and to real time, below); larger blocks put
/// more frames in a call, which ORT sums in another order: the same render to float rounding.
#[test]
fn offline_render_is_repeatable_and_the_same_at_every_block_size() {
    let clean = speech(SENTENCES, 48000);
    let x = mix(&clean, &at_snr(&clean, &pink_noise(clean.len(), 8, 1.0), 5.0));
    let go = |block: usize| {
        let mut e = engine(48000.0, 1, Mode::Offline);
        e.reset();
        let mut y = vec![x.clone()];
        render(&mut e, &mut y, block);
        y.remove(0)
    };
    let a = go(37);
    assert_eq!(a.len(), x.len());
    assert_eq!(a, go(480), "blocks up to a hop: one frame a call");
    for block in [512, 4096, 8192] {
        let b = go(block);
        assert_eq!(b, go(block), "block {block}: not repeatable");
        let worst = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "block {block}: differs from one frame a call by {worst}");
    }
}

/// A real-time run in which the worker keeps up equals the offline render exactly.
#[test]
fn realtime_without_late_frames_equals_offline() {
    let clean = speech(SENTENCES, 16000);
    let x = mix(&clean, &at_snr(&clean, &pink_noise(clean.len(), 9, 1.0), 5.0));
    let mut off = engine(16000.0, 1, Mode::Offline);
    off.reset();
    let a = run_blocks(&mut off, &[x.clone()], &mut || 160);
    let mut rt = engine(16000.0, 1, Mode::Realtime);
    rt.reset();
    let b = {
        let rt = &mut rt;
        let len = x.len();
        let mut out = x.clone();
        let mut pos = 0;
        while pos < len {
            let n = 160.min(len - pos);
            rt.process(&mut [&mut out[pos..pos + n]]);
            pos += n;
            // Pace like a host whose worker keeps up: the next callback comes after the frame
            // is done (on a loaded 2-core machine a fixed sleep may not be enough).
            let t = std::time::Instant::now();
            while !rt.worker_idle() && t.elapsed() < std::time::Duration::from_secs(2) {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        }
        vec![out]
    };
    assert_eq!(rt.late_frames(), 0, "worker fell behind in a paced run");
    assert_eq!(a, b);
}

#[test]
fn a_slow_worker_never_blocks_the_audio_thread_and_late_frames_are_counted() {
    let clean = speech(SENTENCES, 48000);
    let x = mix(&clean, &at_snr(&clean, &pink_noise(clean.len(), 12, 1.0), 5.0));
    let mut e = engine(48000.0, 1, Mode::Realtime);
    e.reset();
    e.set_worker_delay_us(25_000); // 2.5 hops per frame: far behind
    let t = std::time::Instant::now();
    let y = run_blocks(&mut e, &[x.clone()], &mut || 480);
    let elapsed = t.elapsed();
    let audio = std::time::Duration::from_secs_f32(x.len() as f32 / 48000.0);
    // The audio thread waited at most its share of each block, never for the worker itself
    // (which needs 2.5 times real time here).
    let bound = audio.mul_f64(crn_engine::engine::WAIT_SHARE + 0.35);
    assert!(elapsed < bound, "process took {elapsed:?} for {audio:?} of audio");
    assert!(e.late_frames() > 100, "late frames: {}", e.late_frames());
    assert!(y[0].iter().all(|v| v.is_finite()));
    // Held gains: no clicks. The output never jumps more than the input does, plus margin.
    let jump = |s: &[f32]| s.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
    assert!(jump(&y[0]) <= jump(&x) * 1.5 + 1e-3, "output jumps {} vs input {}", jump(&y[0]), jump(&x));
}

#[test]
fn attenuation_limit_bounds_the_reduction() {
    let n = pink_noise(48000 * 2, 13, 0.03);
    for limit in [0.0f32, 6.0, 12.0] {
        let mut e = engine(48000.0, 1, Mode::Offline);
        e.set(Settings { attenuation_limit_db: limit, ..Settings::default() });
        e.reset();
        let mut y = vec![n.clone()];
        render(&mut e, &mut y, 512);
        let reduction = db(rms(&n[24000..])) - db(rms(&y[0][24000..]));
        assert!(reduction <= limit + 0.05, "limit {limit} dB but reduced {reduction:.2} dB");
        if limit > 0.0 {
            assert!(reduction > limit - 3.0, "limit {limit}: only {reduction:.2} dB");
        }
    }
}
