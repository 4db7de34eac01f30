#!/usr/bin/env bash
# Train the shipped models under data/models/<name>/, one after another, on the CPU.
#
#   scripts/train_all.sh                 # every config in configs/ (about 8 minutes each)
#   scripts/train_all.sh md17-ethanol-schnet nci-small-gap-painn   # only these
#
# Each run writes model.pt, config.json, train_config.json, split.npz, log.csv and metrics.json
# (test errors and training wall time). Needs the datasets (make data). THREADS sets torch threads.
# `make models` runs this, then `python -m xailib study models-table` (data/models/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
THREADS=${THREADS:-1}
export OMP_NUM_THREADS=$THREADS
if [ "$#" -gt 0 ]; then names=("$@"); else
  names=()
  for f in configs/*.yaml; do names+=("$(basename "$f" .yaml)"); done
fi
for name in "${names[@]}"; do
  echo "=== $name ($(date -u +%H:%M:%S) UTC)"
  PYTHONPATH=$PWD $PY -m xailib train --config "configs/$name.yaml" --threads "$THREADS" --overwrite
done
