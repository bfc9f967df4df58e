"""One part of the split (train / valid / test) decoded once into flat int16 arrays.

The batch mixer (`batchmix.py`) crops from these with index arithmetic, so a corpus can sit whole
in GPU memory (9 h of speech is 1 GB as int16) and batches never touch the file system or numpy.
`pack` writes a part as one `.npz` (decoding the Opus files is most of the start-up time, so a
second run, or a device machine that received the archive, skips it).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import data

# What a cache was made by: raise it whenever `build` changes what it decodes or how, so no machine
# trains or validates on arrays an older build made under the same file names.
FORMAT = 2
MAX_RIR_SECONDS = 1.5  # hall tails past this are far below the direct sound; longer taps only cost FFT size


@dataclass
class Corpus:
    speech: torch.Tensor        # int16 [total samples], utterances back to back
    speech_off: torch.Tensor    # int64 [U] start of each utterance
    speech_len: torch.Tensor    # int64 [U]
    speaker: torch.Tensor       # int64 [U] speaker index (babble never uses the target's own speaker)
    noise: torch.Tensor         # int16 [total samples]
    noise_off: torch.Tensor     # int64 [N]
    noise_len: torch.Tensor     # int64 [N]
    rir: torch.Tensor           # float32 [R, taps], direct path at tap 0, unit energy, zero padded
    names: dict                 # {"speech": [...], "noise": [...], "rir": [...]} file names, for the record

    def to(self, device) -> "Corpus":
        moved = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in self.__dict__.items()}
        return Corpus(**moved)

    @property
    def speech_hours(self) -> float:
        return float(self.speech_len.sum()) / data.SR / 3600

    @property
    def noise_hours(self) -> float:
        return float(self.noise_len.sum()) / data.SR / 3600


def _flat(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lens = np.array([len(a) for a in arrays], np.int64)
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    flat = np.concatenate(arrays) if arrays else np.zeros(0, np.float32)
    return np.clip(np.round(flat * 32767.0), -32768, 32767).astype(np.int16), offs, lens


def _prep_rir(r: np.ndarray) -> np.ndarray:
    r = r[int(np.argmax(np.abs(r))):][: int(MAX_RIR_SECONDS * data.SR)]  # start at the direct path: no delay
    return (r / (np.sqrt(np.sum(r.astype(np.float64) ** 2)) + 1e-9)).astype(np.float32)


def build(root: Path, part: str, processes: int | None = None) -> Corpus:
    """Decodes every file of `part` present under `root`."""
    rows = data.read_manifest(root)
    present = {r["path"] for r in rows}
    split = data.load_split(rows)
    f = data.files_for(rows, split, part)
    speech = [p for p in f["speech"] if p in present]
    noise = [p for p in f["noise"] if p in present]
    rirs = [p for p in f["rir"] if p in present]
    if not speech or not noise:
        raise SystemExit(f"{root}: no {part} speech or noise")
    audio = data.decode_all(root, speech + noise + rirs, processes=processes)
    s, so, sl = _flat([audio[p] for p in speech])
    n, no, nl = _flat([audio[p] for p in noise])
    spk_names = sorted({f["speaker_of"][p] for p in speech})
    spk_idx = {k: i for i, k in enumerate(spk_names)}
    rir_list = [_prep_rir(audio[p]) for p in rirs] or [np.ones(1, np.float32)]
    taps = max(len(r) for r in rir_list)
    rir = np.zeros((len(rir_list), taps), np.float32)
    for i, r in enumerate(rir_list):
        rir[i, : len(r)] = r
    return Corpus(torch.from_numpy(s), torch.from_numpy(so), torch.from_numpy(sl),
                  torch.tensor([spk_idx[f["speaker_of"][p]] for p in speech], dtype=torch.int64),
                  torch.from_numpy(n), torch.from_numpy(no), torch.from_numpy(nl), torch.from_numpy(rir),
                  {"speech": speech, "noise": noise, "rir": rirs, "source": source(root, speech + noise + rirs)})


def source(root: Path, paths: list[str]) -> dict:
    """The build format and every source file's size: what a cache must match besides the names."""
    return {"format": FORMAT, "bytes": [(root / p).stat().st_size for p in paths]}


def save(c: Corpus, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    arrays = {k: v.numpy() for k, v in c.__dict__.items() if isinstance(v, torch.Tensor)}
    np.savez(tmp, names=np.array(json.dumps(c.names)), **arrays)
    tmp.replace(path)


def load(path: Path) -> Corpus:
    z = np.load(path)
    fields = {k: torch.from_numpy(z[k]) for k in z.files if k != "names"}
    return Corpus(names=json.loads(str(z["names"])), **fields)


def cached(root: Path, part: str, cache_dir: Path | None, processes: int | None = None) -> Corpus:
    """`build`, through `<cache_dir>/<part>.npz` when it holds exactly the files the split names now."""
    if cache_dir is not None:
        path = cache_dir / f"{part}.npz"
        if path.exists():
            c = load(path)
            rows = data.read_manifest(root) if (root / "manifest.csv").exists() else None
            if rows is None or _same_files(c, rows, part, root):
                return c
        c = build(root, part, processes)
        save(c, path)
        return c
    return build(root, part, processes)


def _same_files(c: Corpus, rows: list[dict], part: str, root: Path) -> bool:
    present = {r["path"] for r in rows}
    f = data.files_for(rows, data.load_split(rows), part)
    if not all(c.names[k] == [p for p in f[k] if p in present] for k in ("speech", "noise", "rir")):
        return False
    try:
        return c.names.get("source") == source(root, c.names["speech"] + c.names["noise"] + c.names["rir"])
    except OSError:
        return False
