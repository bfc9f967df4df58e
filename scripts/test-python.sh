#!/usr/bin/env bash
# The Python package as a user gets it: the abi3 wheel built by maturin (release, in the
# workspace's target dir, so the engine is not compiled again from scratch), installed with its
# declared dependencies only (onnxruntime, numpy, the [ray] extra, and the [test] extra's pytest
# and soundfile) into a virtual environment made afresh, then its tests
# (crates/crn-py/tests), which compare with the CLI in target/release.
# Needs scripts/setup.sh (maturin in .venv, espeak-ng and sox) and the CLI built.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf target/wheels target/py-venv
.venv/bin/maturin build --release --quiet -m crates/crn-py/Cargo.toml -o target/wheels
cargo build --release --quiet -p crn-cli
python3 -m venv target/py-venv
wheel=$(ls target/wheels/crn_denoise-*.whl)
target/py-venv/bin/pip install -q --disable-pip-version-check "$wheel[ray,test]"
target/py-venv/bin/python -m pytest -q -p no:cacheprovider crates/crn-py/tests "$@"
