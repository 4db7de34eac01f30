#!/usr/bin/env bash
# Train chapter 10's controlled comparison (configs/poly/equal/): SchNet and PaiNN on nci-small with the
# cosine cutoff, the polynomial envelope, and the polynomial envelope with a basis to the outer cutoff,
# seeds 0, 1 and 2, 25 epochs each, into data/poly/models/ (not committed). One run at a time on one thread,
# so that the runs share the same conditions and their epoch times compare. Resumable: a finished model is
# kept, an interrupted one continues from its checkpoint. Each run holds a lock (<run>.lock), so several
# copies of this script can share the work (e.g. SEEDS="1 0" in a second shell) without touching one run twice.
#
#   scripts/train_poly_equal.sh                          # every config, seeds 0 1 2
#   SEEDS="1" scripts/train_poly_equal.sh nci-small-painn-poly
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
SEEDS=${SEEDS:-"0 1 2"}
export OMP_NUM_THREADS=1
if [ "$#" -gt 0 ]; then names=("$@"); else
  names=()
  for arch in schnet painn; do for v in cosine poly poly-rbf8; do names+=("nci-small-$arch-$v"); done; done
fi
mkdir -p data/poly/models
for pass in schnet painn; do for s in $SEEDS; do for name in "${names[@]}"; do
  case $name in *-$pass-*) ;; *) continue;; esac
  dir=data/poly/models/equal-$name
  [ "$s" != 0 ] && dir=$dir-seed$s
  if [ -f "$dir/model.pt" ]; then echo "=== $name seed $s: done"; continue; fi
  exec {lock}>"$dir.lock"
  if ! flock -n "$lock"; then echo "=== $name seed $s: running elsewhere, skipped"; exec {lock}>&-; continue; fi
  if [ -f "$dir/model.pt" ]; then echo "=== $name seed $s: done"; exec {lock}>&-; continue; fi
  resume=""
  if [ -f "$dir/checkpoints/last.ckpt" ]; then resume=--resume
  elif [ -d "$dir" ]; then resume=--overwrite  # stopped before its first checkpoint: start again
  fi
  echo "=== $name seed $s $resume ($(date -u +%H:%M:%S) UTC)"
  PYTHONPATH=$PWD $PY -m xailib train --config "configs/poly/equal/$name.yaml" --seed "$s" --threads 1 $resume \
    >> "data/poly/models/train-equal-$name-$s.log" 2>&1 || echo "!!! $name seed $s failed (see the log)"
  exec {lock}>&-
done; done; done
