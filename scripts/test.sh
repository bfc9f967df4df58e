#!/usr/bin/env bash
# Every test: Rust unit and integration tests (engine, CLI, allocation), the plugin bundles
# loaded in real hosts (clack-host for CLAP, pedalboard for VST3), and the training package.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TERM_COLOR=never
echo "== building the plugin bundles"
cargo xtask bundle crn_denoise --release
echo "== Rust tests"
cargo test --release --workspace
echo "== VST3 in pedalboard, training package"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/host training/tests
echo "== the editor denoising speech, under Xvfb (target/editor-ci.png)"
bash scripts/screenshot.sh target/editor-ci.png
