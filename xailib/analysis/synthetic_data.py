"""Synthetic-label copies of a dataset: the same geometries, energies and forces of a known potential.

``data/synthetic/build/<dataset>-<potential>.db`` holds every frame of ``<dataset>`` (same rows, so the
dataset's split file applies unchanged) labelled by :func:`xailib.analysis.synthetic.energy_forces`.
The files are derived (seconds to rebuild, deterministic) and not committed; training configs in
``configs/synthetic/`` point at them and :func:`ensure_synthetic_dataset` builds them when missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from xailib.analysis.synthetic import (
    ATM_SCALE, C6, DAMPING, EXP_LENGTH, MATCH_DISTANCE, POTENTIALS, R_OFF, R_ON, UnknownPotentialError,
    energy_forces,
)
from xailib.base.paths import data_dir
from xailib.data.store import db_path, frame_table, progress_bar, read_rows, write_db

#: Folder of the synthetic datasets, under ``data/``.
FOLDER = "synthetic/build"


def synthetic_name(dataset: str, potential: str) -> str:
    """Dataset name of the synthetic copy, e.g. ``nci-small-pair_power``."""
    if potential not in POTENTIALS:
        raise UnknownPotentialError(f"unknown potential {potential!r}; choose one of {', '.join(POTENTIALS)}")
    return f"{dataset}-{potential}"


def synthetic_dir(directory: str | os.PathLike | None = None) -> Path:
    return Path(directory) if directory is not None else data_dir() / FOLDER


def build_synthetic_dataset(potential: str, dataset: str = "nci-small", *, directory: str | os.PathLike | None = None,
                            source_directory: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Write ``<directory>/<dataset>-<potential>.db`` (replacing an old copy) and return its path."""
    name = synthetic_name(dataset, potential)
    out = synthetic_dir(directory) / f"{name}.db"
    out.parent.mkdir(parents=True, exist_ok=True)
    table = frame_table(dataset, source_directory)
    rows = np.arange(len(table["mol_id"]))
    records = []
    for k, atoms in zip(rows, progress_bar(read_rows(db_path(dataset, source_directory), rows), progress, name)):
        energy, forces = energy_forces(atoms, potential)
        atoms = atoms.copy()
        atoms.info = {}
        records.append({"atoms": atoms, "props": {"energy": np.array([energy]), "forces": forces},
                        "meta": {key: table[key][k] for key in ("mol_id", "t_fs", "temperature_K")}})
    meta = {"name": name, "source": f"geometries of {dataset} (same rows and split)",
            "level_of_theory": f"synthetic potential {potential} (xailib.analysis.synthetic)",
            "potential": {"name": potential, "C6_eV_A6": C6, "damping_A": DAMPING, "exp_length_A": EXP_LENGTH,
                          "match_distance_A": MATCH_DISTANCE, "atm_scale": ATM_SCALE, "switch_A": [R_ON, R_OFF]},
            "regenerate": f"python -m xailib study synthetic build {potential}"}
    write_db(out, records, meta, properties=("energy", "forces"))
    return out


def ensure_synthetic_dataset(potential: str, dataset: str = "nci-small", *,
                             directory: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """The synthetic copy's path, built first if it is missing."""
    path = synthetic_dir(directory) / f"{synthetic_name(dataset, potential)}.db"
    return path if path.exists() else build_synthetic_dataset(potential, dataset, directory=directory,
                                                              progress=progress)
