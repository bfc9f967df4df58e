"""Streaming form of the CRN as an ONNX graph: one frame in, one frame out, history in per-layer states.

The graph is written node by node (onnx.helper), not traced, so it holds the network and nothing
else: ORT runs a node in a few microseconds whatever its size, and a traced graph that slices one
flat state and handles a dynamic batch spends most of a frame on Shape/Gather/Concat bookkeeping.

Every 2-frame causal (transposed) convolution becomes a 1-D (transposed) convolution over frequency
whose input is [previous frame, current frame] stacked on channels, so a frame costs exactly one row
of each layer. BatchNorm is folded into the preceding conv. Measured against Gemm forms of the same
layers (scripts/bench.py's graph-form candidates), ORT's Conv/ConvTranspose over that 2-frame stack
is the fastest for one time step: a dense Gemm multiplies the zeros of the banded matrix.

The contract (CONTRACT below; the engine's `model.rs` checks it):
  inputs   mag [B, 161] and one input per state (zeros at the start)
  outputs  estimate [B, 161] and `new_<state>` for each state input, same shape: pass it back next frame
  states   enc<i> [B, ch_i, F_i], i = 0..5: encoder layer i's input of the previous frame (enc5 is
           the LSTM's input, the decoder's first skip); lstm<k>_h, lstm<k>_c [1, B, H], k = 0, 1;
           dec<j> [B, ch_(5-j), F_(5-j)], j = 0..4: decoder layer j's own input of the previous frame
           (its skip's previous frame is the encoder state above, stored once)
  B is the symbolic dimension "batch" (the engine fixes it to the channel count when it builds the
  session); every other dimension is static.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from .model import CRN, FREQS, MAG_EPS, N_BINS

CONTRACT = "crn-stream-2"
OPSET = 17


def _fold_bn(weight: torch.Tensor, bias: torch.Tensor, bn: nn.BatchNorm2d, out_dim: int):
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shape = [1] * weight.dim()
    shape[out_dim] = -1
    return weight * scale.reshape(shape), (bias - bn.running_mean) * scale + bn.bias


def state_shapes(crn: CRN) -> dict[str, list[int]]:
    """Each state's shape per batch item, in input order ("B" marks the batch axis)."""
    ch = [1, *crn.cfg.channels]
    h = crn.cfg.lstm_size
    shapes = {f"enc{i}": ["B", ch[i], FREQS[i]] for i in range(6)}
    for k in range(2):
        shapes[f"lstm{k}_h"] = [1, "B", h]
        shapes[f"lstm{k}_c"] = [1, "B", h]
    for j in range(5):
        shapes[f"dec{j}"] = ["B", ch[5 - j], FREQS[5 - j]]
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
        inits.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32 if np.asarray(array).dtype.kind == "f" else np.int64), name))
        return name

    def node(op, inputs, outputs, **attrs):
        nodes.append(helper.make_node(op, inputs, outputs, name=f"{op}_{len(nodes)}", **attrs))
        return outputs[0]

    shapes = state_shapes(crn)
    sym = lambda s: ["batch" if d == "B" else d for d in s]  # noqa: E731
    inputs = [helper.make_tensor_value_info("mag", TensorProto.FLOAT, ["batch", N_BINS])]
    inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, sym(s)) for n, s in shapes.items()]
    outputs = [helper.make_tensor_value_info("estimate", TensorProto.FLOAT, ["batch", N_BINS])]
    outputs += [helper.make_tensor_value_info(f"new_{n}", TensorProto.FLOAT, sym(s)) for n, s in shapes.items()]

    c = cfg.compress
    x = "mag"
    if c != 1.0:
        x = node("Pow", [node("Add", [x, const("mag_eps", MAG_EPS)], ["mag_eps_added"]), const("compress", c)], ["compressed"])
    x = node("Reshape", [x, const("shape_enc0", [-1, 1, N_BINS])], ["new_enc0"])
    with torch.no_grad():
        for i in range(5):
            conv = crn.enc[i]
            w, b = _fold_bn(conv.weight, conv.bias, crn.enc_bn[i], 0)
            # Conv2d weight [out, in, 2, 3]: time tap 0 sees the previous frame, tap 1 the current.
            w1 = torch.cat([w[:, :, 0], w[:, :, 1]], dim=1)
            stacked = node("Concat", [f"enc{i}", x], [f"enc{i}_window"], axis=1)
            y = node("Conv", [stacked, const(f"enc{i}_w", w1.numpy()), const(f"enc{i}_b", b.numpy())], [f"enc{i}_conv"],
                     kernel_shape=[3], strides=[2])
            x = node("Elu", [y], [f"new_enc{i + 1}"])
        # One time step: the LSTM's Y equals Y_h, so layer 1 reads layer 0's new h directly.
        seq = node("Reshape", [x, const("shape_lstm", [1, -1, H])], ["lstm_in"])
        for k in range(2):
            wk, rk, bk = _lstm_weights(crn.lstm, k)
            node("LSTM", [seq, const(f"lstm{k}_W", wk), const(f"lstm{k}_R", rk), const(f"lstm{k}_B", bk), "",
                          f"lstm{k}_h", f"lstm{k}_c"], ["", f"new_lstm{k}_h", f"new_lstm{k}_c"], hidden_size=H)
            seq = f"new_lstm{k}_h"
        x = node("Reshape", [seq, const("shape_dec0", [-1, ch[5], FREQS[5]])], ["new_dec0"])
        for j in range(5):
            i = 4 - j
            d = crn.dec[j]
            w, b = d.weight, d.bias
            if j < 4:
                w, b = _fold_bn(w, b, crn.dec_bn[j], 1)
            # ConvTranspose2d weight [in, out, 2, 3]: out[t] = tap0 * x[t] + tap1 * x[t-1]; the input
            # is [previous x, previous skip, x, skip] on channels.
            w1 = torch.cat([w[:, :, 1], w[:, :, 0]], dim=0)
            window = node("Concat", [f"dec{j}", f"enc{i + 1}", x, f"new_enc{i + 1}"], [f"dec{j}_window"], axis=1)
            y = node("ConvTranspose", [window, const(f"dec{j}_w", w1.numpy()), const(f"dec{j}_b", b.numpy())],
                     [f"dec{j}_conv"], kernel_shape=[3], strides=[2], output_padding=[d.output_padding[1]])
            x = node("Elu", [y], [f"new_dec{j + 1}"]) if j < 4 else node("Softplus", [y], ["out_compressed3d"])
    x = node("Reshape", [x, const("shape_out", [-1, N_BINS])], ["estimate" if c == 1.0 else "out_compressed"])
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

    def step(self, mag: np.ndarray, state: dict[str, np.ndarray]):
        """mag [B, 161] -> (estimate [B, 161], the next frame's state)."""
        names = ["estimate"] + [f"new_{i.name}" for i in self.states]
        out = self.sess.run(names, {"mag": np.ascontiguousarray(mag, np.float32), **state})
        return out[0], {i.name: o for i, o in zip(self.states, out[1:])}
