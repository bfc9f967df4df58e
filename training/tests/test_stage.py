"""Staging the data set for a device machine: shards under the carry limit, lossless round trip, the plan."""
import csv
import json

import numpy as np
import soundfile as sf

from crn_train import data, stage


def fake_data(root, n_speakers=30):
    rows = []
    rng = np.random.default_rng(0)
    for i in range(n_speakers):
        p = f"speech/c/{i}.flac"
        rows.append(dict(path=p, kind="speech", corpus="c", speaker=f"s{i}", gender="", lang="", duration_s="1",
                         est_snr_db="30", license=""))
    for i in range(12):
        rows.append(dict(path=f"noise/n/{i}.flac", kind="noise", corpus="n", speaker="", gender="", lang="",
                         duration_s="1", est_snr_db="", license=""))
    for i in range(4):
        rows.append(dict(path=f"rir/{i}.flac", kind="rir", corpus="r", speaker="", gender="", lang="",
                         duration_s="0.1", est_snr_db="", license=""))
    for r in rows:
        (root / r["path"]).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / r["path"], (rng.standard_normal(8000) * 0.1).astype(np.float32), 16000)
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (root / "README.md").write_text("fake\n")
    return rows


def test_pack_unpack_round_trip_keeps_every_training_file_and_leaves_test_behind(tmp_path, monkeypatch):
    root = tmp_path / "data"
    rows = fake_data(root)
    split = data.make_split(rows)
    monkeypatch.setattr(data, "SPLIT_FILE", tmp_path / "split.json")
    data.SPLIT_FILE.write_text(json.dumps(split))
    index = stage.pack(root, tmp_path / "stage", max_mib=0.05, wheels=False)
    assert len(index) > 2
    assert all(s["mib"] <= 0.05 + 0.02 for s in index)  # one file may be larger than the limit on its own
    into = tmp_path / "remote"
    for s in index:
        stage.unpack(tmp_path / "stage" / s["shard"], into)
    t = data.files_for(rows, split, "test")
    test = set(t["speech"] + t["noise"] + t["rir"])
    for r in rows:
        there = (into / r["path"]).exists()
        assert there == (r["path"] not in test), r["path"]
        if there:
            assert (into / r["path"]).read_bytes() == (root / r["path"]).read_bytes()
    assert (into / "manifest.csv").exists()
    assert sorted(p.name for p in (into / ".staged").iterdir()) == sorted(s["shard"] for s in index)


def test_plan_carries_one_shard_per_call_and_trains_in_the_last(tmp_path, monkeypatch):
    st = stage.HERE / "runs" / "stage-test"
    try:
        st.mkdir(parents=True, exist_ok=True)
        (st / "index.json").write_text(json.dumps({"shards": [{"shard": f"shard-{i}.tar"} for i in range(3)]}))
        calls = stage.plan(st, minutes=8.0, batch=256)
        assert len(calls) == 3
        assert [c["carry"][0].split("/")[-1] for c in calls] == ["shard-0.tar", "shard-1.tar", "shard-2.tar"]
        assert all("unpack" in c["command"] for c in calls)
        last = calls[-1]["command"]
        assert "crn_train.train" in last and "--ckpt $OUT/latest.pt" in last and "--minutes 8.0" in last
        assert f"--init checkpoints/{stage.newest_checkpoint()} " in last  # continues the kept training
        assert any(c.endswith("wheels") for c in calls[-1]["carry"])
        assert all(len(c["command"]) <= 2000 and len(c["carry"]) <= 8 for c in calls)  # the run tool's limits
    finally:
        for p in st.iterdir():
            p.unlink()
        st.rmdir()
