"""Streaming form of the CRN: one frame in, one frame out, history carried in a flat state.

Every 2-frame causal (transposed) convolution is rewritten as a 1-D (transposed) convolution
over frequency whose input is [previous frame, current frame] stacked on channels, so a
frame costs exactly one row of each layer. BatchNorm is folded into the preceding conv.

State layout per batch item (float32, concatenated in this order):
  enc_i input of the previous frame, i = 0..4   (ch[i] x FREQS[i])
  LSTM h0, c0, h1, c1                           (4 x lstm_size)
  dec_j input of the previous frame, j = 0..4   (2*ch[5-j] x FREQS[5-j])
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .model import CRN, FREQS, N_BINS, compress, decompress


def _fold_bn(weight: torch.Tensor, bias: torch.Tensor, bn: nn.BatchNorm2d, out_dim: int):
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shape = [1] * weight.dim()
    shape[out_dim] = -1
    return weight * scale.reshape(shape), (bias - bn.running_mean) * scale + bn.bias


class StreamingCRN(nn.Module):
    def __init__(self, crn: CRN):
        super().__init__()
        crn = crn.eval()
        self.cfg = crn.cfg
        ch = [1, *crn.cfg.channels]
        self.ch = ch
        self.enc = nn.ModuleList()
        for i in range(5):
            conv = crn.enc[i]
            w, b = _fold_bn(conv.weight.detach(), conv.bias.detach(), crn.enc_bn[i], 0)
            # Conv2d weight [out, in, 2, 3]: time tap 0 sees the previous frame, tap 1 the current.
            c1 = nn.Conv1d(2 * ch[i], ch[i + 1], 3, stride=2)
            c1.weight.data = torch.cat([w[:, :, 0], w[:, :, 1]], dim=1)
            c1.bias.data = b
            self.enc.append(c1)
        self.lstm = crn.lstm
        self.dec = nn.ModuleList()
        for j in range(5):
            i = 4 - j
            d = crn.dec[j]
            w, b = d.weight.detach(), d.bias.detach()
            if j < 4:
                w, b = _fold_bn(w, b, crn.dec_bn[j], 1)
            # ConvTranspose2d weight [in, out, 2, 3]: out[t] = tap0 * x[t] + tap1 * x[t-1].
            c1 = nn.ConvTranspose1d(4 * ch[i + 1], ch[i], 3, stride=2, output_padding=d.output_padding[1])
            c1.weight.data = torch.cat([w[:, :, 1], w[:, :, 0]], dim=0)  # input is [prev, cur]
            c1.bias.data = b
            self.dec.append(c1)
        self.enc_sizes = [ch[i] * FREQS[i] for i in range(5)]
        self.dec_sizes = [2 * ch[5 - j] * FREQS[5 - j] for j in range(5)]
        self.lstm_size = crn.cfg.lstm_size
        self.state_size = sum(self.enc_sizes) + 4 * self.lstm_size + sum(self.dec_sizes)

    def forward(self, mag: torch.Tensor, state: torch.Tensor):
        """mag [B, 161], state [B, S] -> (estimate [B, 161], new state [B, S])."""
        B = mag.shape[0]
        parts = torch.split(state, self.enc_sizes + [self.lstm_size] * 4 + self.dec_sizes, dim=1)
        enc_prev, (h0, c0, h1, c1), dec_prev = parts[:5], parts[5:9], parts[9:]
        new_state = []
        x = compress(mag, self.cfg.compress).unsqueeze(1)  # [B, 1, 161]
        skips = []
        for i, conv in enumerate(self.enc):
            new_state.append(x.reshape(B, -1))
            prev = enc_prev[i].reshape(B, self.ch[i], FREQS[i])
            x = F.elu(conv(torch.cat([prev, x], dim=1)))
            skips.append(x)
        h = torch.stack([h0, h1])
        c = torch.stack([c0, c1])
        y, (h, c) = self.lstm(x.reshape(B, 1, -1), (h, c))
        lstm_state = [h[0], c[0], h[1], c[1]]
        x = y.reshape(B, self.ch[5], FREQS[5])
        dec_state = []
        for j, deconv in enumerate(self.dec):
            cur = torch.cat([x, skips[4 - j]], dim=1)
            dec_state.append(cur.reshape(B, -1))
            prev = dec_prev[j].reshape(cur.shape)
            x = deconv(torch.cat([prev, cur], dim=1))
            x = F.elu(x) if j < 4 else F.softplus(x)
        est = decompress(x.reshape(B, N_BINS), self.cfg.compress)
        return est, torch.cat(new_state + lstm_state + dec_state, dim=1)


def export_onnx(crn: CRN, path: str, metadata: dict[str, str] | None = None) -> StreamingCRN:
    import onnx

    s = StreamingCRN(crn).eval()
    mag = torch.rand(1, N_BINS)
    state = torch.zeros(1, s.state_size)
    with torch.no_grad():
        torch.onnx.export(
            s, (mag, state), path,
            input_names=["mag", "state"], output_names=["estimate", "new_state"],
            dynamic_axes={"mag": {0: "batch"}, "state": {0: "batch"},
                          "estimate": {0: "batch"}, "new_state": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
    m = onnx.load(path)
    meta = {
        "sample_rate": "16000", "frame_length": "320", "hop_length": "160", "n_bins": str(N_BINS),
        "window": "sqrt_periodic_hann", "output_kind": "magnitude",
        "state_size": str(s.state_size), "channels": ",".join(map(str, crn.cfg.channels)),
        "compress": str(crn.cfg.compress), "params": str(crn.param_count()),
    }
    meta.update(metadata or {})
    del m.metadata_props[:]
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.save(m, path)
    return s
