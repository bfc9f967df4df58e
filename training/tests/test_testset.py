"""The evaluation's test set on synthetic data: the later conditions leave the earlier items unchanged,
narrowband items end at 4 kHz in speech and noise alike, quiet items are quiet."""
import json

import numpy as np

from crn_train import data, stored, testset

from test_stage import fake_data


def build(tmp_path, monkeypatch, n_speakers=100):  # 10 test speakers: enough for babble of 6 others
    root = tmp_path / "data"
    root.mkdir(parents=True, exist_ok=True)
    rows = fake_data(root, n_speakers)
    monkeypatch.setattr(data, "SPLIT_FILE", tmp_path / "split.json")
    data.SPLIT_FILE.write_text(json.dumps(data.make_split(rows)))
    return testset.build(root, n=3, n_real=0, seed=7, max_seconds=6.0)


def level_db(x):
    return 20 * np.log10(data.rms(x))


def test_conditions_and_their_independence(tmp_path, monkeypatch):
    items, _ = build(tmp_path, monkeypatch)
    assert {it["cond"] for it in items} == set(testset.SNRS)
    assert len(items) == 3 * sum(len(s) for s in testset.SNRS.values())
    def above_4k(x):  # share of the power above 4.4 kHz (the 8 kHz resampler's roll-off ends by then)
        spec = np.abs(np.fft.rfft(x)) ** 2
        return spec[np.fft.rfftfreq(len(x), 1 / data.SR) > 4400].sum() / spec.sum()

    for it in items:
        if it["cond"] == "narrowband":
            assert above_4k(it["noisy"]) < 1e-3 and above_4k(it["clean"]) < 1e-3  # noise cut too: -30 dB
        if it["cond"] == "band-limited":
            assert above_4k(it["clean"]) < 1e-3 and above_4k(it["noisy"]) > 0.01  # there the noise is full-band
        if it["cond"] == "quiet":
            assert testset.QUIET_LEVEL_RANGE_DB[0] - 0.5 <= level_db(it["noisy"]) <= testset.QUIET_LEVEL_RANGE_DB[1] + 0.5
            assert it["snr"] in (10.0, 20.0)
    # the earlier conditions do not depend on the later ones' draws: same items without them
    monkeypatch.setattr(testset, "SNRS", {k: v for k, v in testset.SNRS.items() if k not in ("narrowband", "quiet")})
    earlier, _ = build(tmp_path / "again", monkeypatch)
    same = [it for it in items if it["cond"] in testset.SNRS]
    assert stored.testset_hashes(earlier) == stored.testset_hashes(same)
