"""The CRN of Tan & Wang (Interspeech 2018), with configurable widths.

Input and output are [batch, time, 161] magnitude spectra. The `paper` preset is the
published net (17.58 M parameters); narrower presets keep the same topology: 5 causal
Conv2d (kernel 2x3 time x freq, stride 1x2) with BatchNorm + ELU, 2 LSTM layers over the
flattened C5 x 4 encoder output, and 5 mirrored ConvTranspose2d fed with skip connections,
softplus on the last.

Beyond the paper, the net may work on power-law compressed magnitudes (`compress` < 1):
the graph takes and returns plain magnitudes either way, so callers never see it.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

N_BINS = 161
# Frequency size after each encoder layer: 161 -> 80 -> 39 -> 19 -> 9 -> 4.
FREQS = [161, 80, 39, 19, 9, 4]
MAG_EPS = 1e-8


@dataclass(frozen=True)
class CRNConfig:
    channels: tuple[int, ...] = (16, 32, 64, 128, 256)
    compress: float = 1.0  # exponent applied to magnitudes in and out of the net (1 = paper)

    @property
    def lstm_size(self) -> int:
        return self.channels[-1] * FREQS[-1]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @staticmethod
    def from_dict(d: dict) -> "CRNConfig":
        return CRNConfig(channels=tuple(d["channels"]), compress=float(d["compress"]))


PRESETS = {
    "paper": CRNConfig((16, 32, 64, 128, 256), 1.0),
    # The shipped size: same topology, sized for a 200 us frame on one core.
    "small": CRNConfig((16, 32, 48, 48, 48), 0.3),
    "tiny": CRNConfig((4, 8, 8, 8, 8), 0.3),  # tests only
}


def compress(mag: torch.Tensor, c: float) -> torch.Tensor:
    return mag if c == 1.0 else (mag + MAG_EPS) ** c


def decompress(x: torch.Tensor, c: float) -> torch.Tensor:
    return x if c == 1.0 else x ** (1.0 / c)


class CRN(nn.Module):
    def __init__(self, cfg: CRNConfig = PRESETS["paper"]):
        super().__init__()
        self.cfg = cfg
        self.fold_frozen_bn = True  # `_conv_bn`; False only to measure the unfolded path (throughput.py)
        ch = [1, *cfg.channels]
        self.enc = nn.ModuleList(nn.Conv2d(ch[i], ch[i + 1], (2, 3), stride=(1, 2)) for i in range(5))
        self.enc_bn = nn.ModuleList(nn.BatchNorm2d(ch[i + 1]) for i in range(5))
        self.lstm = nn.LSTM(cfg.lstm_size, cfg.lstm_size, num_layers=2, batch_first=True)
        # Decoder layer j mirrors encoder layer 4-j; its input is [previous, skip] on channels.
        self.dec = nn.ModuleList()
        self.dec_bn = nn.ModuleList()
        for j in range(5):
            i = 4 - j
            out_pad = (0, 1) if FREQS[i] == 80 else (0, 0)  # 39 -> 79 needs one more bin to reach 80
            self.dec.append(nn.ConvTranspose2d(2 * ch[i + 1], ch[i], (2, 3), stride=(1, 2), output_padding=out_pad))
            if j < 4:
                self.dec_bn.append(nn.BatchNorm2d(ch[i]))

    def forward(self, mag: torch.Tensor) -> torch.Tensor:
        """mag: [B, T, 161] noisy magnitude -> [B, T, 161] estimated clean magnitude."""
        c = self.cfg.compress
        x = compress(mag, c).unsqueeze(1)  # [B, 1, T, F]
        T = x.shape[2]
        skips = []
        for conv, bn in zip(self.enc, self.enc_bn):
            x = F.elu(self._conv_bn(conv, bn, F.pad(x, (0, 0, 1, 0))))  # one past frame of padding: causal
            skips.append(x)
        B, C, _, Fr = x.shape
        y, _ = self.lstm(x.permute(0, 2, 1, 3).reshape(B, T, C * Fr))
        x = y.reshape(B, T, C, Fr).permute(0, 2, 1, 3)
        for j, deconv in enumerate(self.dec):
            bn = self.dec_bn[j] if j < 4 else None
            x = self._conv_bn(deconv, bn, torch.cat([x, skips[4 - j]], dim=1))[:, :, :T]  # drop the look-ahead frame
            x = F.elu(x) if j < 4 else F.softplus(x)
        return decompress(x.squeeze(1), c)

    def _conv_bn(self, conv: nn.Module, bn: nn.BatchNorm2d | None, x: torch.Tensor) -> torch.Tensor:
        """conv then BatchNorm. Training with frozen BatchNorm (running statistics: `train.train_mode`) folds
        the BatchNorm into the convolution's weights, the same function of the same parameters, because the
        BatchNorm's own backward on a CPU cost a fifth of a training step and this costs almost nothing.
        Everywhere else (evaluation, export, training on batch statistics) the layers run as they are."""
        if bn is None:
            return conv(x)
        if not (self.fold_frozen_bn and self.training and not bn.training):
            return bn(conv(x))
        scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale
        if isinstance(conv, nn.ConvTranspose2d):  # weight [in, out, kt, kf]
            return F.conv_transpose2d(x, conv.weight * scale[None, :, None, None], conv.bias * scale + shift,
                                      conv.stride, conv.padding, conv.output_padding)
        return F.conv2d(x, conv.weight * scale[:, None, None, None], conv.bias * scale + shift, conv.stride,
                        conv.padding)

    def param_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def macs_per_frame(self) -> int:
        ch = [1, *self.cfg.channels]
        macs = 0
        for i in range(5):
            macs += ch[i] * ch[i + 1] * 6 * FREQS[i + 1]  # encoder: one output row per frame
            macs += 2 * ch[i + 1] * ch[i] * 6 * FREQS[i + 1]  # decoder: every input bin spreads over 2x3
        h = self.cfg.lstm_size
        macs += 2 * 4 * (2 * h * h)
        return macs
