"""denoise(): the CLI's samples exactly, shapes and dtypes kept, the noise actually reduced."""

import numpy as np
import pytest

import crn_denoise
import live
from conftest import cli_ok


@pytest.mark.parametrize(
    "rate, channels, settings, options",
    [
        (16_000, 1, {}, []),
        (48_000, 2, {}, []),
        (44_100, 2, dict(mix=0.7, atten_limit_db=12.0, gain_db=-3.0, link=False),
         ["--mix", "70", "--atten-limit", "12", "--gain", "-3", "--no-link"]),
    ],
)
def test_equal_to_the_cli_sample_for_sample(signals, tmp_path, rate, channels, settings, options):
    _, noisy = signals(rate, channels)
    src = live.write(tmp_path / "in.wav", noisy, rate)
    cli_ok(*options, "--output", "both", src, tmp_path / "out.wav")
    denoised, removed = crn_denoise.denoise(noisy, rate, output="both", **settings)
    assert np.array_equal(denoised, live.read(tmp_path / "out.wav").astype(np.float32))
    assert np.array_equal(removed, live.read(tmp_path / "out.removed.wav").astype(np.float32))
    alone = crn_denoise.denoise(noisy, rate, **settings)
    assert np.array_equal(alone, denoised), "one stem alone is the same as in a pair"


def test_removes_noise_and_keeps_speech(signals):
    clean, noisy = signals(16_000, 1)
    y = crn_denoise.denoise(noisy[0], 16_000)
    assert y.shape == noisy[0].shape and y.dtype == np.float32
    gain = live.snr_db(clean[0], y) - live.snr_db(clean[0], noisy[0])
    assert gain > 5.0, f"SNR improved by only {gain:.1f} dB"


def test_stems_sum_to_the_gained_input(signals):
    _, noisy = signals(48_000, 2)
    d, r = crn_denoise.denoise(noisy, 48_000, gain_db=6.0, output="both")
    np.testing.assert_allclose(d + r, noisy * 10 ** (6 / 20), atol=1e-5)


def test_float64_and_mono_shapes_kept(signals):
    _, noisy = signals(16_000, 1)
    x64 = noisy[0].astype(np.float64)
    y64 = crn_denoise.denoise(x64, 16_000)
    assert y64.dtype == np.float64 and y64.shape == x64.shape
    # float64 goes through the engine as float32: the same samples.
    assert np.array_equal(y64, crn_denoise.denoise(noisy[0], 16_000).astype(np.float64))
    y2 = crn_denoise.denoise(noisy, 16_000)
    assert y2.shape == noisy.shape and np.array_equal(y2[0], y64.astype(np.float32))


def test_non_contiguous_input(signals):
    _, noisy = signals(16_000, 2)
    swapped = np.ascontiguousarray(noisy.T).T  # a (channels, samples) view of Fortran order
    assert not swapped.flags.c_contiguous
    assert np.array_equal(crn_denoise.denoise(swapped, 16_000), crn_denoise.denoise(noisy, 16_000))


def test_defaults_come_from_the_engine():
    d = crn_denoise.DEFAULTS
    assert (d["mix"], d["atten_limit_db"], d["gain_db"], d["link"]) == (1.0, 30.0, 0.0, True)
    assert d["sample_rates"] == (8000, 192000)
    assert crn_denoise.latency(48_000) == live.expected_latency(48_000, live=False)


def test_empty_and_tiny_inputs():
    assert crn_denoise.denoise(np.zeros(0, np.float32), 16_000).shape == (0,)
    assert crn_denoise.denoise(np.zeros((2, 0)), 16_000).shape == (2, 0)
    assert crn_denoise.denoise(np.full(3, 0.1, np.float32), 16_000).shape == (3,)


def _spin(until):
    """Loops of pure Python until `until()`: (loops, seconds)."""
    import time

    count, start = 0, time.perf_counter()
    while not until():
        count += 1
    return count, time.perf_counter() - start


def test_gil_released_while_audio_is_processed(signals):
    """Another Python thread runs while the engine works. The measure is a ratio, not a time:
    the main thread's loops per second during a long render against alone. With the GIL held
    it could run only in the render's few milliseconds of Python (a few percent); released, it
    shares the CPU with the render (two cores: most of one)."""
    import threading
    import time

    _, noisy = signals(48_000, 2)
    x = np.tile(noisy, 8)
    started, done = threading.Event(), threading.Event()

    def render():
        started.set()
        crn_denoise.denoise(x, 48_000)
        done.set()

    alone = time.perf_counter() + 0.3
    loops_alone, secs_alone = _spin(lambda: time.perf_counter() > alone)
    worker = threading.Thread(target=render)
    worker.start()
    started.wait()
    loops, secs = _spin(done.is_set)
    worker.join()
    share = (loops / secs) / (loops_alone / secs_alone)
    assert share > 0.15, f"the main thread ran at {share:.0%} of its own speed during a {secs:.2f} s render"


def test_instances_in_threads_are_independent(signals):
    from concurrent.futures import ThreadPoolExecutor

    _, noisy = signals(48_000, 2)
    inputs = [noisy, noisy[:, ::-1].copy(), 0.5 * noisy, noisy[:1]]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda x: crn_denoise.denoise(x, 48_000), inputs))
    for x, y in zip(inputs, parallel):
        assert np.array_equal(y, crn_denoise.denoise(x, 48_000))


def test_model_from_a_file_of_the_same_contract(signals):
    from conftest import ROOT

    _, noisy = signals(16_000, 1)
    y = crn_denoise.denoise(noisy, 16_000, model=ROOT / "assets" / "crn.onnx")
    assert np.array_equal(y, crn_denoise.denoise(noisy, 16_000)), "the shipped model, from its file"
