"""What listeners hear, measured during training: wide-band PESQ and STOI of the plugin's output.

The validation loss is the objective, not what the product is judged by. So each validation also
resynthesises a fixed subset of the validation mixtures the way the plugin does (gain = clamp(estimate /
noisy, 0, 1) on the complex noisy spectrum, overlap-add) and scores it against the clean target with
the evaluation's metrics. `better` is the rule that picks the best checkpoint from them: a gain in
PESQ counts only while STOI does not fall beyond its noise (the 95 % interval of the paired per-item
difference), so noise removal is never bought with intelligibility.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import data, features
from .model import CRN

SUBSET = 64  # mixtures scored: about 10 s of PESQ and STOI on two cores


def available() -> bool:
    try:
        import pesq  # noqa: F401
        import pystoi  # noqa: F401
    except ImportError:
        return False
    return True


@torch.no_grad()
def plugin_output(model: CRN, noisy: torch.Tensor) -> torch.Tensor:
    """noisy [B, L] -> what the plugin outputs at 16 kHz, latency removed."""
    X = features.stft(noisy)
    mag = X.abs()
    gain = (model(mag).float() / mag.clamp(min=1e-12)).clamp(0.0, 1.0)
    return features.istft(gain * X, noisy.shape[1])


def score(clean: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    """(wide-band PESQ, STOI) of one item; PESQ is NaN where it finds no utterance."""
    from pesq import pesq
    from pystoi import stoi

    try:
        p = float(pesq(data.SR, clean, out, "wb"))
    except Exception:  # e.g. "no utterances detected" on a near-silent item
        p = float("nan")
    return p, float(stoi(clean, out, data.SR, extended=False))


def scores(model: CRN, noisy: torch.Tensor, clean: torch.Tensor) -> dict:
    """Per-item PESQ and STOI of the plugin's output on the given mixtures (model left in eval mode)."""
    was = model.training
    model.eval()
    out = plugin_output(model, noisy).cpu().numpy()
    model.train(was)
    ref = clean.cpu().numpy()
    ps, ss = zip(*(score(r, o) for r, o in zip(ref, out)))
    return {"pesq": list(ps), "stoi": list(ss)}


def unprocessed(noisy: torch.Tensor, clean: torch.Tensor) -> dict:
    ref, x = clean.cpu().numpy(), noisy.cpu().numpy()
    ps, ss = zip(*(score(r, o) for r, o in zip(ref, x)))
    return {"pesq": list(ps), "stoi": list(ss)}


def mean(v: list[float]) -> float:
    a = np.asarray(v, dtype=np.float64)
    return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean of a - b over items both scored, and the half-width of its 95 % interval."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return float("nan"), float("inf")
    return float(d.mean()), float(1.96 * d.std(ddof=1) / math.sqrt(len(d)))


def better(new: dict, best: dict | None) -> bool:
    """The best-checkpoint rule: PESQ up, and STOI not down beyond its paired interval."""
    if best is None:
        return True
    d_stoi, half = paired(new["stoi"], best["stoi"])
    d_pesq, _ = paired(new["pesq"], best["pesq"])
    return d_stoi >= -half and d_pesq > 0
