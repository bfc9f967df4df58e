"""What the tests of the Linux live-chain plugins (LADSPA, LV2, PipeWire) share: where the built
plugins are, the expected latency, signals (espeak-ng speech in pink noise, made by the tests),
WAV files, the CLI's render to compare with, and the measures.

Needs `cargo xtask bundle crn_denoise --release` (the plugins in target/bundled, the CLI and the
ONNX Runtime library in target/release) and espeak-ng and sox (scripts/setup.sh).
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from signals import pink_noise

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "target" / "bundled"
LADSPA_SO = BUNDLED / "crn_denoise_ladspa.so"
LV2_BUNDLE = BUNDLED / "crn_denoise.lv2"
CLI = ROOT / "target" / "release" / "crn-denoise"
# Plugin labels (LADSPA) and URIs (LV2): crates/crn-live/src/ports.rs, crates/crn-lv2.
LABELS = ["crn_denoise_mono", "crn_denoise_stereo", "crn_denoise_mono_live", "crn_denoise_stereo_live"]
LV2_URI = "urn:crn-denoise:"
SPEECH = "Live chains on Linux: the denoised microphone keeps the voice and drops the hiss and hum."


def need(path):
    if not Path(path).exists():
        pytest.fail(f"{path} is missing: run `cargo xtask bundle crn_denoise --release` first")
    return Path(path)


def tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: run scripts/setup.sh")
    return path


def expected_latency(rate, live):
    """One 20 ms frame plus, at 30 ms, one hop; the hop is floor(rate / 100) (README, Latency)."""
    hop = rate // 100
    return 2 * hop + (0 if live else hop)


def speech(rate, tmp):
    """espeak-ng's voice at `rate` (sox resamples), float32, peak 0.5."""
    raw, out = tmp / "speech_raw.wav", tmp / f"speech_{rate}.wav"
    subprocess.run([tool("espeak-ng"), "-v", "en-us", "-s", "150", "-w", str(raw), SPEECH], check=True)
    subprocess.run([tool("sox"), str(raw), "-r", str(rate), "-b", "32", "-e", "float", str(out)], check=True)
    x, _ = sf.read(out, dtype="float32")
    return 0.5 * x / np.max(np.abs(x))


def noisy_speech(rate, channels, tmp, snr_db=5.0, seed=1):
    """(clean, noisy), each (channels, n): the speech in every channel plus independent pink
    noise at `snr_db`."""
    s = speech(rate, tmp)
    clean = np.tile(s, (channels, 1))
    noise_rms = np.sqrt(np.mean(s**2)) / 10 ** (snr_db / 20)
    return clean, clean + pink_noise(channels, len(s), noise_rms, seed)


def write(path, x, rate, subtype="FLOAT"):
    sf.write(path, np.asarray(x).T, rate, subtype=subtype)
    return path


def read(path):
    """(channels, n) float64."""
    x, _ = sf.read(path, dtype="float64", always_2d=True)
    return x.T


def cli_render(inp, out, *options):
    """The CLI's offline render (latency already trimmed), same settings as the options say."""
    subprocess.run([str(need(CLI)), "-q", "-f", *options, str(inp), str(out)], check=True)
    return read(out)


def impulse(channels, n, at):
    x = np.zeros((channels, n), dtype=np.float32)
    x[:, at] = 0.5
    return x


def peak_delay(y, at):
    """Where the largest sample of each channel of `y` is, counted from `at`."""
    return [int(np.argmax(np.abs(c))) - at for c in y]


def snr_db(clean, y):
    n = min(clean.shape[-1], y.shape[-1])
    c, e = clean[..., :n], y[..., :n] - clean[..., :n]
    return 10 * np.log10(np.sum(c**2) / np.sum(e**2))
