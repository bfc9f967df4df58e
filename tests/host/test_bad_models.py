"""Models that break the contract: the CLI refuses them with a clear error, the plugin passes
audio through (latency-aligned) instead of crashing the host."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import soundfile as sf
import torch

from crn_train.model import CRN, PRESETS
from crn_train.stream import export_onnx

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "target" / "release" / "crn-denoise"
BUNDLE = ROOT / "target" / "bundled" / "crn_denoise.vst3"


def tiny_model(path: Path) -> Path:
    torch.manual_seed(0)
    export_onnx(CRN(PRESETS["tiny"]).eval(), str(path))
    return path


def with_metadata(src: Path, dst: Path, **changes) -> Path:
    m = onnx.load(str(src))
    for p in m.metadata_props:
        if p.key in changes:
            p.value = changes[p.key]
    onnx.save(m, str(dst))
    return dst


def old_contract(dst: Path) -> Path:
    """The first contract's signature and metadata: one flat state in and out, no `contract` key."""
    from onnx import TensorProto, helper

    vi = lambda n, s: helper.make_tensor_value_info(n, TensorProto.FLOAT, s)  # noqa: E731
    g = helper.make_graph([helper.make_node("Identity", ["mag"], ["estimate"]), helper.make_node("Identity", ["state"], ["new_state"])],
                          "old", [vi("mag", ["batch", 161]), vi("state", ["batch", 5])],
                          [vi("estimate", ["batch", 161]), vi("new_state", ["batch", 5])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    for k, v in {"sample_rate": "16000", "frame_length": "320", "hop_length": "160", "n_bins": "161",
                 "output_kind": "magnitude", "state_size": "5"}.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.save(m, str(dst))
    return dst


def renamed_input(src: Path, dst: Path) -> Path:
    m = onnx.load(str(src))
    old = m.graph.input[0].name
    m.graph.input[0].name = "spectrum"
    for n in m.graph.node:
        n.input[:] = ["spectrum" if i == old else i for i in n.input]
    onnx.save(m, str(dst))
    return dst


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    good = tiny_model(d / "tiny.onnx")
    return {
        "wrong bins": with_metadata(good, d / "bins.onnx", n_bins="257"),
        "wrong rate": with_metadata(good, d / "rate.onnx", sample_rate="48000"),
        "wrong state size": with_metadata(good, d / "state.onnx", state_size="7"),
        "renamed input": renamed_input(good, d / "renamed.onnx"),
        "old contract": old_contract(d / "old.onnx"),
        "truncated": (lambda p: (p.write_bytes(good.read_bytes()[:3000]), p)[1])(d / "truncated.onnx"),
    }, good


def test_cli_refuses_contract_breaking_models(bad_models, tmp_path):
    if not CLI.exists():
        pytest.fail(f"{CLI} missing: run `cargo build --release` first")
    models, good = bad_models
    x = (np.random.default_rng(0).standard_normal(16000) * 0.1).astype(np.float32)
    sf.write(tmp_path / "in.wav", x, 16000, subtype="FLOAT")
    ok = subprocess.run([str(CLI), "-q", "--model", str(good), str(tmp_path / "in.wav"), str(tmp_path / "good.wav")],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr  # a conforming model of another size is fine
    for name, path in models.items():
        out = tmp_path / f"{path.stem}.wav"
        r = subprocess.run([str(CLI), "-q", "--model", str(path), str(tmp_path / "in.wav"), str(out)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, f"{name}: exit {r.returncode}"
        assert "model" in r.stderr and len(r.stderr.strip().splitlines()) == 1, f"{name}: {r.stderr!r}"
        assert "panicked" not in r.stderr
        assert not out.exists()
        if name == "old contract":
            assert "old single-state contract" in r.stderr and "re-export" in r.stderr, r.stderr


CHILD = r"""
import sys, numpy as np, pedalboard
p = pedalboard.load_plugin(sys.argv[1])
x = np.random.default_rng(1).standard_normal((2, 48000)).astype(np.float32) * 0.1
y = p.process(x, 48000.0, buffer_size=512)
print(float(np.abs(y - x).max()))
"""


def test_plugin_passes_through_with_contract_breaking_models(bad_models):
    models, _ = bad_models
    for name, path in models.items():
        r = subprocess.run([sys.executable, "-c", CHILD, str(BUNDLE)], env={**os.environ, "CRN_MODEL": str(path)},
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{name}: {r.stderr}"
        assert float(r.stdout.strip().splitlines()[-1]) < 1e-6, f"{name}: not a clean passthrough"
