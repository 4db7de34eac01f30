"""``python -m xailib study <name>``: the long studies whose cached results the chapters read.

Each study is a library function with a ``save``/``load`` pair for its cached file; its subcommand is
registered by the module named in :data:`STUDIES` (a ``register(subparsers)`` function each).
"""

from __future__ import annotations

import argparse
import importlib

#: Modules that register one or more ``study`` subcommands.
STUDIES = ("xailib.cli.study_relevance", "xailib.cli.study_md", "xailib.cli.study_transfer",
           "xailib.cli.study_poly", "xailib.cli.study_synthetic",
           "xailib.cli.study_manybody",
           "xailib.cli.study_orbitals")


def add_study(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="run a study and write its cached results (md, transfer, partition, poly, ...)")
    ssub = p.add_subparsers(dest="study", metavar="STUDY", required=True)
    for name in STUDIES:
        importlib.import_module(name).register(ssub)
