"""Bad input: an exception saying what is wrong, never a crash; NaN and Inf as silence."""

import numpy as np
import pytest

import crn_denoise


@pytest.mark.parametrize(
    "audio, error, match",
    [
        (np.zeros(100, np.int16), TypeError, "float32 or float64, not int16"),
        ([0.0, 0.1], TypeError, "numpy array"),
        (np.zeros((1, 2, 100), np.float32), ValueError, r"\(samples,\) or \(channels, samples\)"),
        (np.zeros((0, 100), np.float32), ValueError, "no channels"),
        (np.zeros((16_000, 2), np.float32), ValueError, "transpose"),
    ],
)
def test_bad_arrays(audio, error, match):
    with pytest.raises(error, match=match):
        crn_denoise.denoise(audio, 16_000)


@pytest.mark.parametrize("rate", [0, 4_000, 7_999, 192_001, 1_000_000])
def test_rates_outside_8_to_192_khz_refused(rate):
    with pytest.raises(ValueError, match="8000 to 192000 Hz"):
        crn_denoise.denoise(np.zeros(100, np.float32), rate)
    with pytest.raises(ValueError, match="8000 to 192000 Hz"):
        crn_denoise.Denoiser(rate)


def test_rate_limits_accepted():
    for rate in (8_000, 192_000):
        assert crn_denoise.denoise(np.zeros(1000, np.float32), rate).shape == (1000,)


@pytest.mark.parametrize("rate", [-1, 16_000.5, "16000", True])
def test_rate_must_be_whole_hz(rate):
    with pytest.raises((TypeError, ValueError)):
        crn_denoise.denoise(np.zeros(100, np.float32), rate)


@pytest.mark.parametrize(
    "settings, match",
    [
        (dict(mix=1.5), "mix"),
        (dict(mix=float("nan")), "mix"),
        (dict(atten_limit_db=-1.0), "attenuation limit"),
        (dict(gain_db=30.0), "gain"),
        (dict(output="noise"), "output"),
    ],
)
def test_bad_settings(settings, match):
    with pytest.raises(ValueError, match=match):
        crn_denoise.denoise(np.zeros(100, np.float32), 16_000, **settings)


def test_nan_and_inf_are_silence(signals):
    _, noisy = signals(16_000, 1)
    x = noisy[0].copy()
    bad = [100, 5000, 5001, 12345]
    x[bad] = [np.nan, np.inf, -np.inf, np.nan]
    zeroed = x.copy()
    zeroed[bad] = 0.0
    y = crn_denoise.denoise(x, 16_000)
    assert np.isfinite(y).all()
    assert np.array_equal(y, crn_denoise.denoise(zeroed, 16_000))


def test_missing_and_broken_models(tmp_path):
    with pytest.raises(RuntimeError, match="cannot read model"):
        crn_denoise.denoise(np.zeros(100, np.float32), 16_000, model=tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(RuntimeError, match="junk"):
        crn_denoise.Denoiser(16_000, model=junk)
    # The built-in model still works after a failed load.
    assert crn_denoise.denoise(np.zeros(100, np.float32), 16_000).shape == (100,)
