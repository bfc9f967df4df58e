//! How long the audio thread waits for inference, and how often the wait runs out, in real
//! time: 48 kHz stereo blocks handed to `Engine::process` at the pace a host would call it,
//! while another thread keeps a second core busy. For each latency mode and block size it
//! prints the worst and mean wait per frame waited for, and the share of frames that took
//! the fallback gains (late). `cargo run --release --example wait [SECONDS_PER_CASE]`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crn_engine::engine::{Config, Engine, LatencyMode, Mode, WAIT_SHARE};
use crn_engine::meter::Meters;
use crn_engine::model::Model;

const RATE: f32 = 48_000.0;

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let model = Arc::new(Model::embedded().expect("model loads (scripts/fetch-onnxruntime.sh)"));
    // The busy second core: a thread that never sleeps.
    let stop = Arc::new(AtomicBool::new(false));
    let burner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut x = 0u64;
            while !stop.load(Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        })
    };
    let signal: Vec<f32> = {
        let mut s = 1u64;
        (0..RATE as usize * 2)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let noise = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                0.05 * noise + 0.1 * (i as f32 * 0.031).sin() * ((i / 4800) % 2) as f32
            })
            .collect()
    };
    println!("| latency mode | block (samples) | callback period (ms) | wait budget (ms) | frames | frames waited for | worst wait (ms) | mean wait (ms) | late frames | fallback rate | worker real-time priority |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for mode in [LatencyMode::Standard, LatencyMode::Low] {
        for block in [64usize, 256, 1024, 8192] {
            let cfg = Config::new(RATE, 2, Mode::Realtime).with_latency(mode).with_max_block(block);
            let mut e = Engine::with_config(cfg, Some(model.clone()), Arc::new(Meters::default()));
            e.reset();
            let period = Duration::from_secs_f64(block as f64 / RATE as f64);
            let blocks = ((seconds * RATE as f64) / block as f64).ceil() as usize;
            let mut l = vec![0.0f32; block];
            let mut r = vec![0.0f32; block];
            let start = Instant::now();
            let mut pos = 0;
            for b in 0..blocks {
                let due = start + period * b as u32;
                if let Some(w) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(w);
                }
                for i in 0..block {
                    l[i] = signal[(pos + i) % signal.len()];
                    r[i] = signal[(pos + i + 999) % signal.len()];
                }
                pos += block;
                e.process(&mut [&mut l, &mut r]);
            }
            let frames = (blocks * block / e.spec().hop) as u64;
            let w = e.wait_stats();
            let mean = if w.waits > 0 { w.total.as_secs_f64() / w.waits as f64 * 1e3 } else { 0.0 };
            println!(
                "| {} ms | {block} | {:.2} | {:.2} | {frames} | {} | {:.3} | {:.3} | {} | {:.2} % | {} |",
                mode.ms(),
                period.as_secs_f64() * 1e3,
                period.as_secs_f64() * 1e3 * WAIT_SHARE,
                w.waits,
                w.worst.as_secs_f64() * 1e3,
                mean,
                e.late_frames(),
                e.late_frames() as f64 / frames.max(1) as f64 * 100.0,
                if e.worker_is_realtime() { "yes" } else { "no" },
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = burner.join();
}
