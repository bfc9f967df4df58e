"""Train the CRN: MSE on (compressed) magnitude, Adam, batch 16, padded frames masked out.

Resumes from `<out>/last.pt` when it exists; writes it every `--ckpt-minutes`, keeps the best
validation checkpoint as `<out>/best.pt` and appends one line per step group to `<out>/train.log`.
"""
from __future__ import annotations

import argparse
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
    mask = (torch.arange(T)[None, :] < frames[:, None]).float()[..., None]  # padding never counts
    err = (compress(est, c) - compress(Y, c)) ** 2 * mask
    return err.sum() / (mask.sum() * X.shape[2]).clamp(min=1)


def fixed_set(mixer: data.Mixer, n: int):
    return [mixer.batch(16) for _ in range(max(1, n // 16))]


def evaluate(model: CRN, batches) -> float:
    model.eval()
    with torch.no_grad():
        losses = [masked_loss(model, torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(l)).item()
                  for x, y, l in batches]
    model.train()
    return float(np.mean(losses))


def build_mixers(root: Path, cache_dir: Path, seed: int):
    rows = data.read_manifest(root)
    split = data.load_split(rows)
    out = {}
    for part in ("train", "valid"):
        f = data.files_for(rows, split, part)
        audio = data.load_all(root, f["speech"] + f["noise"] + f["rir"], cache_dir / f"audio_{part}.npz")
        pick = lambda keys: {k: audio[k] for k in keys}
        out[part] = data.Mixer(pick(f["speech"]), pick(f["noise"]), pick(f["rir"]), f["speaker_of"],
                               seed=seed if part == "train" else 1234)
    return out["train"], out["valid"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", help="data root (default: $CRN_DATA)")
    ap.add_argument("--out", default="runs/small")
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hours", type=float, default=1.0, help="stop after this much wall time")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", help="start from this checkpoint's weights when out/last.pt is missing")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = data.data_root(args.data)
    train_mix, valid_mix = build_mixers(root, out.parent / "cache", args.seed)
    valid = fixed_set(valid_mix, 64)

    cfg = PRESETS[args.preset]
    model = CRN(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    state = {"step": 0, "audio_seconds": 0.0, "train_seconds": 0.0, "best_valid": float("inf")}
    resume = out / "last.pt" if (out / "last.pt").exists() else (Path(args.init) if args.init else None)
    if resume:
        ck = torch.load(resume, map_location="cpu", weights_only=False)
        assert CRNConfig.from_dict(ck["config"]) == cfg, "checkpoint is of another preset"
        model.load_state_dict(ck["model"])
        if "opt" in ck:
            opt.load_state_dict(ck["opt"])
        state.update(ck.get("state", {}))
        train_mix.rng = np.random.default_rng(args.seed + state["step"])
        print(f"resumed from {resume} at step {state['step']}", flush=True)
    print(f"preset {args.preset} {cfg} params {model.param_count()} MACs/frame {model.macs_per_frame()}", flush=True)

    def save(path: Path, with_opt: bool):
        ck = {"config": cfg.to_dict(), "model": model.state_dict(), "state": dict(state)}
        if with_opt:
            ck["opt"] = opt.state_dict()
        tmp = path.with_suffix(".tmp")
        torch.save(ck, tmp)
        tmp.replace(path)

    log = open(out / "train.log", "a")
    t_end = time.time() + args.hours * 3600
    last_ckpt = time.time()
    losses = []
    model.train()
    while time.time() < t_end:
        t0 = time.time()
        x, y, lengths = train_mix.batch(args.batch)
        loss = masked_loss(model, torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(lengths))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(loss.item())
        state["step"] += 1
        state["audio_seconds"] += float(lengths.sum()) / data.SR
        state["train_seconds"] += time.time() - t0
        if state["step"] % 50 == 0:
            rtf = state["audio_seconds"] / max(state["train_seconds"], 1e-9)
            print(f"step {state['step']} loss {np.mean(losses):.5f} audio_h {state['audio_seconds'] / 3600:.2f} "
                  f"speed {rtf:.1f}x", flush=True)
            losses = []
        if time.time() - last_ckpt > args.ckpt_minutes * 60 or time.time() >= t_end:
            v = evaluate(model, valid)
            line = (f"step={state['step']} audio_hours={state['audio_seconds'] / 3600:.3f} "
                    f"train_hours={state['train_seconds'] / 3600:.3f} valid_loss={v:.6f}")
            print(line, flush=True)
            log.write(line + "\n")
            log.flush()
            if v < state["best_valid"]:
                state["best_valid"] = v
                save(out / "best.pt", with_opt=False)
            save(out / "last.pt", with_opt=True)
            last_ckpt = time.time()


if __name__ == "__main__":
    main()
