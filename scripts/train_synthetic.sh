#!/usr/bin/env bash
# Train the known-answer models (book/04_known_answers.md): SchNet and PaiNN on each synthetic potential,
# seeds 0 and 1, into data/synthetic/models/ (not committed). Resumable: a finished model is kept, an
# interrupted one continues from its checkpoint. JOBS runs in parallel (one thread each), default 2.
#
#   scripts/train_synthetic.sh                       # all configs in configs/synthetic/, seeds 0 1
#   SEEDS="0" scripts/train_synthetic.sh pair_power-schnet
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
JOBS=${JOBS:-2}
SEEDS=${SEEDS:-"0 1"}
export OMP_NUM_THREADS=1
PYTHONPATH=$PWD $PY -m xailib study synthetic build --missing
if [ "$#" -gt 0 ]; then names=("$@"); else
  names=()
  for f in configs/synthetic/*.yaml; do names+=("$(basename "$f" .yaml)"); done
fi
run() {  # <config name> <seed>
  local name=$1 seed=$2 dir=data/synthetic/models/synthetic-$1
  [ "$seed" != 0 ] && dir=$dir-seed$seed
  if [ -f "$dir/model.pt" ]; then echo "=== $name seed $seed: done"; return; fi
  local resume=""
  if [ -f "$dir/checkpoints/last.ckpt" ]; then resume=--resume
  elif [ -d "$dir" ]; then resume=--overwrite  # stopped before its first checkpoint: start again
  fi
  echo "=== $name seed $seed $resume ($(date -u +%H:%M:%S) UTC)"
  PYTHONPATH=$PWD $PY -m xailib train --config "configs/synthetic/$name.yaml" --seed "$seed" --threads 1 $resume \
    > "data/synthetic/models/train-$name-$seed.log" 2>&1 || echo "!!! $name seed $seed failed (see the log)"
}
export -f run; export PY
mkdir -p data/synthetic/models
for s in $SEEDS; do for n in "${names[@]}"; do echo "$n $s"; done; done | xargs -P "$JOBS" -L 1 bash -c 'run "$0" "$1"'
