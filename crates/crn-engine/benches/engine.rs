//! Cost of the denoiser: one model frame, the whole engine per 10 ms hop, host blocks, and
//! instance start-up. `cargo bench --bench engine`; `scripts/bench.py` runs it and writes
//! BENCHMARKS.md from target/criterion/*/*/new/estimates.json.
//!
//! Every engine here is in `Mode::Offline`, which runs the model on the calling thread (no
//! worker), so a measured block includes analysis, the model and the synthesis: the full CPU
//! cost of that audio, not just the audio thread's share. Real-time waiting is measured by
//! `examples/wait.rs`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crn_engine::engine::{Engine, Mode};
use crn_engine::meter::Meters;
use crn_engine::model::Model;
use crn_engine::stft::MODEL_BINS;

#[path = "support/xorshift.rs"]
mod xorshift;
use xorshift::XorShift;

const RATE: f32 = 48_000.0;

/// Deterministic noise-like test signal (xorshift), about -20 dBFS.
fn signal(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = XorShift::seeded(seed);
    (0..len)
        .map(|i| {
            let n = rng.centred();
            0.1 * n + 0.05 * (i as f32 * 0.037).sin()
        })
        .collect()
}

fn model() -> Arc<Model> {
    Arc::new(Model::embedded().expect("shipped model loads (run scripts/fetch-onnxruntime.sh)"))
}

/// Feeds `block`-sample blocks of a looping one-second signal through `engine`.
struct Feeder {
    src: Vec<Vec<f32>>,
    buf: Vec<Vec<f32>>,
    pos: usize,
    block: usize,
}

impl Feeder {
    fn new(channels: usize, block: usize) -> Self {
        let len = RATE as usize;
        Self {
            src: (0..channels).map(|c| signal(len, 7 + c as u64)).collect(),
            buf: vec![vec![0.0; block]; channels],
            pos: 0,
            block,
        }
    }

    fn block(&mut self, engine: &mut Engine) {
        let (n, len) = (self.block, self.src[0].len());
        if self.pos + n > len {
            self.pos = 0;
        }
        for (b, s) in self.buf.iter_mut().zip(&self.src) {
            b.copy_from_slice(&s[self.pos..self.pos + n]);
        }
        self.pos += n;
        let mut slices: Vec<&mut [f32]> = self.buf.iter_mut().map(|b| &mut b[..]).collect();
        engine.process(black_box(&mut slices));
    }
}

fn engine(channels: usize, max_block: usize, model: Arc<Model>) -> Engine {
    engine_at(RATE, channels, max_block, model)
}

fn engine_at(rate: f32, channels: usize, max_block: usize, model: Arc<Model>) -> Engine {
    let mut e = Engine::with_max_block(rate, channels, Some(model), Mode::Offline, Arc::new(Meters::default()), max_block);
    e.reset();
    e
}

/// (a) One 16 kHz model frame through ONNX Runtime, batch 1, state carried.
fn model_frame(c: &mut Criterion) {
    let m = model();
    let mut g = c.benchmark_group("model_frame");
    let mags: Vec<f32> = signal(MODEL_BINS, 3).iter().map(|x| x.abs() * 10.0).collect();
    let mut state = vec![0.0; m.info.state_size];
    let mut est = vec![0.0; MODEL_BINS];
    g.bench_function("batch1", |b| b.iter(|| m.run(1, black_box(&mags), &mut state, &mut est).unwrap()));
    g.finish();
}

/// (b) The whole engine per 10 ms hop at 48 kHz, mono and stereo (and 16 kHz mono, the
/// model's own rate, for the comparison with 16 kHz peers).
fn engine_hop(c: &mut Criterion) {
    let m = model();
    let mut g = c.benchmark_group("engine_hop");
    for (name, rate, ch) in [("48k_mono", RATE, 1usize), ("48k_stereo", RATE, 2), ("16k_mono", 16_000.0, 1)] {
        let hop = (rate / 100.0) as usize;
        let mut e = engine_at(rate, ch, hop, m.clone());
        let mut f = Feeder::new(ch, hop);
        for _ in 0..20 {
            f.block(&mut e);
        }
        g.throughput(Throughput::Elements(hop as u64));
        g.bench_function(name, |b| b.iter(|| f.block(&mut e)));
    }
    g.finish();
}

/// (c) Host blocks of 64 and 512 samples at 48 kHz stereo.
fn process_blocks(c: &mut Criterion) {
    let m = model();
    let mut g = c.benchmark_group("process_48k_stereo");
    for block in [64usize, 512] {
        let mut e = engine(2, block, m.clone());
        let mut f = Feeder::new(2, block);
        for _ in 0..(20 * 480 / block + 1) {
            f.block(&mut e);
        }
        g.throughput(Throughput::Elements(block as u64));
        g.bench_with_input(BenchmarkId::from_parameter(block), &block, |b, _| b.iter(|| f.block(&mut e)));
    }
    g.finish();
}

/// Process CPU time (every thread: the caller's and the inference worker's).
fn cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// (b, c) again, timed in process CPU time instead of wall time: the number for "% of a core"
/// (offline has no worker and no waiting, so the two now nearly agree).
fn cpu_cost(c: &mut Criterion) {
    let m = model();
    let mut g = c.benchmark_group("cpu_48k");
    for (name, ch, block) in [("hop_mono", 1usize, 480usize), ("hop_stereo", 2, 480), ("block64_stereo", 2, 64), ("block512_stereo", 2, 512)] {
        let mut e = engine(ch, block, m.clone());
        let mut f = Feeder::new(ch, block);
        for _ in 0..(20 * 480 / block + 1) {
            f.block(&mut e);
        }
        g.throughput(Throughput::Elements(block as u64));
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let t = cpu_now();
                for _ in 0..iters {
                    f.block(&mut e);
                }
                cpu_now() - t
            })
        });
    }
    g.finish();
}

/// (d) A new instance once the process-wide ORT environment exists: load the embedded model,
/// build a stereo engine for 512-sample blocks, process the first block. First-instance cold
/// start (loading libonnxruntime, creating the environment) is in examples/startup.rs.
fn startup(c: &mut Criterion) {
    drop(model()); // the environment, created once per process
    let mut g = c.benchmark_group("startup");
    g.sample_size(10);
    g.bench_function("instance_48k_stereo_512", |b| {
        // The engine is dropped (worker joined) outside the timed region.
        b.iter_with_large_drop(|| {
            let mut e = engine(2, 512, model());
            let mut f = Feeder::new(2, 512);
            f.block(&mut e);
            e
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = model_frame, engine_hop, process_blocks, cpu_cost, startup
}
criterion_main!(benches);
