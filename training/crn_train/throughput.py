"""Training throughput: seconds of mixtures trained per wall-clock second, old settings against new, in one run.

    python -m crn_train.throughput --data ../../shared/data \\
        "old:threads=2,amp=0" "new:threads=auto,amp=1,layout=cl,fold=1" --steps 24 --rounds 3

Each setting is `label:key=value,...` with keys `threads` (torch threads, or `auto`: `threads.py`'s
measured choice, its measuring steps timed too), `amp` (1: bf16 autocast
where the CPU does bf16 natively, as `train.py --amp` decides; 0: fp32), `layout` (`cl`: the
convolutions channels-last, as `train.cpu_layout` sets them; `plain`: as constructed), `fold` (1: the
frozen BatchNorm folded into the convolutions in training, `model.CRN._conv_bn`; 0: run as layers), `omp` (OMP_WAIT_POLICY:
`active` spins between parallel regions, `passive` sleeps, which costs nothing on an idle core and
gives a busy one back), `batch` and `seconds` (crop). Every setting runs in a process of its own
(thread counts and OpenMP's policy are fixed per process), in alternating rounds, on the same batches
from the same seed, from the same weights, with the step `train.train_step` (mixing, forward, loss,
backward, clipping, Adam, EMA) that training runs. A machine whose load changes during the run
changes every setting's rounds alike; the report gives each setting's median over rounds and the
ratio of medians to the first setting.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULTS = {"threads": "2", "amp": "0", "layout": "plain", "fold": "0", "omp": "", "batch": "24", "seconds": "3"}


def parse_setting(text: str) -> tuple[str, dict]:
    label, _, rest = text.partition(":")
    opts = dict(DEFAULTS)
    for part in filter(None, rest.split(",")):
        k, _, v = part.partition("=")
        if k not in DEFAULTS:
            raise SystemExit(f"unknown key {k!r} in {text!r} (keys: {', '.join(DEFAULTS)})")
        opts[k] = v
    return label, opts


def measure(opts: dict, data: str, cache: str, init: str | None, steps: int, warmup: int) -> dict:
    """Runs in the child process: `warmup` untimed steps, then `steps` timed ones."""
    import torch

    from . import corpus, train
    from .batchmix import Augment, BatchMixer
    from .loss import LossWeights
    from .model import CRN, CRNConfig, PRESETS
    from .threads import ThreadTuner

    tuner = None
    if opts["threads"] == "auto":  # as train.py --threads auto: measured choice between 1 and all cores
        cores = len(os.sched_getaffinity(0))
        tuner = ThreadTuner((1, cores), probe_steps=3, hold_steps=max(steps, 1)) if cores > 1 else None
        torch.set_num_threads(cores)
    else:
        torch.set_num_threads(int(opts["threads"]))
    torch.manual_seed(0)
    device = torch.device("cpu")
    c = corpus.cached(Path(data), "train", Path(cache))
    mixer = BatchMixer(c, Augment(seconds=float(opts["seconds"])), seed=0, device=device)
    model = CRN(PRESETS["small"])
    if init:
        ck = torch.load(init, map_location="cpu", weights_only=False)
        model = CRN(CRNConfig.from_dict(ck["config"]))
        model.load_state_dict(ck["model"])
    model.fold_frozen_bn = opts["fold"] == "1"
    if opts["layout"] == "cl":
        model = train.cpu_layout(model, device)
    train.train_mode(model, freeze_bn=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    ema = train.EMA(model, 0.999)
    amp = train.use_amp(opts["amp"] == "1", device)
    weights = LossWeights()
    batch = int(opts["batch"])
    for _ in range(warmup):
        train.train_step(model, opt, ema, mixer, batch, weights, amp)
    t0, c0, audio = time.perf_counter(), time.process_time(), 0.0
    for _ in range(steps):  # the tuner's measuring steps count: training pays for them too
        ts = time.perf_counter()
        if tuner:
            tuner.threads()
        _, secs = train.train_step(model, opt, ema, mixer, batch, weights, amp)
        if tuner:
            tuner.record(secs, time.perf_counter() - ts)
        audio += secs
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"speed": audio / wall, "per_cpu_second": audio / cpu, "amp": amp, "threads": torch.get_num_threads()}


def run_child(opts: dict, args) -> dict:
    env = dict(os.environ)
    if opts["omp"]:
        env["OMP_WAIT_POLICY"] = opts["omp"].upper()
    cmd = [sys.executable, "-m", "crn_train.throughput", "--child", json.dumps(opts), "--data", args.data,
           "--cache", args.cache, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    if args.init:
        cmd += ["--init", args.init]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("settings", nargs="*", default=["old:threads=2,amp=0", "new:threads=auto,amp=1,layout=cl,fold=1"])
    ap.add_argument("--data", default=os.environ.get("CRN_DATA", str(Path(__file__).resolve().parents[3] / "shared" / "data")))
    ap.add_argument("--cache", default=str(Path(__file__).resolve().parents[1] / "runs" / "cache"))
    ap.add_argument("--init", help="checkpoint whose weights every setting starts from (default: fresh weights)")
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(json.loads(args.child), args.data, args.cache, args.init, args.steps, args.warmup)))
        return
    settings = [parse_setting(s) for s in args.settings]
    results: dict[str, list[dict]] = {label: [] for label, _ in settings}
    for r in range(args.rounds):
        for label, opts in settings:
            res = run_child(opts, args)
            results[label].append(res)
            print(f"round {r + 1} {label}: {res['speed']:.1f}x real time ({res['per_cpu_second']:.1f}x per CPU "
                  f"second, bf16 {res['amp']})", flush=True)
    base = None
    print(f"\n| setting | median x real time | per CPU second | vs {settings[0][0]} |\n|---|---|---|---|")
    for label, opts in settings:
        med = statistics.median(x["speed"] for x in results[label])
        cpu = statistics.median(x["per_cpu_second"] for x in results[label])
        base = base or med
        desc = ",".join(f"{k}={v}" for k, v in opts.items() if v)
        print(f"| {label} ({desc}) | {med:.1f} | {cpu:.1f} | {med / base:.2f}x |")


if __name__ == "__main__":
    main()
