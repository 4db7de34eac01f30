"""Flat tables of n-body terms, the input of every dataset-level analysis in :mod:`xailib.analysis`.

The analyses work on :class:`NBodyTable` objects, flat tables with one row per n-body term (molecule
index, element numbers, the distance that characterises the term, its relevance, and a per-molecule
scale for normalisation). :func:`tables_from_nbody` builds them from per-molecule n-body results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

__all__ = ["NBodyTable", "tables_from_nbody", "ORDERS"]

ORDERS = (1, 2, 3)


@dataclass(frozen=True)
class NBodyTable:
    """One row per n-body term of a given order.

    Attributes
    ----------
    order
        1, 2 or 3.
    molecule
        Index of the molecule each term belongs to, shape ``(M,)``.
    numbers
        Sorted atomic numbers of the term's atoms, shape ``(M, order)``.
    distance
        0 for 1-body terms, the pair distance for 2-body terms and the largest pair distance for
        3-body terms (Angstrom), shape ``(M,)``.
    relevance
        The term's relevance, shape ``(M,)``.
    output
        The explained model output of each molecule, shape ``(n_molecules,)``.
    total_abs
        Per molecule, the sum of absolute relevance over all orders including the remainder.
    """

    order: int
    molecule: np.ndarray
    numbers: np.ndarray
    distance: np.ndarray
    relevance: np.ndarray
    output: np.ndarray
    total_abs: np.ndarray

    def __post_init__(self) -> None:
        m = len(self.relevance)
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order}")
        if self.numbers.shape != (m, self.order) or self.molecule.shape != (m,) or self.distance.shape != (m,):
            raise ValueError("NBodyTable columns have inconsistent shapes")

    def normalised(self, by: str | None) -> np.ndarray:
        """Relevance divided by the molecule's output (``"output"``) or total absolute relevance
        (``"total_abs"``); unchanged for ``None``."""
        if by is None:
            return self.relevance
        if by not in ("output", "total_abs"):
            raise ValueError(f"normalise must be None, 'output' or 'total_abs', got {by!r}")
        scale = (self.output if by == "output" else self.total_abs)[self.molecule]
        if np.any(scale == 0):
            raise ValueError(f"cannot normalise by {by}: a molecule has {by} = 0")
        return self.relevance / scale


def tables_from_nbody(
    positions: Sequence[np.ndarray],
    numbers: Sequence[np.ndarray],
    terms: Sequence[Mapping[tuple[int, ...], float]],
    remainders: Sequence[float],
    outputs: Sequence[float],
    total_abs: Sequence[float] | None = None,
) -> dict[int, NBodyTable]:
    """Flatten per-molecule n-body terms into one :class:`NBodyTable` per order.

    Parameters
    ----------
    positions, numbers
        Per molecule, the ``(N, 3)`` positions (Angstrom) and ``(N,)`` atomic numbers.
    terms
        Per molecule, exact-set relevances keyed by sorted atom-index tuples of length 1, 2 or 3.
    remainders
        Per molecule, the relevance of all higher orders.
    outputs
        Per molecule, the explained model output.
    total_abs
        Per molecule, the total absolute relevance; default: the sum of ``|term|`` and ``|remainder|``
        (give it when ``terms`` do not list every computed term, e.g. results stored up to order 2).
    """
    if not (len(positions) == len(numbers) == len(terms) == len(remainders) == len(outputs)):
        raise ValueError("positions, numbers, terms, remainders and outputs must have one entry per molecule")
    if total_abs is None:
        total_abs = [sum(abs(v) for v in t.values()) + abs(rem) for t, rem in zip(terms, remainders)]
    total_abs = np.asarray(total_abs, dtype=float)
    rows: dict[int, list] = {k: [] for k in ORDERS}
    for mol, (pos, z, t) in enumerate(zip(positions, numbers, terms)):
        pos, z = np.asarray(pos, dtype=float), np.asarray(z)
        for key, value in t.items():
            if len(key) not in ORDERS or tuple(sorted(key)) != tuple(key) or len(set(key)) != len(key):
                raise ValueError(f"molecule {mol}: term key {key} is not a sorted tuple of 1-3 distinct atoms")
            dist = max((np.linalg.norm(pos[a] - pos[b]) for a, b in combinations(key, 2)), default=0.0)
            rows[len(key)].append((mol, tuple(sorted(z[list(key)])), dist, value))
    out = np.asarray(outputs, dtype=float)
    tables = {}
    for order, r in rows.items():
        tables[order] = NBodyTable(
            order=order,
            molecule=np.array([x[0] for x in r], dtype=int),
            numbers=np.array([x[1] for x in r], dtype=int).reshape(len(r), order),
            distance=np.array([x[2] for x in r], dtype=float),
            relevance=np.array([x[3] for x in r], dtype=float),
            output=out,
            total_abs=total_abs,
        )
    return tables


