"""Training data: the speaker/noise split and on-the-fly noisy mixtures.

Everything is read from the data root (flag `--data` or env `CRN_DATA`), laid out as
../shared/data: manifest.csv plus speech/, noise/ and rir/ folders of 16 kHz audio.
"""
from __future__ import annotations

import csv
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

SR = 16000
SPLIT_FILE = Path(__file__).resolve().parent.parent / "split.json"
MIN_SPEECH_SNR_DB = 20.0  # "clean" recordings with audible background are left out of training targets


def data_root(arg: str | None = None) -> Path:
    root = arg or os.environ.get("CRN_DATA")
    if not root:
        raise SystemExit("no data root: pass --data DIR or set CRN_DATA (e.g. ../shared/data)")
    p = Path(root)
    if not (p / "manifest.csv").is_file():
        raise SystemExit(f"{p} has no manifest.csv")
    return p


def read_manifest(root: Path) -> list[dict]:
    with open(root / "manifest.csv") as f:
        return list(csv.DictReader(f))


def make_split(rows: list[dict], seed: int = 2018) -> dict:
    """Whole speakers and whole noise/RIR files go to exactly one of train/valid/test."""
    rng = random.Random(seed)
    split = {"seed": seed, "speakers": {}, "noise": {}, "rir": {}}
    for corpus in sorted({r["corpus"] for r in rows if r["kind"] == "speech"}):
        spk = sorted({r["speaker"] for r in rows if r["corpus"] == corpus})
        rng.shuffle(spk)
        if len(spk) < 10:  # a single-speaker corpus cannot be split by speaker: train only
            split["speakers"][corpus] = {"train": spk, "valid": [], "test": []}
            continue
        n_test, n_valid = max(1, len(spk) // 10), max(1, len(spk) // 20)
        split["speakers"][corpus] = {"test": sorted(spk[:n_test]), "valid": sorted(spk[n_test:n_test + n_valid]),
                                     "train": sorted(spk[n_test + n_valid:])}
    for kind in ("noise", "rir"):
        files = sorted(r["path"] for r in rows if r["kind"] == kind)
        rng.shuffle(files)
        n_test, n_valid = max(2, len(files) * 15 // 100), max(1, len(files) // 10)
        split[kind] = {"test": sorted(files[:n_test]), "valid": sorted(files[n_test:n_test + n_valid]),
                       "train": sorted(files[n_test + n_valid:])}
    return split


def extend_split(split: dict, rows: list[dict]) -> dict:
    """Places speakers and files that `split` does not know yet, never moving one it already places.

    New corpora are split as `make_split` would; new speakers of a known corpus and new noise / RIR
    files go to test, valid and train in `make_split`'s proportions, seeded by their names, so the
    result does not depend on the order in which data arrived.
    """
    out = json.loads(json.dumps(split))
    known = {(c, s) for c, parts in out["speakers"].items() for v in parts.values() for s in v}
    for corpus in sorted({r["corpus"] for r in rows if r["kind"] == "speech"}):
        new = sorted({r["speaker"] for r in rows if r["corpus"] == corpus and (corpus, r["speaker"]) not in known})
        if not new:
            continue
        if corpus not in out["speakers"]:
            out["speakers"][corpus] = make_split([r for r in rows if r["corpus"] == corpus],
                                                 seed=split["seed"])["speakers"][corpus]
            continue
        parts = out["speakers"][corpus]
        for spk in new:
            parts[_part_of(f"{corpus}/{spk}", split["seed"], 0.10, 0.05)].append(spk)
        for v in parts.values():
            v.sort()
    for kind in ("noise", "rir"):
        known_files = {p for v in out[kind].values() for p in v}
        new = sorted(r["path"] for r in rows if r["kind"] == kind and r["path"] not in known_files)
        rng = random.Random(f"{split['seed']}/{kind}/" + ",".join(new))
        rng.shuffle(new)
        n_test, n_valid = round(len(new) * 0.15), round(len(new) * 0.10)
        for i, p in enumerate(new):
            out[kind]["test" if i < n_test else "valid" if i < n_test + n_valid else "train"].append(p)
        for v in out[kind].values():
            v.sort()
    return out


def _part_of(name: str, seed: int, p_test: float, p_valid: float) -> str:
    u = random.Random(f"{seed}/{name}").random()
    return "test" if u < p_test else "valid" if u < p_test + p_valid else "train"


def load_split(rows: list[dict]) -> dict:
    """`split.json`, extended (and rewritten) when the manifest lists files it does not place."""
    split = json.loads(SPLIT_FILE.read_text()) if SPLIT_FILE.exists() else make_split(rows)
    grown = extend_split(split, rows)
    if grown != split or not SPLIT_FILE.exists():
        try:
            SPLIT_FILE.write_text(json.dumps(grown, indent=1) + "\n")
        except OSError:  # a read-only checkout still trains and evaluates on the same split
            pass
    return grown


def files_for(rows: list[dict], split: dict, part: str) -> dict[str, list[str]]:
    speakers = {(c, s) for c, parts in split["speakers"].items() for s in parts[part]}
    speech = [r["path"] for r in rows if r["kind"] == "speech" and (r["corpus"], r["speaker"]) in speakers
              and (part != "train" or not r["est_snr_db"] or float(r["est_snr_db"]) >= MIN_SPEECH_SNR_DB)]
    spk_of = {r["path"]: f'{r["corpus"]}/{r["speaker"]}' for r in rows}
    return {"speech": sorted(speech), "noise": split["noise"][part], "rir": split["rir"][part],
            "speaker_of": {p: spk_of[p] for p in speech}}


def read_audio(path: Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != SR:
        x = scipy.signal.resample_poly(x, SR, sr).astype(np.float32)
    return x


def load_all(root: Path, paths: list[str], cache: Path | None = None) -> dict[str, np.ndarray]:
    if cache and cache.exists():
        z = np.load(cache, allow_pickle=True)
        audio = z["audio"].item()
        if all(p in audio for p in paths):
            return {p: audio[p] for p in paths}
    audio = decode_all(root, paths)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, audio=np.array(audio, dtype=object))
    return audio


def decode_all(root: Path, paths: list[str], processes: int | None = None) -> dict[str, np.ndarray]:
    """Decodes many files in parallel (Opus decoding dominates start-up otherwise)."""
    from concurrent.futures import ProcessPoolExecutor

    processes = processes or os.cpu_count() or 1
    if processes == 1 or len(paths) < 50:
        return {p: read_audio(root / p) for p in paths}
    with ProcessPoolExecutor(processes) as ex:
        return dict(zip(paths, ex.map(read_audio, [root / p for p in paths], chunksize=32)))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2) + 1e-12))


@dataclass
class MixConfig:
    snr_range: tuple[float, float] = (-5.0, 20.0)
    paper_snrs: tuple[float, ...] = (-5.0, 0.0, 5.0)
    p_paper_snr: float = 0.3
    level_range_db: tuple[float, float] = (-60.0, -8.0)  # mixture RMS in dBFS
    p_reverb: float = 0.25
    p_babble: float = 0.15
    max_seconds: float = 6.0


class Mixer:
    """Makes (noisy, clean) pairs on the fly from in-memory speech, noise and RIRs."""

    def __init__(self, speech: dict[str, np.ndarray], noise: dict[str, np.ndarray], rirs: dict[str, np.ndarray],
                 speaker_of: dict[str, str], cfg: MixConfig = MixConfig(), seed: int | None = None):
        self.speech_keys = sorted(speech)
        self.speech, self.noise, self.speaker_of, self.cfg = speech, noise, speaker_of, cfg
        self.noise_keys = sorted(noise)
        self.rirs = [self._prep_rir(r) for _, r in sorted(rirs.items())]
        self.rng = np.random.default_rng(seed)

    @staticmethod
    def _prep_rir(r: np.ndarray) -> np.ndarray:
        r = r[int(np.argmax(np.abs(r))):]  # start at the direct path so the target is not delayed
        return (r / (np.sqrt(np.sum(r ** 2)) + 1e-9)).astype(np.float32)

    def _crop(self, x: np.ndarray, n: int) -> np.ndarray:
        if len(x) <= n:
            return x
        s = self.rng.integers(0, len(x) - n)
        return x[s:s + n]

    def _noise(self, n: int, exclude_speaker: str) -> np.ndarray:
        if self.rng.random() < self.cfg.p_babble:
            out = np.zeros(n, np.float32)
            for _ in range(self.rng.integers(3, 8)):
                k = self.speech_keys[self.rng.integers(len(self.speech_keys))]
                if self.speaker_of.get(k) == exclude_speaker:
                    continue
                u = self._crop(self.speech[k], n)
                start = self.rng.integers(0, n - len(u) + 1)
                out[start:start + len(u)] += u / rms(u)
            if rms(out) > 1e-6:
                return out
        x = self.noise[self.noise_keys[self.rng.integers(len(self.noise_keys))]]
        if len(x) < n:
            x = np.tile(x, n // len(x) + 1)
        return self._crop(x, n).copy()

    def utterance(self, key: str | None = None, snr_db: float | None = None, level_db: float | None = None):
        cfg = self.cfg
        key = key or self.speech_keys[self.rng.integers(len(self.speech_keys))]
        clean = self._crop(self.speech[key], int(cfg.max_seconds * SR)).astype(np.float32)
        if self.rirs and self.rng.random() < cfg.p_reverb:
            rir = self.rirs[self.rng.integers(len(self.rirs))]
            clean = scipy.signal.fftconvolve(clean, rir)[: len(clean)].astype(np.float32)
        noise = self._noise(len(clean), self.speaker_of.get(key, ""))
        if snr_db is None:
            snr_db = (self.rng.choice(cfg.paper_snrs) if self.rng.random() < cfg.p_paper_snr
                      else self.rng.uniform(*cfg.snr_range))
        noise *= rms(clean) / (rms(noise) * 10 ** (snr_db / 20))
        noisy = clean + noise
        if level_db is None:
            level_db = self.rng.uniform(*cfg.level_range_db)
        g = 10 ** (level_db / 20) / rms(noisy)
        g = min(g, 0.99 / (np.max(np.abs(noisy)) + 1e-9))  # never clip
        return (noisy * g).astype(np.float32), (clean * g).astype(np.float32)

    def batch(self, n: int):
        pairs = [self.utterance() for _ in range(n)]
        L = max(len(p[0]) for p in pairs)
        noisy = np.zeros((n, L), np.float32)
        clean = np.zeros((n, L), np.float32)
        lengths = np.zeros(n, np.int64)
        for i, (x, y) in enumerate(pairs):  # zero-pad to the longest, as in the paper
            noisy[i, : len(x)], clean[i, : len(y)], lengths[i] = x, y, len(x)
        return noisy, clean, lengths
