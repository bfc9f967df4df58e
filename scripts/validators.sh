#!/usr/bin/env bash
# The three plugin validators on the built bundles, as CI runs them, and strict about it: the
# validators' own verdicts (run.sh: clap-validator in and out of process and its 30 s fuzzer,
# Steinberg's validator basic and extensive, pluginval 10 without and with the editor under Xvfb,
# and its randomised repeats with seeds 2001 and 2002), plus what they only print: any ERROR line
# from Steinberg's validator and any clap-validator warning fail too.
#
#   usage: scripts/validators.sh [BUNDLE_DIR=target/bundled] [LOG_DIR=target/validators]
#   env:   VALIDATORS  the validators folder (default ../shared/tools/validators)
set -uo pipefail
cd "$(dirname "$0")/.."
BUNDLES=${1:-target/bundled}
LOGS=${2:-target/validators}
VALIDATORS=${VALIDATORS:-../shared/tools/validators}
[ -x "$VALIDATORS/run.sh" ] || { echo "no validators at $VALIDATORS"; exit 2; }
command -v xvfb-run >/dev/null || { echo "xvfb-run missing (apt-get install xvfb)"; exit 2; }
rm -rf "$LOGS"
PLUGINVAL_GUI=1 STRICTNESS=10 REPEATS=3 SEEDS="2001 2002" FUZZ_SECS=30 \
  bash "$VALIDATORS/run.sh" "$BUNDLES" "$LOGS"
fails=$?
strip() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }
for log in "$LOGS"/vst3-validator*.log; do
  if strip "$log" | grep -q 'ERROR'; then
    echo "FAIL $(basename "$log" .log) printed errors:"
    strip "$log" | grep 'ERROR' | sort | uniq -c | head -5
    fails=$((fails + 1))
  fi
done
for log in "$LOGS"/clap-validator.log "$LOGS"/clap-validator-in-process.log; do
  summary=$(strip "$log" | grep -E '^[0-9]+ tests run' | tail -1)
  if ! echo "$summary" | grep -q ' 0 failed, 0 warnings'; then
    echo "FAIL $(basename "$log" .log): ${summary:-no summary}"
    strip "$log" | grep -B1 -A3 'WARNING' | head -12
    fails=$((fails + 1))
  fi
done
echo "validators: $fails failed"
[ "$fails" -eq 0 ]
