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
    assert "validation draw: 4 mixtures, rng " in log  # the fingerprint that makes logs comparable
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


def test_single_checkpoint_continues_with_optimiser_and_ema(tmp_path, monkeypatch):
    """--ckpt: one file holds weights, optimiser, EMA and totals; a second run continues it, adds hours."""
    import time

    root = tmp_path / "data"
    rows = fake_data(root)
    monkeypatch.setattr(data, "SPLIT_FILE", tmp_path / "split.json")
    data.SPLIT_FILE.write_text(json.dumps(data.make_split(rows)))
    ck = tmp_path / "checkpoints" / "latest.pt"
    args = ["--data", str(root), "--ckpt", str(ck), "--preset", "tiny", "--batch", "2", "--seconds", "0.5",
            "--valid-items", "4", "--threads", "1", "--cache", str(tmp_path / "cache"), "--schedule", "constant",
            "--ema", "0.9"]
    train.main(args + ["--until", str(time.time() + 8)])
    first = torch.load(ck, weights_only=False)
    assert {"model", "opt", "ema", "state", "config"} <= set(first)
    assert first["state"]["step"] > 0
    assert all(v.dtype == torch.float32 for v in first["model"].values() if v.is_floating_point())
    # the moving average lags the weights: it is a different model once the weights moved
    assert any(not torch.equal(first["ema"][k], first["model"][k]) for k in first["model"]
               if first["model"][k].is_floating_point())
    assert not list(ck.parent.glob("*.tmp")) and not (ck.parent / "best.pt").exists()
    train.main(args + ["--until", str(time.time() + 8)])
    second = torch.load(ck, weights_only=False)
    assert second["state"]["step"] > first["state"]["step"]
    assert second["state"]["audio_seconds"] > first["state"]["audio_seconds"]
    log = ck.with_suffix(".train.log").read_text()
    assert "optimiser included, EMA included" in log
    assert log.count("h of mixtures added") == 2 and "added_hours=" in log


def test_parse_until():
    import datetime as dt

    now = dt.datetime(2026, 12, 3, 18, 0).timestamp()
    assert train.parse_until("20:50", now) == dt.datetime(2026, 12, 3, 20, 50).timestamp()
    assert train.parse_until("17:00", now) == dt.datetime(2026, 12, 4, 17, 0).timestamp()  # the next one
    assert train.parse_until("1234.5", now) == 1234.5


def test_resume_starts_from_the_kept_file_or_the_most_trained(tmp_path):
    from crn_train import resume

    for name, hours in (("a.pt", 5.0), ("b.pt", 9.0), ("c.pt", 1.0)):
        torch.save({"state": {"audio_seconds": hours * 3600}}, tmp_path / name)
    assert resume.newest(tmp_path).name == "b.pt"
    targs = resume.train_args(tmp_path, "20:50", "DATA", ["--threads", "1"])
    assert targs[targs.index("--init") + 1].endswith("b.pt")
    assert targs[targs.index("--ckpt") + 1].endswith(resume.KEPT) and targs[-2:] == ["--threads", "1"]
    torch.save({"state": {"audio_seconds": 0.0}}, tmp_path / resume.KEPT)
    assert resume.newest(tmp_path).name == resume.KEPT


def test_listening_scores_the_plugin_output_and_the_best_rule_guards_stoi():
    from crn_train import listen
    from crn_train.model import CRN, PRESETS

    if not listen.available():
        import pytest
        pytest.skip("pesq / pystoi not installed")
    t = torch.arange(16000) / 16000
    clean = (0.1 * torch.sin(2 * torch.pi * 220 * t) * (torch.sin(2 * torch.pi * 3 * t) > 0)).repeat(2, 1)
    noisy = clean + 0.02 * torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
    net = CRN(PRESETS["tiny"])
    out = listen.plugin_output(net, noisy)
    assert out.shape == noisy.shape and torch.isfinite(out).all()
    # gains never exceed one: the output never has more energy per bin than the input
    assert (out ** 2).sum() <= (noisy ** 2).sum() * 1.01
    s = listen.scores(net, noisy, clean)
    assert len(s["pesq"]) == 2 and all(0 <= v <= 1 for v in s["stoi"])
    base = {"pesq": [2.0] * 8, "stoi": [0.80, 0.82, 0.78, 0.81, 0.79, 0.80, 0.83, 0.77]}
    assert listen.better({"pesq": [2.1] * 8, "stoi": base["stoi"]}, base)  # PESQ up, STOI the same
    assert not listen.better({"pesq": [1.9] * 8, "stoi": base["stoi"]}, base)  # PESQ down
    lower = [v - 0.02 for v in base["stoi"]]
    assert not listen.better({"pesq": [2.5] * 8, "stoi": lower}, base)  # PESQ bought with intelligibility
    assert listen.better(base, None)


def test_the_cpu_fast_path_trains_the_same_weights_in_the_same_files():
    """Channels-last convolutions and bf16 autocast (where the CPU has it) change speed, not what is kept:
    fp32 weights that load into a plain net and compute what the trained net computes."""
    from crn_train.batchmix import BatchMixer, Augment
    from crn_train.loss import LossWeights
    from crn_train.model import CRN, PRESETS

    from test_batchmix import synthetic_corpus

    cpu = torch.device("cpu")
    net = train.cpu_layout(CRN(PRESETS["tiny"]), cpu)
    assert net.enc[1].weight.is_contiguous(memory_format=torch.channels_last)
    train.train_mode(net, freeze_bn=True)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    ema = train.EMA(net, 0.9)
    mixer = BatchMixer(synthetic_corpus(), Augment(seconds=0.5), seed=3)
    amp = train.use_amp(True, cpu)
    assert amp == train.cpu_bf16_native()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    for _ in range(3):
        loss, secs = train.train_step(net, opt, ema, mixer, 4, LossWeights(), amp)
        assert torch.isfinite(loss) and secs == 4 * 0.5
    sd = net.state_dict()
    assert all(v.dtype == torch.float32 for v in sd.values() if v.is_floating_point())
    assert any(not torch.equal(before[k], sd[k]) for k in sd if sd[k].is_floating_point())
    plain = CRN(PRESETS["tiny"])
    plain.load_state_dict(sd)
    x = torch.rand(2, 20, 161)
    assert torch.allclose(plain.eval()(x), net.eval()(x), rtol=1e-5, atol=1e-6)
    assert not train.use_amp(False, cpu)


def test_frozen_batchnorm_folded_into_the_convolutions_is_the_same_function_and_gradient():
    import copy

    from crn_train.model import CRN, PRESETS

    torch.manual_seed(0)
    net = CRN(PRESETS["tiny"])
    for bn in list(net.enc_bn) + list(net.dec_bn):  # statistics and affine far from the identity
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    x = torch.rand(2, 30, 161)
    folded, layers = copy.deepcopy(net), copy.deepcopy(net)
    layers.fold_frozen_bn = False
    for m in (folded, layers):
        train.train_mode(m, freeze_bn=True)
    a, b = folded(x), layers(x)
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
    a.square().sum().backward()
    b.square().sum().backward()
    for (name, p), q in zip(folded.named_parameters(), layers.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-3, atol=1e-6 * q.grad.abs().max()), name
    assert all(torch.equal(f.running_mean, l.running_mean) for f, l in zip(folded.enc_bn, layers.enc_bn))
    net.eval()
    plain = CRN(PRESETS["tiny"])
    plain.load_state_dict(net.state_dict())
    assert torch.equal(net(x), plain.eval()(x))  # evaluation runs the layers as they are: nothing folded
