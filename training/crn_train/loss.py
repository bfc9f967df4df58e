"""The training objective, computed on what the plugin outputs rather than on the raw estimate.

The plugin turns the net's magnitude estimate into a gain, clamp(estimate / noisy, 0, 1), and applies
it to the complex noisy spectrum (crates/crn-engine/src/bands.rs). So the output magnitude is min(estimate, noisy) and
its phase is the noisy phase. In the net's compressed domain (|.|^c), with Y the clean spectrum:

- `mag`:   (min(est, |X|)^c - |Y|^c)^2, weighted `over` times where the output is below the clean
           magnitude: speech removed is worse than noise left.
- `cplx`:  | min(est, |X|)^c e^{j angle X} - |Y|^c e^{j angle Y} |^2, the phase-sensitive term: in bins
           where the noisy phase is far from the clean one, keeping energy adds error, so the net learns
           to turn them down (Braun & Tashev 2021 weight it 0.3 against 0.7 for magnitude).
- `raw`:   (est^c - |Y|^c)^2 on the unclamped estimate, small: the clamp has no gradient where the
           estimate exceeds the noisy magnitude, and this keeps those bins learning.

Each item's loss is divided by its clean energy (mean |Y|^2c), so a -60 dBFS take teaches as much as a
loud one. Bins the plugin leaves alone (noisy magnitude under SILENT) are left out.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import features
from .model import CRN, compress

SILENT = 1e-10  # crates/crn-engine/src/bands.rs: bins below this pass unchanged


@dataclass(frozen=True)
class LossWeights:
    mag: float = 0.7
    cplx: float = 0.3
    raw: float = 0.1
    over: float = 2.0  # extra weight on over-suppression (output below the clean magnitude)

    @staticmethod
    def parse(text: str) -> "LossWeights":
        """'mag=0.7,cplx=0.3,raw=0.1,over=2' (any subset; the rest keep their defaults)."""
        kw = {}
        for part in filter(None, text.split(",")):
            k, v = part.split("=")
            kw[k.strip()] = float(v)
        return LossWeights(**kw)


def plugin_loss(model: CRN, noisy: torch.Tensor, clean: torch.Tensor, w: LossWeights = LossWeights(),
                parts: dict | None = None) -> torch.Tensor:
    """noisy, clean: [B, samples]. Returns the scalar loss; fills `parts` with each term if given."""
    X = features.stft(noisy)
    Y = features.stft(clean)
    mag = X.abs()
    est = model(mag).float()  # the net may run in bf16 (autocast); the loss never does
    c = model.cfg.compress
    est_c = compress(est, c)
    mag_c = compress(mag, c)
    clean_c = compress(Y.abs(), c)
    live = (mag > SILENT).float()
    out_c = torch.minimum(est_c, mag_c)  # |G X|^c with G = clamp(est / |X|, 0, 1)
    err = out_c - clean_c
    weight = torch.where(err < 0, torch.full_like(err, w.over), torch.ones_like(err)) * live
    phase_x = X / mag.clamp(min=1e-12)
    phase_y = Y / Y.abs().clamp(min=1e-12)
    cplx = (out_c * phase_x - clean_c * phase_y).abs() ** 2 * live
    raw = (est_c - clean_c) ** 2 * live
    norm = (clean_c ** 2).mean(dim=(1, 2)).clamp(min=1e-6)  # per item
    per_item = lambda e: (e.mean(dim=(1, 2)) / norm).mean()
    terms = {"mag": per_item(weight * err ** 2), "cplx": per_item(cplx), "raw": per_item(raw)}
    if parts is not None:
        parts.update({k: float(v.detach()) for k, v in terms.items()})
    return w.mag * terms["mag"] + w.cplx * terms["cplx"] + w.raw * terms["raw"]
