"""train.py end to end on a tiny synthetic data root: it stops by itself, keeps best/last, and resumes."""
import json

import torch

from crn_train import data, train

from test_stage import fake_data


def test_train_stops_by_itself_writes_checkpoints_and_resumes(tmp_path, monkeypatch):
    root = tmp_path / "data"
    rows = fake_data(root)
    monkeypatch.setattr(data, "SPLIT_FILE", tmp_path / "split.json")
    data.SPLIT_FILE.write_text(json.dumps(data.make_split(rows)))
    out = tmp_path / "run"
    args = ["--data", str(root), "--out", str(out), "--preset", "tiny", "--batch", "2", "--seconds", "0.5",
            "--valid-items", "4", "--minutes", "0.15", "--threads", "1", "--cache", str(tmp_path / "cache")]
    train.main(args)
    for f in ("best.pt", "last.pt", "train.log"):
        assert (out / f).exists()
    first = torch.load(out / "last.pt", weights_only=False)
    assert first["state"]["step"] > 0 and "opt" in first
    log = (out / "train.log").read_text()
    assert "valid_loss=" in log and "stopped after" in log
    train.main(args)  # resumes from last.pt, optimiser included
    second = torch.load(out / "last.pt", weights_only=False)
    assert second["state"]["step"] > first["state"]["step"]
    assert "resumed from" in (out / "train.log").read_text()


def test_frozen_batchnorm_keeps_its_running_statistics():
    from crn_train.model import CRN, PRESETS

    net = CRN(PRESETS["tiny"])
    before = [b.running_mean.clone() for b in net.enc_bn]
    train.train_mode(net, freeze_bn=True)
    net(torch.rand(2, 10, 161)).sum().backward()
    assert all(torch.equal(a, b.running_mean) for a, b in zip(before, net.enc_bn))
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for b in net.enc_bn for p in b.parameters())
    train.train_mode(net, freeze_bn=False)
    net(torch.rand(2, 10, 161) * 5)
    assert not all(torch.equal(a, b.running_mean) for a, b in zip(before, net.enc_bn))
