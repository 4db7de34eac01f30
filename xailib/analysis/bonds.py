"""Bond orders of dataset structures from their SMILES, and 2-body strengths split by bond order.

``nci-small`` structures were embedded in RDKit ``AddHs`` order (:func:`xailib.data.molecules.embed`), so atom
k of a structure is RDKit atom k of its SMILES with hydrogens. Charged groups keep RDKit's Kekule form (nitro:
one N=O, one N-O). Seeds and molecules combine as in :mod:`xailib.analysis.seeds`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from xailib.analysis.pair_terms import pair_terms
from xailib.analysis.ranks import _pair_key, _spearman_rows
from xailib.analysis.runs import RelevanceResults
from xailib.analysis.seeds import MIN_MOLECULES, _seeds, common_structures, seed_molecule_summary
from xailib.analysis.stats import _structure_scale, seed_summary
from xailib.analysis.topology import bond_graph
from xailib.base.errors import XailibError
from xailib.data.store import metadata

__all__ = ["BondAssignmentError", "BOND_LABELS", "bond_order_matrix", "pair_bond_classes", "bond_class_strengths",
           "bond_rank_correlation"]

#: Names of the bond orders RDKit assigns (``GetBondTypeAsDouble``).
BOND_LABELS = {1.0: "single", 1.5: "aromatic", 2.0: "double", 3.0: "triple"}
Seeds = Mapping[str, RelevanceResults] | Sequence[RelevanceResults]


class BondAssignmentError(XailibError, ValueError):
    """A structure whose elements or bonds do not match its SMILES: no bond order can be assigned."""


@lru_cache(maxsize=2048)
def _smiles_orders(smiles: str) -> tuple[np.ndarray, np.ndarray]:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise BondAssignmentError(f"RDKit cannot parse SMILES {smiles!r}")
    mol = Chem.AddHs(mol)
    order = np.zeros((mol.GetNumAtoms(),) * 2)
    for b in mol.GetBonds():
        o = b.GetBondTypeAsDouble()
        if o not in BOND_LABELS:
            raise BondAssignmentError(f"{smiles!r}: bond {b.GetBeginAtomIdx()}-{b.GetEndAtomIdx()} has order {o}")
        order[b.GetBeginAtomIdx(), b.GetEndAtomIdx()] = order[b.GetEndAtomIdx(), b.GetBeginAtomIdx()] = o
    return np.array([a.GetAtomicNum() for a in mol.GetAtoms()]), order


def bond_order_matrix(atoms: Atoms, smiles: str, scale: float = 1.2) -> np.ndarray:
    """``(n, n)`` bond orders of ``atoms`` from ``smiles``: 0 (no bond), 1, 1.5 (aromatic), 2 or 3.

    Raises :class:`BondAssignmentError` unless the atoms are the SMILES-with-Hs atoms in RDKit ``AddHs`` order and
    the bonds of the geometry (:func:`~xailib.analysis.bond_graph` with ``scale``) are exactly the SMILES bonds.
    """
    numbers, order = _smiles_orders(smiles)
    if len(atoms) != len(numbers) or np.any(atoms.numbers != numbers):
        raise BondAssignmentError(f"elements of {atoms.get_chemical_formula()} are not those of {smiles!r} + H")
    geometry = bond_graph(atoms, scale)
    i, j = np.nonzero(np.triu(geometry != (order > 0), 1))
    if len(i):
        diff = ", ".join(f"{a}-{b} ({'geometry only' if geometry[a, b] else 'SMILES only'})" for a, b in zip(i, j))
        raise BondAssignmentError(f"bonds of the geometry and of {smiles!r} differ: {diff}")
    return order.copy()


def pair_bond_classes(results: RelevanceResults, part: str = "combined", *, smiles: Mapping[str, str] | None = None,
                      scale: float = 1.2) -> dict[str, np.ndarray]:
    """:func:`~xailib.analysis.pair_terms` plus ``bond_order`` (0: not bonded) and ``bond_label`` (``"single"``,
    ``"aromatic"``, ``"double"``, ``"triple"``, else the ``separation_class``). ``smiles``: molecule id -> SMILES
    (default: the dataset's metadata). :class:`BondAssignmentError`, naming the structure, on any mismatch."""
    smiles = metadata(results.meta["dataset"])["smiles"] if smiles is None else smiles
    t = pair_terms(results, part, scale=scale)
    order = np.zeros(len(t["i"]))
    for k in np.unique(t["structure"]):
        rows, mol = t["structure"] == k, str(results.molecule_ids()[k])
        try:
            if mol not in smiles:
                raise BondAssignmentError("no SMILES for this molecule")
            m = bond_order_matrix(results.atoms(int(k)), smiles[mol], scale)
        except BondAssignmentError as exc:
            raise BondAssignmentError(f"structure {k} ({mol}): {exc}") from exc
        order[rows] = m[t["i"][rows], t["j"][rows]]
    names = np.array([BOND_LABELS.get(o, "") for o in order], dtype="<U13")
    return {**t, "bond_order": order, "bond_label": np.where(order > 0, names, t["separation_class"])}


def _class_values(results_by_seed: Seeds, part: str, normalise: str | None, align: bool) -> tuple[list, dict]:
    """(molecules, {(z1, z2, label): (n_seeds, n_molecules) mean normalised term of the class, nan if absent})."""
    seeds = common_structures(results_by_seed) if align else _seeds(results_by_seed)
    tables = [(pair_bond_classes(r, part), _structure_scale(r, part, normalise)) for r in seeds.values()]
    molecules = sorted({str(m) for t, _ in tables for m in t["molecule"]})
    index, out = {m: i for i, m in enumerate(molecules)}, {}
    for s, (t, scale) in enumerate(tables):
        sums: dict[tuple, list] = {}
        for (a, b), lab, m, x in zip(t["z"].tolist(), t["bond_label"].tolist(), t["molecule"].tolist(),
                                     t["value"] / scale[t["structure"]]):
            acc = sums.setdefault((a, b, lab, index[str(m)]), [0.0, 0])
            acc[0], acc[1] = acc[0] + x, acc[1] + 1
        for (a, b, lab, m), (total, n) in sums.items():
            out.setdefault((a, b, lab), np.full((len(tables), len(molecules)), np.nan))[s, m] = total / n
    return molecules, out


def bond_class_strengths(results_by_seed: Seeds, *, part: str = "combined", normalise: str | None = "total_abs",
                         align: bool = True, **summary) -> list[dict]:
    """Mean 2-body term per element pair and bond label (one value per molecule and seed), as
    :func:`~xailib.analysis.pair_strengths` per element pair; ``summary`` goes to :func:`seed_molecule_summary`
    (``min_molecules``, ``n_boot``, ``seed``, ``level``). One dict per (pair, label), sorted: ``pair`` (symbols),
    ``z``, ``bond_label`` and the keys of :func:`~xailib.analysis.seed_molecule_summary`."""
    molecules, values = _class_values(results_by_seed, part, normalise, align)
    per_seed = {k: [{m: x for m, x in zip(molecules, row) if np.isfinite(x)} for row in v] for k, v in values.items()}
    return [{"pair": (chemical_symbols[a], chemical_symbols[b]), "z": (a, b), "bond_label": lab,
             **seed_molecule_summary(per_seed[a, b, lab], **summary)} for (a, b, lab) in sorted(values)]


def bond_rank_correlation(results_by_seed: Seeds, reference: Mapping, label: str = "single", *, part: str = "combined",
                          normalise: str | None = "total_abs", min_molecules: int = MIN_MOLECULES, align: bool = True,
                          n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Spearman's rho of the strengths of the pairs with bond ``label`` against a table ``{pair: number}``
    (e.g. minus single-bond enthalpies), with the keys of :func:`~xailib.analysis.pair_rank_correlation`:
    rho per seed and ``pooled`` (seed-averaged) with a molecule-bootstrap interval. Pairs in fewer than
    ``min_molecules`` molecules are left out; ``ValueError`` below 3 pairs."""
    _, values = _class_values(results_by_seed, part, normalise, align)
    ref = {_pair_key(p): float(v) for p, v in reference.items()}
    keys = [k for k in sorted(ref) if np.isfinite(values.get((*k, label), [[np.nan]])).any(0).sum() >= min_molecules]
    if len(keys) < 3:
        raise ValueError(f"only {len(keys)} {label} pairs to compare (need 3)")
    v = np.stack([values[(*k, label)] for k in keys], axis=2)  # (seeds, molecules, pairs)
    y, seen = np.array([[ref[k] for k in keys]]), np.isfinite(v)
    rho = _spearman_rows(np.nansum(v, axis=1) / seen.sum(axis=1), y)
    mol, mask = np.nansum(v, axis=0) / np.maximum(seen.sum(axis=0), 1), seen.any(axis=0)  # seed-averaged, 0 if absent
    pooled = float(_spearman_rows((mol.sum(0) / mask.sum(0))[None], y)[0])
    n = len(mol)
    w = np.stack([np.bincount(d, minlength=n) for d in np.random.default_rng(seed).integers(0, n, (n_boot, n))])
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (w @ mol) / (w @ mask)
    boot = _spearman_rows(boot[np.all(np.isfinite(boot), axis=1)], y)
    boot = boot[np.isfinite(boot)]
    low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2]) if len(boot) else (np.nan, np.nan)
    return {**seed_summary(rho), "per_seed": tuple(float(r) for r in rho), "pooled": pooled, "low": float(low),
            "high": float(high), "level": level, "n_pairs": len(keys), "n_molecules": int(mask.any(axis=1).sum()),
            "pairs": [(chemical_symbols[a], chemical_symbols[b]) for a, b in keys], "n_boot_used": len(boot)}
