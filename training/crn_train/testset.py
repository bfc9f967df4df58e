"""The evaluation's test conditions, built from held-out speakers and noises only, fixed by a seed.

- `noise`: clean utterances of held-out speakers x held-out noise files at -5 / 0 / 5 dB SNR, each
  mixture at its own random level (RMS -50..-15 dBFS), the same utterance and noise segment at every SNR.
- `babble`: the same utterances in the babble of 6 other held-out talkers, at 0 / 5 dB.
- `band-limited`: the utterances as from an 8 kHz source (resampled to 8 kHz and back: nothing above
  4 kHz), in full-band held-out noise at 0 / 5 / 10 dB.
- `narrowband`: whole recordings that were 8 kHz to begin with (phone calls, old voice recorders):
  speech *and* noise end at 4 kHz, at 0 / 5 / 10 / 15 dB.
- `quiet`: quiet noise under quiet speech: the same utterances and noise at 10 / 20 dB SNR, the mixture at
  -60..-45 dBFS RMS (a distant talker on a laptop microphone, a quiet room): what must not be gated.
- `real`: real noisy recordings with no clean reference: the held-out speechocean762 phone recordings
  with the lowest speech-SNR estimates (`est_snr_db`), scored by DNSMOS.

The conditions added later (`narrowband`, `quiet`) draw from their own random stream, so the items of the
earlier ones, and stored scores of them (`stored.py`), stay valid.

Every reference is a dry recording whose own SNR estimate is at least 20 dB (`data.MIN_SPEECH_SNR_DB`).
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import scipy.signal

from . import data

SNRS = {"noise": (-5.0, 0.0, 5.0), "babble": (0.0, 5.0), "band-limited": (0.0, 5.0, 10.0),
        "narrowband": (0.0, 5.0, 10.0, 15.0), "quiet": (10.0, 20.0)}
LEVEL_RANGE_DB = (-50.0, -15.0)
QUIET_LEVEL_RANGE_DB = (-60.0, -45.0)
# Conditions scored with narrow-band PESQ too (nothing above 4 kHz in the reference).
NARROW = ("band-limited", "narrowband")
BABBLE_TALKERS = 6


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


def noisy_recordings(rows: list[dict], split: dict, n: int) -> list[str]:
    """The `n` held-out speechocean762 recordings with the lowest speech-SNR estimate."""
    spk = set(split["speakers"].get("speechocean762", {}).get("test", []))
    cand = [(float(r["est_snr_db"]), r["path"]) for r in rows
            if r["kind"] == "speech" and r["corpus"] == "speechocean762" and r["speaker"] in spk and r["est_snr_db"]]
    return [p for _, p in sorted(cand)[:n]]


def band_limit(x: np.ndarray) -> np.ndarray:
    """As recorded at 8 kHz and played back at 16 kHz."""
    return scipy.signal.resample_poly(scipy.signal.resample_poly(x, 1, 2), 2, 1)[: len(x)].astype(np.float32)


def _mix(clean: np.ndarray, noise: np.ndarray, snr: float, level_db: float):
    noise = noise * data.rms(clean) / (data.rms(noise) * 10 ** (snr / 20))
    noisy = clean + noise
    g = 10 ** (level_db / 20) / data.rms(noisy)
    g = min(g, 0.99 / (np.abs(noisy).max() + 1e-9))  # a float bus would pass peaks; the peers' int paths would not
    return (noisy * g).astype(np.float32), (clean * g).astype(np.float32)


def _segment(rng, x: np.ndarray, n: int) -> np.ndarray:
    if len(x) < n:
        x = np.tile(x, n // len(x) + 1)
    s = int(rng.integers(0, len(x) - n + 1))
    return x[s:s + n].astype(np.float32)


def build(root: Path, n: int, n_real: int, seed: int, max_seconds: float) -> tuple[list[dict], dict]:
    rows = data.read_manifest(root)
    split = data.load_split(rows)
    keys, speaker_of, noise_keys = pick_utterances(rows, split, n, seed)
    real = noisy_recordings(rows, split, n_real)
    others = [p for p in data.files_for(rows, split, "test")["speech"] if p not in set(keys)]
    audio = data.decode_all(root, sorted(set(keys + noise_keys + real + others)), processes=min(2, os.cpu_count() or 1))
    items = []
    max_n = int(max_seconds * data.SR)
    for i, key in enumerate(keys):
        rng = np.random.default_rng([seed, i])
        clean = audio[key]
        if len(clean) > max_n:
            s = int(rng.integers(0, len(clean) - max_n + 1))
            clean = clean[s:s + max_n]
        noise = _segment(rng, audio[noise_keys[int(rng.integers(len(noise_keys)))]], len(clean))
        talkers = [p for p in others if speaker_of.get(p) != speaker_of[key]]
        babble = np.zeros(len(clean), np.float32)
        for j in rng.choice(len(talkers), BABBLE_TALKERS, replace=False):
            v = _segment(rng, audio[talkers[j]], len(clean))
            babble += v / data.rms(v)
        level = float(rng.uniform(*LEVEL_RANGE_DB))
        later = np.random.default_rng([seed, i, 1])  # the later conditions' own stream
        quiet_level = float(later.uniform(*QUIET_LEVEL_RANGE_DB))
        base = dict(utt=i, key=key, speaker=speaker_of[key])
        for cond, snrs in SNRS.items():
            ref = band_limit(clean) if cond in NARROW else clean
            nz = babble if cond == "babble" else band_limit(noise) if cond == "narrowband" else noise
            lvl = quiet_level if cond == "quiet" else level
            for snr in snrs:
                noisy, ref_scaled = _mix(ref, nz, snr, lvl)
                items.append(dict(base, level=lvl, cond=cond, snr=snr, noisy=noisy, clean=ref_scaled))
    for j, p in enumerate(real):
        items.append(dict(utt=j, key=p, speaker=p.split("/")[-2] if "/" in p else "", level=None, cond="real",
                          snr=None, noisy=audio[p].astype(np.float32), clean=None))
    info = {"speakers": sorted({speaker_of[k] for k in keys}), "noise_files": sorted(set(noise_keys)),
            "utterances": keys, "real_recordings": real,
            "real_est_snr_db": [float(next(r["est_snr_db"] for r in rows if r["path"] == p)) for p in real]}
    return items, info
