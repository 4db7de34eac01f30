"""Recovered vs true: the comparisons of the known-answer chapter, with intervals over molecules.

Every function takes the learned values of one model and rule set (:func:`load_known_answer`) and the
exact terms on the same structures (:func:`truth`), index by index. Each structure is one molecule (the
first frame of each test molecule), so the molecule bootstrap resamples structures.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from xailib.analysis.known_answers import (
    RULE_SETS, KnownAnswerError, canonical_pairs, canonical_triples, results_dir, test_structures,
)
from xailib.analysis.stats import Interval, molecule_bootstrap, molecule_bootstrap_rows
from xailib.analysis.synthetic import terms
from xailib.analysis.topology import bond_separation, separation_class

#: Fit window of the decay exponents (Angstrom): beyond the damping, before the switch of the potentials.
WINDOW = (2.5, 4.0)


def load_known_answer(name: str, directory: str | os.PathLike | None = None) -> dict:
    """``{"meta": ..., "<rule set>": {"pair", "orders", "orders_abs", "output", ...}}`` of a stored result."""
    path = results_dir(directory) / f"{name}.npz"
    if not path.exists():
        raise KnownAnswerError(f"no known-answer result {path}; run `python -m xailib study synthetic explain`")
    with np.load(path) as f:
        out: dict = {"meta": json.loads(str(f["meta"]))}
        if out["meta"].get("name") != name:
            raise KnownAnswerError(f"{path} holds the results of {out['meta'].get('name')!r}, not of {name!r}")
        for key in f.files:
            if "/" in key:
                tag, part = key.split("/", 1)
                out.setdefault(tag, {})[part] = f[key]
    return out


def truth(potential: str, structures=None) -> dict[str, np.ndarray]:
    """Exact terms aligned with the stored results: ``pair`` and ``triple`` (per canonical pair / triple),
    ``orders`` and ``orders_abs`` (per structure, orders 1-4), plus the pair columns of
    :func:`~xailib.analysis.known_answers.canonical_pairs` and each pair's bond ``separation``."""
    structures = test_structures() if structures is None else structures
    cols = canonical_pairs(structures)
    per = [terms(a, potential) for a in structures]
    pair = np.array([per[s][(int(i), int(j))] for s, i, j in zip(cols["structure"], cols["i"], cols["j"])])
    triple = np.array([per[s].get((i, j, k), 0.0) for s, i, j, k in canonical_triples(structures)])
    orders, orders_abs = np.zeros((len(structures), 4)), np.zeros((len(structures), 4))
    for s, t in enumerate(per):
        for key, value in t.items():
            orders[s, len(key) - 1] += value
            orders_abs[s, len(key) - 1] += abs(value)
    sep = np.concatenate([bond_separation(a)[np.triu_indices(len(a), 1)] for a in structures])
    return {**cols, "pair": pair, "triple": triple, "orders": orders, "orders_abs": orders_abs, "separation": sep}


def pearson_r(x, y) -> float:
    """Pearson correlation; ``nan`` for fewer than 3 points or a constant input."""
    return float(np.corrcoef(x, y)[0, 1]) if len(x) > 2 and np.std(x) > 0 and np.std(y) > 0 else float("nan")


def fit_slope(x, y) -> float:
    """Least-squares slope of ``y`` on ``x``; ``nan`` for fewer than 3 points or a constant ``x``."""
    return float(np.polyfit(x, y, 1)[0]) if len(x) > 2 and np.std(x) > 0 else float("nan")


def agreement(learned, true, molecules, *, n_boot: int = 500, seed: int = 0) -> dict[str, Interval | int]:
    """Pearson correlation and least-squares slope (learned on true) with molecule-bootstrap intervals;
    ``n`` terms. A perfect recovery has correlation 1 and slope 1."""
    x, y, mol = np.asarray(true, float), np.asarray(learned, float), np.asarray(molecules)
    if not (x.shape == y.shape == mol.shape) or x.ndim != 1:
        raise ValueError("learned, true and molecules must be 1-D arrays of one length")
    return {"pearson": molecule_bootstrap_rows(lambda rows: pearson_r(x[rows], y[rows]), mol, n_boot=n_boot, seed=seed),
            "slope": molecule_bootstrap_rows(lambda rows: fit_slope(x[rows], y[rows]), mol, n_boot=n_boot, seed=seed),
            "n": len(x)}


def abs_order_shares(orders_abs: np.ndarray, *, n_boot: int = 1000, seed: int = 0) -> list[Interval]:
    """Share of each order (1-4) in the summed |terms|, averaged over molecules, with intervals."""
    a = np.asarray(orders_abs, float)
    share = a / a.sum(axis=1, keepdims=True)
    return [molecule_bootstrap(share[:, k], None, "mean", n_boot=n_boot, seed=seed) for k in range(a.shape[1])]


def pair_type_means(z: np.ndarray, values, molecules, mask=None, min_molecules: int = 5) -> dict[tuple[int, int], float]:
    """Mean term per element pair over the molecules that have it (per-molecule means first); pair types in
    fewer than ``min_molecules`` molecules are left out."""
    z, v, mol = np.asarray(z), np.asarray(values, float), np.asarray(molecules)
    keep = np.ones(len(v), bool) if mask is None else np.asarray(mask, bool)
    out = {}
    for key in sorted({tuple(p) for p in z[keep]}):
        rows = keep & (z[:, 0] == key[0]) & (z[:, 1] == key[1])
        per_mol = [v[rows & (mol == m)].mean() for m in np.unique(mol[rows])]
        if len(per_mol) >= min_molecules:
            out[(int(key[0]), int(key[1]))] = float(np.mean(per_mol))
    return out


def ranking_agreement(learned: dict, true: dict) -> dict[str, float]:
    """Spearman and Kendall rank correlation of two pair-type tables over their common pair types."""
    keys = sorted(set(learned) & set(true))
    if len(keys) < 3:
        raise ValueError(f"need at least 3 common pair types to rank, got {len(keys)}")
    a, b = [learned[k] for k in keys], [true[k] for k in keys]
    return {"spearman": float(sps.spearmanr(a, b)[0]), "kendall": float(sps.kendalltau(a, b)[0]), "n_types": len(keys)}


def separation_classes(separation: Sequence[int]) -> np.ndarray:
    """Bond-separation class of each pair (see :func:`xailib.analysis.topology.separation_class`)."""
    return separation_class(np.asarray(separation))


def rule_sets_of(result: dict) -> list[str]:
    """The rule sets a stored result holds, in :data:`RULE_SETS` order."""
    return [t for t in RULE_SETS if t in result]
