"""Train the CRN: MSE on (compressed) magnitude, Adam, batch 16, padded frames masked out.

Resumes from `<out>/last.pt` when it exists; writes it every `--ckpt-minutes`, keeps the best
validation checkpoint as `<out>/best.pt` and appends one line per checkpoint to `<out>/train.log`.
Mixtures are made on the fly by `--workers` processes, so a GPU is not starved by numpy.
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from . import data, features
from .model import CRN, CRNConfig, PRESETS, compress


def masked_loss(model: CRN, noisy: torch.Tensor, clean: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    X = features.stft(noisy).abs()
    Y = features.stft(clean).abs()
    est = model(X)
    c = model.cfg.compress
    T = X.shape[1]
    frames = torch.clamp((lengths - features.FRAME) // features.HOP + 1, min=0)
    mask = (torch.arange(T, device=X.device)[None, :] < frames[:, None]).float()[..., None]  # padding never counts
    err = (compress(est, c) - compress(Y, c)) ** 2 * mask
    return err.sum() / (mask.sum() * X.shape[2]).clamp(min=1)


def fixed_set(mixer: data.Mixer, n: int):
    return [mixer.batch(16) for _ in range(max(1, n // 16))]


def evaluate(model: CRN, batches, device) -> float:
    model.eval()
    with torch.no_grad():
        losses = [masked_loss(model, *(torch.from_numpy(a).to(device) for a in b)).item() for b in batches]
    model.train()
    return float(np.mean(losses))


def build_mixers(root: Path, cache_dir: Path | None, seed: int):
    """Train and validation mixers; validation is None when the data root holds none of it."""
    rows = data.read_manifest(root)
    present = {r["path"] for r in rows}
    split = data.load_split(rows)
    out = {}
    for part in ("train", "valid"):
        f = data.files_for(rows, split, part)
        f = {k: ([p for p in v if p in present] if isinstance(v, list) else v) for k, v in f.items()}
        if not f["speech"] or not f["noise"]:
            out[part] = None
            continue
        cache = cache_dir / f"audio_{part}.npz" if cache_dir else None
        audio = data.load_all(root, f["speech"] + f["noise"] + f["rir"], cache)
        pick = lambda keys: {k: audio[k] for k in keys}
        out[part] = data.Mixer(pick(f["speech"]), pick(f["noise"]), pick(f["rir"]), f["speaker_of"],
                               seed=seed if part == "train" else 1234)
    if out["train"] is None:
        raise SystemExit(f"{root}: no training speech or noise")
    return out["train"], out["valid"]


class MixStream(torch.utils.data.IterableDataset):
    """Endless batches from one mixer; each worker process reseeds its own copy."""

    def __init__(self, mixer: data.Mixer, batch: int, seed: int):
        self.mixer, self.batch, self.seed = mixer, batch, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid = info.id if info else 0
        self.mixer.rng = np.random.default_rng([self.seed, wid, int(time.time() * 1e3) % 2**31])
        while True:
            yield self.mixer.batch(self.batch)


def batches(mixer: data.Mixer, batch: int, workers: int, seed: int):
    if workers == 0:
        while True:
            yield mixer.batch(batch)
    loader = torch.utils.data.DataLoader(MixStream(mixer, batch, seed), batch_size=None, num_workers=workers,
                                         prefetch_factor=4, persistent_workers=True, pin_memory=True)
    yield from loader


def lr_at(base: float, frac: float) -> float:
    """Cosine from `base` down to base/20 over the run: a small net keeps improving late."""
    frac = min(max(frac, 0.0), 1.0)
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", help="data root (default: $CRN_DATA)")
    ap.add_argument("--out", default="runs/small")
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hours", type=float, default=1.0, help="stop after this much wall time")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (CPU training)")
    ap.add_argument("--workers", type=int, default=0, help="processes making mixtures (0: in the training loop)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-cache", action="store_true", help="do not cache decoded audio next to --out")
    ap.add_argument("--init", help="start from this checkpoint's weights when out/last.pt is missing")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = data.data_root(args.data)
    t_load = time.time()
    train_mix, valid_mix = build_mixers(root, None if args.no_cache else out.parent / "cache", args.seed)
    valid = fixed_set(valid_mix, 64) if valid_mix else None
    print(f"data ready in {time.time() - t_load:.0f} s: {len(train_mix.speech_keys)} utterances, "
          f"{len(train_mix.noise_keys)} noises", flush=True)

    cfg = PRESETS[args.preset]
    model = CRN(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    state = {"step": 0, "audio_seconds": 0.0, "train_seconds": 0.0, "best_valid": float("inf")}
    resume = out / "last.pt" if (out / "last.pt").exists() else (Path(args.init) if args.init else None)
    if resume:
        ck = torch.load(resume, map_location=device, weights_only=False)
        assert CRNConfig.from_dict(ck["config"]) == cfg, "checkpoint is of another preset"
        model.load_state_dict(ck["model"])
        if "opt" in ck and resume == out / "last.pt":
            opt.load_state_dict(ck["opt"])
        state.update(ck.get("state", {}))
        if resume != out / "last.pt":
            state["best_valid"] = float("inf")
        train_mix.rng = np.random.default_rng(args.seed + state["step"])
        print(f"resumed from {resume} at step {state['step']}", flush=True)
    print(f"preset {args.preset} {cfg} params {model.param_count()} MACs/frame {model.macs_per_frame()} "
          f"device {device}", flush=True)

    def save(path: Path, with_opt: bool):
        ck = {"config": cfg.to_dict(), "model": model.state_dict(), "state": dict(state)}
        if with_opt:
            ck["opt"] = opt.state_dict()
        tmp = path.with_suffix(".tmp")
        torch.save(ck, tmp)
        tmp.replace(path)

    def checkpoint():
        line = (f"step={state['step']} audio_hours={state['audio_seconds'] / 3600:.3f} "
                f"train_hours={state['train_seconds'] / 3600:.3f} lr={opt.param_groups[0]['lr']:.2e}")
        if valid:
            v = evaluate(model, valid, device)
            line += f" valid_loss={v:.6f}"
            if v < state["best_valid"]:
                state["best_valid"] = v
                save(out / "best.pt", with_opt=False)
        else:
            save(out / "best.pt", with_opt=False)
        print(line, flush=True)
        with open(out / "train.log", "a") as log:
            log.write(line + "\n")
        save(out / "last.pt", with_opt=True)

    t_start = time.time()
    t_end = t_start + args.hours * 3600
    last_ckpt = time.time()
    losses = []
    model.train()
    for x, y, lengths in batches(train_mix, args.batch, args.workers, args.seed + state["step"]):
        t0 = time.time()
        for g in opt.param_groups:
            g["lr"] = lr_at(args.lr, (t0 - t_start) / (t_end - t_start))
        x, y, lengths = (torch.as_tensor(a).to(device, non_blocking=True) for a in (x, y, lengths))
        loss = masked_loss(model, x, y, lengths)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(loss.detach())
        state["step"] += 1
        state["audio_seconds"] += float(lengths.sum()) / data.SR
        state["train_seconds"] += time.time() - t0
        if state["step"] % 200 == 0:
            rtf = state["audio_seconds"] / max(state["train_seconds"], 1e-9)
            print(f"step {state['step']} loss {torch.stack(losses).mean().item():.5f} "
                  f"audio_h {state['audio_seconds'] / 3600:.1f} speed {rtf:.0f}x", flush=True)
            losses = []
        now = time.time()
        if now - last_ckpt > args.ckpt_minutes * 60 or now >= t_end:
            checkpoint()
            last_ckpt = time.time()
            if now >= t_end:
                break


if __name__ == "__main__":
    main()
