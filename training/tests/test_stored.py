"""stored.py: reusing stored rows only for the same test set, paired intervals, the ship rule."""
import numpy as np
import pytest

from crn_train import stored


def items(seed=0):
    rng = np.random.default_rng(seed)
    return [dict(cond="noise", snr=0.0, key=f"u{i}", noisy=rng.standard_normal(100).astype(np.float32),
                 clean=rng.standard_normal(100).astype(np.float32)) for i in range(3)]


def test_hash_sees_one_sample_change():
    a, b = items(), items()
    assert stored.testset_hash(a) == stored.testset_hash(b)
    b[1]["noisy"][7] += 1e-6
    assert stored.testset_hash(a) != stored.testset_hash(b)


def rows(values):
    return {"noise|+0": [{"key": f"u{i}", "stoi": v, "pesq_wb": 1.0 + v} for i, v in enumerate(values)]}


def test_same_testset_by_hash_or_by_the_unprocessed_rows():
    cfg = {"testset_hash": "abc", "seed": 1, "utterances": ["u0", "u1"]}
    assert stored.check_same_testset({"config": dict(cfg)}, cfg) == "hash"
    with pytest.raises(stored.NotComparable):
        stored.check_same_testset({"config": dict(cfg, testset_hash="abd")}, cfg)
    old = {"config": {"seed": 1, "utterances": ["u0", "u1"]}, "per_utterance": {"unprocessed": rows([0.5, 0.6])}}
    assert stored.check_same_testset(old, cfg, rows([0.5, 0.6])) == "unprocessed rows"
    with pytest.raises(stored.NotComparable, match="unprocessed stoi"):
        stored.check_same_testset(old, cfg, rows([0.5, 0.61]))
    with pytest.raises(stored.NotComparable, match="utterances"):
        stored.check_same_testset(old, dict(cfg, utterances=["u0", "u2"]), rows([0.5, 0.6]))


def test_reuse_selection():
    sys_ = ["unprocessed", "crn-denoise", "RNNoise"]
    assert stored.parse_reuse("", sys_, {"unprocessed", "crn-denoise"}) == [("RNNoise", "RNNoise")]
    assert stored.parse_reuse("crn-denoise=shipped", sys_, {"crn-denoise"}) == [("crn-denoise", "shipped")]
    with pytest.raises(ValueError):
        stored.parse_reuse("crn-denoise", sys_, {"crn-denoise"})
    with pytest.raises(KeyError):
        stored.parse_reuse("NSNet2", sys_, set())


def test_paired_interval_and_the_ship_rule():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.5, 0.9, 200)  # utterance difficulty varies a lot ...
    a, b = rows(base + 0.01 + rng.normal(0, 0.002, 200)), rows(base)  # ... the difference hardly
    d = stored.paired(a, b)["noise|+0"]
    assert d["stoi"]["lo"] > 0.009 and d["stoi"]["hi"] < 0.011 and d["stoi"]["n"] == 200
    res = {"noise": {"+0": {"stoi": 0.7}}}
    v = stored.verdict({"noise|+0": d}, res, {"noise": {"+0": {"stoi": 0.6}}})
    assert v["ship"] and len(v["better"]) == 2 and not v["worse"]
    v = stored.verdict({"noise|+0": d}, res, {"noise": {"+0": {"stoi": 0.75}}})
    assert not v["ship"] and v["stoi_below_input"] == ["noise|+0"]
    worse = stored.paired(b, a)
    assert not stored.verdict(worse, res, {"noise": {"+0": {"stoi": 0.6}}})["ship"]
