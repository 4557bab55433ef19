#!/usr/bin/env bash
# The GPU check on one GPU, from the repository root: scripts/gpu_check.sh --official /tmp/official-trm [more options]
# Runs scripts/gpu_check.py --device cuda with the repository's virtual environment when there is one,
# appends to reports/gpu-check.jsonl (our paper-batch step timings also to reports/step-costs.jsonl, the
# cost estimates' file), then regenerates reports/performance.md from it.
set -euo pipefail
cd "$(dirname "$0")/.."
python=python
if [ -x .venv/bin/python ]; then python=.venv/bin/python; fi
status=0
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$python" scripts/gpu_check.py --device cuda \
    --costs-out reports/step-costs.jsonl "$@" || status=$?
"$python" scripts/make_performance_report.py
exit "$status"
