"""What the package's tests share: signals (espeak-ng speech in pink noise, from the host
tests' helpers in tests/host/live.py), WAV files through soundfile (a reader independent of the
package's), and the CLI (target/release/crn-denoise) to compare with.

The package under test is the installed wheel (scripts/test.sh installs it into a fresh
virtual environment), not the source tree.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "host"))

import live  # noqa: E402  (signals, WAV helpers)

import crn_denoise  # noqa: E402

CLI = ROOT / "target" / "release" / "crn-denoise"


@pytest.fixture(scope="session")
def signals(tmp_path_factory):
    """(clean, noisy) speech in pink noise, (channels, n) float32, by (rate, channels)."""
    tmp = tmp_path_factory.mktemp("signals")
    cache = {}

    def make(rate, channels=1):
        if (rate, channels) not in cache:
            clean, noisy = live.noisy_speech(rate, channels, tmp)
            cache[rate, channels] = (clean.astype(np.float32), noisy.astype(np.float32))
        return cache[rate, channels]

    return make


def cli(*args):
    """Runs the CLI, with the ONNX Runtime library the package loads (the onnxruntime wheel's)."""
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: build it (cargo build --release -p crn-cli)")
    env = dict(os.environ, CRN_ORT_LIB=crn_denoise._runtime_library())
    return subprocess.run([str(CLI), "-q", *map(str, args)], env=env, capture_output=True, text=True)


def cli_ok(*args):
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    return r
