"""Exact n-body relevances from subgraph passes and Moebius inversion, without enumerating walks.

``R_sub(S)``, the relevance of all walks that stay inside the atom set ``S``, is one pass with every
atom of ``S`` unmasked at every step: push ``h0`` restricted to ``S`` forward through the steps
(JVPs), keep only the rows of ``S`` after each step, and dot with ``g = dy/dh_T`` on ``S``. All subsets
go through the model together as one batch of tangents. The exact-set term (walks whose set of
visited atoms is exactly ``S``) follows by Moebius inversion,
``R_exact(S) = sum over S' subset of S of (-1)^(|S|-|S'|) R_sub(S')``. The part of the total not in
terms up to ``max_order`` is the higher-order remainder.

Bias terms (:mod:`xailib.lrp.bias`) are decomposed the same way: a bias suffix belongs to the set of
atoms it visits, the head constant of atom ``a`` to ``{a}``. In the subgraph pass, the constants enter
as ``u_t = (J_t u_{t-1} + k_t) * mask`` and the head constants of ``S`` are added. The pass is run
backwards (masked VJPs of ``g``), so one pass gives the walk part (``h0 . p_0``) and the bias part
(``sum_t k_t . p_t``) separately. Walk terms, bias terms and their sum each add up, with their own
remainder, to their own total; walks + bias add up to ``rule_output`` (the output for ``gi``).

Walks visit connected sets of the cutoff graph only, so terms of disconnected sets are exactly 0
and are not listed; ``R_sub`` of a disconnected set is the sum over its connected components.
Explained output: before schnetpack post-processing (see :mod:`xailib.lrp.walks`).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from xailib.lrp.adapters import ModelSteps
from xailib.lrp.bias import bias_atom_terms
from xailib.lrp.engine import CHUNK_BYTES, head_gradient, input_gradient, prepared
from xailib.lrp.memory import MAX_PASS_BYTES, check_memory, estimate_nbody_memory, parse_limit

Subset = tuple[int, ...]


#: Which relevance a term dict holds: walk terms, bias terms, or their sum.
PARTS = ("walks", "bias", "combined")


@dataclass
class NBodyRelevances:
    """Exact-set n-body relevance terms of one structure: walks, bias terms and their sum.

    Attributes
    ----------
    terms
        Walk terms ``{sorted atom-index tuple: relevance}`` for every connected set of 1..``max_order``
        atoms (walks whose visited set is exactly that set).
    remainder
        Walk remainder: ``total`` minus all walk terms (walks visiting more than ``max_order`` atoms).
    total
        Sum of all walks (``h0 . dy~/dh0``).
    output
        The model's own output before post-processing, without rule.
    bias_terms
        Bias terms on the same keys: bias suffixes whose visited set is exactly that set, head constants
        in the 1-body terms (:mod:`xailib.lrp.bias`).
    bias_remainder, bias_total
        The same for the bias terms: ``bias_total`` is the sum of all bias terms.
    rule_output
        Forward value of the rule-modified model (``output`` for ``gi``).
    composite
        Which layers got the rule (:mod:`xailib.lrp.composites`).

    ``terms`` + ``remainder`` = ``total`` (walks), ``bias_terms`` + ``bias_remainder`` = ``bias_total``,
    and :meth:`combined_terms` + ``conserved_remainder`` = ``conserved_total`` = ``total + bias_total``,
    which equals ``rule_output`` to round-off; ``residual = output - conserved_total``.
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
    bias_terms: dict[Subset, float] = field(default_factory=dict)
    bias_remainder: float = 0.0
    bias_total: float = 0.0
    rule_output: float = float("nan")
    composite: str = "features"

    @property
    def conserved_total(self) -> float:
        """``total + bias_total``: equals ``rule_output`` (the output for ``gi``) to round-off."""
        return self.total + self.bias_total

    @property
    def conserved_remainder(self) -> float:
        """Remainder of walks + bias: ``conserved_total`` minus all :meth:`combined_terms`."""
        return self.remainder + self.bias_remainder

    @property
    def residual(self) -> float:
        """``output - conserved_total``: 0 for ``gi``; the gamma rule's change of the forward value."""
        return self.output - self.conserved_total

    def combined_terms(self) -> dict[Subset, float]:
        """Walk + bias term of every set (the decomposition that adds up to ``conserved_total``)."""
        keys = self.terms.keys() | self.bias_terms.keys()
        return {s: self.terms.get(s, 0.0) + self.bias_terms.get(s, 0.0) for s in sorted(keys, key=lambda s: (len(s), s))}

    def part(self, part: str = "walks") -> tuple[dict[Subset, float], float]:
        """Terms and remainder of ``part``: ``"walks"``, ``"bias"`` or ``"combined"``."""
        if part == "walks":
            return self.terms, self.remainder
        if part == "bias":
            return self.bias_terms, self.bias_remainder
        if part == "combined":
            return self.combined_terms(), self.conserved_remainder
        raise ValueError(f"unknown part {part!r}; choose one of {', '.join(PARTS)}")

    def order(self, k: int, *, part: str = "walks") -> dict[Subset, float]:
        """Terms of exactly ``k`` atoms (walk terms by default; see :meth:`part`)."""
        return {s: r for s, r in self.part(part)[0].items() if len(s) == k}

    def order_sums(self, part: str = "combined") -> dict[int | str, float]:
        """Summed relevance per order ``1..max_order`` and ``"higher"`` (the remainder).

        Default ``"combined"``: walks + bias terms, adding up to ``conserved_total`` (the output for
        ``gi``). ``"walks"`` adds up to ``total``, ``"bias"`` to ``bias_total``.
        """
        terms, remainder = self.part(part)
        sums: dict[int | str, float] = {k: 0.0 for k in range(1, self.max_order + 1)}
        for s, r in terms.items():
            sums[len(s)] += r
        sums["higher"] = remainder
        return sums

    def top(self, k: int = 10, *, order: int | None = 2, part: str = "walks") -> list[tuple[Subset, float]]:
        """The ``k`` terms of largest ``|R|`` (of one order, or of all with ``order=None``)."""
        items = self.part(part)[0].items() if order is None else self.order(order, part=part).items()
        return sorted(items, key=lambda kv: -abs(kv[1]))[:k]

    def __getitem__(self, subset: Subset) -> float:
        """Walk term of a set of atoms (any order of indices); 0 for a disconnected set."""
        key = tuple(sorted(int(i) for i in subset))
        if not 1 <= len(key) <= self.max_order:
            raise KeyError(f"only sets of 1..{self.max_order} atoms are computed, got {key}")
        return self.terms.get(key, 0.0)


def connected_subsets(adjacency: np.ndarray, max_order: int) -> list[Subset]:
    """All sets of 1..``max_order`` atoms that are connected in the graph, as sorted tuples (by size,
    then lexicographically)."""
    if max_order <= 3 and np.array_equal(adjacency, adjacency.T):
        return _connected_up_to_three(adjacency, max_order)
    n = adjacency.shape[0]
    neighbours = [set(np.flatnonzero(adjacency[i])) - {i} for i in range(n)]
    level = {(i,) for i in range(n)}
    found = sorted(level)
    for _ in range(1, max_order):
        level = {tuple(sorted(s + (j,))) for s in level for i in s for j in neighbours[i] if j not in s}
        found += sorted(level)
    return found


def _connected_up_to_three(adjacency: np.ndarray, max_order: int) -> list[Subset]:
    """:func:`connected_subsets` of a symmetric graph for at most 3 atoms, vectorised: a connected
    triple is two neighbours of a centre atom (a triangle is found from each of its atoms once)."""
    n = adjacency.shape[0]
    graph = adjacency.astype(bool).copy()
    np.fill_diagonal(graph, False)
    found: list[Subset] = [(i,) for i in range(n)]
    if max_order >= 2:
        found += list(map(tuple, np.argwhere(np.triu(graph)).tolist()))
    if max_order >= 3:
        triples = []
        for c in range(n):
            nb = np.flatnonzero(graph[c])
            a, b = np.triu_indices(len(nb), k=1)
            triples.append(np.stack([np.full(len(a), c), nb[a], nb[b]], axis=1))
        rows = np.sort(np.concatenate(triples), axis=1) if triples else np.zeros((0, 3), dtype=int)
        found += list(map(tuple, np.unique(rows, axis=0).tolist()))
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


#: How ``R_sub`` is computed: restricted passes on the rows of each set (default), or masked passes of
#: the whole model (the reference).
METHODS = ("restricted", "masked")


def subgraph_relevances(st: ModelSteps, subsets: list[Subset], method: str = "restricted",
                        budget: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``R_sub(S)`` for each set, walks and bias terms apart: the relevance of all walks (and all bias
    suffixes and head constants) that stay inside ``S``.

    ``method="restricted"`` (:func:`xailib.lrp.restricted.restricted_relevances`, work buffers within
    ``budget`` bytes) or ``"masked"`` (:func:`masked_subgraph_relevances`, the reference).
    """
    if method == "restricted":
        from xailib.lrp.restricted import restricted_relevances

        return restricted_relevances(st, subsets, budget=budget or MAX_PASS_BYTES)
    if method == "masked":
        return masked_subgraph_relevances(st, subsets)
    raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def masked_subgraph_relevances(st: ModelSteps, subsets: list[Subset]) -> tuple[np.ndarray, np.ndarray]:
    """``R_sub(S)`` by masked passes of the whole model (the reference for the restricted passes).

    One batched masked backward pass: ``p_T = g * m``, ``p_{t-1} = (J_t^T p_t) * m``; walks give
    ``h0 . p_0``, bias terms ``sum_t k_t . p_t + sum_(a in S) k_head[a]``; the same numbers as the forward
    pass ``u_t = (J_t u_{t-1} + k_t) * m`` dotted with ``g`` on ``S``.
    """
    n, d = st.h0.shape
    masks = torch.zeros((len(subsets), n), dtype=st.h0.dtype)
    for b, s in enumerate(subsets):
        masks[b, list(s)] = 1.0
    g, constants, head_constants = head_gradient(st), st.step_constants(), st.head_constants()
    walks, bias = np.empty(len(subsets)), np.empty(len(subsets))
    size = max(1, CHUNK_BYTES // (8 * n * d))
    for start in tqdm(range(0, len(subsets), size), desc="subgraph passes", disable=len(subsets) <= size):
        m = masks[start:start + size, :, None]
        p = g * m
        b = masks[start:start + size] @ head_constants
        for lin, k in zip(reversed(st.linear), reversed(constants)):
            b += (p * k).sum(dim=(1, 2))
            p = lin.pull(p) * m
        walks[start:start + size] = (p * st.h0).sum(dim=(1, 2)).numpy()
        bias[start:start + size] = b.numpy()
    return walks, bias


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


def moebius_arrays(values: np.ndarray, subsets: list[Subset], n_atoms: int) -> dict[Subset, float]:
    """:func:`moebius` for sets of 1..3 atoms, vectorised (every connected set listed, as from
    :func:`connected_subsets`): ``R_exact(ij) = R_sub(ij) - R_sub(i) - R_sub(j)`` and
    ``R_exact(ijl) = R_sub(ijl) - R_sub(ij) - R_sub(il) - R_sub(jl) + R_sub(i) + R_sub(j) + R_sub(l)``,
    where ``R_sub`` of a disconnected pair is the sum of its atoms'."""
    sizes = np.array([len(s) for s in subsets])
    if sizes.max(initial=1) > 3:
        raise ValueError("moebius_arrays handles sets of at most 3 atoms; use moebius")
    single = np.zeros(n_atoms)
    ones = np.flatnonzero(sizes == 1)
    single[[subsets[p][0] for p in ones]] = values[ones]
    exact = values.astype(np.float64).copy()
    twos, threes = np.flatnonzero(sizes == 2), np.flatnonzero(sizes == 3)
    pair_idx = np.array([subsets[p] for p in twos], dtype=np.int64).reshape(-1, 2)
    pair_keys = pair_idx[:, 0] * n_atoms + pair_idx[:, 1]  # sorted sets, so i < j
    order = np.argsort(pair_keys)
    pair_keys, pair_values = pair_keys[order], values[twos][order]
    exact[twos] -= single[pair_idx].sum(axis=1)

    def pair_sub(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        keys = i * n_atoms + j
        pos = np.searchsorted(pair_keys, keys).clip(max=max(len(pair_keys) - 1, 0))
        found = pair_keys[pos] == keys if len(pair_keys) else np.zeros(len(keys), dtype=bool)
        return np.where(found, pair_values[pos] if len(pair_keys) else 0.0, single[i] + single[j])

    if len(threes):
        t = np.array([subsets[p] for p in threes], dtype=np.int64)
        exact[threes] -= (pair_sub(t[:, 0], t[:, 1]) + pair_sub(t[:, 0], t[:, 2]) + pair_sub(t[:, 1], t[:, 2])
                          - single[t].sum(axis=1))
    return dict(zip(subsets, exact.tolist()))


def nbody_relevances(model: nn.Module, atoms, *, max_order: int = 3, rule: str = "gi",
                     gamma: float = 0.1, target: str | None = None, composite: str = "features",
                     method: str = "restricted", memory_limit: int | float | str | None = None) -> NBodyRelevances:
    """Exact 1- to ``max_order``-body relevances (walk and bias terms) and the higher-order remainders.

    Computed by subgraph passes and Moebius inversion (module docstring), never by enumerating
    walks, so it works for deep models (e.g. 6 interactions). Same arguments as
    :func:`xailib.lrp.walk_relevances`; the explained output is before schnetpack post-processing.
    ``method``: ``"restricted"`` passes on the rows of each set (:mod:`xailib.lrp.restricted`) or
    ``"masked"`` passes of the whole model (the slower reference); both give the same terms.

    The memory the computation needs is estimated before any work (:mod:`xailib.lrp.memory`);
    ``memory_limit`` (bytes, or a size such as ``"8GB"``; default 80 % of the memory available now)
    caps it: the restricted passes run in chunks that stay under it, and a computation whose fixed part
    does not fit raises :class:`~xailib.lrp.memory.MemoryLimitError` before any work.
    """
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
        raise ValueError(f"max_order must be a positive integer, got {max_order!r}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    parse_limit(memory_limit)  # a malformed limit fails here, before any work
    budget: dict[str, int] = {}

    def guard(model64: nn.Module, inputs: dict) -> None:
        estimate = estimate_nbody_memory(model64, atoms, max_order=max_order, method=method, inputs=inputs)
        budget["bytes"] = check_memory(estimate, memory_limit)

    with prepared(model, atoms, rule=rule, gamma=gamma, target=target, composite=composite,
                  check=guard) as (st, output):
        subsets = connected_subsets(st.adjacency, max_order)
        walk_sub, bias_sub = subgraph_relevances(st, subsets, method, budget=budget["bytes"])
        total = float((st.h0 * input_gradient(st)).sum())
        bias_total = float(bias_atom_terms(st).sum())
        rule_output = float(st.forward())
    if max_order <= 3:
        terms = moebius_arrays(walk_sub, subsets, st.n_atoms)
        bias_terms = moebius_arrays(bias_sub, subsets, st.n_atoms)
    else:
        terms = moebius(dict(zip(subsets, walk_sub.tolist())), subsets, st.adjacency)
        bias_terms = moebius(dict(zip(subsets, bias_sub.tolist())), subsets, st.adjacency)
    return NBodyRelevances(terms, total - float(sum(terms.values())), total, output, atoms.copy(), max_order,
                           rule, float(gamma), st.target, bias_terms, bias_total - float(sum(bias_terms.values())),
                           bias_total, rule_output, composite)


def _aggregate(tensor: np.ndarray, sums: dict[Subset, float]) -> None:
    shape = tensor.shape
    for flat in np.flatnonzero(tensor):
        walk = np.unravel_index(flat, shape)
        sums[tuple(sorted({int(i) for i in walk}))] += float(tensor.flat[flat])


def nbody_from_walks(R: np.ndarray, max_order: int = 3, *, bias: Sequence[np.ndarray] = (),
                     head_bias: np.ndarray | None = None) -> NBodyRelevances:
    """Exact-set terms aggregated from a walk tensor: each walk counted for its set of visited atoms.

    ``bias`` (bias-suffix tensors, :attr:`xailib.lrp.walks.WalkRelevances.bias`) and ``head_bias`` are
    aggregated the same way into ``bias_terms``. The reference for :func:`nbody_relevances` (needs the
    full walk tensor, so small models only). Returns an :class:`NBodyRelevances` whose metadata fields
    other than the terms and totals are placeholders (``output`` is NaN).
    """
    sums: dict[Subset, float] = defaultdict(float)
    _aggregate(R, sums)
    bias_sums: dict[Subset, float] = defaultdict(float)
    for tensor in list(bias) + ([] if head_bias is None else [np.asarray(head_bias)]):
        _aggregate(tensor, bias_sums)
    total = float(R.sum())
    bias_total = float(sum(b.sum() for b in bias) + (0.0 if head_bias is None else np.sum(head_bias)))
    terms = {s: r for s, r in sums.items() if len(s) <= max_order}
    bias_terms = {s: r for s, r in bias_sums.items() if len(s) <= max_order}
    return NBodyRelevances(terms, total - sum(terms.values()), total, float("nan"), None, max_order,
                           "", float("nan"), "", bias_terms, bias_total - sum(bias_terms.values()), bias_total)
