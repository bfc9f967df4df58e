"""crn_denoise.lv2 in lilv's and jalv's hosts: lilv reads the bundle (lv2ls, lv2info) without an
error and finds every plugin with its ports, its latency port and hard-RT capability; lv2apply
renders noisy speech exactly as the CLI does (after the latency) and delays an impulse by the
latency; jalv runs each plugin on a JACK server with the dummy driver (no sound card) and shows
the value on the `latency` port, at 44.1, 48 and 96 kHz.

Needs `cargo xtask bundle crn_denoise --release` and jackd2, lilv-utils, jalv (scripts/setup.sh),
then `.venv/bin/python -m pytest tests/host/test_lv2.py`.
"""

import getpass
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import live
from live import LABELS, LV2_BUNDLE, expected_latency, need, tool

URIS = [live.LV2_URI + label.removeprefix("crn_denoise_").replace("_", "-") for label in LABELS]


@pytest.fixture(scope="module")
def lv2_path(tmp_path_factory):
    """A folder holding only our bundle (lilv takes every entry of LV2_PATH for a bundle)."""
    d = tmp_path_factory.mktemp("lv2")
    (d / LV2_BUNDLE.name).symlink_to(need(LV2_BUNDLE).resolve())
    return d


def run(lv2_path, *cmd, **kw):
    env = dict(os.environ, LV2_PATH=str(lv2_path))
    return subprocess.run([tool(cmd[0]), *cmd[1:]], env=env, capture_output=True, text=True, **kw)


def lv2apply(lv2_path, uri, inp, out, **controls):
    args = ["lv2apply", "-i", str(inp), "-o", str(out)]
    for sym, val in controls.items():
        args += ["-c", sym, str(val)]
    r = run(lv2_path, *args, uri)
    assert r.returncode == 0, r.stderr
    return live.read(out)


def test_bundle_loads_in_lilv(lv2_path):
    r = run(lv2_path, "lv2ls", check=True)
    assert r.stdout.split() == sorted(URIS)
    assert r.stderr == ""
    for uri, label in zip(URIS, LABELS):
        r = run(lv2_path, "lv2info", uri, check=True)
        assert r.stderr == "", r.stderr
        text = r.stdout
        ports = re.findall(r"Port (\d+):", text)
        stereo = "stereo" in label
        assert len(ports) == (10 if stereo else 7)
        assert f"Has latency:       yes, reported by port {len(ports) - 1}" in text
        assert "lv2core#hardRTCapable" in text
        assert f"{LV2_BUNDLE.name}/crn_denoise.so" in text
        assert "Symbol:      latency" in text and "lv2core#reportsLatency" in text
        assert re.search(r"Symbol:      attenuation_limit\n.*\n\t\tMinimum:     0.000000\n\t\tMaximum:     120.000000\n\t\tDefault:     30.000000", text)
        assert ("Symbol:      stereo_link" in text) == stereo


def clear_stale_jack_shm():
    """JACK2 keeps a registry of servers in /dev/shm with eight slots and never reclaims the slot of
    a server that was killed (SIGKILL, a crashed run): after eight such, every new server fails with
    "Too many servers already active". With no JACK server alive nothing uses those files, so they
    are removed; with one alive (someone's own), nothing is touched."""
    if subprocess.run(["pgrep", "-x", "jackd|jackdbus"], capture_output=True).returncode == 0:
        return
    for f in Path("/dev/shm").glob("jack*"):
        if f.owner() == getpass.getuser():
            shutil.rmtree(f) if f.is_dir() else f.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def jack(tmp_path_factory):
    """A JACK server per rate on the dummy driver, started when first asked for."""
    clear_stale_jack_shm()
    logs = tmp_path_factory.mktemp("jackd")
    servers = {}

    def start(rate):
        if rate not in servers:
            # Short: jack_lsp 1.9.21 crashes on long server names.
            name = f"c{os.getpid() % 10000}_{rate // 100}"
            env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
            log = logs / f"{rate}.log"  # a file, not a pipe: a server that talks a lot must never block
            with open(log, "w") as f:
                p = subprocess.Popen([tool("jackd"), "-n", name, "-d", "dummy", "-r", str(rate), "-p", "256"], env=env,
                                     stdout=f, stderr=subprocess.STDOUT)
            servers[rate] = (name, p)
            # Ready when a client can list its ports (poll, no fixed sleep).
            for _ in range(100):
                # JACK_NO_START_SERVER: a client must not start a server of its own meanwhile.
                ready = subprocess.run(["jack_lsp", "-s", name], env=dict(os.environ, JACK_NO_START_SERVER="1"), capture_output=True)
                if ready.returncode == 0 or p.poll() is not None:
                    break
                time.sleep(0.1)
            if ready.returncode != 0:
                p.kill()
                p.wait()
                pytest.fail(f"jackd did not start at {rate} Hz: {log.read_text().strip()[-600:]}")
        return servers[rate][0]

    yield start
    for _, p in servers.values():
        p.terminate()
        p.wait()


# Every plugin at 48 kHz, one at the other rates too: each jalv run takes a second.
JALV_CASES = [(u, l, 48000) for u, l in zip(URIS, LABELS)] + [(URIS[0], LABELS[0], r) for r in (44100, 96000)]


@pytest.mark.parametrize("uri,label,rate", JALV_CASES)
def test_jalv_shows_the_latency_port(lv2_path, jack, uri, label, rate):
    server = jack(rate)
    env = dict(os.environ, LV2_PATH=str(lv2_path), JACK_DEFAULT_SERVER=server, JACK_NO_START_SERVER="1")
    # jalv reads commands from stdin; `monitors` prints the output ports once it has run.
    p = subprocess.Popen([tool("jalv"), uri], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # A second of runs at 256 samples, asking for the output ports every 0.1 s.
        for _ in range(10):
            time.sleep(0.1)
            if p.poll() is not None:
                break
            p.stdin.write("monitors\n")
            p.stdin.flush()
        p.stdin.close()
        out = p.stdout.read()
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    found = re.findall(r"latency = ([0-9.]+)", out)
    assert found, out
    value = float(found[-1])
    assert f"Sample rate:  {rate} Hz" in out
    assert value == expected_latency(rate, label.endswith("_live"))


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("uri,label", list(zip(URIS, LABELS)))
def test_impulse_delay_is_the_latency(lv2_path, tmp_path, uri, label, rate):
    channels = 2 if "stereo" in label else 1
    at = 1000
    x = live.impulse(channels, rate // 2, at)
    y = lv2apply(lv2_path, uri, live.write(tmp_path / "imp.wav", x, rate), tmp_path / "out.wav", mix=0)
    lat = expected_latency(rate, label.endswith("_live"))
    assert live.peak_delay(y, at) == [lat] * channels
    assert np.max(np.abs(y[:, at + lat] - 0.5)) < 1e-6
    assert np.max(np.abs(np.delete(y, at + lat, axis=1))) < 1e-6


@pytest.mark.parametrize(
    "uri,label,rate",
    [(URIS[0], LABELS[0], 48000), (URIS[1], LABELS[1], 44100), (URIS[2], LABELS[2], 96000), (URIS[3], LABELS[3], 48000)],
)
def test_render_equals_the_cli(lv2_path, tmp_path, uri, label, rate):
    channels = 2 if "stereo" in label else 1
    clean, noisy = live.noisy_speech(rate, channels, tmp_path)
    inp = live.write(tmp_path / "noisy.wav", noisy, rate)
    lat = expected_latency(rate, label.endswith("_live"))
    padded = live.write(tmp_path / "padded.wav", np.pad(noisy, ((0, 0), (0, lat))), rate)
    y = lv2apply(lv2_path, uri, padded, tmp_path / "lv2.wav")[:, lat:]
    ref = live.cli_render(inp, tmp_path / "cli.wav")
    assert y.shape == ref.shape
    # lv2apply runs one sample per call, far faster than real time: the plugin tells from its
    # pace within a few dozen samples and waits for every frame (crates/crn-live/src/pace.rs).
    worst = np.max(np.abs(y - ref))
    assert worst < 1e-6, f"{uri} at {rate} Hz differs from the CLI by {worst:.2e}"
    gain = live.snr_db(clean, y) - live.snr_db(clean, noisy)
    assert gain > 3.0, f"SNR gain only {gain:.1f} dB"
