"""Relevant walks (GNN-LRP): all-walk relevances, fast and exact, and the brute-force reference.

A walk ``(w0, ..., wT)`` runs along the model's cutoff graph, staying put allowed. Its relevance is
gradient x input at the embedding of ``w0`` when, after the embedding and after each step ``t``, the
gradient may flow only through atom ``w_t`` (book chapter 03, "From atoms to walks"). :func:`walks_bruteforce` computes
exactly that, one masked forward and backward pass per walk (the reference). Masking only selects
blocks of the step Jacobians (:mod:`xailib.lrp.linear`), ``R[w0..wT] = h0[w0] . J_1[w0->w1] ... J_T[w_{T-1}->wT] . g[wT]``, so
:func:`walk_relevances` gets all ``N^(T+1)`` walks at once: it pushes ``h0`` forward through the first
steps with batched Jacobian-vector products (one tangent per walk prefix), pulls ``g = dy/dh_T`` back
through the last steps with batched vector-Jacobian products (one cotangent per walk suffix), and
contracts where they meet. No full ``(N d) x (N d)`` Jacobian is ever built.

Bias terms (:mod:`xailib.lrp.bias`) come with the walks: the constant ``k_t`` of step ``t`` starts a
suffix ``(a, w_{t+1}, ..., w_T)``, computed from the same pulled suffix cotangents, so that
``walks + bias terms = rule_output`` (``= output`` for ``gi``).

The explained quantity is the model output *before* schnetpack post-processing (atomrefs, mean
offsets and scaling added by ``AddOffsets``/``ScaleProperty`` are not explained).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from xailib.base.errors import XailibError
from xailib.lrp.adapters import ModelSteps
from xailib.lrp.bias import bias_atom_terms, bias_tensors
from xailib.lrp.engine import input_gradient, keep_row_gradient, prepared, pull_suffixes, push_prefixes
from xailib.lrp.nbody import nbody_from_walks

#: Largest walk tensor (number of entries) that :func:`walk_relevances` builds.
MAX_WALKS = 50_000_000


class TooManyWalksError(XailibError, ValueError):
    """The walk tensor N^(T+1) would be too large to build."""


@dataclass
class WalkRelevances:
    """All walk relevances of one structure, with the bias terms that complete them to the output.

    Attributes
    ----------
    R
        float64 array of shape ``(N,) * (T + 1)``, ``R[w0, ..., wT]``; walks that leave the cutoff
        graph are exactly 0.
    output
        The model's own output (``target``) before post-processing, without any rule.
    total
        Sum of all walks, equal to ``h0 . dy~/dh0`` (gradient x input of the rule-modified model).
    rule_output
        The forward value of the rule-modified model (equals ``output`` for ``gi``; the gamma rule
        may change it slightly).
    atoms
        The explained structure.
    bias
        Bias-suffix relevances, ``bias[t - 1]`` of shape ``(N,) * (T - t + 1)`` for steps ``t = 1..T``:
        ``bias[t-1][a, w_{t+1}, ..., w_T]`` is the relevance of the constant ``k_t[a]`` of step ``t``
        flowing along that suffix (:mod:`xailib.lrp.bias`).
    head_bias
        ``(N,)``: the output head's constant per atom (a 1-body term).
    composite
        Which layers got the rule (:mod:`xailib.lrp.composites`).

    ``total + bias_total = conserved_total`` equals ``rule_output`` to round-off (and ``output`` for
    ``gi``); ``residual = output - conserved_total`` is the rule's change of the forward value.
    """

    R: np.ndarray
    output: float
    total: float
    rule_output: float
    atoms: object
    rule: str
    gamma: float
    target: str
    adjacency: np.ndarray = field(repr=False)
    bias: list[np.ndarray] = field(default_factory=list, repr=False)
    head_bias: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    composite: str = "features"

    @property
    def n_steps(self) -> int:
        return self.R.ndim - 1

    @property
    def bias_total(self) -> float:
        """Sum of all bias terms (every bias suffix and the head constants)."""
        return float(sum(b.sum() for b in self.bias) + self.head_bias.sum())

    @property
    def conserved_total(self) -> float:
        """``total + bias_total``: equals ``rule_output`` (and ``output`` for ``gi``) to round-off."""
        return self.total + self.bias_total

    @property
    def residual(self) -> float:
        """``output - conserved_total``: 0 for ``gi``; the gamma rule's change of the forward value."""
        return self.output - self.conserved_total

    def top_walks(self, k: int = 10, *, by_abs: bool = True) -> list[tuple[tuple[int, ...], float]]:
        """The ``k`` walks of largest relevance (largest ``|R|`` when ``by_abs``), best first."""
        flat = self.R.ravel()
        key = np.abs(flat) if by_abs else flat
        k = min(int(k), flat.size)
        idx = np.argpartition(-key, k - 1)[:k] if k < flat.size else np.arange(flat.size)
        idx = idx[np.argsort(-key[idx], kind="stable")]
        return [(tuple(int(i) for i in np.unravel_index(j, self.R.shape)), float(flat[j])) for j in idx]

    def atom_relevances(self, *, bias: bool = True) -> np.ndarray:
        """Relevance per atom: walks summed over all but their first atom, plus (``bias=True``) every bias
        suffix summed over all but *its* first atom and the head constants. Sums to ``conserved_total``
        (``total`` with ``bias=False``)."""
        out = self.R.reshape(self.R.shape[0], -1).sum(axis=1)
        if bias:
            out = out + self.head_bias + sum(b.reshape(b.shape[0], -1).sum(axis=1) for b in self.bias)
        return out

    def nbody(self, max_order: int = 3):
        """Exact-set n-body terms aggregated from the walk tensor and the bias suffixes, each counted for
        the set of atoms it visits (see :mod:`xailib.lrp.nbody`)."""
        return nbody_from_walks(self.R, max_order, bias=self.bias, head_bias=self.head_bias)


def all_walks(st: ModelSteps, *, with_bias: bool = False):
    """All walk relevances ``(N,) * (T + 1)`` by forward JVPs and backward VJPs meeting in the middle.

    With ``with_bias``: ``(R, bias, head_bias)``, the bias suffixes of :func:`xailib.lrp.bias.bias_tensors`
    from the same pulled suffixes and the head constants.
    """
    n, d, t_max = st.n_atoms, st.h0.shape[1], st.n_steps
    if n ** (t_max + 1) > MAX_WALKS:
        raise TooManyWalksError(f"{n} atoms and {t_max} interactions give {n}^{t_max + 1} walks, more "
                                f"than {MAX_WALKS:.0e}; use nbody_relevances for n-body terms instead")
    meet = (t_max + 1) // 2
    prefix = push_prefixes(st, st.h0, 0, meet)  # row p: vector at the last atom of prefix p (w0..w_meet)
    suffixes = pull_suffixes(st, meet)  # level t, row s: vector at the first atom of suffix s (w_t..w_T)
    R = torch.einsum("amd,mbd->amb", prefix.reshape(-1, n, d), suffixes[meet].reshape(n, -1, d))
    R = R.reshape((n,) * (t_max + 1))
    if not with_bias:
        return R
    return R, bias_tensors(st, suffixes, meet), st.head_constants()


def walk_relevances(model: nn.Module, atoms, *, rule: str = "gi", gamma: float = 0.1,
                    target: str | None = None, composite: str = "features") -> WalkRelevances:
    """Exact relevances of all walks of ``atoms`` through ``model`` (fast; see the module docstring).

    Parameters
    ----------
    model
        A schnetpack ``NeuralNetworkPotential`` with a SchNet or PaiNN representation (any dtype;
        the computation runs on a float64 copy).
    atoms
        The structure, an ``ase.Atoms``; neighbours within the representation's cutoff.
    rule, gamma
        LRP rule ``"gi"`` or ``"gamma"`` (see :mod:`xailib.lrp.rules`).
    target
        Output key of an ``Atomwise`` head (default: the model's first one). The output explained is
        the value *before* schnetpack post-processing.
    composite
        ``"features"`` (default) or ``"reference"``: which layers get the rule
        (:mod:`xailib.lrp.composites`; ``UnknownCompositeError`` otherwise, before any work).

    Returns
    -------
    WalkRelevances
        ``.R`` of shape ``(N,) * (T + 1)``, ``.bias``, ``.head_bias``, ``.output``, ``.total``,
        ``.conserved_total``, ``.atoms``, ``.top_walks(k)``.

    Raises
    ------
    MalformedStructureError, UnsupportedElementError
        Before any work, for a structure the model cannot compute (not an ``ase.Atoms``, no atoms,
        NaN/inf coordinates, overlapping atoms, a NaN or degenerate periodic cell, an element the model
        was not trained on; :func:`xailib.lrp.adapters.check_structure`); the same holds for every
        function of :mod:`xailib.lrp`. Periodic structures are explained with their periodic images.
    """
    with prepared(model, atoms, rule=rule, gamma=gamma, target=target, composite=composite) as (st, output):
        R, bias, head_bias = all_walks(st, with_bias=True)
        total = float((st.h0 * input_gradient(st)).sum())
        rule_output = float(st.forward())
    return WalkRelevances(R.numpy(), output, total, rule_output, atoms.copy(), rule, float(gamma),
                          st.target, st.adjacency, [b.numpy() for b in bias], head_bias.numpy(), composite)


def bruteforce_walk(st: ModelSteps, walk: Sequence[int]) -> float:
    """Relevance of one walk by the masked definition: one forward and one backward pass."""
    h0 = st.h0.clone().requires_grad_(True)
    h = keep_row_gradient(h0, walk[0])
    for step, atom in zip(st.steps, walk[1:]):
        h = keep_row_gradient(step(h), atom)
    (grad,) = torch.autograd.grad(st.head(h), h0)
    return float((h0[walk[0]] * grad[walk[0]]).sum().detach())


def walks_bruteforce(model: nn.Module, atoms, walks, *, rule: str = "gi", gamma: float = 0.1,
                     target: str | None = None, composite: str = "features") -> np.ndarray:
    """Reference relevances of the given walks, one masked forward/backward pass per walk.

    Parameters
    ----------
    walks
        Integer array-like of shape ``(K, T + 1)``: atom indices of each walk in order.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(K,)``. Same conventions as :func:`walk_relevances`.
    """
    walks = np.asarray(walks)
    if walks.ndim == 1:
        walks = walks[None]
    with prepared(model, atoms, rule=rule, gamma=gamma, target=target, composite=composite) as (st, _):
        n, t_max = st.n_atoms, st.n_steps
        if walks.ndim != 2 or walks.shape[1] != t_max + 1 or not np.issubdtype(walks.dtype, np.integer):
            raise ValueError(f"walks must be integers of shape (K, {t_max + 1}) for a model with "
                             f"{t_max} interactions, got shape {walks.shape} and dtype {walks.dtype}")
        if walks.size and (walks.min() < 0 or walks.max() >= n):
            raise IndexError(f"walk atom indices must lie in 0..{n - 1} for {n} atoms")
        rows = tqdm(walks, desc="brute-force walks", disable=len(walks) < 2000)
        return np.array([bruteforce_walk(st, [int(a) for a in w]) for w in rows], dtype=np.float64)


def atom_relevances(model: nn.Module, atoms, *, rule: str = "gi", gamma: float = 0.1,
                    target: str | None = None, composite: str = "features", bias: bool = True) -> np.ndarray:
    """Relevance per atom, shape ``(N,)``: ``h0[i] . dy~/dh0[i]`` plus (``bias=True``) the bias terms.

    Walk part: the walk tensor summed over all but the first atom (standard first-order LRP). Bias part:
    every bias suffix counted for its first atom, ``sum_t k_t[i] . dy~/dh_t[i]``, and the head
    constant of atom ``i`` (:mod:`xailib.lrp.bias`). With ``bias=True`` the atoms sum to
    ``rule_output`` (the output for ``gi``); with ``bias=False`` to the walk total. A few backward
    passes, so it works for any depth. Output before schnetpack post-processing.
    """
    with prepared(model, atoms, rule=rule, gamma=gamma, target=target, composite=composite) as (st, _):
        out = (st.h0 * input_gradient(st)).sum(dim=1)
        return (out + bias_atom_terms(st)).numpy() if bias else out.numpy()
