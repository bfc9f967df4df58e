"""Stored evaluation rows: reusing them for the same test set, and paired comparisons between systems.

Scoring the peers takes most of an evaluation run (about an hour on two cores), and they do not change
between candidates. A run may therefore take the peers' rows (and the shipped model's) from an earlier
`eval.json`, but only when that file was made on the very same mixtures: `testset_hash` hashes every
item's condition, SNR, source and samples. Files written before the hash existed are accepted when
their test-set description matches and this run's freshly scored unprocessed rows equal theirs
(PESQ, STOI and SI-SDR of the same mixtures are deterministic), which checks the same thing.

`paired` compares two systems on the same utterances: the mean per-utterance difference and its 95 %
interval, which is far narrower than the two systems' own intervals because the utterances' difficulty
cancels out.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

# Test-set fields of `config` that must agree for rows to be comparable.
IDENTITY_FIELDS = ("n_utterances", "seed", "max_seconds", "snrs_db", "level_range_dbfs", "utterances",
                   "noise_files", "real_recordings")
METRICS = ("stoi", "pesq_wb", "pesq_nb", "si_sdr", "sig", "bak", "ovrl")
# Per-metric tolerance when the unprocessed rows vouch for an unhashed file.
_TOL = 1e-6


class NotComparable(ValueError):
    """The stored rows were made on other mixtures."""


def testset_hash(items: list[dict]) -> str:
    h = hashlib.sha256()
    for it in items:
        _feed(h, it)
    return h.hexdigest()[:16]


def testset_hashes(items: list[dict]) -> dict[str, str]:
    """One hash per condition, so rows of unchanged conditions stay reusable when conditions are added."""
    hs = {}
    for it in items:
        _feed(hs.setdefault(it["cond"], hashlib.sha256()), it)
    return {c: h.hexdigest()[:16] for c, h in hs.items()}


def _feed(h, it: dict) -> None:
    if True:
        h.update(f"{it['cond']}|{it['snr']}|{it['key']}|".encode())
        for part in ("noisy", "clean"):
            if it.get(part) is not None:
                h.update(np.ascontiguousarray(it[part], dtype=np.float32).tobytes())


def _identity(cfg: dict) -> dict:
    return {k: _plain(cfg.get(k)) for k in IDENTITY_FIELDS}


def _plain(v):
    """JSON round trips turn tuples into lists; compare the plain forms."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def comparable_conditions(stored: dict, hashes: dict[str, str], config: dict,
                          unprocessed_rows: dict | None = None) -> tuple[list[str], str]:
    """The conditions whose stored rows were made on this run's very mixtures, and how that is known.

    Files with per-condition hashes are matched condition by condition. Older files must agree with this
    run's test-set description, and this run's unprocessed rows (when given) must equal the stored ones in
    every condition both have; then all the stored conditions count. Raises NotComparable when they differ.
    """
    scfg = stored["config"]
    if scfg.get("testset_hashes"):
        return [c for c, h in hashes.items() if scfg["testset_hashes"].get(c) == h], "hash"
    mine, theirs = _identity(config), _identity(scfg)
    diff = [k for k in IDENTITY_FIELDS if k != "snrs_db" and mine[k] != theirs[k]]
    conds = list(stored["results"].get("unprocessed", {}))
    diff += [f"snrs_db[{c}]" for c in conds if c in (theirs["snrs_db"] or {})
             and theirs["snrs_db"][c] != (mine["snrs_db"] or {}).get(c)]
    if diff:
        raise NotComparable(f"the stored file has no test-set hashes and differs in {', '.join(diff)}")
    if unprocessed_rows is not None:
        old = stored["per_utterance"].get("unprocessed", {})
        for key, rows in unprocessed_rows.items():
            if key.startswith("real|") or key not in old:
                continue  # DNSMOS runs a network (not bit-stable across machines), and it has no reference
            if len(old[key]) != len(rows):
                raise NotComparable(f"unprocessed rows differ in count for {key}")
            for a, b in zip(rows, old[key]):
                if a["key"] != b["key"]:
                    raise NotComparable(f"{key}: utterance {a['key']} != stored {b['key']}")
                for m in METRICS:
                    if m in a and m in b and not (abs(a[m] - b[m]) <= _TOL or (math.isnan(a[m]) and math.isnan(b[m]))):
                        raise NotComparable(f"{key} {a['key']}: unprocessed {m} {a[m]:.6f} != stored {b[m]:.6f}")
    return conds, "unprocessed rows"


def parse_reuse(text: str, stored_systems: list[str], exclude: set[str]) -> list[tuple[str, str]]:
    """`"crn-denoise=previous,RNNoise"` -> [(stored label, label here)]; empty: every stored system not in
    `exclude` (the systems this run scores itself). Systems named but absent from this file are left out."""
    if not text:
        return [(s, s) for s in stored_systems if s not in exclude]
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        src, _, dst = part.partition("=")
        if src in stored_systems:
            out.append((src, dst or src))
    clash = [d for _, d in out if d in exclude]
    if clash:
        raise ValueError(f"reused systems would replace this run's own: {', '.join(clash)}")
    return out


def paired(per_a: dict, per_b: dict, metrics=("stoi", "pesq_wb", "pesq_nb", "si_sdr", "bak", "ovrl", "sig")) -> dict:
    """Per condition key and metric: mean of a - b over the utterances both scored, and its 95 % interval."""
    out = {}
    for key, rows_a in per_a.items():
        b_by = {r["key"]: r for r in per_b.get(key, [])}
        for m in metrics:
            d = np.array([r[m] - b_by[r["key"]][m] for r in rows_a
                          if r["key"] in b_by and m in r and m in b_by[r["key"]]], dtype=np.float64)
            d = d[np.isfinite(d)]
            if len(d) < 2:
                continue
            half = 1.96 * d.std(ddof=1) / math.sqrt(len(d))
            out.setdefault(key, {})[m] = {"mean": float(d.mean()), "lo": float(d.mean() - half),
                                          "hi": float(d.mean() + half), "n": int(len(d))}
    return out


def verdict(diff: dict, cand_results: dict, unprocessed_results: dict) -> dict:
    """The ship rule (issue 17): better (paired interval above zero) on most figures, worse (interval below
    zero) on none, and STOI never below the unprocessed input's in any condition."""
    better = [f"{k} {m}" for k, ms in diff.items() for m, v in ms.items() if v["lo"] > 0]
    worse = [f"{k} {m}" for k, ms in diff.items() for m, v in ms.items() if v["hi"] < 0]
    below_input = []
    for cond, snrs in cand_results.items():
        for snr, agg in snrs.items():
            u = unprocessed_results.get(cond, {}).get(snr, {})
            if "stoi" in agg and "stoi" in u and agg["stoi"] < u["stoi"]:
                below_input.append(f"{cond}|{snr}")
    figures = sum(len(ms) for ms in diff.values())
    ship = 2 * len(better) > figures and not worse and not below_input
    return {"ship": ship, "better": better, "worse": worse, "stoi_below_input": below_input, "figures": figures}
