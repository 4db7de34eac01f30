"""Numbers over training seeds and molecules beyond a mean: paired differences of two models, spreads and
size slopes over molecules, summaries of per-seed arrays.

Conventions as in :mod:`xailib.analysis.seeds`: a quantity is given per seed, either as ``{molecule: value}``
or as an array with one value per molecule (the same molecules, in the same order, in every seed); the seed
spread (:func:`~xailib.analysis.seed_summary` of the per-seed estimates) says how much a number moves with
another training run, the interval (:func:`~xailib.analysis.molecule_bootstrap` of the seed-averaged
per-molecule values) how much it moves with another sample of molecules.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats

from xailib.analysis.stats import Interval, molecule_bootstrap, seed_summary

__all__ = ["PairedDifference", "paired_difference", "molecule_seed_means", "restrict_molecules",
           "seed_array_summary", "spread_summary", "regression_slope", "slope_interval", "slope_summary"]

PerSeed = Sequence[Mapping[Hashable, float]]


class PairedDifference(NamedTuple):
    """Model A minus model B on the same molecules (:func:`paired_difference`)."""

    #: Molecule-bootstrap interval of the per-molecule difference of the seed means.
    interval: Interval
    #: Mean over molecules of A's seed minus B's seed, for every pairing of an A seed and a B seed.
    pairings: list[float]


def molecule_seed_means(per_seed: PerSeed, molecules: Sequence[Hashable] | None = None) -> np.ndarray:
    """Per molecule, the mean over seeds of ``{molecule: value}`` dicts: one value per molecule of
    ``molecules`` (default: the sorted molecules of the first seed), in that order."""
    mols = sorted(per_seed[0]) if molecules is None else molecules
    return np.mean([[d[m] for m in mols] for d in per_seed], axis=0)


def restrict_molecules(per_seed: PerSeed, keep: Collection[Hashable]) -> list[dict]:
    """The per-seed ``{molecule: value}`` dicts with only the molecules in ``keep``."""
    return [{m: v for m, v in d.items() if m in keep} for d in per_seed]


def paired_difference(a: PerSeed, b: PerSeed, keep: Collection[Hashable] | None = None, **bootstrap) -> PairedDifference:
    """A minus B from per-seed ``{molecule: value}`` of two models on the same molecules.

    The molecules are those of A's first seed (only those in ``keep``, if given); every seed of A and B must
    have them. Returns the molecule-bootstrap interval of the difference of the seed means per molecule
    (``bootstrap``: keywords of :func:`~xailib.analysis.molecule_bootstrap`), and the difference of the means
    over molecules for every pairing of an A seed with a B seed (in the order ``itertools.product(a, b)``).
    """
    mols = sorted(set(a[0]) if keep is None else set(a[0]) & set(keep))
    if not mols:
        raise ValueError("no molecule to compare")
    interval = molecule_bootstrap(molecule_seed_means(a, mols) - molecule_seed_means(b, mols), **bootstrap)
    return PairedDifference(interval, [np.mean([x[m] - y[m] for m in mols]) for x, y in itertools.product(a, b)])


def seed_array_summary(per_seed: Sequence[np.ndarray], **bootstrap) -> dict:
    """One value per row (molecule, pair of molecules) and seed, the same rows in every seed: the
    :func:`~xailib.analysis.seed_summary` of the per-seed means (``mean``, ``sd``, ``min``, ``max``,
    ``n_seeds``) and ``low``, ``high`` of a bootstrap over rows of the seed-averaged values."""
    interval = molecule_bootstrap(np.mean(per_seed, axis=0), **bootstrap)
    return {**seed_summary([np.mean(v) for v in per_seed]), "low": interval.low, "high": interval.high}


def _seed_statistic_summary(estimates: Sequence[float], statistic: Callable[[np.ndarray], float], n: int,
                            n_boot: int, seed: int, level: float) -> dict:
    boot = molecule_bootstrap(np.arange(n), None, lambda i: statistic(i.astype(int)), n_boot=n_boot, seed=seed,
                              level=level)
    return {**seed_summary(estimates), "low": boot.low, "high": boot.high}


def spread_summary(per_seed: Sequence[np.ndarray], *, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Standard deviation over molecules (``np.std``, ddof 0) of per-seed arrays of one value per molecule:
    :func:`~xailib.analysis.seed_summary` of the per-seed sds and ``low``, ``high`` of a molecule bootstrap of
    their seed mean (each replicate resamples the same molecules in every seed)."""
    ys = [np.asarray(y, dtype=float) for y in per_seed]
    return _seed_statistic_summary([np.std(y) for y in ys], lambda i: np.mean([np.std(y[i]) for y in ys]),
                                   len(ys[0]), n_boot, seed, level)


def regression_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``y`` on ``x`` (``scipy.stats.linregress``)."""
    return stats.linregress(x, y).slope


def slope_interval(x: Sequence[float], y: Sequence[float], *, n_boot: int = 2000, seed: int = 0,
                   level: float = 0.95) -> Interval:
    """Slope of ``y`` on ``x`` (one point per molecule) with a molecule-bootstrap interval."""
    x, y = np.asarray(x), np.asarray(y)
    return molecule_bootstrap(np.arange(len(x)), None, lambda i: regression_slope(x[i.astype(int)], y[i.astype(int)]),
                              n_boot=n_boot, seed=seed, level=level)


def slope_summary(x: Sequence[float], per_seed: Sequence[np.ndarray], *, n_boot: int = 2000, seed: int = 0,
                  level: float = 0.95) -> dict:
    """Slope of per-seed ``y`` (one value per molecule) on ``x``: :func:`~xailib.analysis.seed_summary` of
    the per-seed slopes and ``low``, ``high`` of :func:`slope_interval` of the seed-averaged ``y``."""
    x = np.asarray(x)
    boot = slope_interval(x, np.mean(per_seed, axis=0), n_boot=n_boot, seed=seed, level=level)
    return {**seed_summary([regression_slope(x, y) for y in per_seed]), "low": boot.low, "high": boot.high}
