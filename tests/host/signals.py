"""Test signals the host tests share (the VST3 tests in pedalboard and the Linux live-chain
tests alike)."""

import numpy as np


def pink_noise(channels, n, rms, seed):
    """Noise with a 1/f power spectrum, float32, shape (channels, n), at the given RMS."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal((channels, n)), axis=-1)
    f = np.arange(spectrum.shape[-1], dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spectrum / np.sqrt(f), n=n, axis=-1)
    x *= rms / np.sqrt(np.mean(x**2))
    return x.astype(np.float32)
