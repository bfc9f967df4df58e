"""The fixed validation draw: the same mixtures on every machine, and a fingerprint that shows it.

Why a checkpoint once scored 0.362 on the machine that trained it and 0.405 on another: the draw was
not the same. Two causes were possible, and both are closed here:

- The mixer drew with a generator on the training device, and a CUDA generator gives other numbers
  than a CPU one from the same seed: a GPU run validated on other mixtures than a CPU run. The draw
  is now always made on the CPU and then moved to the device.
- The environment decided the numbers too: `torch>=2.2` let each fresh machine install whatever
  torch was newest, and the order and sizes of random calls are the library's; and a decoded corpus
  cache was reused whenever its file *names* matched, whatever code or data made it. torch is now
  pinned (training/pyproject.toml) and the cache is keyed by its build format and the files' sizes
  (`corpus.cached`).

Re-scoring the checkpoints of the past on this machine showed it: `small.pt` scores 0.45798 here
against the 0.40920 its first CPU run logged, while `cpu-v2.pt` (0.40500) and `cpu-v3.pt` (0.35426)
reproduce what later machines logged to the last digit. Only the first machine's draw differed.

Every training log now starts with the draw's fingerprint (`fingerprint`): the generator's state after
the draw (exact on any machine: the random stream is computed in software) and the mixtures' levels
rounded to 0.1 dB (FFT rounding differs between CPUs in the last bits, levels at that precision do not). Two logs with
the same fingerprint validated on the same mixtures.
"""
from __future__ import annotations

import hashlib

import torch

from .batchmix import Augment, BatchMixer
from .corpus import Corpus

SEED = 1234
CHUNK = 32  # mixtures per validation batch
# The validation mixtures' recipe, written out rather than taken from `Augment()`'s defaults: training
# augmentation may change (and did: more whole-signal band limiting), the yardstick must not.
AUGMENT = Augment(seconds=3.0, p_band_limit=0.2, p_channel_band=0.5)


def validation_set(c: Corpus, items: int, device, seed: int = SEED, aug: Augment = AUGMENT):
    """`items` mixtures of the held-out corpus as [(noisy, clean)] batches on `device`, drawn on the CPU."""
    mixer = BatchMixer(c.to("cpu"), aug, seed=seed, device="cpu")
    batches = [mixer.batch(min(CHUNK, items - i)) for i in range(0, items, CHUNK)]
    fp = _fingerprint(mixer, batches)
    moved = [(x.to(device), y.to(device)) for x, y in batches]
    return moved, fp


def levels_db(batches) -> list[float]:
    """Each mixture's and each target's RMS in dB, rounded to 0.1 dB, in draw order."""
    out = []
    for x, y in batches:
        for t in (x, y):
            db = 10 * torch.log10((t.double() ** 2).mean(1) + 1e-20)
            out.extend(round(float(v), 1) for v in db)
    return out


def _fingerprint(mixer: BatchMixer, batches) -> str:
    rng = hashlib.sha256(mixer.gen.get_state().numpy().tobytes()).hexdigest()[:12]
    lv = hashlib.sha256(repr(levels_db(batches)).encode()).hexdigest()[:12]
    return f"rng {rng} levels {lv}"
