"""Continue training from the newest checkpoint until a wall-clock time: the command every session runs.

    bash resume.sh 20:50                         # niced, in the background (what a session starts first)
    python -m crn_train.resume --until 20:50     # the same in the foreground

The repository keeps one checkpoint, `checkpoints/latest.pt` (weights, optimiser, the weights' moving
average, running totals; fp32), and its log `checkpoints/latest.train.log`. This continues it (or, the
first time, the most-trained `.pt` in `checkpoints/`), writes it back every `--ckpt-minutes` and when it
stops, and logs the hours of mixtures this run added and the total, with the PESQ and STOI of the
plugin's output on a fixed validation subset (`listen.py`); the moving average at the best checkpoint
by that rule goes to `runs/best.pt`, this session's candidate for the gate. Commit both kept files
afterwards. The
learning rate is constant (`--lr`): a run is one stretch of a training that never ends, and the moving
average is what gets validated and exported.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from . import train

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
KEPT = "latest.pt"
DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # ../shared beside the checkout


def audio_hours(path: Path) -> float:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    return ck.get("state", {}).get("audio_seconds", 0.0) / 3600


def newest(folder: Path) -> Path:
    """The kept checkpoint, or before it exists the `.pt` that has seen the most training audio (file times
    mean nothing in a fresh clone)."""
    if (folder / KEPT).exists():
        return folder / KEPT
    found = sorted(folder.glob("*.pt"), key=audio_hours)
    if not found:
        raise SystemExit(f"no checkpoint in {folder}")
    return found[-1]


def train_args(folder: Path, until: str, data: str, extra: list[str]) -> list[str]:
    start = newest(folder)
    runs = folder.parent / "runs"
    return ["--ckpt", str(folder / KEPT), "--init", str(start), "--until", until, "--data", data,
            "--batch", "24", "--seconds", "3", "--lr", "1e-4", "--warmup", "50", "--schedule", "constant",
            "--ema", "0.999", "--ckpt-minutes", "5", "--cache", str(runs / "cache"),
            "--best", str(runs / "best.pt")] + extra


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--until", required=True, help="stop at this wall-clock time ('HH:MM', ISO, Unix seconds)")
    ap.add_argument("--data", default=os.environ.get("CRN_DATA", str(DEFAULT_DATA)))
    ap.add_argument("--checkpoints", default=str(CHECKPOINTS), help="folder of the kept checkpoint")
    ap.add_argument("--dry-run", action="store_true", help="print the training arguments and stop")
    args, extra = ap.parse_known_args(argv)  # anything else goes to crn_train.train (e.g. --threads 1)
    targs = train_args(Path(args.checkpoints), args.until, args.data, extra)
    print("python -m crn_train.train " + " ".join(targs), flush=True)
    if not args.dry_run:
        train.main(targs)


if __name__ == "__main__":
    main()
