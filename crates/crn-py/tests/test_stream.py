"""Denoiser: blocks of any size give the whole-array render, shifted by the latency."""

import numpy as np
import pytest

import crn_denoise


def stream(d, x, rng, largest=3000):
    """`x` through `d` in random blocks (some empty, some of one sample), then the flush."""
    outs, pos = [], 0
    while pos < x.shape[-1]:
        n = int(rng.choice([0, 1, int(rng.integers(2, largest))]))
        outs.append(d.process(x[..., pos:pos + n]))
        assert np.shape(outs[-1][0] if d.output == "both" else outs[-1])[-1] == len(x[..., pos:pos + n].T)
        pos += n
    outs.append(d.flush())
    return outs


@pytest.mark.parametrize("rate, channels, seed", [(16_000, 1, 1), (48_000, 2, 2), (22_050, 2, 3)])
def test_random_blocks_equal_the_whole_array(signals, rate, channels, seed):
    _, noisy = signals(rate, channels)
    x = noisy[0] if channels == 1 else noisy
    d = crn_denoise.Denoiser(rate, channels)
    assert d.latency == crn_denoise.latency(rate)
    y = np.concatenate(stream(d, x, np.random.default_rng(seed)), axis=-1)
    assert y.shape[-1] == x.shape[-1] + d.latency
    # Blocks of other sizes group other frames into each model call (crn_engine::inline), which ORT
    # sums in another order: the same signal to float rounding; a lost or shifted sample is far more.
    assert np.abs(y[..., d.latency:] - crn_denoise.denoise(x, rate)).max() < 1e-6


def test_both_stems_and_settings(signals):
    _, noisy = signals(48_000, 2)
    settings = dict(mix=0.8, atten_limit_db=20.0, gain_db=3.0, link=False)
    d = crn_denoise.Denoiser(48_000, 2, output="both", **settings)
    outs = stream(d, noisy, np.random.default_rng(4))
    den = np.concatenate([o[0] for o in outs], axis=1)[:, d.latency:]
    rem = np.concatenate([o[1] for o in outs], axis=1)[:, d.latency:]
    want_d, want_r = crn_denoise.denoise(noisy, 48_000, output="both", **settings)
    assert np.abs(den - want_d).max() < 1e-6 and np.abs(rem - want_r).max() < 1e-6  # float rounding, as above


def test_flush_resets_for_the_next_stream(signals):
    _, noisy = signals(16_000, 1)
    d = crn_denoise.Denoiser(16_000)
    first = np.concatenate([d.process(noisy[0]), d.flush()])
    second = np.concatenate([d.process(noisy[0]), d.flush()])
    assert np.array_equal(first, second)
    d.process(noisy[0][:5000])
    d.reset()
    assert np.array_equal(np.concatenate([d.process(noisy[0]), d.flush()]), first)


def test_settings_change_between_blocks(signals):
    """An attenuation limit of 0 dB leaves the signal as it is: after the change (and its 20 ms
    glide) the output is the input, delayed; before it, the denoised signal."""
    _, noisy = signals(16_000, 1)
    x = noisy[0]
    d = crn_denoise.Denoiser(16_000)
    half = len(x) // 2
    a = d.process(x[:half])
    d.atten_limit_db = 0.0
    assert d.atten_limit_db == 0.0
    b = np.concatenate([d.process(x[half:]), d.flush()])
    y = np.concatenate([a, b])[d.latency:]
    assert np.array_equal(y[: half - d.latency], crn_denoise.denoise(x, 16_000)[: half - d.latency])
    settled = half + 1600  # 100 ms after the change
    np.testing.assert_allclose(y[settled:], x[settled:], atol=1e-4)
    with pytest.raises(ValueError, match="gain"):
        d.gain_db = 40.0
    assert d.gain_db == 0.0, "a refused setting leaves the old one"


def test_dtype_follows_the_block():
    d = crn_denoise.Denoiser(16_000, 2)
    out = d.process(np.zeros((2, 100), np.float64))
    assert out.dtype == np.float64 and out.shape == (2, 100)
    assert d.flush().shape == (2, d.latency)


def test_wrong_blocks_refused():
    d = crn_denoise.Denoiser(16_000, 2)
    with pytest.raises(ValueError, match="1 channel"):
        d.process(np.zeros(100, np.float32))
    with pytest.raises(TypeError, match="int16"):
        d.process(np.zeros((2, 100), np.int16))
    with pytest.raises(ValueError, match="channels"):
        crn_denoise.Denoiser(16_000, 0)


INTERRUPTED = """
import os, signal, sys, threading, time
import numpy as np
import crn_denoise

rate = 48_000
d = crn_denoise.Denoiser(rate)
short = np.random.default_rng(1).standard_normal(rate).astype(np.float32) * 0.05
fresh = np.concatenate([d.process(short), d.flush()])
long = np.random.default_rng(0).standard_normal(rate * 300).astype(np.float32) * 0.05  # 5 minutes
started = threading.Event()

def ctrl_c_once_processing():
    started.wait()
    time.sleep(0.3)  # inside the call: 5 minutes take seconds
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=ctrl_c_once_processing, daemon=True).start()
try:
    started.set()
    d.process(long)
    print("finished")
except KeyboardInterrupt:
    print("KeyboardInterrupt")
after = np.concatenate([d.process(short), d.flush()])
print("reset" if np.array_equal(after, fresh) else "not reset")
"""


def test_ctrl_c_stops_a_long_block_and_resets_the_stream():
    """Ctrl-C during one long block (the GIL released) raises KeyboardInterrupt from the call,
    between chunks, and leaves the stream as if new. Were the signal only seen after the call
    returned, the exception would come too, but with the whole block in the stream's state, so the
    next stream would not equal a fresh one."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", INTERRUPTED], capture_output=True, text=True, timeout=600)
    assert r.stdout.split() == ["KeyboardInterrupt", "reset"], r.stdout + r.stderr
