"""Exact n-body relevances from subgraph passes and Moebius inversion, without enumerating walks.

``R_sub(S)``, the relevance of all walks that stay inside the atom set ``S``, is one pass with every
atom of ``S`` unmasked at every step: push ``h0`` restricted to ``S`` forward through the steps
(JVPs), keep only the rows of ``S`` after each step, and dot with ``g = dy/dh_T`` on ``S``. All subsets
go through the model together as one batch of tangents. The exact-set term (walks whose set of
visited atoms is exactly ``S``) follows by Moebius inversion,
``R_exact(S) = sum over S' subset of S of (-1)^(|S|-|S'|) R_sub(S')``. The part of the total not in
terms up to ``max_order`` is the higher-order remainder.

Walks visit connected sets of the cutoff graph only, so terms of disconnected sets are exactly 0
and are not listed; ``R_sub`` of a disconnected set is the sum over its connected components.
Explained output: before schnetpack post-processing (see :mod:`xailib.lrp.walks`).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from xailib.lrp.adapters import ModelSteps
from xailib.lrp.engine import CHUNK_BYTES, head_gradient, input_gradient, prepared

Subset = tuple[int, ...]


@dataclass
class NBodyRelevances:
    """Exact-set n-body relevance terms of one structure.

    Attributes
    ----------
    terms
        ``{sorted atom-index tuple: relevance}`` for every connected set of 1..``max_order`` atoms.
    remainder
        Higher-order remainder: ``total`` minus all listed terms (walks visiting more atoms).
    total
        Sum of all walks (``h0 . dy~/dh0``).
    output
        The model's own output before post-processing, without rule.
    """

    terms: dict[Subset, float]
    remainder: float
    total: float
    output: float
    atoms: object
    max_order: int
    rule: str
    gamma: float
    target: str

    def order(self, k: int) -> dict[Subset, float]:
        """Terms of exactly ``k`` atoms."""
        return {s: r for s, r in self.terms.items() if len(s) == k}

    def order_sums(self) -> dict[int | str, float]:
        """Summed relevance per order ``1..max_order`` and ``"higher"`` (adds up to ``total``)."""
        sums: dict[int | str, float] = {k: 0.0 for k in range(1, self.max_order + 1)}
        for s, r in self.terms.items():
            sums[len(s)] += r
        sums["higher"] = self.remainder
        return sums

    def top(self, k: int = 10, *, order: int | None = 2) -> list[tuple[Subset, float]]:
        """The ``k`` terms of largest ``|R|`` (of one order, or of all with ``order=None``)."""
        items = self.terms.items() if order is None else self.order(order).items()
        return sorted(items, key=lambda kv: -abs(kv[1]))[:k]

    def __getitem__(self, subset: Subset) -> float:
        """Term of a set of atoms (any order of indices); 0 for a disconnected set."""
        key = tuple(sorted(int(i) for i in subset))
        if not 1 <= len(key) <= self.max_order:
            raise KeyError(f"only sets of 1..{self.max_order} atoms are computed, got {key}")
        return self.terms.get(key, 0.0)


def connected_subsets(adjacency: np.ndarray, max_order: int) -> list[Subset]:
    """All sets of 1..``max_order`` atoms that are connected in the graph, as sorted tuples."""
    n = adjacency.shape[0]
    neighbours = [set(np.flatnonzero(adjacency[i])) - {i} for i in range(n)]
    level = {(i,) for i in range(n)}
    found = sorted(level)
    for _ in range(1, max_order):
        level = {tuple(sorted(s + (j,))) for s in level for i in s for j in neighbours[i] if j not in s}
        found += sorted(level)
    return found


def _components(subset: Subset, adjacency: np.ndarray) -> list[Subset]:
    left, parts = set(subset), []
    while left:
        stack, part = [left.pop()], set()
        while stack:
            i = stack.pop()
            part.add(i)
            new = {j for j in left if adjacency[i, j]}
            left -= new
            stack += list(new)
        parts.append(tuple(sorted(part)))
    return parts


def subgraph_relevances(st: ModelSteps, subsets: list[Subset]) -> np.ndarray:
    """``R_sub(S)`` for each set: relevance of all walks that stay inside ``S`` (one batched pass)."""
    n, d = st.h0.shape
    masks = torch.zeros((len(subsets), n), dtype=st.h0.dtype)
    for b, s in enumerate(subsets):
        masks[b, list(s)] = 1.0
    g = head_gradient(st)
    out = np.empty(len(subsets))
    size = max(1, CHUNK_BYTES // (8 * n * d))
    for start in tqdm(range(0, len(subsets), size), desc="subgraph passes", disable=len(subsets) <= size):
        m = masks[start:start + size, :, None]
        u = st.h0 * m
        for lin in st.linear:
            u = lin.push(u) * m
        out[start:start + size] = (u * g).sum(dim=(1, 2)).numpy()
    return out


def moebius(rsub: dict[Subset, float], subsets: list[Subset], adjacency: np.ndarray) -> dict[Subset, float]:
    """Exact-set terms by Moebius inversion of subgraph relevances (``R_sub`` of the empty set is 0)."""
    cache: dict[Subset, float] = dict(rsub)

    def r_sub(s: Subset) -> float:
        if s not in cache:
            cache[s] = sum(rsub[c] for c in _components(s, adjacency))
        return cache[s]

    terms = {}
    for s in subsets:
        k = len(s)
        terms[s] = sum((-1) ** (k - j) * r_sub(sub) for j in range(1, k + 1)
                       for sub in itertools.combinations(s, j))
    return terms


def nbody_relevances(model: nn.Module, atoms, *, max_order: int = 3, rule: str = "gi",
                     gamma: float = 0.1, target: str | None = None) -> NBodyRelevances:
    """Exact 1- to ``max_order``-body relevances and the higher-order remainder.

    Computed by subgraph passes and Moebius inversion (module docstring), never by enumerating
    walks, so it works for deep models (e.g. 6 interactions). Same arguments as
    :func:`xailib.lrp.walk_relevances`; the explained output is before schnetpack post-processing.
    """
    if not isinstance(max_order, int) or max_order < 1:
        raise ValueError(f"max_order must be a positive integer, got {max_order!r}")
    with prepared(model, atoms, rule=rule, gamma=gamma, target=target) as (st, output):
        subsets = connected_subsets(st.adjacency, max_order)
        rsub = dict(zip(subsets, subgraph_relevances(st, subsets).tolist()))
        total = float((st.h0 * input_gradient(st)).sum())
    terms = moebius(rsub, subsets, st.adjacency)
    remainder = total - float(sum(terms.values()))
    return NBodyRelevances(terms, remainder, total, output, atoms.copy(), max_order, rule, float(gamma),
                           st.target)


def nbody_from_walks(R: np.ndarray, max_order: int = 3) -> NBodyRelevances:
    """Exact-set terms aggregated from a walk tensor: each walk counted for its set of visited atoms.

    The reference for :func:`nbody_relevances` (needs the full walk tensor, so small models only).
    Returns an :class:`NBodyRelevances` whose metadata fields other than the terms are placeholders
    (``output`` is NaN).
    """
    sums: dict[Subset, float] = defaultdict(float)
    shape = R.shape
    for flat in np.flatnonzero(R):
        walk = np.unravel_index(flat, shape)
        sums[tuple(sorted({int(i) for i in walk}))] += float(R.flat[flat])
    total = float(R.sum())
    terms = {s: r for s, r in sums.items() if len(s) <= max_order}
    return NBodyRelevances(terms, total - sum(terms.values()), total, float("nan"), None, max_order,
                           "", float("nan"), "")
