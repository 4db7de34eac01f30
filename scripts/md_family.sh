#!/usr/bin/env bash
# Train the MD-stability family of ethanol models (issue 7) into data/md/models/<name>/, one after
# another on the CPU (at most 6 minutes each; configs/md-family/*.yaml). The family's two base models
# are the shipped data/models/md17-ethanol-{schnet,painn}.
#
#   scripts/md_family.sh                      # every config in configs/md-family/
#   scripts/md_family.sh ethanol-schnet-n100  # only these
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export OMP_NUM_THREADS=${THREADS:-1}
if [ "$#" -gt 0 ]; then names=("$@"); else
  names=()
  for f in configs/md-family/*.yaml; do names+=("$(basename "$f" .yaml)"); done
fi
for name in "${names[@]}"; do
  echo "=== $name ($(date -u +%H:%M:%S) UTC)"
  PYTHONPATH=$PWD $PY -m xailib train --config "configs/md-family/$name.yaml" --threads "$OMP_NUM_THREADS"
done
