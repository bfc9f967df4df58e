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


def test_reused_conditions_by_hash_or_by_the_unprocessed_rows():
    hashes = {"noise": "abc", "quiet": "new"}
    cfg = {"seed": 1, "utterances": ["u0", "u1"], "snrs_db": {"noise": [0.0], "quiet": [10.0]}}
    hashed = {"config": dict(cfg, testset_hashes={"noise": "abc", "babble": "zzz"})}
    assert stored.comparable_conditions(hashed, hashes, cfg) == (["noise"], "hash")
    assert stored.comparable_conditions(hashed, {"noise": "abd"}, cfg) == ([], "hash")
    old = {"config": {"seed": 1, "utterances": ["u0", "u1"], "snrs_db": {"noise": [0.0]}},
           "results": {"unprocessed": {"noise": {}}}, "per_utterance": {"unprocessed": rows([0.5, 0.6])}}
    assert stored.comparable_conditions(old, hashes, cfg, rows([0.5, 0.6])) == (["noise"], "unprocessed rows")
    with pytest.raises(stored.NotComparable, match="unprocessed stoi"):
        stored.comparable_conditions(old, hashes, cfg, rows([0.5, 0.61]))
    with pytest.raises(stored.NotComparable, match="utterances"):
        stored.comparable_conditions(old, hashes, dict(cfg, utterances=["u0", "u2"]))
    with pytest.raises(stored.NotComparable, match="snrs_db"):
        stored.comparable_conditions(old, hashes, dict(cfg, snrs_db={"noise": [5.0]}))


def test_reuse_selection():
    sys_ = ["unprocessed", "crn-denoise", "RNNoise"]
    assert stored.parse_reuse("", sys_, {"unprocessed", "crn-denoise"}) == [("RNNoise", "RNNoise")]
    assert stored.parse_reuse("crn-denoise=shipped", sys_, {"crn-denoise"}) == [("crn-denoise", "shipped")]
    with pytest.raises(ValueError):
        stored.parse_reuse("crn-denoise", sys_, {"crn-denoise"})
    assert stored.parse_reuse("NSNet2,RNNoise", sys_, set()) == [("RNNoise", "RNNoise")]  # not in this file


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
