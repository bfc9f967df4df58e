"""crn_denoise_ladspa.so in ladspa-sdk's hosts: analyseplugin lists the plugins and their ports
with the engine's defaults; applyplugin renders noisy speech exactly as the CLI does (after the
latency) and delays an impulse by exactly what the plugin reports on its `latency` port, which
a minimal ctypes host reads (ladspa-sdk has no tool that prints output ports), at 44.1, 48 and
96 kHz.

Needs `cargo xtask bundle crn_denoise --release`, then
`.venv/bin/python -m pytest tests/host/test_ladspa.py`.
"""

import ctypes
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import live
from live import LABELS, LADSPA_SO, expected_latency, need, tool

# applyplugin writes 16-bit WAV: equal to the CLI's float render within rounding.
LSB = 1.0 / 32768


def env():
    return dict(os.environ, LADSPA_PATH=str(need(LADSPA_SO).parent))


def analyse():
    out = subprocess.run([tool("analyseplugin"), LADSPA_SO.name], env=env(), capture_output=True, text=True, check=True)
    return out.stdout


def applyplugin(inp, out, label, controls, **extra_env):
    """controls: the input control ports' values in port order (mix %, limit dB, gain dB,
    [stereo link,] output)."""
    r = subprocess.run(
        [tool("applyplugin"), str(inp), str(out), LADSPA_SO.name, label, *[str(c) for c in controls]],
        env=dict(env(), **extra_env),
        check=True,
        capture_output=True,
        text=True,
    )
    return live.read(out), r.stderr


def controls(label, mix=100.0):
    return [mix, 30, 0, 1, 0] if "stereo" in label else [mix, 30, 0, 0]


# --------------------------------------------------------------------------------------------
# A minimal LADSPA host (ladspa.h) for what no ladspa-sdk tool shows: the output control ports.


class Hint(ctypes.Structure):
    _fields_ = [("hint", ctypes.c_int), ("lower", ctypes.c_float), ("upper", ctypes.c_float)]


class Descriptor(ctypes.Structure):
    _fields_ = [
        ("unique_id", ctypes.c_ulong),
        ("label", ctypes.c_char_p),
        ("properties", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("maker", ctypes.c_char_p),
        ("copyright", ctypes.c_char_p),
        ("port_count", ctypes.c_ulong),
        ("port_descriptors", ctypes.POINTER(ctypes.c_int)),
        ("port_names", ctypes.POINTER(ctypes.c_char_p)),
        ("hints", ctypes.POINTER(Hint)),
        ("implementation_data", ctypes.c_void_p),
        ("instantiate", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_ulong)),
        ("connect_port", ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p)),
        ("activate", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
        ("run", ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_ulong)),
        ("run_adding", ctypes.c_void_p),
        ("set_run_adding_gain", ctypes.c_void_p),
        ("deactivate", ctypes.c_void_p),
        ("cleanup", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
    ]


def latency_port(label, rate):
    """The value the plugin writes to its `latency` port after one run of 256 samples."""
    lib = ctypes.CDLL(str(need(LADSPA_SO)))
    lib.ladspa_descriptor.restype = ctypes.POINTER(Descriptor)
    i = 0
    while True:
        d = lib.ladspa_descriptor(i)
        assert d, f"{label} not in the library"
        if d.contents.label.decode() == label:
            break
        i += 1
    d = d.contents
    h = d.instantiate(ctypes.addressof(d), rate)
    assert h, f"{label} does not instantiate at {rate} Hz"
    n = 256
    values = [ctypes.c_float(d.hints[p].lower) for p in range(d.port_count)]
    audio = [(ctypes.c_float * n)() for _ in range(d.port_count)]
    latency = None
    for p in range(d.port_count):
        if d.port_descriptors[p] & 0x8:  # LADSPA_PORT_AUDIO
            d.connect_port(h, p, ctypes.addressof(audio[p]))
        else:
            d.connect_port(h, p, ctypes.addressof(values[p]))
            if d.port_names[p] == b"latency":
                assert d.port_descriptors[p] & 0x2, "the latency port is an output"  # LADSPA_PORT_OUTPUT
                latency = values[p]
    assert latency is not None, f"{label} has no port named latency"
    d.activate(h)
    latency.value = -1.0
    d.run(h, n)
    d.cleanup(h)
    return latency.value


# --------------------------------------------------------------------------------------------
# Tests


def test_analyseplugin_lists_the_plugins_and_ports():
    text = analyse()
    labels = re.findall(r'Plugin Label: "([^"]+)"', text)
    assert labels == LABELS
    assert "ERROR" not in text
    for block in text.split("Plugin Name:")[1:]:
        assert "Hard Real-Time" in block
        assert re.search(r'"Mix \(%\)" input, control, 0 to 100, default 100', block), block
        assert re.search(r'"Attenuation limit[^"]*" input, control, 0 to 120, default 30', block), block
        assert re.search(r'"Output gain \(dB\)" input, control, -24 to 24, default 0', block), block
        assert re.search(r'"Output[^"]*" input, control, 0 to 1, default 0, integer', block), block
        assert re.search(r'"latency" output, control', block), block
        stereo = "stereo" in block.split("\n")[1]
        assert ('"Stereo link" input, control, toggled, default 1' in block) == stereo
        assert block.count(", audio") == (4 if stereo else 2)


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("label", LABELS)
def test_impulse_delay_equals_the_latency_port(tmp_path, label, rate):
    live_mode = label.endswith("_live")
    reported = latency_port(label, rate)
    assert reported == expected_latency(rate, live_mode)
    channels = 2 if "stereo" in label else 1
    at = 1000
    x = live.impulse(channels, rate // 2, at)
    y, _ = applyplugin(live.write(tmp_path / "imp.wav", x, rate), tmp_path / "out.wav", label, controls(label, mix=0.0))
    assert live.peak_delay(y, at) == [reported] * channels
    # mix 0 is the dry path: the impulse itself, delayed, nothing else.
    assert np.max(np.abs(y[:, at + int(reported)] - 0.5)) <= LSB
    assert np.max(np.abs(np.delete(y, at + int(reported), axis=1))) <= LSB


@pytest.mark.parametrize(
    "label,rate",
    [("crn_denoise_mono", 48000), ("crn_denoise_stereo", 44100), ("crn_denoise_mono_live", 96000), ("crn_denoise_stereo_live", 48000)],
)
def test_render_equals_the_cli(tmp_path, label, rate):
    channels = 2 if "stereo" in label else 1
    clean, noisy = live.noisy_speech(rate, channels, tmp_path)
    inp = live.write(tmp_path / "noisy.wav", noisy, rate)
    # applyplugin's output starts `latency` samples late and ends as the input does; the
    # CLI's is trimmed. Padding the input with that much silence gives the tail back.
    lat = expected_latency(rate, label.endswith("_live"))
    padded = live.write(tmp_path / "padded.wav", np.pad(noisy, ((0, 0), (0, lat))), rate)
    y = applyplugin(padded, tmp_path / "ladspa.wav", label, controls(label))[0][:, lat:]
    ref = live.cli_render(inp, tmp_path / "cli.wav")
    assert y.shape == ref.shape
    worst = np.max(np.abs(y - np.clip(ref, -1, 1)))
    assert worst <= 1.5 * LSB, f"{label} at {rate} Hz differs from the CLI by {worst * 32768:.1f} LSB"
    gain = live.snr_db(clean, y) - live.snr_db(clean, noisy)
    assert gain > 3.0, f"SNR gain only {gain:.1f} dB"


@pytest.mark.parametrize("label,missing", [("crn_denoise_stereo", "model"), ("crn_denoise_mono_live", "model"), ("crn_denoise_mono", "runtime")])
def test_without_a_model_audio_passes_delayed_by_the_same_latency(tmp_path, label, missing):
    """A model that cannot be loaded, or the library installed without ONNX Runtime beside it:
    the plugin says why and passes the input through at full mix, delayed by the latency it
    reports."""
    rate = 48000
    channels = 2 if "stereo" in label else 1
    _, noisy = live.noisy_speech(rate, channels, tmp_path)
    lat = expected_latency(rate, label.endswith("_live"))
    inp = live.write(tmp_path / "noisy.wav", noisy, rate)
    if missing == "model":
        extra, why = {"CRN_MODEL": str(tmp_path / "missing.onnx")}, "missing.onnx"
    else:
        assert "CRN_ORT_LIB" not in os.environ, "unset CRN_ORT_LIB: the plugin would load the runtime from there"
        alone = tmp_path / "ladspa"
        alone.mkdir()
        shutil.copy(need(LADSPA_SO), alone / LADSPA_SO.name)
        extra, why = {"LADSPA_PATH": str(alone)}, "ONNX Runtime library"
    y, stderr = applyplugin(inp, tmp_path / "out.wav", label, controls(label), **extra)
    assert "passing audio through" in stderr and why in stderr, stderr
    assert np.max(np.abs(y[:, lat:] - noisy[:, :-lat])) <= 1.5 * LSB
    assert np.max(np.abs(y[:, :lat])) <= LSB
