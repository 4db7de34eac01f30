"""Locality of an explanation: how concentrated the relevance is on a few atoms.

:func:`locality` measures one relevance vector, :func:`locality_metrics` adds the excess of the top-k share
over an even spread, and :func:`molecule_locality` computes both forms of a model's atom relevances
(:func:`atom_relevance_parts`: complete and walk part) for one structure per molecule and their metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

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


def locality_metrics(atom_relevance: Sequence[float] | np.ndarray, *, k: int = 3) -> dict[str, float]:
    """:func:`locality` plus ``top{k}_excess``: the top-``k`` share minus ``k / N``, its value for relevance
    spread evenly over the ``N`` atoms (0 for an even spread)."""
    metrics = locality(atom_relevance, k=k)
    metrics[f"top{k}_excess"] = metrics["top_k_share"] - k / len(atom_relevance)
    return metrics


class MoleculeLocality(NamedTuple):
    """Result of :func:`molecule_locality`."""

    #: ``(rule, form, metric) -> {molecule: value}``, metrics of :func:`locality_metrics`.
    values: dict
    #: ``(rule, form, molecule) -> atom relevances``.
    relevances: dict
    #: Largest ``|sum of complete atom relevances - expected total|`` (0 without ``check``).
    max_sum_deviation: float


def molecule_locality(model: nn.Module, structures: Sequence, molecules: Sequence[str], rules: Mapping[str, str], *,
                      k: int = 3, check: Mapping[str, Sequence[float]] | None = None) -> MoleculeLocality:
    """Locality of one model's atom relevances, one structure per molecule, per rule and form.

    For every rule (``rules``: rule -> composite, as in :func:`atom_relevance_parts`) and structure, the
    atom relevances in two forms, ``"complete"`` (walks + bias) and ``"walks"``, and their
    :func:`locality_metrics`. ``check`` (rule -> expected total per structure, e.g. the rule output) also
    measures how far the complete relevances miss their total.
    """
    if len(structures) != len(molecules):
        raise ValueError(f"{len(structures)} structures for {len(molecules)} molecules")
    values, rels, dev = {}, {}, 0.0
    for rule, composite in rules.items():
        for i, (atoms, mol) in enumerate(zip(structures, molecules)):
            parts = atom_relevance_parts(model, atoms, rule=rule, composite=composite)
            complete = parts["walks"] + parts["bias"]
            if check is not None:
                dev = max(dev, abs(complete.sum() - check[rule][i]))
            for form, rel in (("complete", complete), ("walks", parts["walks"])):
                rels[rule, form, mol] = rel
                for metric, v in locality_metrics(rel, k=k).items():
                    values.setdefault((rule, form, metric), {})[mol] = v
    return MoleculeLocality(values, rels, dev)


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
