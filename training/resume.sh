#!/usr/bin/env bash
# Continues the training in the background at the lowest priority until a wall-clock time, e.g.
#   bash training/resume.sh 20:50      (about 25 minutes before the session ends)
# Progress: training/checkpoints/latest.train.log; console output: training/runs/resume.stdout.log.
# Commit checkpoints/latest.pt and checkpoints/latest.train.log once it has stopped.
set -euo pipefail
cd "$(dirname "$0")"
until=${1:?usage: resume.sh HH:MM [more crn_train.train arguments]}
shift
mkdir -p runs
PY=${PYTHON:-../.venv/bin/python}
nohup nice -n 19 "$PY" -m crn_train.resume --until "$until" "$@" >> runs/resume.stdout.log 2>&1 &
echo "training until $until (PID $!): tail -f training/checkpoints/latest.train.log"
