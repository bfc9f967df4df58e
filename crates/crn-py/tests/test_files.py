"""denoise_file(): the CLI's files byte for byte, its names and formats, its refusals, and
nothing left half written."""

import subprocess
import sys

import numpy as np
import pytest

import crn_denoise
import live
from conftest import cli, cli_ok


@pytest.mark.parametrize(
    "subtype, name, kwargs, options",
    [
        ("FLOAT", "out.wav", {}, []),
        ("PCM_16", "out.wav", dict(gain_db=2.0, output="both"), ["--gain", "2", "--output", "both"]),
        ("PCM_24", "out.flac", dict(atten_limit_db=100.0), ["--atten-limit", "100"]),
        ("FLOAT", "out.wav", dict(format="wav16", mix=0.5), ["--format", "wav16", "--mix", "50"]),
    ],
)
def test_same_bytes_as_the_cli(signals, tmp_path, subtype, name, kwargs, options):
    _, noisy = signals(48_000, 2)
    src = live.write(tmp_path / "in.wav", noisy, 48_000, subtype)
    (tmp_path / "cli").mkdir()
    (tmp_path / "py").mkdir()
    cli_ok(*options, src, tmp_path / "cli" / name)
    out = crn_denoise.denoise_file(src, tmp_path / "py" / name, **kwargs)
    assert out == tmp_path / "py" / name
    written = sorted(p.name for p in (tmp_path / "py").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "cli").iterdir())
    for n in written:
        assert (tmp_path / "py" / n).read_bytes() == (tmp_path / "cli" / n).read_bytes(), n


def test_output_directory_takes_the_input_name(signals, tmp_path):
    _, noisy = signals(16_000, 1)
    src = live.write(tmp_path / "take.v1.flac", noisy, 16_000, "PCM_16")
    (tmp_path / "out").mkdir()
    out = crn_denoise.denoise_file(src, tmp_path / "out")
    assert out == tmp_path / "out" / "take.v1.flac"
    assert live.read(out).shape == noisy.shape


def test_no_overwrite_without_force(signals, tmp_path):
    _, noisy = signals(16_000, 1)
    src = live.write(tmp_path / "in.wav", noisy, 16_000)
    dst = tmp_path / "out.wav"
    dst.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="already exists"):
        crn_denoise.denoise_file(src, dst)
    assert dst.read_bytes() == b"precious"
    crn_denoise.denoise_file(src, dst, force=True)
    assert np.array_equal(live.read(dst).astype(np.float32), crn_denoise.denoise(noisy, 16_000))
    with pytest.raises(OSError, match="is an input file"):
        crn_denoise.denoise_file(src, src, force=True)


def test_corrupt_input_leaves_nothing(tmp_path):
    src = tmp_path / "broken.wav"
    src.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(200)))
    with pytest.raises(OSError, match="broken.wav"):
        crn_denoise.denoise_file(src, tmp_path / "out.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.wav"], "no output, no temporary file"
    assert cli(src, tmp_path / "out.wav").returncode == 1, "the CLI refuses it too"


def test_bad_format_and_extension(signals, tmp_path):
    _, noisy = signals(16_000, 1)
    src = live.write(tmp_path / "in.wav", noisy, 16_000)
    with pytest.raises(ValueError, match="format"):
        crn_denoise.denoise_file(src, tmp_path / "o.wav", format="mp3")
    with pytest.raises(OSError, match=r"ends in \.mp3"):
        crn_denoise.denoise_file(src, tmp_path / "o.mp3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_rate_outside_the_range_refused(tmp_path):
    src = live.write(tmp_path / "in.wav", np.zeros((1, 4000), np.float32), 4_000)
    with pytest.raises(OSError, match="4000 Hz is not supported"):
        crn_denoise.denoise_file(src, tmp_path / "out.wav")
    assert "4000 Hz is not supported" in cli(src, tmp_path / "out.wav").stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


INTERRUPTED = """
import os, signal, sys, threading, time
from pathlib import Path
import crn_denoise

src, dst = Path(sys.argv[1]), Path(sys.argv[2])

def ctrl_c_once_writing():
    while not any(p.name.endswith(".part") for p in dst.parent.iterdir()):
        time.sleep(0.002)
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=ctrl_c_once_writing, daemon=True).start()
try:
    crn_denoise.denoise_file(src, dst)
    print("finished")
except KeyboardInterrupt:
    print("KeyboardInterrupt")
"""


def test_ctrl_c_stops_a_long_file_and_leaves_nothing(tmp_path):
    """Ctrl-C while a long file renders (the GIL released) raises KeyboardInterrupt from the call
    itself, between blocks, as the CLI stops: no output and no temporary file. Were the signal
    only seen after the call returned, the finished output would be there."""
    import soundfile as sf

    rate = 48_000
    src = tmp_path / "in" / "long.wav"
    src.parent.mkdir()
    noise = np.random.default_rng(0).standard_normal(rate * 300).astype(np.float32) * 0.05  # 5 minutes
    sf.write(src, noise, rate, subtype="PCM_16")
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run([sys.executable, "-c", INTERRUPTED, str(src), str(out / "long.wav")],
                       capture_output=True, text=True, timeout=600)
    assert r.stdout.strip() == "KeyboardInterrupt", r.stdout + r.stderr
    assert list(out.iterdir()) == [], "no output, no temporary file"
