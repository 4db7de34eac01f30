"""Locality of an explanation: how concentrated the relevance is on a few atoms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import nn


def locality(atom_relevance: Sequence[float] | np.ndarray, *, k: int = 3) -> dict[str, float]:
    """How concentrated a molecule's relevance is on few atoms.

    Returns the share of absolute relevance on the top-``k`` atoms, the Shannon entropy of the
    normalised absolute relevances, and that entropy divided by ``log(N)`` (1 = spread evenly,
    0 = all on one atom).
    """
    r = np.abs(np.asarray(atom_relevance, dtype=float))
    if r.ndim != 1 or len(r) == 0:
        raise ValueError("atom_relevance must be a non-empty 1-D array")
    if k < 1:
        raise ValueError("k must be at least 1")
    total = r.sum()
    if total == 0:
        raise ValueError("all atom relevances are zero; locality is undefined")
    p = r / total
    entropy = float(-np.sum(p[p > 0] * np.log(p[p > 0])))
    norm = entropy / np.log(len(r)) if len(r) > 1 else 0.0
    return {"top_k_share": float(np.sort(p)[::-1][:k].sum()), "entropy": entropy, "normalised_entropy": float(norm)}


def atom_relevance_parts(model: nn.Module, atoms, *, rule: str = "gi", gamma: float = 0.1, target: str | None = None,
                         composite: str = "features") -> dict[str, np.ndarray]:
    """Atom relevances split into their walk and bias parts, from one rule-modified pass.

    ``"walks"`` equals :func:`xailib.lrp.atom_relevances` with ``bias=False`` (``h0[i] . dy~/dh0[i]``, the
    relevance entering through the atom embeddings), ``"bias"`` the bias terms counted for the first atom
    of their suffix (head constants included); ``walks + bias`` is ``atom_relevances(..., bias=True)`` and
    sums to the rule output (the model output for ``gi``). Half the cost of calling
    :func:`~xailib.lrp.atom_relevances` twice. Arguments as there.
    """
    from xailib.lrp.bias import bias_atom_terms
    from xailib.lrp.engine import input_gradient, prepared

    with prepared(model, atoms, rule=rule, gamma=gamma, target=target, composite=composite) as (st, _):
        walks = (st.h0 * input_gradient(st)).sum(dim=1)
        bias = bias_atom_terms(st)
    return {"walks": walks.detach().numpy(), "bias": bias.detach().numpy()}
