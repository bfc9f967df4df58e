"""The validation draw is pinned: the same mixtures on every machine (validdraw.py says why it matters)."""
from dataclasses import replace

import torch

from crn_train import corpus, validdraw
from crn_train.batchmix import BatchMixer

from test_batchmix import synthetic_corpus

# What the draw of 40 two-second mixtures from `synthetic_corpus` is, pinned when the draw was made
# machine-independent (2026-12-04, torch 2.15.0). A change to the mixer that changes the validation
# mixtures must change these on purpose, and every log before it stops being comparable.
RNG_STATE = "74f08db6325c"
FIRST_NOISY_DB = [-19.5, -30.2, -59.4, -11.6, -17.6, -42.8, -52.5, -32.8]
FIRST_CLEAN_DB = [-28.2, -34.1, -59.5, -11.9, -17.7, -42.8, -52.8, -39.1]  # SNR, filters, room: the whole recipe


def draw():
    return validdraw.validation_set(synthetic_corpus(), 40, "cpu", aug=replace(validdraw.AUGMENT, seconds=2.0))


def test_the_draw_is_pinned():
    batches, fp = draw()
    assert [len(x) for x, _ in batches] == [32, 8]
    assert fp.startswith(f"rng {RNG_STATE} ")
    levels = validdraw.levels_db(batches)  # the first batch's 32 noisy levels, then its 32 clean ones, ...
    # Levels, not bytes: FFT rounding differs between CPUs in the last bits.
    for got, pinned in ((levels[:8], FIRST_NOISY_DB), (levels[32:40], FIRST_CLEAN_DB)):
        assert all(abs(a - b) <= 0.11 for a, b in zip(got, pinned)), got


def test_the_draw_is_made_on_the_cpu_whatever_the_device():
    # A CUDA generator gives other numbers than a CPU one: the draw must not depend on the training device.
    batches, fp = draw()
    mixer = BatchMixer(synthetic_corpus(), replace(validdraw.AUGMENT, seconds=2.0), seed=validdraw.SEED, device="cpu")
    x, y = mixer.batch(32)
    assert torch.equal(batches[0][0], x) and torch.equal(batches[0][1], y)
    again, fp2 = draw()
    assert fp2 == fp and all(torch.equal(a[0], b[0]) for a, b in zip(batches, again))


def test_a_cache_made_from_other_bytes_is_rebuilt(tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    for name, size in (("s.opus", 10), ("n.opus", 20), ("r.wav", 30)):
        (root / "a" / name).write_bytes(b"x" * size)
    paths = ["a/s.opus", "a/n.opus", "a/r.wav"]
    built = []

    def fake_build(root_, part, processes=None):
        c = synthetic_corpus()
        c.names = {"speech": paths[:1], "noise": paths[1:2], "rir": paths[2:], "source": corpus.source(root_, paths)}
        built.append(part)
        return c

    monkeypatch.setattr(corpus, "build", fake_build)
    monkeypatch.setattr(corpus.data, "read_manifest", lambda r: [{"path": p} for p in paths])
    monkeypatch.setattr(corpus.data, "load_split", lambda rows: {})
    monkeypatch.setattr(corpus.data, "files_for", lambda rows, split, part: {
        "speech": paths[:1], "noise": paths[1:2], "rir": paths[2:]})
    (root / "manifest.csv").write_text("path\n")
    cache = tmp_path / "cache"
    corpus.cached(root, "valid", cache)
    corpus.cached(root, "valid", cache)
    assert built == ["valid"]  # same names, same bytes: the cache is used
    (root / "a" / "n.opus").write_bytes(b"x" * 21)  # same name, other file
    corpus.cached(root, "valid", cache)
    assert built == ["valid", "valid"]
