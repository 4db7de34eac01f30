"""Dataset-level explanation: n-body relevances of every structure, as a PyTorch Lightning predict loop.

The loop is Lightning's, so the same code runs on several GPUs or nodes through Lightning's
strategies (each rank then explains its share of the structures). Lightning predicts in inference
mode by default; relevance needs gradients, so the trainer runs with ``inference_mode=False`` and each
step re-enables gradients.

Results are stored in one ``.npz`` file (see :func:`save_results`) that chapters load with
:func:`load_results` and turn into analysis tables with :meth:`RelevanceResults.tables`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from xailib.analysis.tables import tables_from_nbody
from xailib.base.errors import MalformedStructureError, UnsupportedElementError
from xailib.base.io import load_npz, save_npz
from xailib.base.paths import data_dir, resolve_path


@dataclass
class RelevanceResults:
    """n-body relevances of many structures, in flat arrays.

    ``numbers``/``positions`` are concatenated over structures with ``offsets`` (length n + 1);
    ``term_molecule``, ``term_atoms`` (padded with -1 to three columns) and ``term_relevance`` list every
    exact-set term; ``output``, ``total`` and ``remainder`` have one entry per structure.
    """

    numbers: np.ndarray
    positions: np.ndarray
    offsets: np.ndarray
    term_molecule: np.ndarray
    term_atoms: np.ndarray
    term_relevance: np.ndarray
    output: np.ndarray
    total: np.ndarray
    remainder: np.ndarray
    meta: dict

    def __len__(self) -> int:
        return len(self.output)

    def atoms(self, k: int) -> Atoms:
        """Structure ``k`` as an ``ase.Atoms``."""
        a, b = self.offsets[k], self.offsets[k + 1]
        return Atoms(numbers=self.numbers[a:b], positions=self.positions[a:b])

    def terms(self, k: int) -> dict[tuple[int, ...], float]:
        """Exact-set terms of structure ``k``, keyed by sorted atom-index tuples."""
        sel = self.term_molecule == k
        return {tuple(int(i) for i in row if i >= 0): float(r)
                for row, r in zip(self.term_atoms[sel], self.term_relevance[sel])}

    def tables(self):
        """One :class:`xailib.analysis.NBodyTable` per order (1, 2, 3)."""
        n = len(self)
        return tables_from_nbody(
            [self.positions[self.offsets[k]:self.offsets[k + 1]] for k in range(n)],
            [self.numbers[self.offsets[k]:self.offsets[k + 1]] for k in range(n)],
            [self.terms(k) for k in range(n)],
            list(self.remainder),
            list(self.output),
        )


def _collect(explanations: Sequence, meta: dict) -> RelevanceResults:
    numbers, positions, offsets = [], [], [0]
    mol, atoms_idx, rel = [], [], []
    for k, e in enumerate(explanations):
        numbers.append(e.atoms.get_atomic_numbers())
        positions.append(e.atoms.get_positions())
        offsets.append(offsets[-1] + len(e.atoms))
        for subset, r in sorted(e.terms.items()):
            mol.append(k)
            atoms_idx.append(list(subset) + [-1] * (3 - len(subset)))
            rel.append(r)
    return RelevanceResults(
        numbers=np.concatenate(numbers).astype(int),
        positions=np.concatenate(positions).astype(float),
        offsets=np.array(offsets, dtype=int),
        term_molecule=np.array(mol, dtype=int),
        term_atoms=np.array(atoms_idx, dtype=int).reshape(-1, 3),
        term_relevance=np.array(rel, dtype=float),
        output=np.array([e.output for e in explanations], dtype=float),
        total=np.array([e.total for e in explanations], dtype=float),
        remainder=np.array([e.remainder for e in explanations], dtype=float),
        meta=meta,
    )


def _explainer_module(model: torch.nn.Module, options: dict):
    import pytorch_lightning as pl

    from xailib.lrp import nbody_relevances

    class ExplainModule(pl.LightningModule):
        """Wraps a potential; ``predict_step`` returns the n-body relevances of each structure."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def predict_step(self, batch: list[Atoms], batch_idx: int):
            with torch.inference_mode(False), torch.enable_grad():
                return [nbody_relevances(self.model, atoms, **options) for atoms in batch]

    return ExplainModule()


def explain_dataset(
    model: torch.nn.Module,
    dataset: Sequence[Atoms],
    *,
    max_order: int = 3,
    rule: str = "gi",
    gamma: float = 0.1,
    target: str | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    accelerator: str = "cpu",
    devices: int | str = 1,
    strategy: str = "auto",
) -> RelevanceResults:
    """Exact 1-, 2-, 3-body relevances (and remainder) of every structure of a dataset.

    Parameters
    ----------
    model
        A schnetpack SchNet or PaiNN potential.
    dataset
        Structures as ``ase.Atoms`` (e.g. a test split read with :mod:`xailib.data.store`).
    max_order, rule, gamma, target
        As in :func:`xailib.lrp.nbody_relevances`.
    out
        If given, the results are written there (``.npz``) with the settings as metadata.
    accelerator, devices, strategy
        Passed to the Lightning ``Trainer``.

    Raises
    ------
    TypeError
        A dataset item is not an ``ase.Atoms``.
    MalformedStructureError, UnsupportedElementError
        A structure ``model`` cannot compute (NaN/inf coordinates, no atoms, overlapping atoms, a NaN or
        degenerate periodic cell, an element the model was not trained on; see
        :func:`xailib.lrp.adapters.check_structure`); the message names the item. All items are checked
        before any work.
    """
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    from xailib.lrp.adapters import check_structure
    from xailib.lrp.rules import check_rule

    structures = list(dataset)
    if not structures:
        raise ValueError("explain_dataset needs at least one structure")
    if out is not None and Path(out).suffix != ".npz":
        raise ValueError(f"relevance results are stored as .npz, got {Path(out).name}")
    check_rule(rule, gamma)
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
        raise ValueError(f"max_order must be a positive integer, got {max_order!r}")
    for k, atoms in enumerate(structures):
        if not isinstance(atoms, Atoms):
            raise TypeError(f"dataset item {k} is a {type(atoms).__name__}, not an ase.Atoms")
        try:
            check_structure(model, atoms)
        except (MalformedStructureError, UnsupportedElementError) as err:
            raise type(err)(f"dataset item {k} ({atoms.get_chemical_formula()}): {err}") from err
    options = dict(max_order=max_order, rule=rule, gamma=gamma, target=target)
    loader = DataLoader(structures, batch_size=1, shuffle=False, collate_fn=list)
    trainer = pl.Trainer(
        accelerator=accelerator, devices=devices, strategy=strategy, logger=False, enable_checkpointing=False,
        enable_model_summary=False, enable_progress_bar=progress, inference_mode=False,
    )
    batches = trainer.predict(_explainer_module(model, options), dataloaders=loader)
    explanations = [e for batch in batches for e in batch]
    meta = {"max_order": max_order, "rule": rule, "gamma": float(gamma),
            "target": explanations[0].target, "n_structures": len(explanations)}
    results = _collect(explanations, meta)
    if out is not None:
        save_results(results, out)
    return results


#: On disk, term relevances are float32 (relative precision 6e-8, ample for dataset statistics; it halves
#: the files), atom indices int16 and molecule indices int32; everything is float64/int64 again on load.
STORED_DTYPES = {"term_relevance": np.float32, "term_atoms": np.int16, "term_molecule": np.int32}


def save_results(results: RelevanceResults, path: str | Path) -> Path:
    """Write results to a compressed ``.npz`` (metadata as a JSON string; dtypes as in ``STORED_DTYPES``)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"relevance results are stored as .npz, got {path.name}")
    if len(results.offsets) and np.diff(results.offsets).max(initial=0) > np.iinfo(np.int16).max:
        raise ValueError("structures with more than 32767 atoms cannot be stored in this format")
    arrays = {k: v for k, v in vars(results).items() if k != "meta"}
    arrays.update({k: arrays[k].astype(dtype) for k, dtype in STORED_DTYPES.items()})
    return save_npz(path, arrays, dict(results.meta, stored_term_relevance_dtype="float32"))


def results_path(name_or_path: str | Path, directory: str | Path | None = None) -> Path:
    """A results file: an ``.npz`` path as given, or ``<data>/relevance/<model name>.npz`` (the test-set
    relevances of a model, :func:`xailib.analysis.explain_test_sets`; ``directory`` overrides ``data/``)."""
    p = Path(name_or_path)
    if p.suffix == ".npz":
        return p if p.exists() else resolve_path(p)
    return data_dir(directory) / "relevance" / f"{name_or_path}.npz"


def load_results(name_or_path: str | Path) -> RelevanceResults:
    """Read results written by :func:`save_results`: a path, or the name of a shipped model whose test-set
    relevances are in ``data/relevance/`` (``python -m xailib study explain-test-sets`` writes them)."""
    path = results_path(name_or_path)
    fields, meta = load_npz(path, how_to_make="python -m xailib study explain-test-sets")
    fields["term_relevance"] = fields["term_relevance"].astype(np.float64)
    for key in ("term_atoms", "term_molecule"):
        fields[key] = fields[key].astype(np.int64)
    return RelevanceResults(meta=meta, **fields)
