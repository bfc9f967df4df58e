#!/usr/bin/env bash
# The main job on a fresh machine: build the CLAP and VST3 bundles and the crn-denoise CLI,
# make a noisy speech sample (espeak-ng speech + pink noise and babble-like hum, 48 kHz), and
# denoise it with the shipped model. Prints where everything is.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for c in espeak-ng sox; do command -v "$c" >/dev/null || need+=("$c"); done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq espeak-ng sox libsox-fmt-all >/dev/null
fi
cargo xtask bundle crn_denoise --release
cargo build --release --bin crn-denoise
mkdir -p demo
espeak-ng -v en-us -s 145 -w demo/speech_raw.wav \
  "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. It is easy to tell the depth of a well."
sox demo/speech_raw.wav -r 48000 -c 1 demo/speech.wav norm -20
len=$(soxi -D demo/speech.wav)
sox -n -r 48000 -c 1 demo/noise.wav synth "$len" pinknoise synth "$len" sine amod 0.3 50 vol 0.05
sox -m demo/speech.wav demo/noise.wav demo/noisy.wav
# -f: a rerun replaces the previous run's result (crn-denoise never replaces a file unasked).
target/release/crn-denoise -f demo/noisy.wav demo/denoised.wav
echo
echo "Plugins:   target/bundled/crn_denoise.clap (+ libonnxruntime.so.1.32.0 beside it)"
echo "           target/bundled/crn_denoise.vst3"
echo "Noisy:     demo/noisy.wav"
echo "Denoised:  demo/denoised.wav"
