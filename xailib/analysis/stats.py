"""Statistics of dataset-level numbers: molecule bootstrap intervals, per-molecule tables, seed summaries.

The test split holds several frames (relaxed + MD) of each molecule, so neither terms nor frames are
independent replicates; molecules are. Every function here therefore works with one value per molecule
(frames averaged) or resamples whole molecules:

- :func:`molecule_bootstrap` gives a percentile interval from resampling molecules with replacement (all
  rows of a drawn molecule come along) and the number of molecules behind it.
- :func:`element_pair_table`, :func:`order_table` and :func:`conservation_table` turn one
  :class:`~xailib.analysis.RelevanceResults` into per-molecule (or per-structure) columns.
- :func:`seed_summary` gives mean, spread and range over training seeds.

Seed-aggregated tables built from these (pair strengths, order shares) are in :mod:`xailib.analysis.seeds`.
Tables are dicts of equal-length numpy arrays ("columns"); pandas is not a dependency.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
from ase.data import chemical_symbols

from xailib.analysis.runs import RelevanceResults

__all__ = ["Interval", "molecule_bootstrap", "molecule_means", "per_molecule", "molecule_sizes", "element_pair_table",
           "order_table", "conservation_table", "seed_summary", "ORDER_KEYS"]

#: Column suffixes of the many-body orders in :func:`order_table` (``max_order`` 3): orders and the remainder.
ORDER_KEYS = ("1", "2", "3", "higher")

_Z_BASE = 128  # above the largest atomic number; encodes a sorted element pair as one integer


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap interval over molecules.

    Attributes
    ----------
    estimate
        The statistic of the original data.
    low, high
        The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the bootstrap distribution (``nan``
        with fewer than two molecules).
    n_molecules
        Number of distinct molecules behind the estimate.
    level
        Nominal coverage, e.g. 0.95.
    """

    estimate: float
    low: float
    high: float
    n_molecules: int
    level: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return (f"{self.estimate:+.4g} [{self.low:+.4g}, {self.high:+.4g}] "
                f"({self.level:.0%}, {self.n_molecules} molecules)")


def _fast_kind(statistic) -> str | None:
    if statistic is np.mean or statistic == "mean":
        return "mean"
    if statistic is np.sum or statistic == "sum":
        return "sum"
    if isinstance(statistic, str):
        raise ValueError(f"statistic must be a callable, 'mean' or 'sum', got {statistic!r}")
    return None


def molecule_bootstrap(
    values: Iterable[float] | np.ndarray,
    molecules: Iterable | np.ndarray | None = None,
    statistic: Callable[[np.ndarray], float] | str = np.mean,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> Interval:
    """Percentile bootstrap interval of a statistic, resampling molecules rather than rows.

    Each bootstrap replicate draws as many molecules as there are, with replacement; every row of a
    drawn molecule enters the replicate (a molecule drawn twice enters twice), and the statistic is
    computed on the pooled rows. Rows of one molecule (its frames, its terms) are correlated, so this
    interval is wider than a row bootstrap when they are, and honest about it.

    Parameters
    ----------
    values
        One value per row, shape ``(n,)``; must be finite.
    molecules
        The molecule of each row, shape ``(n,)`` (any hashable ids, e.g. ``"NCI-81"``). ``None``: each
        row is its own molecule (use this for values already aggregated per molecule, e.g. from
        :func:`molecule_means` or :func:`element_pair_table`).
    statistic
        A function of a 1-D array, or ``"mean"``/``"sum"``. ``np.mean`` and ``np.sum`` (or the strings)
        take a vectorised path (per-molecule sums; ~0.1 s for 100k rows of 60 molecules); other callables
        are evaluated once per replicate.
    n_boot, seed, level
        Number of replicates, seed of the generator (the result is a deterministic function of the
        inputs), and nominal coverage.

    Returns
    -------
    Interval
        ``estimate`` (the statistic of ``values``), ``low``, ``high``, ``n_molecules``, ``level``.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or len(v) == 0:
        raise ValueError("values must be a non-empty 1-D array")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite (drop missing rows before bootstrapping)")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    if molecules is None:
        inv = np.arange(len(v))
    else:
        mol = np.asarray(molecules)
        if mol.shape != v.shape:
            raise ValueError(f"molecules has shape {mol.shape}, values {v.shape}")
        inv = np.unique(mol, return_inverse=True)[1].ravel()
    n_mol = int(inv.max()) + 1
    kind = _fast_kind(statistic)
    fn = {"mean": np.mean, "sum": np.sum}.get(kind, statistic)
    estimate = float(fn(v))
    if n_mol < 2:
        return Interval(estimate, float("nan"), float("nan"), n_mol, level)
    rng = np.random.default_rng(seed)
    boot = np.empty(n_boot)
    if kind is not None:
        sums = np.bincount(inv, weights=v, minlength=n_mol)
        counts = np.bincount(inv, minlength=n_mol).astype(float)
        chunk = max(1, 4_000_000 // n_mol)
        for start in range(0, n_boot, chunk):
            draws = rng.integers(0, n_mol, size=(min(chunk, n_boot - start), n_mol))
            s = sums[draws].sum(axis=1)
            boot[start:start + len(draws)] = s if kind == "sum" else s / counts[draws].sum(axis=1)
    else:
        order = np.argsort(inv, kind="stable")
        sorted_v = v[order]
        counts = np.bincount(inv, minlength=n_mol)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        for b in range(n_boot):
            draw = rng.integers(0, n_mol, size=n_mol)
            lens = counts[draw]
            # row indices of the drawn molecules, concatenated: start of each block plus a running offset
            block_start = np.repeat(starts[draw] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
            boot[b] = fn(sorted_v[block_start + np.arange(lens.sum())])
    alpha = (1 - level) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), n_mol, level)


def molecule_bootstrap_rows(
    statistic: Callable[[np.ndarray], float],
    molecules: Iterable | np.ndarray,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> Interval:
    """:func:`molecule_bootstrap` of a statistic of row indices, for statistics of several paired columns
    (a correlation, a fit): ``statistic(rows)`` gets the integer rows of a replicate, those of a molecule
    drawn twice twice, and all rows (``arange``) for the estimate."""
    mol = np.asarray(molecules)
    return molecule_bootstrap(np.arange(len(mol), dtype=float), mol, lambda idx: statistic(idx.astype(int)),
                              n_boot=n_boot, seed=seed, level=level)


def molecule_means(values: Iterable[float] | np.ndarray, molecules: Iterable | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` per molecule: ``(molecule ids (sorted), means)``, each molecule once."""
    v = np.asarray(values, dtype=float)
    uniq, inv = np.unique(np.asarray(molecules), return_inverse=True)
    if v.shape != inv.shape:
        raise ValueError("values and molecules must have the same length")
    return uniq, np.bincount(inv, weights=v, minlength=len(uniq)) / np.bincount(inv, minlength=len(uniq))


def per_molecule(values: Iterable[float] | np.ndarray, res: RelevanceResults) -> dict:
    """``{molecule id: mean of values over its structures}`` for one value per structure of ``res``."""
    return dict(zip(*molecule_means(values, res.molecule_ids())))


def molecule_sizes(res: RelevanceResults) -> np.ndarray:
    """Number of atoms of each molecule of ``res`` (frames averaged), in the order of :func:`molecule_means`."""
    return molecule_means(np.diff(res.offsets), res.molecule_ids())[1]


def _molecule_index(res: RelevanceResults) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted molecule ids, molecule index of each structure, number of frames per molecule)."""
    ids = res.molecule_ids()
    if len(ids) != len(res):
        raise ValueError(f"meta['molecule_ids'] has {len(ids)} entries for {len(res)} structures")
    uniq, inv = np.unique(ids, return_inverse=True)
    return uniq, inv.ravel(), np.bincount(inv.ravel(), minlength=len(uniq))


def _term_orders(res: RelevanceResults) -> np.ndarray:
    return (res.term_atoms >= 0).sum(axis=1)


def _structure_scale(res: RelevanceResults, part: str, normalise: str | None) -> np.ndarray:
    """Per-structure normalisation as in :meth:`NBodyTable.normalised` (tables built with ``part``)."""
    n = len(res)
    if normalise is None:
        return np.ones(n)
    if normalise == "total_abs" and part == "combined":  # complete even when terms are stored to a lower order
        scale = res.order_abs.sum(axis=1) + np.abs(res.beyond(part))
    elif normalise == "total_abs":
        scale = (np.bincount(res.term_molecule, weights=np.abs(res.term_values(part)), minlength=n)
                 + np.abs(res.remainders(part)))
    elif normalise == "output":
        scale = np.asarray(res.output if part == "walks" else res.conserved_total, dtype=float)
    else:
        raise ValueError(f"normalise must be None, 'output' or 'total_abs', got {normalise!r}")
    if np.any(scale == 0):
        raise ValueError(f"cannot normalise by {normalise}: a structure has {normalise} = 0")
    return scale


def element_pair_table(
    res: RelevanceResults,
    part: str = "combined",
    *,
    normalise: str | None = None,
    max_distance: float | None = None,
) -> dict[str, np.ndarray]:
    """2-body relevance per molecule and element pair, frames averaged so that each molecule counts once.

    Parameters
    ----------
    res
        Results with ``meta["molecule_ids"]`` (without it every structure is its own molecule).
    part
        ``"combined"`` (walks + bias), ``"walks"`` or ``"bias"``.
    normalise
        Divide each term by its structure's ``"total_abs"`` (sum of |terms| of all orders + |remainder|)
        or ``"output"`` (as :meth:`NBodyTable.normalised`), before summing; ``None`` keeps the units.
    max_distance
        Keep only pairs closer than this (Angstrom).

    Returns
    -------
    dict of arrays, one row per (molecule, element pair) seen at least once
        ``molecule`` (id), ``z1 <= z2`` (atomic numbers), ``pair`` (e.g. ``"C-H"``, lower Z first),
        ``n_frames`` (frames of the molecule), ``sum``, ``abs_sum``, ``count`` (summed relevance, summed
        |relevance| and number of pair terms per frame, i.e. summed over the molecule's frames and
        divided by ``n_frames``; frames without the pair count as zero), ``mean`` and ``abs_mean``
        (``sum / count`` and ``abs_sum / count``: the mean per pair term in that molecule).
        Rows are sorted by molecule, then pair.
    """
    uniq, mol_of, n_frames = _molecule_index(res)
    values = res.term_values(part) / _structure_scale(res, part, normalise)[res.term_molecule]
    sel = _term_orders(res) == 2
    g = res.offsets[res.term_molecule[sel]][:, None] + res.term_atoms[sel, :2]
    if max_distance is not None:
        close = np.linalg.norm(res.positions[g[:, 0]] - res.positions[g[:, 1]], axis=1) < max_distance
        g, sel = g[close], np.flatnonzero(sel)[close]
    z = np.sort(res.numbers[g], axis=1)
    m = mol_of[res.term_molecule[sel]]
    key = (m * _Z_BASE + z[:, 0]) * _Z_BASE + z[:, 1]
    keys, inv = np.unique(key, return_inverse=True)
    inv = inv.ravel()
    v = values[sel]
    mk, z1, z2 = keys // _Z_BASE**2, (keys // _Z_BASE) % _Z_BASE, keys % _Z_BASE
    nf = n_frames[mk].astype(float)
    total = np.bincount(inv, weights=v, minlength=len(keys))
    absolute = np.bincount(inv, weights=np.abs(v), minlength=len(keys))
    count = np.bincount(inv, minlength=len(keys)).astype(float)
    return {
        "molecule": uniq[mk], "z1": z1, "z2": z2,
        "pair": np.array([f"{chemical_symbols[a]}-{chemical_symbols[b]}" for a, b in zip(z1, z2)], dtype=str),
        "n_frames": n_frames[mk], "sum": total / nf, "abs_sum": absolute / nf, "count": count / nf,
        "mean": total / count, "abs_mean": absolute / count,
    }


def order_table(res: RelevanceResults, part: str = "combined") -> dict[str, np.ndarray]:
    """Relevance per many-body order and molecule, frames averaged so that each molecule counts once.

    For each structure and order k = 1 .. ``meta["max_order"]`` (3 for the shipped results) and
    k = ``"higher"`` (sets beyond it): ``signed_k`` and ``abs_k`` (sum and sum of |.| of the order-k
    terms; for ``"higher"`` the remainder and its absolute value), ``total`` (the part's total: the
    conserved total ``walks + bias`` for ``"combined"``, ``res.total`` for ``"walks"``, ``res.bias_total``
    for ``"bias"``), ``abs_share_k = abs_k / sum over orders of abs_k`` (remainder included; these add to
    1) and ``signed_share_k = signed_k / total`` (these add to 1). Every column is then averaged over the
    frames of each molecule (shares are per-frame ratios, averaged).

    ``"combined"`` uses the per-structure order sums ``res.order_sum``/``res.order_abs``, complete even for
    results whose terms were stored to a lower order (:meth:`RelevanceResults.truncated`); ``"walks"``
    and ``"bias"`` need every order's terms stored.

    Returns
    -------
    dict of arrays, one row per molecule (sorted ids)
        ``molecule``, ``n_frames``, ``total`` and, for each k, ``signed_k``, ``abs_k``, ``abs_share_k``,
        ``signed_share_k``. ``signed_1 + ... + signed_higher = total`` per molecule to round-off.
    """
    uniq, mol_of, n_frames = _molecule_index(res)
    n = len(res)
    k_max = res.order_sum.shape[1]  # meta["max_order"]
    totals = {"combined": res.conserved_total, "walks": res.total, "bias": res.bias_total}
    if part not in totals:
        raise ValueError(f"part must be 'combined', 'walks' or 'bias', got {part!r}")
    if part == "combined":
        signed, absolute = res.order_sum, res.order_abs
        rem = res.beyond(part)
    else:
        if res.stored_order < k_max:
            raise ValueError(f"the {part} part per order needs terms stored to order {k_max}; these results "
                             f"store order {res.stored_order} (use part='combined')")
        values, orders = res.term_values(part), _term_orders(res)
        signed, absolute = np.zeros((n, k_max)), np.zeros((n, k_max))
        for k in range(1, k_max + 1):
            sel = orders == k
            signed[:, k - 1] = np.bincount(res.term_molecule[sel], weights=values[sel], minlength=n)
            absolute[:, k - 1] = np.bincount(res.term_molecule[sel], weights=np.abs(values[sel]), minlength=n)
        rem = res.remainders(part)
    keys = [str(k) for k in range(1, k_max + 1)] + ["higher"]
    signed = np.column_stack([signed, rem])
    absolute = np.column_stack([absolute, np.abs(rem)])
    total = np.asarray(totals[part], dtype=float)
    abs_total = absolute.sum(axis=1)
    if np.any(abs_total == 0) or np.any(total == 0):
        raise ValueError("a structure has zero total (absolute) relevance; shares are undefined")
    per_structure = {"total": total}
    for j, k in enumerate(keys):
        per_structure[f"signed_{k}"], per_structure[f"abs_{k}"] = signed[:, j], absolute[:, j]
    for j, k in enumerate(keys):
        per_structure[f"abs_share_{k}"] = absolute[:, j] / abs_total
        per_structure[f"signed_share_{k}"] = signed[:, j] / total
    table = {"molecule": uniq, "n_frames": n_frames}
    for name, col in per_structure.items():
        table[name] = np.bincount(mol_of, weights=col, minlength=len(uniq)) / n_frames
    return table


def conservation_table(res: RelevanceResults) -> dict[str, np.ndarray]:
    """Per structure: ``structure`` (index), ``molecule`` (id), ``output`` (model output explained),
    ``rule_output`` (the rule-modified forward value), ``walks`` (sum of walk relevances, ``res.total``),
    ``bias`` (``res.bias_total``), ``conserved_total`` (walks + bias) and ``residual``
    (``output - conserved_total``: round-off for rule gi, the rule's change of the forward value for gamma)."""
    ids = res.molecule_ids()
    if len(ids) != len(res):
        raise ValueError(f"meta['molecule_ids'] has {len(ids)} entries for {len(res)} structures")
    return {"structure": np.arange(len(res)), "molecule": ids, "output": np.asarray(res.output, float),
            "rule_output": np.asarray(res.rule_output, float), "walks": np.asarray(res.total, float),
            "bias": np.asarray(res.bias_total, float), "conserved_total": res.conserved_total,
            "residual": res.residual}


def seed_summary(per_seed_estimates: Iterable[float] | Mapping[str, float]) -> dict[str, float]:
    """Mean, sample standard deviation (ddof = 1; ``nan`` for one seed), min, max and number of seeds
    of one quantity estimated once per training seed (a mapping's values are used)."""
    if isinstance(per_seed_estimates, Mapping):
        per_seed_estimates = per_seed_estimates.values()
    x = np.asarray(list(per_seed_estimates), dtype=float)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError("seed_summary needs at least one per-seed estimate")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"per-seed estimates must be finite, got {x}")
    sd = float(x.std(ddof=1)) if len(x) > 1 else float("nan")
    return {"mean": float(x.mean()), "sd": sd, "min": float(x.min()), "max": float(x.max()), "n_seeds": len(x)}
