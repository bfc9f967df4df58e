#!/usr/bin/env bash
# Fetches the ONNX Runtime shared library the plugin and CLI load at run time, from the
# onnxruntime PyPI wheel, into runtime/. Idempotent.
set -euo pipefail
VERSION=1.32.0
LIB=libonnxruntime.so.$VERSION
cd "$(dirname "$0")/.."
[ -f "runtime/$LIB" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_28_x86_64 --python-version 3.11 -d "$tmp" "onnxruntime==$VERSION"
mkdir -p runtime
python3 - "$tmp" "$LIB" <<'PY'
import sys, zipfile, glob, os
whl = glob.glob(os.path.join(sys.argv[1], "onnxruntime-*.whl"))[0]
with zipfile.ZipFile(whl) as z:
    data = z.read("onnxruntime/capi/" + sys.argv[2])
with open(os.path.join("runtime", sys.argv[2]), "wb") as f:
    f.write(data)
PY
echo "runtime/$LIB"
