"""Fast checks of the CRN on tiny synthetic data: shapes, size, causality and
streaming-export parity (onnxruntime frame by frame == PyTorch on the whole utterance)."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from crn_train import features
from crn_train.model import CRN, PRESETS, N_BINS
from crn_train.stream import StreamingCRN, export_onnx


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


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_streaming_onnx_matches_pytorch(tmp_path, preset):
    m = trained_like(preset, seed=3)
    path = str(tmp_path / "m.onnx")
    s = export_onnx(m, path)
    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert meta["sample_rate"] == "16000" and meta["n_bins"] == "161" and meta["output_kind"] == "magnitude"
    assert int(meta["state_size"]) == s.state_size
    # No BatchNormalization left in the graph: it is folded into the convolutions.
    assert all(n.op_type != "BatchNormalization" for n in onnx.load(path).graph.node)

    torch.manual_seed(5)
    T = 60
    mag = torch.rand(2, T, N_BINS) * torch.logspace(0, -3, N_BINS)
    with torch.no_grad():
        ref = m(mag).numpy()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    state = np.zeros((2, s.state_size), np.float32)
    out = np.zeros_like(ref)
    for t in range(T):
        est, state = sess.run(None, {"mag": mag[:, t].numpy(), "state": state})
        out[:, t] = est
    assert np.abs(out - ref).max() < 1e-4


def test_shipped_model_keeps_the_contract():
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[2] / "assets" / "crn.onnx"
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert (meta["frame_length"], meta["hop_length"], meta["window"]) == ("320", "160", "sqrt_periodic_hann")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["mag", "state"]
    est, st = sess.run(None, {"mag": np.ones((1, N_BINS), np.float32), "state": np.zeros((1, int(meta["state_size"])), np.float32)})
    assert est.shape == (1, N_BINS) and np.isfinite(est).all() and st.shape == (1, int(meta["state_size"]))


def test_int8_copy_keeps_the_contract_and_stays_close(tmp_path):
    from crn_train.export import quantize_int8

    m = trained_like("small", seed=4)
    path, q = str(tmp_path / "m.onnx"), str(tmp_path / "m8.onnx")
    s = export_onnx(m, path)
    quantize_int8(path, q)
    meta = {p.key: p.value for p in onnx.load(q).metadata_props}
    assert meta["state_size"] == str(s.state_size) and meta["quantization"].startswith("int8")
    ops = {n.op_type for n in onnx.load(q).graph.node}
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops
    torch.manual_seed(6)
    mag = (torch.rand(1, 40, N_BINS) * torch.logspace(0, -2, N_BINS)).numpy()
    outs = []
    for p in (path, q):
        sess = ort.InferenceSession(p, providers=["CPUExecutionProvider"])
        state = np.zeros((1, s.state_size), np.float32)
        out = []
        for t in range(40):
            est, state = sess.run(None, {"mag": mag[:, t], "state": state})
            out.append(est)
        outs.append(np.concatenate(out))
    rel = np.abs(outs[0] - outs[1]).mean() / np.abs(outs[0]).mean()
    assert 0 < rel < 0.1  # quantised (not a copy of the fp32 graph), yet close
