#!/usr/bin/env bash
# Every test: Rust unit and integration tests (engine, CLI, allocation), the Python package
# (crates/crn-py, with Ray), the plugin bundles
# loaded in real hosts (clack-host for CLAP, our own VST3 host and pedalboard for VST3), the
# training package, and the three plugin validators from ../shared/tools/validators.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TERM_COLOR=never
echo "== building the plugin bundles"
cargo xtask bundle crn_denoise --release
echo "== Rust tests"
cargo test --release --workspace
echo "== Python package: the wheel, installed with its declared dependencies into a fresh venv, and its tests"
bash scripts/test-python.sh
echo "== VST3 in pedalboard, LADSPA (ladspa-sdk), LV2 (lilv, jalv) and PipeWire hosts, training package"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/host training/tests
echo "== the editor denoising speech, under Xvfb (target/editor-ci.png)"
bash scripts/screenshot.sh target/editor-ci.png
echo "== plugin validators: clap-validator, Steinberg's VST3 validator, pluginval 10 (logs in target/validators)"
bash scripts/validators.sh target/bundled target/validators
echo "== pluginval 10 with the editor, 3 runs in a row (scripts/validate-loop.sh 20 for the full loop)"
bash scripts/validate-loop.sh 3 target/bundled target/validate-loop
