"""Train the transferability models (configs/transfer/*.yaml) on HF/STO-3G totals and atomic energies.

Builds the training database first when it is missing or stale (``xailib.transfer.transfer_db``,
from the committed ``data/partition/*.npz`` and the nci-small / nci-large structures), then trains
each config given (weights to ``data/transfer/models/<name>/``, not committed).

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/transfer_train.py configs/transfer/transfer-schnet-*.yaml
    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/transfer_train.py --build-only

Each model trains for at most 4 min on one thread (``max_time_min`` in its config); the six models
took 6 x <= 4 min (see each model folder's metrics.json, ``training_wall_time_s``).
"""

from __future__ import annotations

import argparse
import time

from xailib.training import train
from xailib.transfer import transfer_db


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*")
    ap.add_argument("--build-only", action="store_true", help="only (re)build the training databases")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    print(f"training set: {transfer_db('nci-small')} ({time.perf_counter() - t0:.1f} s)", flush=True)
    if args.build_only:
        return
    for cfg in args.configs:
        t0 = time.perf_counter()
        folder = train(cfg)
        print(f"trained {cfg} -> {folder} in {(time.perf_counter() - t0) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
