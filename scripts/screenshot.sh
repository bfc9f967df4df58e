#!/usr/bin/env bash
# Renders the editor while it denoises synthetic speech in noise, and saves docs/editor.png.
#
# Installs nothing. Needs (Debian package names):
#   build:    libasound2-dev libjack-jackd2-dev (the standalone's audio backends), libgl1-mesa-dev libx11-dev
#   run:      xvfb imagemagick xdotool jackd2 jack-tools espeak-ng sox libgl1-mesa-dri
# and the ONNX Runtime library in runtime/ (scripts/fetch-onnxruntime.sh) or $CRN_ORT_LIB.
#
# How: a JACK server on its dummy driver (a clock, no sound card) runs the standalone plugin;
# jack-play feeds it a speech+noise file, so the meters show real processing. Xvfb stands in for
# a display. Usage: scripts/screenshot.sh [output.png]; SETTLE_SECONDS sets how long it plays first.
set -euo pipefail

cd "$(dirname "$0")/.."
out="${1:-docs/editor.png}"
settle="${SETTLE_SECONDS:-6}"
display=":${SCREENSHOT_DISPLAY:-97}"
# A server name of our own, so a JACK server someone else runs is never touched.
export JACK_DEFAULT_SERVER="crn-screenshot-$$"
export JACK_NO_AUDIO_RESERVATION=1

# SKIP_BUILD=1 reuses the last build (handy while iterating on the look).
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p crn_denoise --features standalone --bin crn_denoise_standalone
bin="$PWD/target/release/crn_denoise_standalone"
# The standalone looks for the runtime next to itself; a checkout keeps it in runtime/. Without
# this the editor shows "passthrough" and no mask.
if [ -z "${CRN_ORT_LIB:-}" ] && [ -f "$PWD/runtime/libonnxruntime.so.1.32.0" ]; then
    export CRN_ORT_LIB="$PWD/runtime/libonnxruntime.so.1.32.0"
fi

work="$(mktemp -d)"
pids=()
cleanup() {
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[i]}" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Speech in steady pink noise plus a hum: the mask should dip between words and at the hum.
espeak-ng -v en-us -s 150 -w "$work/speech.wav" \
    "The quick brown fox jumps over the lazy dog. Denoising keeps the voice and removes the fan noise behind it. \
     This is a real time test of the editor, with meters that follow the signal."
sox "$work/speech.wav" -r 48000 -c 1 "$work/speech48.wav" gain -n -3 pad 0.3 0.3 repeat 3
len="$(soxi -D "$work/speech48.wav")"
sox -n -r 48000 -c 1 "$work/noise.wav" synth "$len" pinknoise synth "$len" sine mix 120 gain -n -16
sox -m "$work/speech48.wav" "$work/noise.wav" -c 2 "$work/mix.wav" gain -n -6

Xvfb "$display" -screen 0 1280x900x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY="$display"

# JACK2's registry in /dev/shm has eight server slots and never frees the slot of a server that was
# killed: clear it when no server is alive (then nothing uses it), or jackd says "Too many servers".
if ! pgrep -x 'jackd|jackdbus' >/dev/null; then
    find /dev/shm -maxdepth 1 -name 'jack*' -user "$(id -u)" -exec rm -rf {} +
fi
jackd --no-realtime -d dummy -r 48000 -p 480 >"$work/jackd.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do jack_lsp >/dev/null 2>&1 && break; sleep 0.1; done

"$bin" --backend jack >"$work/plugin.log" 2>&1 &
pids+=($!)
inputs=()
for _ in $(seq 100); do
    mapfile -t inputs < <(jack_lsp | grep -E '^crn_denoise:input_[0-9]+$' || true)
    [ "${#inputs[@]}" -ge 1 ] && break
    sleep 0.1
done
if [ "${#inputs[@]}" -lt 1 ]; then
    echo "the standalone did not register its JACK inputs" >&2
    cat "$work/plugin.log" >&2
    exit 1
fi

jack-play -u -n feeder "$work/mix.wav" >"$work/play.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do jack_lsp | grep -q '^feeder:' && break; sleep 0.1; done
mapfile -t feeds < <(jack_lsp | grep '^feeder:')
for i in "${!inputs[@]}"; do
    jack_connect "${feeds[i % ${#feeds[@]}]}" "${inputs[i]}"
done

window=""
for _ in $(seq 100); do
    window="$(xdotool search --name '^CRN Denoise' 2>/dev/null | head -n1 || true)"
    [ -n "$window" ] && break
    sleep 0.1
done
if [ -z "$window" ]; then
    echo "no editor window appeared" >&2
    cat "$work/plugin.log" >&2
    exit 1
fi
sleep "$settle"

eval "$(xdotool getwindowgeometry --shell "$window")"
mkdir -p "$(dirname "$out")"
import -window root -crop "${WIDTH}x${HEIGHT}+${X}+${Y}" +repage "$out"
echo "wrote $out (${WIDTH}x${HEIGHT})"
