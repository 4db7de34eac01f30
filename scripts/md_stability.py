"""Thin wrapper kept for old command lines (e.g. the ``poly`` target of the Makefile): forwards to
``python -m xailib study md run`` (:func:`xailib.md.run_stability_study`); same arguments.

    OMP_NUM_THREADS=1 python scripts/md_stability.py ethanol xtb data/models/md17-ethanol-schnet
"""

import sys

from xailib.cli import main

if __name__ == "__main__":
    sys.exit(main(["study", "md", "run", *sys.argv[1:]]))
