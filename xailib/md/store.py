"""The cached files of the MD-stability study (chapter 07): one ``save``/``load`` pair per file kind.

Files live in ``data/md/<molecule>/`` (:func:`study_dir`; ``root`` moves the ``data/md`` part):

* ``<name>.npz``: the repeated MD runs of one model (``xtb`` for the GFN2-xTB reference), written by
  :func:`xailib.md.run_stability_study` through :func:`save_run`, read by :func:`load_run`;
* ``explanations.json``: the explanation metrics of every model, written by
  :func:`xailib.md.explanation_study` through :func:`save_explanations`, read by :func:`load_explanations`.

Both go through the shared writer of :mod:`xailib.base.io` (atomic writes, a provenance record ``meta``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xailib.base.io import load_json, load_npz, save_json, save_npz
from xailib.base.paths import data_dir

RUN_COMMAND = "python -m xailib study md run <molecule> <model or xtb>"
EXPLAIN_COMMAND = "python -m xailib study md explain <molecule> <model> ..."

#: Keys of a run file, in the order :func:`save_run` writes them (``last_positions`` is absent from files
#: written before it was added, e.g. ``data/md/ethanol/xtb.npz``).
RUN_KEYS = ("seed", "stable", "time_to_failure_fs", "reason", "details", "time_fs", "temperature_K",
            "potential_energy", "snapshots", "last_positions", "numbers", "reference_positions", "pair_hist",
            "pair_edges", "bond_hist", "bonds", "bond_edges")


def study_dir(molecule: str, *, root: str | os.PathLike | None = None) -> Path:
    """``<root>/<molecule>``, ``root`` defaulting to ``data/md`` (under :func:`xailib.base.paths.data_dir`)."""
    return (Path(root) if root is not None else data_dir() / "md") / molecule


def run_path(molecule: str, name: str, *, root: str | os.PathLike | None = None) -> Path:
    """The run file of model ``name`` (``"xtb"`` for the reference): ``data/md/<molecule>/<name>.npz``."""
    return study_dir(molecule, root=root) / f"{name}.npz"


def explanations_path(molecule: str, *, root: str | os.PathLike | None = None) -> Path:
    """``data/md/<molecule>/explanations.json``."""
    return study_dir(molecule, root=root) / "explanations.json"


def cached_runs(molecule: str, *, root: str | os.PathLike | None = None) -> list[str]:
    """Names of the models (and ``xtb``) with a cached run file, sorted."""
    return sorted(p.stem for p in study_dir(molecule, root=root).glob("*.npz"))


def save_run(path: str | os.PathLike, run: Mapping[str, Any]) -> Path:
    """Write the MD runs of one model (all seeds) to ``path`` (``.npz``, compressed, atomic).

    ``run`` maps the keys below to arrays (``details`` to a list of dicts, ``meta`` to a dict); it is
    what :func:`load_run` returns. With ``S`` seeds, ``F`` recorded frames, ``P`` snapshots, ``N`` atoms
    and ``B`` reference bonds:

    =========================  ==============  ====================================================
    ``seed``                   (S,) int        the MD seeds
    ``stable``                 (S,) bool       whether the run passed every monitor to the end
    ``time_to_failure_fs``     (S,) float      time of the first flagged frame (run length if stable)
    ``reason``                 (S,) str        the monitor that flagged it ('' where stable)
    ``details``                (S,) str        per seed, the monitor's details as JSON (a dict)
    ``time_fs``                (S, F) float32  time of each recorded frame (NaN after a failure)
    ``temperature_K``          (S, F) float32  instantaneous temperature (NaN after a failure)
    ``potential_energy``       (S, F) float    eV (NaN after a failure)
    ``snapshots``              (S, P, N, 3)    positions every ``snapshot_fs`` (float32, NaN-padded)
    ``last_positions``         (S, N, 3)       the last recorded frame (the failing one where a run failed)
    ``numbers``                (N,) int        atomic numbers
    ``reference_positions``    (N, 3)          the relaxed start structure (Angstrom)
    ``pair_hist``              (300,) int      all interatomic distances, all recorded frames and seeds
    ``pair_edges``             (301,)          its bin edges (0-6 Angstrom)
    ``bond_hist``              (B, 200) int    per reference bond, its length over all frames and seeds
    ``bonds``                  (B, 2) int      the reference bonds (atom indices)
    ``bond_edges``             (201,)          bin edges of ``bond_hist`` (0.5-2.5 Angstrom)
    ``meta``                   JSON string     provenance (:func:`xailib.base.io.provenance`) and settings:
                                               model, config, metrics, molecule, ensemble,
                                               temperature_K, timestep_fs, run_ps, record_fs,
                                               snapshot_fs, monitors, md_wall_time_s
    =========================  ==============  ====================================================
    """
    if "meta" not in run:
        raise ValueError("a run needs its provenance record under 'meta'")
    arrays = {k: v for k, v in run.items() if k != "meta"}
    if "details" in arrays:
        arrays["details"] = np.array([d if isinstance(d, str) else json.dumps(d) for d in arrays["details"]])
    return save_npz(path, arrays, run["meta"])


def load_run(molecule_or_path: str | os.PathLike, name: str | None = None, *,
             root: str | os.PathLike | None = None) -> dict[str, Any]:
    """A run file as written by :func:`save_run`: ``load_run("ethanol", "xtb")`` or ``load_run(path)``.

    Returns the file's arrays under their keys, ``details`` decoded to a list of dicts and ``meta`` to a
    dict. Keys missing from the file (e.g. ``last_positions`` of older files) are missing here too.
    """
    path = Path(molecule_or_path) if name is None else run_path(str(molecule_or_path), name, root=root)
    arrays, meta = load_npz(path, how_to_make=RUN_COMMAND)
    run: dict[str, Any] = dict(arrays)
    if "details" in run:
        run["details"] = [json.loads(str(d)) for d in run["details"]]
    run["meta"] = meta
    return run


def save_explanations(path: str | os.PathLike, models: Mapping[str, Mapping[str, Any]],
                      meta: Mapping[str, Any]) -> Path:
    """Write the explanation metrics of a family of models to ``path`` (indented JSON, atomic).

    The document is ``{"models": {name: entry}, "meta": meta}``. An entry holds the metrics of
    :func:`xailib.md.explanation_metrics` (``short_mean``, ``short_abs``, ``short_positive_fraction``,
    ``short_mean_eV``, ``short_count``, ``decay_n``, ``decay_ci``, ``decay_r2``, ``decay_count``,
    ``share_1``, ``share_2``, ``share_3``, ``share_higher``, ``short_range_A``, ``decay_window_A``,
    ``n_structures``, ``rule``) and ``wall_time_s``, ``folder``, ``config`` (the model's
    ``config.json``), ``differs_from_base`` (:func:`xailib.md.config_difference` of its training config
    against the shipped base; ``{}`` for a base, ``null`` if unknown) and ``test`` (test errors from
    its ``metrics.json``). ``meta`` is the provenance record with the settings: ``molecule``,
    ``n_frames``, ``seed``, ``rule``, ``frames_db_index`` (the 0-based dataset rows of the frames),
    ``short_range_A``, ``decay_window_A``, ``normalisation``.
    """
    return save_json(path, {"models": {k: dict(v) for k, v in models.items()}}, meta)


def load_explanations(molecule_or_path: str | os.PathLike, *, root: str | os.PathLike | None = None
                      ) -> dict[str, Any]:
    """``{"models": ..., "meta": ...}`` of :func:`save_explanations`: ``load_explanations("ethanol")``
    (``data/md/ethanol/explanations.json``) or the path of a ``.json`` file."""
    p = Path(molecule_or_path)
    path = p if p.suffix == ".json" else explanations_path(str(molecule_or_path), root=root)
    doc = load_json(path, how_to_make=EXPLAIN_COMMAND)
    doc.setdefault("models", {})
    doc.setdefault("meta", {})
    return doc
