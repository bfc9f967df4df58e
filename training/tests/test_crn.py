"""Fast checks of the CRN on tiny synthetic data: shapes, size, causality and
streaming-export parity (onnxruntime frame by frame and in blocks == PyTorch on the whole utterance)."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from crn_train import features
from crn_train.model import CRN, PRESETS, N_BINS
from crn_train.stream import CONTRACT, OnnxStream, export_onnx, state_size


def trained_like(preset: str, seed: int = 0) -> CRN:
    """A net with non-trivial BatchNorm statistics, as after training, so folding is exercised."""
    torch.manual_seed(seed)
    m = CRN(PRESETS[preset])
    for bn in [*m.enc_bn, *m.dec_bn]:
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.2, 0.2)
    return m.eval()


def test_paper_preset_has_the_published_size():
    assert round(CRN(PRESETS["paper"]).param_count() / 1e6, 2) == 17.58


def test_shapes_and_non_negative_output():
    m = trained_like("tiny")
    x = torch.rand(3, 17, N_BINS)
    y = m(x)
    assert y.shape == x.shape
    assert (y >= 0).all()


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_causal_future_frames_never_change_the_past(preset):
    m = trained_like(preset)
    x = torch.rand(1, 30, N_BINS)
    y = m(x)
    x2 = x.clone()
    x2[:, 20:] = torch.rand(1, 10, N_BINS) * 10
    y2 = m(x2)
    assert torch.equal(y[:, :20], y2[:, :20])
    assert not torch.allclose(y[:, 20:], y2[:, 20:])


def test_stft_istft_reconstructs():
    x = torch.randn(1, 16000)
    y = features.istft(features.stft(x), 16000)
    assert torch.allclose(x[:, 160:-320], y[:, 160:-320], atol=1e-5)


def run_frames(path, mag: np.ndarray) -> np.ndarray:
    """mag [B, T, 161] through the exported model frame by frame, state carried (as the plugin runs it)."""
    stream = OnnxStream(path)
    state = stream.zero_state(mag.shape[0])
    out = np.zeros_like(mag)
    for t in range(mag.shape[1]):
        out[:, t], state = stream.step(mag[:, t], state)
    return out


@pytest.mark.parametrize("preset", ["tiny", "small", "paper"])
def test_streaming_onnx_matches_pytorch(tmp_path, preset):
    m = trained_like(preset, seed=3)
    path = str(tmp_path / "m.onnx")
    size = export_onnx(m, path)
    model = onnx.load(path)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["sample_rate"] == "16000" and meta["n_bins"] == "161" and meta["output_kind"] == "magnitude"
    assert meta["contract"] == CONTRACT and int(meta["state_size"]) == size == state_size(m)
    # The network and little else: 5 Conv, 5 ConvTranspose, 2 LSTM, their activations, the
    # compression, per layer a window Concat and the Gather that keeps its last frame, and the
    # LSTM's Transpose/Reshape; no BatchNorm (folded), no Shape/Slice bookkeeping.
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Conv") == 5 and ops.count("ConvTranspose") == 5 and ops.count("LSTM") == 2
    assert ops.count("Gather") == 10 and len(ops) <= 60 and not {"BatchNormalization", "Shape", "Slice", "Split"} & set(ops)
    # Every dimension is static but the batch and (for mag and estimate) the frames.
    for v in [*model.graph.input, *model.graph.output]:
        params = [d.dim_param for d in v.type.tensor_type.shape.dim if d.dim_param]
        assert params == (["batch", "frames"] if v.name in ("mag", "estimate") else ["batch"]), v.name

    torch.manual_seed(5)
    T = 60 if preset != "paper" else 12
    mag = torch.rand(2, T, N_BINS) * torch.logspace(0, -3, N_BINS)
    with torch.no_grad():
        ref = m(mag).numpy()
    tol = 1e-4 * max(1.0, np.abs(ref).max())
    out = run_frames(path, mag.numpy())
    assert np.abs(out - ref).max() < tol
    # In blocks of any size, state carried between calls (an offline render): the same estimates.
    blocks = run_blocks(path, mag.numpy(), [1, 5, (T - 6) // 2, T - 6 - (T - 6) // 2])
    assert np.abs(blocks - out).max() < 1e-5 * max(1.0, np.abs(ref).max())


def run_blocks(path, mag: np.ndarray, sizes: list[int]) -> np.ndarray:
    """mag [B, T, 161] through the exported model in calls of `sizes` frames, state carried."""
    stream = OnnxStream(path)
    state = stream.zero_state(mag.shape[0])
    parts, t = [], 0
    for n in sizes:
        est, state = stream.run(mag[:, t:t + n], state)
        parts.append(est)
        t += n
    assert t == mag.shape[1]
    return np.concatenate(parts, axis=1)


def test_streaming_onnx_is_causal(tmp_path):
    m = trained_like("small", seed=7)
    path = str(tmp_path / "m.onnx")
    export_onnx(m, path)
    rng = np.random.default_rng(8)
    mag = (rng.random((1, 30, N_BINS)) * np.logspace(0, -3, N_BINS)).astype(np.float32)
    changed = mag.copy()
    changed[:, 20:] = rng.random((1, 10, N_BINS)).astype(np.float32) * 10
    a, b = run_frames(path, mag), run_frames(path, changed)
    assert np.array_equal(a[:, :20], b[:, :20])
    assert not np.allclose(a[:, 20:], b[:, 20:])


def test_old_contract_is_refused_by_name(tmp_path):
    from onnx import TensorProto, helper

    # The first contract's signature: one flat state in and out, no `contract` metadata.
    vi = lambda n, s: helper.make_tensor_value_info(n, TensorProto.FLOAT, s)  # noqa: E731
    g = helper.make_graph([helper.make_node("Identity", ["mag"], ["estimate"]), helper.make_node("Identity", ["state"], ["new_state"])],
                          "old", [vi("mag", ["batch", N_BINS]), vi("state", ["batch", 5])],
                          [vi("estimate", ["batch", N_BINS]), vi("new_state", ["batch", 5])])
    old = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    old.ir_version = 8
    onnx.save(old, str(tmp_path / "old.onnx"))
    with pytest.raises(ValueError, match="re-export"):
        OnnxStream(str(tmp_path / "old.onnx"))


def test_shipped_model_keeps_the_contract():
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[2] / "assets" / "crn.onnx"
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert (meta["frame_length"], meta["hop_length"], meta["window"]) == ("320", "160", "sqrt_periodic_hann")
    assert meta["contract"] == CONTRACT and meta["name"] == "crn" and int(meta["training_steps"]) > 0
    stream = OnnxStream(str(path))
    state = stream.zero_state(2)
    assert sum(v.size for v in state.values()) == 2 * int(meta["state_size"])
    est, new = stream.step(np.ones((2, N_BINS), np.float32), state)
    assert est.shape == (2, N_BINS) and np.isfinite(est).all()
    assert {k: v.shape for k, v in new.items()} == {k: v.shape for k, v in state.items()}


def test_int8_copy_keeps_the_contract_and_stays_close(tmp_path):
    from crn_train.export import quantize_int8

    m = trained_like("small", seed=4)
    path, q = str(tmp_path / "m.onnx"), str(tmp_path / "m8.onnx")
    size = export_onnx(m, path)
    quantize_int8(path, q)
    meta = {p.key: p.value for p in onnx.load(q).metadata_props}
    assert meta["state_size"] == str(size) and meta["contract"] == CONTRACT and meta["quantization"].startswith("int8")
    ops = {n.op_type for n in onnx.load(q).graph.node}
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops
    torch.manual_seed(6)
    mag = (torch.rand(1, 40, N_BINS) * torch.logspace(0, -2, N_BINS)).numpy()
    outs = [run_frames(p, mag) for p in (path, q)]
    rel = np.abs(outs[0] - outs[1]).mean() / np.abs(outs[0]).mean()
    assert 0 < rel < 0.1  # quantised (not a copy of the fp32 graph), yet close
