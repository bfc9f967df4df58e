"""Streaming form of the CRN as an ONNX graph: any number of frames in and out, history in per-layer states.

The graph is written node by node (onnx.helper), not traced, so it holds the network and nothing
else: a traced graph that slices one flat state and handles dynamic shapes spends most of a frame on
Shape/Gather/Concat bookkeeping.

One call takes T frames (T >= 1, the symbolic dimension "frames") and carries the state from the
frame before them, so the same graph serves both uses:
- the plugin runs one frame per call (T = 1) on its worker thread, as it must in real time;
- an offline render (the CLI, the Python package, a host's bounce) gives it every frame of a host
  block at once: each layer is then one convolution over T frames, reading its weights once for
  all of them, and the LSTM's input projection is one matrix product. Measured (BENCHMARKS.md),
  a frame costs about a quarter of what it costs alone.

Every causal 2-frame convolution is the PyTorch layer itself (kernel 2 x 3 over time x frequency)
applied to [the previous call's last frame, the T new frames] stacked on time; each transposed one
likewise, its look-ahead frame cropped by its time padding. BatchNorm is folded into the preceding
conv. Over time the convolutions are 2-D, which ORT runs in its blocked-channel (NCHWc) kernels,
faster than the 1-D form of the same layers even for one frame.

The contract (CONTRACT below; the engine's `model.rs` checks it):
  inputs   mag [B, T, 161] and one input per state (zeros at the start)
  outputs  estimate [B, T, 161] and `new_<state>` for each state input, same shape: pass it back
           with the next call
  states   enc<i> [B, ch_i, 1, F_i], i = 0..4: encoder layer i's input in the last frame seen;
           lstm<k>_h, lstm<k>_c [1, B, H], k = 0, 1;
           dec<j> [B, 2 ch_(5-j), 1, F_(5-j)], j = 0..4: decoder layer j's input (its own input and
           its skip, on channels) in the last frame seen
  B ("batch", the engine's channel count) and T ("frames") are the only symbolic dimensions.
Frame by frame and in blocks the estimates agree to float rounding (about 1e-7 relative: ORT's
kernels sum in a different order for other T), not bit for bit.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from .model import CRN, FREQS, MAG_EPS, N_BINS

CONTRACT = "crn-stream-3"
OPSET = 17


def _fold_bn(weight: torch.Tensor, bias: torch.Tensor, bn: nn.BatchNorm2d, out_dim: int):
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shape = [1] * weight.dim()
    shape[out_dim] = -1
    return weight * scale.reshape(shape), (bias - bn.running_mean) * scale + bn.bias


def state_shapes(crn: CRN) -> dict[str, list]:
    """Each state's shape, in input order ("B" marks the batch axis)."""
    ch = [1, *crn.cfg.channels]
    h = crn.cfg.lstm_size
    shapes = {f"enc{i}": ["B", ch[i], 1, FREQS[i]] for i in range(5)}
    for k in range(2):
        shapes[f"lstm{k}_h"] = [1, "B", h]
        shapes[f"lstm{k}_c"] = [1, "B", h]
    for j in range(5):
        shapes[f"dec{j}"] = ["B", 2 * ch[5 - j], 1, FREQS[5 - j]]
    return shapes


def state_size(crn: CRN) -> int:
    """Floats of state per batch item (all states together)."""
    return sum(int(np.prod([d for d in s if d != "B"])) for s in state_shapes(crn).values())


def _lstm_weights(lstm: nn.LSTM, layer: int):
    """PyTorch gate order (i, f, g, o) to ONNX's (i, o, f, c), as ONNX LSTM's W, R, B."""
    def reorder(t):
        i, f, g, o = t.detach().chunk(4, 0)
        return torch.cat([i, o, f, g], 0)
    w = reorder(getattr(lstm, f"weight_ih_l{layer}"))
    r = reorder(getattr(lstm, f"weight_hh_l{layer}"))
    b = torch.cat([reorder(getattr(lstm, f"bias_ih_l{layer}")), reorder(getattr(lstm, f"bias_hh_l{layer}"))])
    return w[None].numpy(), r[None].numpy(), b[None].numpy()


def build_graph(crn: CRN):
    """The streaming ONNX model (onnx.ModelProto) of `crn`, without metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    crn = crn.eval()
    cfg = crn.cfg
    ch = [1, *cfg.channels]
    H = cfg.lstm_size
    nodes, inits = [], []

    def const(name, array):
        a = np.asarray(array)
        inits.append(numpy_helper.from_array(a.astype(np.float32 if a.dtype.kind == "f" else np.int64), name))
        return name

    def node(op, inputs, outputs, **attrs):
        nodes.append(helper.make_node(op, inputs, outputs, name=f"{op}_{len(nodes)}", **attrs))
        return outputs[0]

    shapes = state_shapes(crn)
    sym = lambda s: ["batch" if d == "B" else d for d in s]  # noqa: E731
    inputs = [helper.make_tensor_value_info("mag", TensorProto.FLOAT, ["batch", "frames", N_BINS])]
    inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, sym(s)) for n, s in shapes.items()]
    outputs = [helper.make_tensor_value_info("estimate", TensorProto.FLOAT, ["batch", "frames", N_BINS])]
    outputs += [helper.make_tensor_value_info(f"new_{n}", TensorProto.FLOAT, sym(s)) for n, s in shapes.items()]

    # A layer's state for the next call is its input's last frame (axis 2 is time); Gather of
    # index [-1] keeps the axis, and measured a little faster than the same Slice for one frame.
    last = const("last_frame", [-1])

    def window(state: str, x: str, name: str) -> str:
        """[state, x] on time, and x's last frame as the state's next value."""
        node("Gather", [x, last], [f"new_{state}"], axis=2)
        return node("Concat", [state, x], [name], axis=2)

    c = cfg.compress
    x = "mag"
    if c != 1.0:
        x = node("Pow", [node("Add", [x, const("mag_eps", MAG_EPS)], ["mag_eps_added"]), const("compress", c)], ["compressed"])
    x = node("Unsqueeze", [x, const("channel_axis", [1])], ["enc0_in"])  # [B, 1, T, 161]
    skips = []
    with torch.no_grad():
        for i in range(5):
            conv = crn.enc[i]
            w, b = _fold_bn(conv.weight, conv.bias, crn.enc_bn[i], 0)
            win = window(f"enc{i}", x, f"enc{i}_window")
            y = node("Conv", [win, const(f"enc{i}_w", w.numpy()), const(f"enc{i}_b", b.numpy())], [f"enc{i}_conv"],
                     kernel_shape=[2, 3], strides=[1, 2])
            x = node("Elu", [y], [f"enc{i}_out"])
            skips.append(x)
        # [B, C, T, F] -> [T, B, C*F], the LSTM's sequence; its Y [T, 1, B, H] back to [B, C, T, F].
        seq = node("Reshape", [node("Transpose", [x], ["lstm_t"], perm=[2, 0, 1, 3]), const("shape_lstm", [0, 0, -1])], ["lstm_in"])
        for k in range(2):
            wk, rk, bk = _lstm_weights(crn.lstm, k)
            node("LSTM", [seq, const(f"lstm{k}_W", wk), const(f"lstm{k}_R", rk), const(f"lstm{k}_B", bk), "",
                          f"lstm{k}_h", f"lstm{k}_c"], [f"lstm{k}_y", f"new_lstm{k}_h", f"new_lstm{k}_c"], hidden_size=H)
            seq = node("Reshape", [f"lstm{k}_y", const(f"shape_y{k}", [0, -1, H])], [f"lstm{k}_seq"])
        x = node("Reshape", [seq, const("shape_dec", [0, -1, ch[5], FREQS[5]])], ["dec_t"])
        x = node("Transpose", [x], ["dec0_x"], perm=[1, 2, 0, 3])
        for j in range(5):
            i = 4 - j
            d = crn.dec[j]
            w, b = d.weight, d.bias
            if j < 4:
                w, b = _fold_bn(w, b, crn.dec_bn[j], 1)
            cur = node("Concat", [x, skips[i]], [f"dec{j}_in"], axis=1)  # [previous layer, skip]
            win = window(f"dec{j}", cur, f"dec{j}_window")
            # Time padding 1 and 1 keeps output frames 1..T: each new frame's own, without the
            # first (the previous call's) and the look-ahead one past the last.
            y = node("ConvTranspose", [win, const(f"dec{j}_w", w.numpy()), const(f"dec{j}_b", b.numpy())], [f"dec{j}_conv"],
                     kernel_shape=[2, 3], strides=[1, 2], pads=[1, 0, 1, 0], output_padding=[0, d.output_padding[1]])
            x = node("Elu", [y], [f"dec{j}_out"]) if j < 4 else node("Softplus", [y], ["out_compressed4d"])
    x = node("Squeeze", [x, "channel_axis"], ["estimate" if c == 1.0 else "out_compressed"])
    if c != 1.0:
        node("Pow", [x, const("decompress", 1.0 / c)], ["estimate"])
    graph = helper.make_graph(nodes, "crn_stream", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="crn_train.stream")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def export_onnx(crn: CRN, path: str, metadata: dict[str, str] | None = None) -> int:
    """Writes the streaming model of `crn` to `path`; returns the state size (floats per channel)."""
    import onnx

    m = build_graph(crn)
    meta = {
        "contract": CONTRACT,
        "sample_rate": "16000", "frame_length": "320", "hop_length": "160", "n_bins": str(N_BINS),
        "window": "sqrt_periodic_hann", "output_kind": "magnitude",
        "state_size": str(state_size(crn)), "channels": ",".join(map(str, crn.cfg.channels)),
        "compress": str(crn.cfg.compress), "params": str(crn.param_count()),
    }
    meta.update(metadata or {})
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.save(m, path)
    return state_size(crn)


class OnnxStream:
    """The exported model run frame by frame through onnxruntime, states carried (evaluation, tests)."""

    def __init__(self, path: str, threads: int = 1):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.meta = self.sess.get_modelmeta().custom_metadata_map
        if self.meta.get("contract") != CONTRACT:
            raise ValueError(f"{path}: contract {self.meta.get('contract', 'missing (the old single-state graph)')}, "
                             f"expected {CONTRACT}: re-export it with `python -m crn_train.export`")
        self.states = [i for i in self.sess.get_inputs() if i.name != "mag"]

    def zero_state(self, batch: int) -> dict[str, np.ndarray]:
        return {i.name: np.zeros([batch if isinstance(d, str) else d for d in i.shape], np.float32) for i in self.states}

    def run(self, mag: np.ndarray, state: dict[str, np.ndarray]):
        """mag [B, T, 161] -> (estimate [B, T, 161], the state after its last frame)."""
        names = ["estimate"] + [f"new_{i.name}" for i in self.states]
        out = self.sess.run(names, {"mag": np.ascontiguousarray(mag, np.float32), **state})
        return out[0], {i.name: o for i, o in zip(self.states, out[1:])}

    def step(self, mag: np.ndarray, state: dict[str, np.ndarray]):
        """One frame, as the plugin runs it: mag [B, 161] -> (estimate [B, 161], the next frame's state)."""
        est, state = self.run(mag[:, None], state)
        return est[:, 0], state
