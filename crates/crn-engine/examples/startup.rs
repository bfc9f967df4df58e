//! Cold start and memory of real instances, in a fresh process.
//!
//! `cargo run --release --example startup [SPAWN_NS]`: prints one JSON line with
//! - `main_to_first_block_ms`: from `main` to the first processed 512-sample stereo block of the
//!   first instance (loads libonnxruntime, creates the process-wide environment, loads the
//!   embedded model, builds the engine); with `SPAWN_NS` (the caller's wall clock in ns since the
//!   Unix epoch, taken just before it spawned this process) also `spawn_to_first_block_ms`;
//! - `second_instance_ms`: the same for a second instance (environment already there);
//! - resident memory (VmRSS) at start, after 1 instance and after 8 instances, and the
//!   difference per added instance (each instance has its own model session, like the plugin);
//! - `latency_samples` (reported) and `measured_lag_samples`: cross-correlation lag of the
//!   engine's raw output behind its input at 48 kHz (attenuation limit 0 dB so every gain is
//!   1 and the output is the input through the full analysis / worker / synthesis path).

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crn_engine::engine::{Engine, Mode, Settings};
use crn_engine::meter::Meters;
use crn_engine::model::Model;

#[path = "../benches/support/xorshift.rs"]
mod xorshift;
use xorshift::XorShift;

const RATE: f32 = 48_000.0;
const BLOCK: usize = 512;

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn signal(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = XorShift::seeded(seed);
    (0..len)
        .map(|i| {
            let n = rng.centred();
            // noise bursts with a harmonic tone, so the cross-correlation has one clear peak
            let env = if (i / 4800) % 3 == 0 { 1.0 } else { 0.2 };
            env * (0.2 * n + 0.05 * (i as f32 * 0.031).sin())
        })
        .collect()
}

/// One instance: model + engine + first block, as a plugin's first activation and callback.
fn instance() -> Engine {
    let model = Arc::new(Model::embedded().expect("model loads (run scripts/fetch-onnxruntime.sh)"));
    let mut e = Engine::with_max_block(RATE, 2, Some(model), Mode::Offline, Arc::new(Meters::default()), BLOCK);
    e.reset();
    let mut l = signal(BLOCK, 1);
    let mut r = signal(BLOCK, 2);
    e.process(&mut [&mut l[..], &mut r[..]]);
    e
}

fn measured_lag() -> (usize, usize) {
    let model = Arc::new(Model::embedded().unwrap());
    let mut e = Engine::with_max_block(RATE, 1, Some(model), Mode::Offline, Arc::new(Meters::default()), 480);
    e.set(Settings { attenuation_limit_db: 0.0, ..Settings::default() });
    e.reset();
    let x = signal(RATE as usize, 5);
    let mut y = x.clone();
    for chunk in y.chunks_mut(480) {
        e.process(&mut [chunk]);
    }
    let max_lag = 4800; // 100 ms
    let n = x.len() - max_lag;
    let best = (0..=max_lag)
        .map(|lag| (lag, (0..n).map(|i| x[i] as f64 * y[i + lag] as f64).sum::<f64>()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    (e.latency(), best.0)
}

fn main() {
    let t0 = Instant::now();
    let spawn_ns: Option<u128> = std::env::args().nth(1).and_then(|s| s.parse().ok());
    let rss0 = rss_kib();
    let first = instance();
    let first_ms = t0.elapsed().as_secs_f64() * 1e3;
    let spawn_ms = spawn_ns.map(|ns| {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        (now.saturating_sub(ns)) as f64 / 1e6
    });
    let rss1 = rss_kib();
    let t1 = Instant::now();
    let second = instance();
    let second_ms = t1.elapsed().as_secs_f64() * 1e3;
    let mut all = vec![first, second];
    while all.len() < 8 {
        all.push(instance());
    }
    let rss8 = rss_kib();
    drop(all);
    let (latency, lag) = measured_lag();
    println!(
        "{{\"main_to_first_block_ms\": {first_ms:.2}, \"spawn_to_first_block_ms\": {}, \"second_instance_ms\": {second_ms:.2}, \
         \"rss_start_kib\": {rss0}, \"rss_1_instance_kib\": {rss1}, \"rss_8_instances_kib\": {rss8}, \
         \"per_instance_kib\": {:.0}, \"latency_samples\": {latency}, \"measured_lag_samples\": {lag}, \"rate\": {RATE}}}",
        spawn_ms.map_or("null".into(), |v| format!("{v:.2}")),
        (rss8 as f64 - rss1 as f64) / 7.0,
    );
}
