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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from xailib.analysis.tables import tables_from_nbody
from xailib.base.errors import MalformedStructureError, UnsupportedElementError
from xailib.base.io import CacheFileError, load_npz, save_npz
from xailib.base.paths import data_dir, resolve_path


@dataclass
class RelevanceResults:
    """n-body relevances of many structures, in flat arrays.

    ``numbers``/``positions`` are concatenated over structures with ``offsets`` (length n + 1);
    ``term_molecule``, ``term_atoms`` (padded with -1 to three columns), ``term_relevance`` (walks) and
    ``term_bias`` (bias suffixes) list every exact-set term. Per structure: ``output`` (the model output
    explained), ``rule_output`` (the rule-modified forward value; equal to ``output`` for rule gi),
    ``total`` and ``remainder`` (walks: all, and beyond the stored orders), ``bias_total`` and
    ``bias_remainder`` (the same for bias terms). Walks + bias add up to ``rule_output``
    (:attr:`conserved_total`); :meth:`terms` and :meth:`tables` use both unless told otherwise.
    """

    numbers: np.ndarray
    positions: np.ndarray
    offsets: np.ndarray
    term_molecule: np.ndarray
    term_atoms: np.ndarray
    term_relevance: np.ndarray
    term_bias: np.ndarray
    output: np.ndarray
    rule_output: np.ndarray
    total: np.ndarray
    remainder: np.ndarray
    bias_total: np.ndarray
    bias_remainder: np.ndarray
    meta: dict
    order_sum: np.ndarray | None = None
    order_abs: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.order_sum is None or self.order_abs is None:  # files written before these were stored
            if self.stored_order < int(self.meta.get("max_order", self.stored_order)):
                raise ValueError("order_sum and order_abs are needed for results stored below their max_order")
            self.order_sum, self.order_abs = _order_arrays(self)

    @property
    def stored_order(self) -> int:
        """Largest order of the stored terms (``meta["stored_order"]``, else ``meta["max_order"]``, else 3)."""
        return int(self.meta.get("stored_order", self.meta.get("max_order", 3)))

    def __len__(self) -> int:
        return len(self.output)

    @property
    def conserved_total(self) -> np.ndarray:
        """Walks + bias terms per structure; equals ``rule_output`` (and ``output`` for rule gi)."""
        return self.total + self.bias_total

    @property
    def residual(self) -> np.ndarray:
        """``output - conserved_total`` per structure: 0 to round-off for gi; the gamma rule's change of
        the forward value for gamma."""
        return self.output - self.conserved_total

    def term_values(self, part: str = "combined") -> np.ndarray:
        """Per-term relevance: ``"combined"`` (walks + bias), ``"walks"`` or ``"bias"``."""
        if part == "combined":
            return self.term_relevance + self.term_bias
        if part in ("walks", "bias"):
            return self.term_relevance if part == "walks" else self.term_bias
        raise ValueError(f"part must be 'combined', 'walks' or 'bias', got {part!r}")

    def remainders(self, part: str = "combined") -> np.ndarray:
        """Per-structure remainder beyond the stored orders, of the same ``part``."""
        parts = {"combined": self.remainder + self.bias_remainder, "walks": self.remainder, "bias": self.bias_remainder}
        if part not in parts:
            raise ValueError(f"part must be 'combined', 'walks' or 'bias', got {part!r}")
        return parts[part]

    def truncated(self, max_order: int) -> "RelevanceResults":
        """The same results with terms up to ``max_order`` only; the dropped terms go to the remainders
        (walks and bias separately), so every sum is unchanged. ``order_sum``/``order_abs`` keep all orders."""
        order = (self.term_atoms >= 0).sum(axis=1)
        keep = order <= max_order
        n = len(self)
        dropped = np.bincount(self.term_molecule[~keep], weights=self.term_relevance[~keep], minlength=n)
        dropped_bias = np.bincount(self.term_molecule[~keep], weights=self.term_bias[~keep], minlength=n)
        return replace(self, term_molecule=self.term_molecule[keep], term_atoms=self.term_atoms[keep],
                       term_relevance=self.term_relevance[keep], term_bias=self.term_bias[keep],
                       remainder=self.remainder + dropped, bias_remainder=self.bias_remainder + dropped_bias,
                       meta=dict(self.meta, stored_order=min(max_order, self.stored_order)))

    def subset(self, structures: Sequence[int]) -> "RelevanceResults":
        """The results of the given structures (indices into this object), in that order."""
        idx = np.asarray(structures, dtype=int)
        sizes = np.diff(self.offsets)
        offsets = np.concatenate([[0], np.cumsum(sizes[idx])])
        rows = np.concatenate([np.arange(self.offsets[k], self.offsets[k + 1]) for k in idx]) if len(idx) else []
        new_index = -np.ones(len(self), dtype=int)
        new_index[idx] = np.arange(len(idx))
        parts = [np.flatnonzero(self.term_molecule == k) for k in idx]
        terms = np.concatenate(parts) if parts else np.zeros(0, dtype=int)
        meta = dict(self.meta, n_structures=len(idx))
        if self.meta.get("molecule_ids") is not None:
            meta["molecule_ids"] = [self.meta["molecule_ids"][k] for k in idx]
        per = {k: getattr(self, k)[idx] for k in ("output", "rule_output", "total", "remainder", "bias_total",
                                                   "bias_remainder", "order_sum", "order_abs")}
        return replace(self, numbers=self.numbers[rows], positions=self.positions[rows], offsets=offsets,
                       term_molecule=new_index[self.term_molecule[terms]], term_atoms=self.term_atoms[terms],
                       term_relevance=self.term_relevance[terms], term_bias=self.term_bias[terms], meta=meta, **per)

    def molecule_ids(self) -> np.ndarray:
        """The molecule each structure belongs to (``meta["molecule_ids"]``; else each structure its own)."""
        ids = self.meta.get("molecule_ids")
        return np.asarray(ids) if ids is not None else np.arange(len(self))

    def atoms(self, k: int) -> Atoms:
        """Structure ``k`` as an ``ase.Atoms``."""
        a, b = self.offsets[k], self.offsets[k + 1]
        return Atoms(numbers=self.numbers[a:b], positions=self.positions[a:b])

    def terms(self, k: int, part: str = "combined") -> dict[tuple[int, ...], float]:
        """Exact-set terms of structure ``k`` (walks + bias by default), keyed by sorted atom-index tuples."""
        sel = self.term_molecule == k
        values = self.term_values(part)[sel]
        return {tuple(int(i) for i in row if i >= 0): float(r) for row, r in zip(self.term_atoms[sel], values)}

    def tables(self, part: str = "combined"):
        """One :class:`xailib.analysis.NBodyTable` per stored order; ``part`` as in :meth:`term_values`.

        With ``"combined"`` the terms and remainders add up to :attr:`conserved_total` per structure, and
        the tables' ``output`` is that total (the model output for rule gi).
        """
        n = len(self)
        return tables_from_nbody(
            [self.positions[self.offsets[k]:self.offsets[k + 1]] for k in range(n)],
            [self.numbers[self.offsets[k]:self.offsets[k + 1]] for k in range(n)],
            [self.terms(k, part) for k in range(n)],
            list(self.remainders(part)),
            list(self.output if part == "walks" else self.conserved_total),
            total_abs=self.order_abs.sum(axis=1) + np.abs(self.beyond(part)) if part == "combined" else None,
        )

    def beyond(self, part: str = "combined") -> np.ndarray:
        """Per structure, the relevance of sets larger than ``meta["max_order"]`` (the remainder of the
        computation, whatever order the terms were stored to)."""
        if part != "combined":
            raise ValueError("beyond() is defined for the combined relevance only")
        return self.conserved_total - self.order_sum.sum(axis=1)


def _order_arrays(res: "RelevanceResults") -> tuple[np.ndarray, np.ndarray]:
    """Per structure and order 1..max_order: signed and absolute sums of the combined terms."""
    k_max = int(res.meta.get("max_order", 3))
    order = (res.term_atoms >= 0).sum(axis=1)
    values = res.term_relevance + res.term_bias
    n = len(res.output)
    signed = np.zeros((n, k_max))
    absolute = np.zeros((n, k_max))
    for k in range(1, k_max + 1):
        sel = order == k
        signed[:, k - 1] = np.bincount(res.term_molecule[sel], weights=values[sel], minlength=n)
        absolute[:, k - 1] = np.bincount(res.term_molecule[sel], weights=np.abs(values[sel]), minlength=n)
    return signed, absolute


def _collect(explanations: Sequence, meta: dict) -> RelevanceResults:
    numbers, positions, offsets = [], [], [0]
    mol, atoms_idx, rel, bias = [], [], [], []
    for k, e in enumerate(explanations):
        numbers.append(e.atoms.get_atomic_numbers())
        positions.append(e.atoms.get_positions())
        offsets.append(offsets[-1] + len(e.atoms))
        for subset, r in sorted(e.terms.items()):
            mol.append(k)
            atoms_idx.append(list(subset) + [-1] * (3 - len(subset)))
            rel.append(r)
            bias.append(e.bias_terms.get(subset, 0.0))
    return RelevanceResults(
        numbers=np.concatenate(numbers).astype(int),
        positions=np.concatenate(positions).astype(float),
        offsets=np.array(offsets, dtype=int),
        term_molecule=np.array(mol, dtype=int),
        term_atoms=np.array(atoms_idx, dtype=int).reshape(-1, 3),
        term_relevance=np.array(rel, dtype=float),
        term_bias=np.array(bias, dtype=float),
        output=np.array([e.output for e in explanations], dtype=float),
        rule_output=np.array([e.rule_output for e in explanations], dtype=float),
        total=np.array([e.total for e in explanations], dtype=float),
        remainder=np.array([e.remainder for e in explanations], dtype=float),
        bias_total=np.array([e.bias_total for e in explanations], dtype=float),
        bias_remainder=np.array([e.bias_remainder for e in explanations], dtype=float),
        meta=meta,
    )


def _explainer_module(model: torch.nn.Module, options: dict):
    import pytorch_lightning as pl

    from xailib.lrp import nbody_relevances

    class ExplainModule(pl.LightningModule):
        """Wraps a potential; ``predict_step`` returns ``(dataset index, n-body relevances)`` per structure."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def predict_step(self, batch: list[tuple[int, Atoms]], batch_idx: int):
            with torch.inference_mode(False), torch.enable_grad():
                return [(k, nbody_relevances(self.model, atoms, **options)) for k, atoms in batch]

    return ExplainModule()


def _gathered(pairs: list, n: int, world_size: int) -> list:
    """The explanations of all processes in dataset order (a distributed sampler pads with repeats)."""
    if world_size > 1:
        import torch.distributed as dist

        parts: list = [None] * world_size
        dist.all_gather_object(parts, pairs)
        pairs = [p for part in parts for p in part]
    by_index = dict(pairs)
    missing = sorted(set(range(n)) - set(by_index))
    if missing:
        raise RuntimeError(f"structures {missing[:5]} were not explained by any process")
    return [by_index[k] for k in range(n)]


def explain_dataset(
    model: torch.nn.Module,
    dataset: Sequence[Atoms],
    *,
    max_order: int = 3,
    rule: str = "gi",
    gamma: float = 0.1,
    composite: str = "features",
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
    max_order, rule, gamma, composite, target
        As in :func:`xailib.lrp.nbody_relevances`.
    out
        If given, the results are written there (``.npz``) with the settings as metadata.
    accelerator, devices, strategy
        Passed to the Lightning ``Trainer``. Several processes (``strategy="ddp", devices=K``) each explain
        a share of the structures; every process then returns all results in dataset order (identical to
        one process), and only rank 0 writes ``out``. The engine computes in float64 on the CPU whatever
        the accelerator, so processes are the unit of parallelism (one per core or socket; on a cluster,
        ``num_nodes`` through a Lightning cluster environment).
        With ``strategy="ddp"`` Lightning starts the other processes by running the calling script again,
        so call it from a script (``if __name__ == "__main__":``), not from a notebook.

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
    from xailib.lrp.composites import check_composite
    from xailib.lrp.rules import check_rule

    structures = list(dataset)
    if not structures:
        raise ValueError("explain_dataset needs at least one structure")
    if out is not None and Path(out).suffix != ".npz":
        raise ValueError(f"relevance results are stored as .npz, got {Path(out).name}")
    check_rule(rule, gamma)
    check_composite(composite)
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
        raise ValueError(f"max_order must be a positive integer, got {max_order!r}")
    for k, atoms in enumerate(structures):
        if not isinstance(atoms, Atoms):
            raise TypeError(f"dataset item {k} is a {type(atoms).__name__}, not an ase.Atoms")
        try:
            check_structure(model, atoms)
        except (MalformedStructureError, UnsupportedElementError) as err:
            raise type(err)(f"dataset item {k} ({atoms.get_chemical_formula()}): {err}") from err
    options = dict(max_order=max_order, rule=rule, gamma=gamma, composite=composite, target=target)
    loader = DataLoader(list(enumerate(structures)), batch_size=1, shuffle=False, collate_fn=list)
    trainer = pl.Trainer(
        accelerator=accelerator, devices=devices, strategy=strategy, logger=False, enable_checkpointing=False,
        enable_model_summary=False, enable_progress_bar=progress, inference_mode=False,
    )
    batches = trainer.predict(_explainer_module(model, options), dataloaders=loader)
    explanations = _gathered([p for batch in batches for p in batch], len(structures), trainer.world_size)
    meta = {"max_order": max_order, "rule": rule, "gamma": float(gamma), "composite": composite,
            "target": explanations[0].target, "n_structures": len(explanations)}
    results = _collect(explanations, meta)
    if out is not None and trainer.is_global_zero:
        save_results(results, out)
    return results


#: On disk, term relevances are float32 (relative precision 6e-8, ample for dataset statistics; it halves
#: the files), atom indices int16 and molecule indices int32; everything is float64/int64 again on load.
STORED_DTYPES = {"term_relevance": np.float32, "term_bias": np.float32, "term_atoms": np.int16,
                 "term_molecule": np.int32}


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
    for key in ("term_relevance", "term_bias"):
        if key not in fields:
            raise CacheFileError(f"{path} has no {key!r}: it was written before bias terms were stored; "
                                 "recompute it with python -m xailib study explain-test-sets --force")
        fields[key] = fields[key].astype(np.float64)
    for key in ("term_atoms", "term_molecule"):
        fields[key] = fields[key].astype(np.int64)
    return RelevanceResults(meta=meta, **fields)
