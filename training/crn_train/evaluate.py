"""Objective evaluation of our streaming model against the peers, all in one run, on held-out data.

    python -m crn_train.evaluate --data ../../shared/data --card ../assets/MODEL_CARD.md

Conditions (`testset.py`): held-out speakers x held-out noises at -5 / 0 / 5 dB at random levels; the
same speakers in babble; band-limited speech (8 kHz sources) in full-band noise; whole recordings that
were 8 kHz to begin with; quiet speech and noise at low levels; and real noisy phone recordings without a
reference. Systems: the unprocessed input; each `--models` entry (ONNX files with
the plugin's contract) run as the plugin runs it at 16 kHz (one frame at a time with the state carried,
gain = clamp(estimate / noisy, 0, 1), floored at the plugin's default 30 dB attenuation limit; the first
also without the floor); and the peers that are installed (`peers.py`), at their defaults. Each system's
delay is measured by cross-correlation with the clean reference on the `noise` condition (median over
utterances, within +-50 ms) and compensated everywhere.

Metrics: wide-band PESQ (P.862.2, `pesq`), narrow-band PESQ (P.862) for band-limited speech, STOI
(`pystoi`), SI-SDR; DNSMOS P.835 SIG / BAK / OVRL (`speechmos`'s models) on the real recordings. Writes
every number to `--out` (JSON) and the tables into the model card between `<!-- eval:begin -->` and
`<!-- eval:end -->`.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from . import data, stored, testset
from .peers import DNSMOS, PEERS, ShippedCRN

MAX_LAG = 800  # 50 ms at 16 kHz
DEFAULT_ATTEN_LIMIT_DB = 30.0  # the plugin's default (src/params.rs)
ROOT = Path(__file__).resolve().parents[2]


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

    ref, deg, narrow = args
    out = {"stoi": float(stoi(ref, deg, data.SR, extended=False)), "si_sdr": si_sdr(ref, deg)}
    for mode in ("wb", "nb") if narrow else ("wb",):
        try:
            out[f"pesq_{mode}"] = float(pesq(data.SR, ref, deg, mode))
        except Exception:  # e.g. no utterance detected
            out[f"pesq_{mode}"] = float("nan")
    return out


_dnsmos = None


def dnsmos_scores(x):
    global _dnsmos
    if _dnsmos is None:
        _dnsmos = DNSMOS()
    return _dnsmos(x)


def score_all(jobs: int, fn, args: list):
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(jobs) as ex:
            return list(ex.map(fn, args, chunksize=8))
    return [fn(a) for a in args]


# ------------------------------------------------------------------------------------------- report

def fmt(v, nd):
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.{nd}f}"


def _table(res, cond, metrics):
    snrs = testset.SNRS[cond]
    head = "| system | " + " | ".join(f"{label} {s:+.0f} dB" for label, _, _ in metrics for s in snrs) + " |"
    lines = [head, "|---" * (1 + len(metrics) * len(snrs)) + "|"]
    for name in res["systems"]:
        m = res["results"].get(name, {}).get(cond)
        if not m:
            continue
        cells = [fmt(scale * m[f"{s:+.0f}"][k], nd) for _, k, (scale, nd) in metrics for s in snrs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


WB = [("STOI", "stoi", (100, 1)), ("PESQ", "pesq_wb", (1, 2)), ("SI-SDR", "si_sdr", (1, 1))]
NB = [("STOI", "stoi", (100, 1)), ("PESQ-NB", "pesq_nb", (1, 2)), ("PESQ-WB", "pesq_wb", (1, 2))]
# The card's tables: condition, heading, columns.
TABLES = [
    ("noise", "**Noise** (held-out noise recordings)", WB),
    ("babble", f"**Babble** ({testset.BABBLE_TALKERS} other held-out talkers)", WB),
    ("band-limited", "**Band-limited speech** (an 8 kHz source: nothing above 4 kHz; the noise is full-band)", NB),
    ("narrowband", "**Narrow-band recordings** (speech and noise both end at 4 kHz, as a file that was 8 kHz "
                   "to begin with)", NB + [("SI-SDR", "si_sdr", (1, 1))]),
    ("quiet", f"**Quiet** (the same speech and noise at 10 / 20 dB, the mixture at {testset.QUIET_LEVEL_RANGE_DB[0]:.0f} "
              f"to {testset.QUIET_LEVEL_RANGE_DB[1]:.0f} dBFS RMS)", WB),
]


def render_tables(res: dict) -> str:
    cfg = res["config"]
    blocks = [f"{title}:\n\n{_table(res, cond, metrics)}\n\n" for cond, title, metrics in TABLES
              if any(cond in r for r in res["results"].values())]
    lines = ["| system | DNSMOS SIG | DNSMOS BAK | DNSMOS OVRL |", "|---|---|---|---|"]
    for name in res["systems"]:
        m = res["results"].get(name, {}).get("real", {}).get("all")
        if m:
            lines.append(f"| {name} | {fmt(m['sig'], 2)} | {fmt(m['bak'], 2)} | {fmt(m['ovrl'], 2)} |")
    if len(lines) > 2:
        blocks.append(f"**Real noisy recordings** ({cfg['n_real']} held-out speechocean762 phone recordings with the "
                      f"lowest speech-SNR estimates, {cfg['real_est_snr_db'][0]:.0f}-{cfg['real_est_snr_db'][1]:.0f} dB; "
                      f"no reference; DNSMOS P.835):\n\n" + "\n".join(lines) + "\n\n")
    notes = [f"- **{n}**: {i['desc']}; measured delay {i['lag_samples']} samples at 16 kHz (compensated)."
             for n, i in res["systems"].items()]
    skipped = "".join(f"- {p}: not run ({why})\n" for p, why in res.get("skipped", {}).items())
    return (f"Produced by `{cfg['command']}` ({cfg['elapsed_s'] / 60:.1f} min on {cfg['machine']}).\n\n"
            f"Held-out speakers ({cfg['n_speakers']}: {cfg['corpora']}), {cfg['n_utterances']} utterances of up to "
            f"{cfg['max_seconds']:.0f} s, held-out noise files ({cfg['n_noise_files']}), each mixture at a random "
            f"level of {testset.LEVEL_RANGE_DB[0]:.0f} to {testset.LEVEL_RANGE_DB[1]:.0f} dBFS RMS unless said, seed "
            f"{cfg['seed']}. STOI in %, PESQ wide-band (P.862.2) unless marked, SI-SDR in dB; means over utterances. "
            f"A system without rows in a condition was not run there.\n\n"
            + "".join(blocks) + "Systems:\n\n" + "\n".join(notes) + "\n" + skipped)


def render_paired(res: dict) -> str:
    p = res.get("paired")
    if not p:
        return ""
    lines = [f"**Paired: {p['candidate']} minus {p['baseline']}** on the same mixtures (mean difference per "
             f"utterance and its 95 % interval; STOI in points):", "",
             "| condition | " + " | ".join(LABELS[m] for m in PAIRED_ORDER) + " |", "|---" * (1 + len(PAIRED_ORDER)) + "|"]
    for key, ms in p["diff"].items():
        cells = []
        for m in PAIRED_ORDER:
            v = ms.get(m)
            k = 100 if m == "stoi" else 1
            cells.append("" if v is None else f"{k * v['mean']:+.2f} [{k * v['lo']:+.2f}, {k * v['hi']:+.2f}]")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    v = p["verdict"]
    lines += ["", f"Gate: better on {len(v['better'])} of {v['figures']} figures, worse on {len(v['worse'])}"
              + (f" ({', '.join(v['worse'])})" if v["worse"] else "")
              + (f"; STOI below the input in {', '.join(v['stoi_below_input'])}" if v["stoi_below_input"] else "")
              + f": **{'passes' if v['ship'] else 'does not pass'}**.", ""]
    return "\n" + "\n".join(lines) + "\n"


PAIRED_ORDER = ("stoi", "pesq_wb", "pesq_nb", "si_sdr", "sig", "bak", "ovrl")
LABELS = {"stoi": "STOI", "pesq_wb": "PESQ-WB", "pesq_nb": "PESQ-NB", "si_sdr": "SI-SDR", "sig": "SIG",
          "bak": "BAK", "ovrl": "OVRL"}


def update_card(card: Path, block: str):
    begin, end = "<!-- eval:begin -->", "<!-- eval:end -->"
    text = card.read_text() if card.exists() else "# Model card\n"
    if begin not in text or end not in text:
        text = text.rstrip() + f"\n\n## Evaluation\n\n{begin}\n{end}\n"
    pre, rest = text.split(begin, 1)
    _, post = rest.split(end, 1)
    card.write_text(f"{pre}{begin}\n{block}{end}{post}")


# --------------------------------------------------------------------------------------------- main

def parse_models(text: str) -> list[tuple[str, Path]]:
    out = []
    for part in filter(None, text.split(",")):
        label, _, path = part.rpartition("=")
        out.append((label or Path(path).stem, Path(path)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="data root (default: $CRN_DATA)")
    ap.add_argument("--models", default=f"crn-denoise={ROOT / 'assets/crn.onnx'}",
                    help="comma list of LABEL=PATH.onnx; the first is the shipped one")
    ap.add_argument("--out", default=str(ROOT / "assets/eval.json"))
    ap.add_argument("--card", help="model card to write the tables into (default: none)")
    ap.add_argument("--n", type=int, default=40, help="utterances (each in every condition)")
    ap.add_argument("--n-real", type=int, default=60, help="real noisy recordings")
    ap.add_argument("--seed", type=int, default=2018)
    ap.add_argument("--max-seconds", type=float, default=6.0)
    ap.add_argument("--peers", default=",".join(PEERS), help="comma list of peers to try (empty: none)")
    ap.add_argument("--jobs", type=int, default=2, help="processes scoring in parallel")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime / torch threads")
    ap.add_argument("--conditions", default=",".join(list(testset.SNRS) + ["real"]),
                    help="conditions to score (comma list; default: all)")
    ap.add_argument("--reuse", action="append", default=[],
                    help="an earlier eval.json: take systems' rows from it, for every condition made on the same "
                         "mixtures (checked), instead of running them (the peers: about an hour); repeatable")
    ap.add_argument("--reuse-systems", default="",
                    help="which stored systems to take, renamed with '=', e.g. 'crn-denoise=shipped,RNNoise' "
                         "(default: every stored system this run does not score itself)")
    ap.add_argument("--gate", help="compare the first --models entry with this system on paired intervals "
                                   "and print the ship verdict (default: 'shipped' when present)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    t0 = time.time()
    root = data.data_root(args.data)
    items, info = testset.build(root, args.n, args.n_real, args.seed, args.max_seconds)
    conditions = [c for c in args.conditions.split(",") if c]
    unknown = set(conditions) - set(testset.SNRS) - {"real"}
    if unknown:
        raise SystemExit(f"unknown conditions: {', '.join(sorted(unknown))}")
    items = [it for it in items if it["cond"] in conditions]
    hashes = stored.testset_hashes(items)
    print(f"test set: {len(items)} items in {time.time() - t0:.0f} s, hashes {hashes}", flush=True)
    description = {"n_utterances": args.n, "seed": args.seed, "max_seconds": args.max_seconds,
                   "snrs_db": testset.SNRS, "level_range_dbfs": testset.LEVEL_RANGE_DB,
                   "utterances": info["utterances"], "noise_files": info["noise_files"],
                   "real_recordings": info["real_recordings"]}
    own = {"unprocessed"}
    for k, (label, _) in enumerate(parse_models(args.models)):
        own |= {label} | ({f"{label} (no limit)"} if k == 0 else set())
    # What each stored file can give: (file, its rows, [(stored name, name here)], conditions on our mixtures).
    # The description and the hashes are checked before the work; older files' unprocessed rows after it.
    sources = []
    for path in args.reuse:
        old = json.loads(Path(path).read_text())
        pick = stored.parse_reuse(args.reuse_systems, list(old["systems"]), own)
        conds, how = stored.comparable_conditions(old, hashes, description)
        sources.append((path, old, pick, [c for c in conds if c in conditions], how))
        print(f"{path}: {', '.join(d for _, d in pick)} reusable in {', '.join(conds) or 'no condition'} "
              f"(same mixtures by {how})", flush=True)
    covered = defaultdict(set)  # name here -> conditions its stored rows cover
    for _, old, pick, conds, _ in sources:
        for src, dst in pick:
            covered[dst] |= {c for c in conds if c in old["results"].get(src, {})}
    xs = [it["noisy"] for it in items]

    outputs: dict[str, list] = {"unprocessed": list(xs)}
    systems: dict[str, dict] = {"unprocessed": {"desc": "the noisy input"}}
    meta = {}
    for k, (label, path) in enumerate(parse_models(args.models)):
        t = time.time()
        crn = ShippedCRN(path, args.threads)
        meta[label] = crn.meta
        variants = [(label, DEFAULT_ATTEN_LIMIT_DB)] + ([(f"{label} (no limit)", None)] if k == 0 else [])
        ys = {v: [] for v, _ in variants}
        for cond in conditions:  # batched per condition: similar lengths
            idx = [i for i, it in enumerate(items) if it["cond"] == cond]
            spec, mag, est, L = crn.estimates([xs[i] for i in idx])
            for v, limit in variants:
                ys[v] += list(zip(idx, crn.apply(spec, mag, est, L, [len(xs[i]) for i in idx], limit)))
        for v, limit in variants:
            outputs[v] = [y for _, y in sorted(ys[v], key=lambda p: p[0])]
            systems[v] = {"desc": (f"`{path.name}` ({crn.meta.get('training_audio_hours', '?')} h of training audio, "
                                   f"{crn.meta.get('training_steps', '?')} steps) through onnxruntime frame by frame, "
                                   f"gain = clamp(estimate / noisy, 0, 1)"
                                   + (f", floored at -{limit:.0f} dB (the plugin's default)" if limit else ", no floor"))}
        print(f"{label}: {time.time() - t:.0f} s", flush=True)

    skipped = {}
    for peer in [p for p in args.peers.split(",") if p and not set(conditions) <= covered[p]]:
        t = time.time()
        try:
            run, desc = PEERS[peer]()
            # only where no stored rows cover it: None elsewhere (not scored)
            outputs[peer] = [None if it["cond"] in covered[peer] else run(x) for it, x in zip(items, xs)]
        except Exception as e:  # not installed, or its model cannot be found, or it failed
            skipped[peer] = f"{type(e).__name__}: {e}"
            print(f"{peer}: skipped ({skipped[peer]})", flush=True)
            outputs.pop(peer, None)
            continue
        systems[peer] = {"desc": desc}
        print(f"{peer}: {time.time() - t:.0f} s", flush=True)

    for s, ys in outputs.items():
        # the delay from the noise condition, or from whatever has a reference where noise was not run
        ref_items = ([i for i, it in enumerate(items) if it["cond"] == "noise" and ys[i] is not None]
                     or [i for i, it in enumerate(items) if it["clean"] is not None and ys[i] is not None])
        lags = [lag_of(ys[i], items[i]["clean"]) for i in ref_items]
        lag = int(np.median(lags))
        systems[s]["lag_samples"] = lag
        systems[s]["lag_spread"] = [int(np.percentile(lags, 10)), int(np.percentile(lags, 90))]
        outputs[s] = [None if y is None else shift(y, lag, len(it["noisy"])) for y, it in zip(ys, items)]

    t = time.time()
    with_ref = [(s, i) for s in outputs for i, it in enumerate(items)
                if it["clean"] is not None and outputs[s][i] is not None]
    sc = score_all(args.jobs, scores, [(items[i]["clean"], outputs[s][i], items[i]["cond"] in testset.NARROW)
                                       for s, i in with_ref])
    no_ref = [(s, i) for s in outputs for i, it in enumerate(items)
              if it["clean"] is None and outputs[s][i] is not None]
    try:
        mos = score_all(args.jobs, dnsmos_scores, [outputs[s][i] for s, i in no_ref])
    except ImportError as e:
        skipped["DNSMOS"] = str(e)
        no_ref, mos = [], []
    print(f"scored {len(with_ref)} outputs against references and {len(no_ref)} by DNSMOS in {time.time() - t:.0f} s",
          flush=True)

    per = defaultdict(lambda: defaultdict(list))
    for (s, i), m in list(zip(with_ref, sc)) + list(zip(no_ref, mos)):
        it = items[i]
        key = f"{it['cond']}|" + ("all" if it["snr"] is None else f"{it['snr']:+.0f}")
        per[s][key].append(dict(m, utt=it["utt"], key=it["key"]))
    results = {}
    for s, conds in per.items():
        for key, ms in conds.items():
            cond, snr = key.split("|")
            agg = {k: float(np.nanmean([m[k] for m in ms])) for k in ms[0] if k not in ("utt", "key")}
            agg["n"] = len(ms)
            results.setdefault(s, {}).setdefault(cond, {})[snr] = agg

    cmd = "python -m crn_train.evaluate " + " ".join(argv if argv is not None else sys.argv[1:])
    est = info["real_est_snr_db"]
    res = {
        "config": {
            "testset_hashes": hashes, "conditions": conditions,
            "command": cmd, "models": args.models, "n_utterances": args.n, "n_real": len(info["real_recordings"]),
            "seed": args.seed, "max_seconds": args.max_seconds, "snrs_db": testset.SNRS,
            "level_range_dbfs": testset.LEVEL_RANGE_DB, "n_speakers": len(info["speakers"]),
            "corpora": ", ".join(sorted({s.split("/")[0] for s in info["speakers"]})),
            "n_noise_files": len(info["noise_files"]), "noise_files": info["noise_files"],
            "utterances": info["utterances"], "real_recordings": info["real_recordings"],
            "real_est_snr_db": [min(est), max(est)] if est else [0, 0],
            "elapsed_s": time.time() - t0, "machine": f"{platform.machine()} CPU, {args.jobs} scoring process(es)",
            "model_metadata": meta,
        },
        "systems": systems, "skipped": skipped, "results": results,
        "per_utterance": {s: dict(c) for s, c in per.items()},
    }
    reused = []
    for path, old, pick, conds, how in sources:
        if how != "hash":  # an older file: its unprocessed rows must equal this run's
            stored.comparable_conditions(old, hashes, description, res["per_utterance"]["unprocessed"])
        for src, dst in pick:
            for cond in conds:
                if cond not in old["results"].get(src, {}) or cond in res["results"].get(dst, {}):
                    continue  # this run's own rows, or an earlier file's, come first
                res["results"].setdefault(dst, {})[cond] = old["results"][src][cond]
                for key, rows in old["per_utterance"][src].items():
                    if key.split("|")[0] == cond:
                        res["per_utterance"].setdefault(dst, {})[key] = rows
                res["systems"].setdefault(dst, dict(old["systems"][src], desc=old["systems"][src]["desc"]
                                                    + f" (stored rows: {path})"))
                reused.append({"from": path, "system": src, "as": dst, "condition": cond, "same_mixtures_by": how})
    if reused:
        res["config"]["reused"] = reused
        print(f"reused {len(reused)} system-condition rows from {', '.join(args.reuse)}", flush=True)
    models = [label for label, _ in parse_models(args.models)]
    gate = args.gate or ("shipped" if "shipped" in res["systems"] else None)
    if models and gate and gate in res["per_utterance"] and gate != models[0]:
        diff = stored.paired(res["per_utterance"][models[0]], res["per_utterance"][gate])
        res["paired"] = {"candidate": models[0], "baseline": gate, "diff": diff,
                         "verdict": stored.verdict(diff, res["results"][models[0]], res["results"]["unprocessed"])}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    block = render_tables(res) + render_paired(res)
    print(block)
    if args.card:
        update_card(Path(args.card), block)
    print(f"wrote {args.out}" + (f" and {args.card}" if args.card else "") + f" in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
