//! The CPU yardstick the engine is held to: RNNoise in Rust (`nnnoiseless`, crates.io), one 10 ms
//! frame of 48 kHz mono, the same work unit as `engine_hop/48k_mono` in `benches/engine.rs`.
//! `scripts/bench.py` runs both in one invocation and reports the ratio (target: the engine at most
//! 4x nnnoiseless's CPU per audio second).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nnnoiseless::DenoiseState;

#[path = "support/xorshift.rs"]
mod xorshift;
use xorshift::XorShift;

fn noisy_speechlike(len: usize) -> Vec<f32> {
    // nnnoiseless expects 16-bit-scaled floats; a noisy harmonic signal at about -20 dBFS.
    let mut rng = XorShift::new(0x9E37_79B9_7F4A_7C15);
    (0..len)
        .map(|i| {
            let n = rng.centred();
            let t = i as f32 / 48_000.0;
            3276.8 * (0.5 * n + 0.3 * (2.0 * std::f32::consts::PI * 180.0 * t).sin())
        })
        .collect()
}

fn nnnoiseless_hop(c: &mut Criterion) {
    let input = noisy_speechlike(48_000);
    let mut state = DenoiseState::new();
    let mut out = [0.0f32; DenoiseState::FRAME_SIZE];
    let mut pos = 0;
    let mut g = c.benchmark_group("peer_hop");
    g.throughput(Throughput::Elements(DenoiseState::FRAME_SIZE as u64));
    g.bench_function("nnnoiseless_48k_mono", |b| {
        b.iter(|| {
            if pos + DenoiseState::FRAME_SIZE > input.len() {
                pos = 0;
            }
            state.process_frame(&mut out, black_box(&input[pos..pos + DenoiseState::FRAME_SIZE]));
            pos += DenoiseState::FRAME_SIZE;
            black_box(out[0])
        })
    });
    g.finish();
}

criterion_group!(benches, nnnoiseless_hop);
criterion_main!(benches);
