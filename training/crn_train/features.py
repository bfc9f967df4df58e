"""The STFT the model is trained on; the plugin computes exactly this at 16 kHz (crates/crn-engine/src/stft.rs)."""
import torch

FRAME, HOP = 320, 160


def window(device=None) -> torch.Tensor:
    # sqrt of a periodic Hann for analysis and synthesis: their product sums to one at 50 % overlap.
    return torch.sqrt(torch.hann_window(FRAME, periodic=True, device=device))


def stft(x: torch.Tensor) -> torch.Tensor:
    """x [B, L] -> complex [B, T, 161]; frame t covers samples [t*160, t*160+320) (no centering: causal)."""
    return torch.stft(x, FRAME, HOP, window=window(x.device), center=False, return_complex=True).transpose(1, 2)


def istft(spec: torch.Tensor, length: int) -> torch.Tensor:
    """Overlap-add inverse of `stft`; the first 160 samples lack their second frame and come out scaled."""
    frames = torch.fft.irfft(spec, n=FRAME, dim=-1) * window(spec.device)  # [B, T, 320]
    B, T, _ = frames.shape
    out = torch.nn.functional.fold(frames.transpose(1, 2), (1, (T - 1) * HOP + FRAME), (1, FRAME), stride=(1, HOP))
    out = out.reshape(B, -1)
    if out.shape[1] < length:
        out = torch.nn.functional.pad(out, (0, length - out.shape[1]))
    return out[:, :length]


def n_frames(length: int) -> int:
    return max(0, (length - FRAME) // HOP + 1)
