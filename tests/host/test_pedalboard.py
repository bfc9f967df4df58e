"""The bundled crn_denoise.vst3, loaded and driven by Spotify's pedalboard (JUCE's VST3 host).

Needs the bundle: `cargo xtask bundle crn_denoise --release`, then
`.venv/bin/python -m pytest tests/host/test_pedalboard.py`.

pedalboard renders offline (it calls setNonRealtime(true)) and compensates the latency the
plugin reports: it drops that many samples from the start and flushes the tail, so the output
has the input's shape. With mix = 0 the plugin's output is its latency-aligned dry path, so the
compensated output must equal the input: that holds only if the reported latency is the true one.
"""

from pathlib import Path

import numpy as np
import pytest

import pedalboard
from signals import pink_noise

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "target" / "bundled" / "crn_denoise.vst3"
# pedalboard turns "Attenuation Limit" (unit " dB") into `attenuation_limit_db`; the limit's values
# are text ("0.0" .. "99.5", "no limit"), so pedalboard exposes it as a string-valued parameter.
PARAMS = ["mix", "attenuation_limit_db", "output_gain_db", "stereo_link", "bypass", "latency", "output"]


# --------------------------------------------------------------------------------------------
# Signals


def voice(n, rate):
    """A vowel-like harmonic signal: gliding pitch with vibrato, three formants, 4 Hz syllables."""
    t = np.arange(n) / rate
    f0 = 110.0 + 40.0 * t + 10.0 * np.sin(2 * np.pi * 5.0 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    y = np.zeros(n)
    for k in range(1, 60):
        fk = k * f0
        amp = sum(a / (1.0 + ((fk - fc) / 150.0) ** 2) for fc, a in [(700, 1.0), (1200, 0.6), (2600, 0.3)])
        amp = (0.05 + amp) / np.sqrt(k) * (fk < 0.45 * min(rate, 16000.0))
        y += amp * np.sin(k * phase)
    envelope = 0.5 - 0.5 * np.cos(2 * np.pi * 4.0 * t)
    return (0.05 * envelope * y).astype(np.float32)


def noisy_voice(channels, rate, seconds=2.0, seed=0):
    n = int(seconds * rate)
    return voice(n, rate)[None, :] + pink_noise(channels, n, 0.02, seed)


def db(x):
    return 10.0 * np.log10(np.sum(np.asarray(x, dtype=np.float64) ** 2) + 1e-30)


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def plugin():
    if not BUNDLE.exists():
        pytest.fail(f"{BUNDLE} is missing: run `cargo xtask bundle crn_denoise --release` first")
    return pedalboard.load_plugin(str(BUNDLE))


@pytest.fixture(autouse=True)
def defaults(plugin):
    """Every test starts and ends with the default parameter values."""

    def restore():
        plugin.mix = 100.0
        plugin.attenuation_limit_db = 30.0
        plugin.output_gain_db = 0.0
        plugin.stereo_link = True
        plugin.bypass = False
        plugin.latency = "30 ms"
        plugin.output = "Denoised"

    restore()
    yield
    restore()


# --------------------------------------------------------------------------------------------
# Tests


def test_loads_as_vst3_effect(plugin):
    assert plugin.name == "CRN Denoise"
    assert plugin.is_effect and not plugin.is_instrument


def test_parameters_listed_with_defaults(plugin):
    names = list(plugin.parameters.keys())
    for name in PARAMS:
        assert name in names, f"{name} not in {names}"
    assert float(plugin.mix) == pytest.approx(100.0)
    assert float(plugin.attenuation_limit_db) == pytest.approx(30.0)
    assert float(plugin.output_gain_db) == pytest.approx(0.0)
    assert bool(plugin.stereo_link) is True
    assert bool(plugin.bypass) is False
    mix = plugin.parameters["mix"]
    assert (mix.min_value, mix.max_value) == (pytest.approx(0.0), pytest.approx(100.0))
    gain = plugin.parameters["output_gain_db"]
    assert (gain.min_value, gain.max_value) == (pytest.approx(-24.0), pytest.approx(24.0))


def test_parameters_round_trip(plugin):
    plugin.mix = 25.0
    plugin.attenuation_limit_db = 12.5
    plugin.output_gain_db = -6.0
    plugin.stereo_link = False
    plugin.bypass = True
    assert float(plugin.mix) == pytest.approx(25.0, abs=0.5)
    assert float(plugin.attenuation_limit_db) == pytest.approx(12.5, abs=0.1)
    assert float(plugin.output_gain_db) == pytest.approx(-6.0, abs=0.1)
    assert bool(plugin.stereo_link) is False
    assert bool(plugin.bypass) is True
    plugin.attenuation_limit_db = "no limit"
    assert str(plugin.attenuation_limit_db) == "no limit"


def expected_latency(rate, low_latency=False):
    """One 20 ms frame, plus one 10 ms hop in the standard mode; never the block size."""
    hop = int(rate // 100)
    return 2 * hop + (0 if low_latency else hop)


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("buffer_size", [1, 64, 128, 512, 2048, 8192])
def test_reported_latency_is_30_ms_at_every_block_size(plugin, rate, buffer_size):
    plugin.process(np.zeros((2, 2048), np.float32), rate, buffer_size=buffer_size)
    assert plugin.reported_latency_samples == expected_latency(rate)
    assert plugin.reported_latency_samples <= 0.030 * rate


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("buffer_size", [64, 512, 8192])
@pytest.mark.parametrize("low", [False, True])
def test_reported_latency_equals_the_measured_delay(plugin, rate, buffer_size, low):
    """mix = 0 through pedalboard's latency compensation nulls only if the report is the delay."""
    plugin.latency = "20 ms (live)" if low else "30 ms"
    plugin.mix = 0.0
    # The first call lets the parameter changes reach the plugin (a new latency applies from
    # the next activation, as after a host restart).
    plugin.process(np.zeros((2, 512), np.float32), rate, buffer_size=512)
    x = noisy_voice(2, rate, seconds=1.0, seed=rate + buffer_size)
    y = plugin.process(x, rate, buffer_size=buffer_size)
    assert plugin.reported_latency_samples == expected_latency(rate, low)
    skip = int(0.05 * rate)
    err = float(np.max(np.abs(y[:, skip:] - x[:, skip:])))
    assert err < 1e-5, f"{rate} Hz / {buffer_size} / low {low}: null error {err:.3g}, shift {best_shift(x, y)}"


def test_removed_noise_plus_denoised_is_the_input(plugin):
    x = noisy_voice(2, 48000, seed=7)
    plugin.output = "Denoised"
    d = plugin.process(x, 48000, buffer_size=512)
    plugin.output = "Removed noise"
    plugin.process(np.zeros((2, 512), np.float32), 48000, buffer_size=512)
    r = plugin.process(x, 48000, buffer_size=512)
    skip = 4800
    err = float(np.max(np.abs(d[:, skip:] + r[:, skip:] - x[:, skip:])))
    assert err < 1e-5, f"denoised + removed differs from the input by {err:.3g}"
    assert db(r[:, skip:]) > db(x[:, skip:]) - 20, "removed stem nearly silent"


@pytest.mark.parametrize("buffer_size", [512, 128])
def test_stereo_output_finite_same_shape(plugin, buffer_size):
    x = noisy_voice(2, 48000)
    y = plugin.process(x, 48000, buffer_size=buffer_size)
    assert y.shape == x.shape
    assert y.dtype == np.float32
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y)) > 1e-3, "output is silent"


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("buffer_size", [512, 128])
def test_mix_zero_nulls_after_latency_compensation(plugin, rate, buffer_size):
    plugin.mix = 0.0
    assert float(plugin.mix) == pytest.approx(0.0)
    x = noisy_voice(2, rate, seed=rate + buffer_size)
    y = plugin.process(x, rate, buffer_size=buffer_size)
    assert plugin.reported_latency_samples == expected_latency(rate)
    assert y.shape == x.shape
    err = np.max(np.abs(y - x))
    assert err <= 1e-5, (
        f"{rate} Hz / {buffer_size}: mix=0 output differs from the input by {err:.3g} after "
        f"pedalboard's latency compensation (best alignment shift: {best_shift(x, y)} samples)"
    )


def test_mono_output_and_null(plugin):
    x = noisy_voice(1, 48000, seed=9)
    y = plugin.process(x, 48000, buffer_size=512)
    assert y.shape == x.shape
    assert np.all(np.isfinite(y))
    plugin.mix = 0.0
    y = plugin.process(x, 48000, buffer_size=512)
    err = np.max(np.abs(y - x))
    assert err <= 1e-5, f"mono mix=0 differs by {err:.3g} (best shift {best_shift(x, y)})"


@pytest.mark.parametrize("channels", [2, 1])
@pytest.mark.parametrize("buffer_size", [512, 128])
def test_noise_only_attenuated_with_defaults(plugin, channels, buffer_size):
    rate = 48000
    x = pink_noise(channels, 2 * rate, 0.05, seed=channels)
    y = plugin.process(x, rate, buffer_size=buffer_size)
    assert y.shape == x.shape and np.all(np.isfinite(y))
    settle = rate // 2
    reduction = db(x[:, settle:]) - db(y[:, settle:])
    assert reduction > 6.0, f"noise only reduced by {reduction:.2f} dB"


def test_denoised_output_aligned_with_input(plugin):
    """After latency compensation the output correlates best with the input at lag 0."""
    x = noisy_voice(2, 48000, seed=3)
    y = plugin.process(x, 48000, buffer_size=512)
    assert best_shift(x, y) == 0


def best_shift(x, y, max_shift=4000):
    """Shift s (output later than input by s samples) maximising the cross-correlation."""
    n = x.shape[-1]
    xs = x.astype(np.float64).sum(axis=0)
    ys = y.astype(np.float64).sum(axis=0)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    c = np.fft.irfft(np.fft.rfft(ys, size) * np.conj(np.fft.rfft(xs, size)), size)
    lags = np.r_[np.arange(0, max_shift + 1), np.arange(-max_shift, 0)]
    return int(lags[np.argmax(c[lags])])


# --------------------------------------------------------------------------------------------
# A broken install: no model or no runtime. The host must survive and get latency-aligned
# passthrough (checked in a child process: ONNX Runtime is loaded once per process).

PASSTHROUGH_CHILD = r"""
import sys, numpy as np, pedalboard
p = pedalboard.load_plugin(sys.argv[1])
x = np.random.default_rng(1).standard_normal((2, 48000)).astype(np.float32) * 0.1
y = p.process(x, 48000.0, buffer_size=512)
assert np.isfinite(y).all()
print(float(np.abs(y - x).max()))
"""


@pytest.mark.parametrize("env", [{"CRN_MODEL": "/nonexistent/model.onnx"}, {"CRN_ORT_LIB": "/nonexistent/libonnxruntime.so"},
                                 {"CRN_MODEL": str(Path(__file__))}])
def test_broken_model_or_runtime_gives_aligned_passthrough(env):
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", PASSTHROUGH_CHILD, str(BUNDLE)], env={**os.environ, **env},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip().splitlines()[-1]) < 1e-6, "passthrough must equal the input after compensation"


def test_state_save_and_restore_every_parameter(plugin):
    # One block first leaves the plugin active with processing switched on, like a host with its
    # transport stopped. The changes below then reach it only through the edit controller (no
    # block follows) and must still be what is saved: the framework's VST3 wrapper used to drop
    # them (patched in vendor/nice-plug, see PATCHES.md).
    plugin.process(np.zeros((2, 512), np.float32), 48000.0, buffer_size=512)
    plugin.mix = 40.0
    plugin.attenuation_limit_db = 18.0
    plugin.output_gain_db = 3.5
    plugin.stereo_link = False
    plugin.bypass = True
    state = plugin.raw_state
    fresh = pedalboard.load_plugin(str(BUNDLE))
    assert float(fresh.mix) == pytest.approx(100.0)
    fresh.raw_state = state
    assert float(fresh.mix) == pytest.approx(40.0, abs=0.5)
    assert float(fresh.attenuation_limit_db) == pytest.approx(18.0, abs=0.1)
    assert float(fresh.output_gain_db) == pytest.approx(3.5, abs=0.1)
    assert bool(fresh.stereo_link) is False
    assert bool(fresh.bypass) is True
