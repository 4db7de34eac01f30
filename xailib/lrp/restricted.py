"""Restricted subgraph passes: ``R_sub(S)`` from the Jacobian blocks between the atoms of ``S`` only.

A subgraph pass (:mod:`xailib.lrp.nbody`) pulls ``g = dy/dh_T`` back through every step with all rows
outside ``S`` set to zero after each step. Every step's Jacobian is known in factored form at the
operating point of the full forward pass (:class:`xailib.lrp.linear.LinearStep`:
``J u = Mix (u + Post message(C, Pre u))``), so the rows of ``S`` after a step depend only on

- the per-atom blocks ``Mix[a]``, ``Post[a]``, ``Pre[a]`` of the atoms ``a`` of ``S``, and
- the edge filters ``C[:, a, b]`` between atoms of ``S`` (the edge blocks of the Jacobian).

Every step shares the cutoff graph, so the edges inside each set are looked up once per chunk of sets.

A pass for ``S`` therefore costs ``O(|S|)`` per-atom products and ``O(|S|^2)`` filter products, not a
pass of the whole model. All sets of one size are processed together: the cotangents of every set are
rows of one matrix sorted by atom, the per-atom blocks are applied atom by atom to all rows that belong
to that atom (one matrix product per atom and factor), and the messages run over the edges inside the
sets only. The numbers are
those of the masked full pass (:func:`xailib.lrp.nbody.masked_subgraph_relevances`, the reference in the
tests) up to round-off, for any rule whose modified network is linear at its operating point (``gi``,
``gamma``), bias terms included.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch
from tqdm import tqdm

from xailib.lrp.adapters import ModelSteps
from xailib.lrp.engine import head_gradient
from xailib.lrp.linear import EdgeFilters, LinearStep, rows_apply_t
from xailib.lrp.memory import MAX_PASS_BYTES


class _Chunk:
    """Sets of ``k`` atoms (``idx``, shape ``(M, k)``) laid out as rows sorted by atom.

    Row ``r`` holds the cotangent of one atom of one set; rows of the same atom are contiguous, so a
    per-atom matrix is applied to all of them in one product (:meth:`apply_t`). ``src``, ``dst``,
    ``pair``: for every ordered pair of atoms ``(a, b)`` of a set joined by an edge ``a <- b`` of the
    cutoff graph, the rows of ``a`` and ``b`` and the pair's index in the step filters.
    """

    def __init__(self, idx: torch.Tensor, filters: EdgeFilters):
        m_sets, k = idx.shape
        rows = idx.reshape(-1)
        order = torch.argsort(rows, stable=True)
        self.atom = rows[order]  # atom of each (sorted) row
        self.set = order // k  # set of each row
        position = torch.empty_like(order)
        position[order] = torch.arange(order.numel())
        atoms, counts = torch.unique_consecutive(self.atom, return_counts=True)
        self.atoms, self.counts, self.n_sets = atoms.tolist(), counts.tolist(), m_sets
        keys = filters.keys
        wanted = (idx[:, :, None] * filters.n + idx[:, None, :]).reshape(-1)  # (m, a, b) flattened
        pos = torch.searchsorted(keys, wanted).clamp(max=max(keys.numel() - 1, 0))
        hit = torch.nonzero(keys[pos] == wanted).flatten() if keys.numel() else torch.zeros(0, dtype=torch.long)
        m, a, b = hit // (k * k), (hit // k) % k, hit % k
        self.src, self.dst, self.pair = position[m * k + a], position[m * k + b], pos[hit]

    def apply_t(self, a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``out[r] = a[atom of row r].T @ v[r]`` for ``a`` of shape ``(N, o, i)`` and ``v`` of shape ``(R, o)``.

        One matrix product when ``a`` is the same matrix for every atom (a plain linear layer, stored
        expanded with stride 0), else one per atom.
        """
        if a.stride(0) == 0:
            return v @ a[0]
        return torch.cat([part @ a[atom] for part, atom in zip(torch.split(v, self.counts), self.atoms)])

    def per_set(self, values: torch.Tensor) -> torch.Tensor:
        """Sum of row values ``(R,)`` over the rows of each set: ``(M,)``."""
        return values.new_zeros(self.n_sets).index_add_(0, self.set, values)


def _pull(lin: LinearStep, p: torch.Tensor, chunk: _Chunk) -> torch.Tensor:
    """``J^T p`` on the rows of each set, for cotangents ``p`` (rows ``(R, d)``) supported on the sets."""
    w = p if lin.mix is None else chunk.apply_t(lin.mix, p)
    return _pull_message(lin, w, w if lin.post is None else chunk.apply_t(lin.post, w), chunk)


def _pull_message(lin: LinearStep, w: torch.Tensor, m: torch.Tensor, chunk: _Chunk) -> torch.Tensor:
    """The rest of :func:`_pull` from ``w = Mix^T p`` and ``m = Post^T w``: messages inside the sets, then ``Pre^T``."""
    msg = torch.zeros_like(m).index_add_(0, chunk.dst, m[chunk.src] * lin.filters.w[chunk.pair])
    return w + chunk.apply_t(lin.pre, msg)


def set_bytes(st: ModelSteps, k: int) -> int:
    """Bytes of work buffers one set of ``k`` atoms needs in a restricted pass (float64)."""
    d = st.h0.shape[1]
    f = st.linear[0].pre.shape[1]
    return 8 * (k * k * f * 2 + k * (6 * d + 3 * f))


def chunk_sets(st: ModelSteps, k: int, budget: int = MAX_PASS_BYTES) -> int:
    """How many sets of ``k`` atoms go through one restricted pass together within ``budget`` bytes."""
    return max(1, budget // set_bytes(st, k))


def restricted_relevances(st: ModelSteps, subsets: Sequence[Sequence[int]], *, budget: int = MAX_PASS_BYTES,
                          progress: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``R_sub(S)`` for each set, walks and bias terms apart (same result as the masked full pass).

    Sets are grouped by size and processed in chunks whose work buffers stay within ``budget`` bytes
    (:func:`chunk_sets`). Per chunk and step: the bias terms ``k_t . p_t`` on the rows of the sets, then
    ``p_{t-1} = (J_t^T p_t)`` restricted to the rows of each set. Walks give ``h0 . p_0``; bias terms also
    get the head constants of the atoms of the set.
    """
    g, constants, head_constants = head_gradient(st), st.step_constants(), st.head_constants()
    # the last step starts from g on every atom of a set: its per-atom products are done once per atom
    last = st.linear[-1]
    w_first = g if last.mix is None else rows_apply_t(last.mix, g[None])[0]
    m_first = w_first if last.post is None else rows_apply_t(last.post, w_first[None])[0]
    b_first = head_constants + (g * constants[-1]).sum(dim=1)
    walks, bias = np.empty(len(subsets)), np.empty(len(subsets))
    by_size: dict[int, list[int]] = defaultdict(list)
    for position, s in enumerate(subsets):
        by_size[len(s)].append(position)
    jobs = [(k, positions[start:start + chunk_sets(st, k, budget)])
            for k, positions in sorted(by_size.items())
            for start in range(0, len(positions), chunk_sets(st, k, budget))]
    show = len(jobs) > 4 if progress is None else progress
    for k, positions in tqdm(jobs, desc="restricted passes", disable=not show):
        idx = torch.from_numpy(np.array([subsets[p] for p in positions], dtype=np.int64).reshape(len(positions), k))
        chunk = _Chunk(idx, st.linear[0].filters)
        b = b_first[chunk.atom]
        p = _pull_message(last, w_first[chunk.atom], m_first[chunk.atom], chunk)
        for lin, const in zip(reversed(st.linear[:-1]), reversed(constants[:-1])):
            b = b + (p * const[chunk.atom]).sum(dim=1)
            p = _pull(lin, p, chunk)
        walks[positions] = chunk.per_set((p * st.h0[chunk.atom]).sum(dim=1)).numpy()
        bias[positions] = chunk.per_set(b).numpy()
    return walks, bias
