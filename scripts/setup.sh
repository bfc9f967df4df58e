#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian 12 machine with Rust and Python 3:
# system packages (as root, or through sudo), the Python venv for training and host tests (and
# maturin, for the Python package's wheel), and the ONNX Runtime library. Idempotent: fast when
# everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(espeak-ng sox libsox-fmt-all xvfb imagemagick xdotool libasound2-dev libjack-jackd2-dev
      libx11-xcb-dev libxcb1-dev libxcb-icccm4-dev libxcb-dri2-0-dev libgl-dev libgl1-mesa-dev
      libgl1-mesa-dri libx11-dev jackd2 jack-tools python3-venv
      libasound2 libfontconfig1 libfreetype6  # these three: pluginval at run time
      ladspa-sdk lv2-dev lilv-utils jalv  # LADSPA/LV2 hosts and headers
      pipewire pipewire-bin wireplumber dbus-daemon)  # a PipeWire daemon for tests/host/test_pipewire.py
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import torch, onnxruntime, pedalboard, pesq, pystoi, crn_train" 2>/dev/null; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e "training[eval,test]" pedalboard
fi
# maturin builds the Python package's wheel (crates/crn-py); its version is pinned once, in
# that package's pyproject.toml (build-system.requires).
MATURIN=$(sed -n 's/.*"maturin==\([0-9.]*\)".*/\1/p' crates/crn-py/pyproject.toml)
if [ "$(.venv/bin/maturin --version 2>/dev/null)" != "maturin $MATURIN" ]; then
  .venv/bin/pip install -q "maturin==$MATURIN"
fi
bash scripts/fetch-onnxruntime.sh >/dev/null
