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
use crn_engine::engine::{Engine, Mode, MAX_CHUNK};
use crn_engine::meter::Meters;
use crn_engine::model::Model;
use crn_engine::stft::MODEL_BINS;

#[path = "support/xorshift.rs"]
mod xorshift;
use xorshift::XorShift;

const RATE: f32 = 48_000.0;
/// Frames one full chunk completes at 48 kHz (480-sample hops): one offline model call of the CLI.
const BLOCK_FRAMES: usize = MAX_CHUNK / 480;

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

/// (a) One 16 kHz model frame through ONNX Runtime, batch 1, state carried: the shipped graph
/// through the engine's bound session, one frame a call (real time) and 17 a call (offline), when `CRN_OLD_MODEL` names it, the same weights in
/// the first contract's graph (one flat state, traced by torch.onnx) run as the engine ran it
/// then, `Session::run` with borrowed inputs and copied-out outputs. scripts/bench.py extracts
/// that graph from git history so both run in the same process on the same machine.
fn model_frame(c: &mut Criterion) {
    let m = model();
    let mut g = c.benchmark_group("model_frame");
    let mags: Vec<f32> = signal(MODEL_BINS, 3).iter().map(|x| x.abs() * 10.0).collect();
    let mut est = vec![0.0; MODEL_BINS];
    for ch in [1usize, 2] {
        let mut bound = m.bind(ch).unwrap();
        let mags: Vec<f32> = mags.iter().cycle().take(ch * MODEL_BINS).copied().collect();
        let mut est = vec![0.0; ch * MODEL_BINS];
        g.bench_function(format!("batch{ch}"), |b| b.iter(|| bound.run(&m, black_box(&mags), &mut est).unwrap()));
    }
    // An offline render's call: the frames one full chunk (MAX_CHUNK) completes at 48 kHz (the CLI's
    // block), in one call (`crn_engine::inline`); per-frame time is this over BLOCK_FRAMES.
    {
        let mut bound = m.bind(1).unwrap();
        let mags: Vec<f32> = mags.iter().cycle().take(BLOCK_FRAMES * MODEL_BINS).copied().collect();
        let mut est = vec![0.0; BLOCK_FRAMES * MODEL_BINS];
        g.bench_function(format!("block{BLOCK_FRAMES}_batch1"), |b| {
            b.iter(|| bound.run_frames(&m, BLOCK_FRAMES, black_box(&mags), &mut est).unwrap())
        });
    }
    if let Some(path) = std::env::var_os("CRN_OLD_MODEL") {
        let mut old = old_graph::Old::load(std::path::Path::new(&path));
        g.bench_function("old_graph_batch1", |b| b.iter(|| old.run(black_box(&mags), &mut est)));
    }
    g.finish();
}

/// The first contract's graph (`mag`, `state` -> `estimate`, `new_state`), run exactly as the
/// engine ran it before the bound session.
mod old_graph {
    use crn_engine::stft::MODEL_BINS;
    use ort::session::builder::GraphOptimizationLevel;
    use ort::session::Session;
    use ort::value::TensorRef;

    pub struct Old {
        session: Session,
        state: Vec<f32>,
    }

    impl Old {
        pub fn load(path: &std::path::Path) -> Self {
            let env = crn_engine::model::environment().unwrap();
            let session = Session::builder(env)
                .unwrap()
                .with_optimization_level(GraphOptimizationLevel::Level3)
                .unwrap()
                .with_intra_threads(1)
                .unwrap()
                .with_inter_threads(1)
                .unwrap()
                .with_intra_op_spinning(false)
                .unwrap()
                .with_inter_op_spinning(false)
                .unwrap()
                .commit_from_file(path)
                .unwrap();
            let size: usize = session.metadata().unwrap().custom("state_size").unwrap().parse().unwrap();
            Self { session, state: vec![0.0; size] }
        }

        pub fn run(&mut self, mags: &[f32], est: &mut [f32]) {
            let s = self.state.len();
            let mag_t = TensorRef::from_array_view(([1, MODEL_BINS], &mags[..MODEL_BINS])).unwrap();
            let state_t = TensorRef::from_array_view(([1, s], &self.state[..])).unwrap();
            let out = self.session.run(ort::inputs!["mag" => mag_t, "state" => state_t]).unwrap();
            let (_, e) = out["estimate"].try_extract_tensor::<f32>().unwrap();
            let (_, ns) = out["new_state"].try_extract_tensor::<f32>().unwrap();
            est[..MODEL_BINS].copy_from_slice(e);
            let ns = ns.to_vec();
            drop(out);
            self.state.copy_from_slice(&ns);
        }
    }
}

/// The multiply-add bound's denominator: one core's single-precision GEMM rate through the
/// same runtime (ORT's MLAS), a 256 x 256 x 256 MatMul, 16.8 M multiply-adds a call. The graph
/// is built here in memory so nothing else is needed; scripts/bench.py divides the model's
/// multiply-adds per frame by this rate.
fn gemm_rate(c: &mut Criterion) {
    use ort::session::Session;
    use ort::value::Tensor;
    let env = crn_engine::model::environment().unwrap();
    let mut session = Session::builder(env)
        .unwrap()
        .with_intra_threads(1)
        .unwrap()
        .with_intra_op_spinning(false)
        .unwrap()
        .commit_from_memory(&matmul_onnx(256))
        .unwrap();
    let a = Tensor::from_array(([256usize, 256], signal(256 * 256, 5))).unwrap();
    let b = Tensor::from_array(([256usize, 256], signal(256 * 256, 6))).unwrap();
    let mut g = c.benchmark_group("gemm");
    g.throughput(Throughput::Elements(256 * 256 * 256));
    g.bench_function("matmul_256", |bch| bch.iter(|| drop(session.run(ort::inputs!["a" => &a, "b" => &b]).unwrap())));
    g.finish();
}

/// A one-node ONNX model, `y = MatMul(a, b)` with `a`, `b` of [n, n] float, in protobuf wire
/// format written by hand (no ONNX writer in the Rust dependencies).
fn matmul_onnx(n: u64) -> Vec<u8> {
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn field(tag: u64, body: &[u8], out: &mut Vec<u8>) {
        varint(tag << 3 | 2, out);
        varint(body.len() as u64, out);
        out.extend_from_slice(body);
    }
    fn int_field(tag: u64, v: u64, out: &mut Vec<u8>) {
        varint(tag << 3, out);
        varint(v, out);
    }
    // ValueInfoProto{name, type: TypeProto{tensor_type: {elem_type: FLOAT, shape: [n, n]}}}
    let value_info = |name: &str| {
        let mut dim = Vec::new();
        int_field(1, n, &mut dim); // TensorShapeProto.Dimension.dim_value
        let mut shape = Vec::new();
        field(1, &dim, &mut shape);
        field(1, &dim, &mut shape);
        let mut tensor = Vec::new();
        int_field(1, 1, &mut tensor); // elem_type FLOAT
        field(2, &shape, &mut tensor);
        let mut ty = Vec::new();
        field(1, &tensor, &mut ty);
        let mut vi = Vec::new();
        field(1, name.as_bytes(), &mut vi);
        field(2, &ty, &mut vi);
        vi
    };
    let mut node = Vec::new();
    field(1, b"a", &mut node);
    field(1, b"b", &mut node);
    field(2, b"y", &mut node);
    field(4, b"MatMul", &mut node);
    let mut graph = Vec::new();
    field(1, &node, &mut graph);
    field(2, b"gemm", &mut graph);
    field(11, &value_info("a"), &mut graph);
    field(11, &value_info("b"), &mut graph);
    field(12, &value_info("y"), &mut graph);
    let mut opset = Vec::new();
    int_field(2, 17, &mut opset);
    let mut model = Vec::new();
    int_field(1, 8, &mut model); // ir_version
    field(7, &graph, &mut model);
    field(8, &opset, &mut model);
    model
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
    targets = model_frame, gemm_rate, engine_hop, process_blocks, cpu_cost, startup
}
criterion_main!(benches);
