"""The mixer on synthetic signals: requested SNR and level, no clipping, speaker-disjoint split."""
import numpy as np

from crn_train import data


def synthetic_mixer(seed=0):
    rng = np.random.default_rng(0)
    t = np.arange(32000) / data.SR
    speech = {f"s{i}.ogg": (np.sin(2 * np.pi * (150 + 40 * i) * t) * (0.3 + 0.2 * np.sin(3 * t))).astype(np.float32)
              for i in range(6)}
    noise = {"n.ogg": rng.standard_normal(48000).astype(np.float32)}
    rir = {"r.flac": np.exp(-np.arange(800) / 100.0).astype(np.float32) * rng.standard_normal(800).astype(np.float32)}
    return data.Mixer(speech, noise, rir, {k: k for k in speech}, seed=seed)


def test_mixture_has_the_requested_snr_and_level():
    m = synthetic_mixer()
    m.cfg.p_reverb = 0.0
    m.cfg.p_babble = 0.0
    for snr, level in [(-5, -30), (0, -50), (5, -10), (20, -60)]:
        noisy, clean = m.utterance("s1.ogg", snr_db=snr, level_db=level)
        got_snr = 20 * np.log10(data.rms(clean) / data.rms(noisy - clean))
        assert abs(got_snr - snr) < 0.1
        assert abs(20 * np.log10(data.rms(noisy)) - level) < 0.1 or np.abs(noisy).max() > 0.98
        assert np.abs(noisy).max() < 1.0


def test_batches_are_zero_padded_to_the_longest():
    noisy, clean, lengths = synthetic_mixer(1).batch(4)
    assert noisy.shape == clean.shape and noisy.shape[1] == lengths.max()
    for i, n in enumerate(lengths):
        assert not noisy[i, n:].any()


def test_split_keeps_speakers_and_noises_apart():
    rows = [{"kind": "speech", "corpus": "c", "speaker": f"spk{i}", "path": f"speech/{i}_{j}.ogg", "est_snr_db": "30"}
            for i in range(40) for j in range(3)]
    rows += [{"kind": "noise", "corpus": "n", "speaker": "", "path": f"noise/{i}.ogg", "est_snr_db": ""} for i in range(20)]
    rows += [{"kind": "rir", "corpus": "r", "speaker": "", "path": f"rir/{i}.flac", "est_snr_db": ""} for i in range(10)]
    split = data.make_split(rows)
    parts = {p: data.files_for(rows, split, p) for p in ("train", "valid", "test")}
    spk = {p: {s.split("_")[0] for s in parts[p]["speech"]} for p in parts}
    assert not (spk["train"] & spk["test"]) and not (spk["train"] & spk["valid"]) and spk["test"]
    assert not set(parts["train"]["noise"]) & set(parts["test"]["noise"])
    assert data.make_split(rows) == split  # reproducible from the seed


def test_extending_the_split_places_new_files_and_moves_none():
    rows = [{"kind": "speech", "corpus": "c", "speaker": f"spk{i}", "path": f"speech/{i}.ogg", "est_snr_db": "30"}
            for i in range(40)]
    rows += [{"kind": "noise", "corpus": "n", "speaker": "", "path": f"noise/{i}.ogg", "est_snr_db": ""} for i in range(20)]
    rows += [{"kind": "rir", "corpus": "r", "speaker": "", "path": f"rir/{i}.flac", "est_snr_db": ""} for i in range(10)]
    old = data.make_split(rows)
    grown_rows = rows + [{"kind": "speech", "corpus": "c", "speaker": f"new{i}", "path": f"speech/n{i}.ogg",
                          "est_snr_db": "30"} for i in range(40)]
    grown_rows += [{"kind": "speech", "corpus": "solo", "speaker": "one", "path": "speech/solo.ogg", "est_snr_db": ""}]
    grown_rows += [{"kind": "noise", "corpus": "n2", "speaker": "", "path": f"noise/new{i}.ogg", "est_snr_db": ""}
                   for i in range(20)]
    new = data.extend_split(old, grown_rows)
    for corpus, parts in old["speakers"].items():
        for part, spk in parts.items():
            assert set(spk) <= set(new["speakers"][corpus][part])
    for kind in ("noise", "rir"):
        for part, files in old[kind].items():
            assert set(files) <= set(new[kind][part])
    placed = [p for v in new["noise"].values() for p in v]
    assert sorted(placed) == sorted(r["path"] for r in grown_rows if r["kind"] == "noise")  # each exactly once
    assert all(new["noise"][p] for p in ("train", "valid", "test"))
    assert new["speakers"]["solo"] == {"train": ["one"], "valid": [], "test": []}
    assert {s for p in ("test", "valid") for s in new["speakers"]["c"][p] if s.startswith("new")}  # not all to train
    assert data.extend_split(new, grown_rows) == new  # idempotent
