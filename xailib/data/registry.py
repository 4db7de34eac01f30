"""The registry of the book's datasets: names, builders, and :func:`build` for ``python -m xailib data build``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from xailib.base.paths import data_dir
from xailib.data.manifest import write_manifest
from xailib.data.md17 import MD17_MOLECULES, build_md17
from xailib.data.provenance import write_readme
from xailib.data.store import DatasetError


def _md17_builder(molecule: str):
    return lambda directory=None, progress=True, workers=1, cache_dir=None: build_md17(molecule, directory,
                                                                                       progress=progress)


def _nci_builder(name: str):
    def run(directory=None, progress=True, workers=1, cache_dir=None):
        from xailib.data.nci import build_nci  # RDKit and tblite workers: loaded only to build

        cache = None if cache_dir is None else Path(cache_dir) / name
        return build_nci(name, directory, progress=progress, workers=workers, cache_dir=cache)

    return run


#: Every dataset and its builder, in build order.
DATASETS = {f"md17-{m}": _md17_builder(m) for m in MD17_MOLECULES}
DATASETS.update({"nci-small": _nci_builder("nci-small"), "nci-large": _nci_builder("nci-large")})


def build(names: Sequence[str] | None = None, directory: str | os.PathLike | None = None,
          progress: bool = True, workers: int = 1, cache_dir: str | os.PathLike | None = None) -> dict[str, dict]:
    """Build the named datasets (default all), then rewrite ``MANIFEST.sha256`` and the README table.

    ``cache_dir`` keeps per-molecule results of the NCI sets (resumable builds, see
    :func:`xailib.data.nci.compute`).
    """
    names = list(names) if names else list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise DatasetError(f"unknown dataset(s) {unknown}; known: {list(DATASETS)}")
    out = {n: DATASETS[n](directory, progress, workers, cache_dir) for n in names}
    write_manifest(data_dir(directory))
    write_readme(directory, names=list(DATASETS))
    return out
