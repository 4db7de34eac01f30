"""One-call explanation of a structure (used by ``python -m xailib explain``): summary (output, walks,
bias terms, conservation residual), top walks and pairs, and saving the arrays to ``.npz`` or ``.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from xailib.base.errors import XailibError
from xailib.lrp.composites import check_composite
from xailib.lrp.nbody import NBodyRelevances, nbody_relevances
from xailib.lrp.rules import check_rule
from xailib.lrp.walks import MAX_WALKS, WalkRelevances, walk_relevances

#: Walk tensors up to this size are computed by ``explain`` (bigger models get n-body terms only).
EXPLAIN_MAX_WALKS = 20_000_000


class ExplainError(XailibError, ValueError):
    """An invalid argument of :func:`explain` or :meth:`Explanation.save` (``max_order``, output format)."""


@dataclass
class Explanation:
    """Walks (when affordable) and n-body terms of one structure."""

    walks: WalkRelevances | None
    nbody: NBodyRelevances

    def summary(self, top: int = 10) -> str:
        """Human-readable report: what is explained, how it splits into walks and bias terms, the
        conservation residual, relevance by order, top walks and top pairs.

        The explained value is the model output before schnetpack post-processing (offsets, casts).
        Walks + bias terms equal the forward value of the rule-modified model (``rule output``): the
        model output for ``gi``; the gamma rule changes the forward value by the reported residual.
        """
        nb = self.nbody
        atoms = nb.atoms
        sym = atoms.get_chemical_symbols()
        name = lambda idx: "-".join(f"{sym[i]}{i}" for i in idx)  # noqa: E731
        orders = "1" if nb.max_order == 1 else f"1- to {nb.max_order}"
        more = f"sets of more than {nb.max_order} atom{'s' if nb.max_order > 1 else ''}"
        rule = nb.rule + (f" (gamma={nb.gamma:g})" if nb.rule == "gamma" else "")
        residual_note = "" if nb.rule == "gi" else " (the rule's change of the forward value)"
        by_order = ", ".join(f"{k}: {v:+.6f}" for k, v in nb.order_sums().items())
        lines = [(f"structure: {atoms.get_chemical_formula()} ({len(atoms)} atoms); target {nb.target!r}; "
                  f"rule {rule}; composite {nb.composite}"),
                 f"output explained (model output before post-processing): {nb.output:+.6f}",
                 f"rule output (forward value under the rule):              {nb.rule_output:+.6f}",
                 f"walk sum (relevance of all walks):                       {nb.total:+.6f}",
                 f"bias sum (relevance of all bias terms):                  {nb.bias_total:+.6f}",
                 f"walks + bias (conserved total, = rule output):           {nb.conserved_total:+.6f}",
                 f"conservation residual output - (walks + bias):           {nb.residual:+.6f}{residual_note}",
                 (f"  walks = {orders}-body terms {nb.total - nb.remainder:+.6f} + remainder ({more}) "
                  f"{nb.remainder:+.6f}"),
                 (f"  bias  = {orders}-body terms {nb.bias_total - nb.bias_remainder:+.6f} + remainder "
                  f"{nb.bias_remainder:+.6f}"),
                 f"relevance by order (walks + bias): {by_order}"]
        if self.walks is None:
            lines.append("walks: not computed (walk tensor too large; n-body terms are exact)")
        else:
            walks = self.walks.top_walks(top)
            lines.append(f"top {top} walks (of {self.walks.R.size}):")
            lines += [f"  {name(w):<32s} {r:+.6f}" for w, r in walks]
            shown = float(sum(r for _, r in walks))
            lines.append(f"  sum of these {len(walks)} walks {shown:+.6f}; the other {self.walks.R.size - len(walks)} "
                         f"walks {nb.total - shown:+.6f}")
        if nb.max_order >= 2:
            pairs = nb.top(top, order=2, part="combined")
            lines.append(f"top {top} pairs (exact 2-body terms, walks + bias, of {len(nb.order(2))}):")
            lines += [f"  {name(p):<16s} {r:+.6f}  (walks {nb.terms.get(p, 0.0):+.6f}, bias "
                      f"{nb.bias_terms.get(p, 0.0):+.6f})" for p, r in pairs]
            shown = float(sum(r for _, r in pairs))
            lines.append(f"  sum of these {len(pairs)} pairs {shown:+.6f}; all other terms and remainders "
                         f"{nb.conserved_total - shown:+.6f}")
        return "\n".join(lines)

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything as numpy arrays.

        Keys: ``output``, ``rule_output``, ``total`` (walks), ``bias_total``, ``conserved_total``,
        ``residual``, ``remainder``, ``bias_remainder``, metadata (``rule``, ``gamma``, ``composite``,
        ``target``); per order ``k``: ``sets{k}``, ``relevances{k}`` (walk terms) and
        ``bias_relevances{k}`` (bias terms of the same sets); with walks: ``R``, ``bias{t}``
        (bias suffixes of step ``t``), ``head_bias`` and ``atom_relevances`` (bias included).
        """
        nb = self.nbody
        out: dict[str, np.ndarray] = {
            "numbers": nb.atoms.numbers, "positions": nb.atoms.positions,
            "output": np.float64(nb.output), "rule_output": np.float64(nb.rule_output),
            "total": np.float64(nb.total), "bias_total": np.float64(nb.bias_total),
            "conserved_total": np.float64(nb.conserved_total), "residual": np.float64(nb.residual),
            "remainder": np.float64(nb.remainder), "bias_remainder": np.float64(nb.bias_remainder),
            "rule": np.str_(nb.rule), "gamma": np.float64(nb.gamma), "composite": np.str_(nb.composite),
            "target": np.str_(nb.target),
        }
        for k in range(1, nb.max_order + 1):
            sets = sorted(nb.terms.keys() | nb.bias_terms.keys())
            sets = [s for s in sets if len(s) == k]
            out[f"sets{k}"] = np.array(sets, dtype=np.int64).reshape(-1, k)
            out[f"relevances{k}"] = np.array([nb.terms.get(s, 0.0) for s in sets], dtype=np.float64)
            out[f"bias_relevances{k}"] = np.array([nb.bias_terms.get(s, 0.0) for s in sets], dtype=np.float64)
        if self.walks is not None:
            out["R"] = self.walks.R
            for t, b in enumerate(self.walks.bias, start=1):
                out[f"bias{t}"] = b
            out["head_bias"] = self.walks.head_bias
            out["atom_relevances"] = self.walks.atom_relevances()
        return out

    def save(self, path: str | Path) -> Path:
        """Write :meth:`arrays` to ``path`` (``.npz`` or ``.json``)."""
        path = Path(path)
        arrays = self.arrays()
        if path.suffix == ".npz":
            np.savez_compressed(path, **arrays)
        elif path.suffix == ".json":
            path.write_text(json.dumps({k: np.asarray(v).tolist() for k, v in arrays.items()}) + "\n")
        else:
            raise ExplainError(f"unknown output format {path.suffix!r} of {path}; use a .npz or .json file name")
        return path


def explain(model: nn.Module, atoms, *, rule: str = "gi", gamma: float = 0.1, target: str | None = None,
            max_order: int = 3, composite: str = "features", memory_limit=None) -> Explanation:
    """Walk relevances (if ``N^(T+1)`` is at most :data:`EXPLAIN_MAX_WALKS`) and exact n-body terms,
    both with their bias terms, under ``rule`` on the layers of ``composite``. ``memory_limit``: as in
    :func:`xailib.lrp.nbody_relevances` (the n-body computation is refused before any work if it would
    not fit).

    The rule, gamma, composite and ``max_order`` are checked before anything is computed.

    Raises
    ------
    UnknownRuleError, RuleParameterError
        An unknown rule, or a gamma that is negative or not finite.
    UnknownCompositeError
        A composite other than ``"features"`` and ``"reference"``.
    ExplainError
        ``max_order`` is not a positive integer.
    """
    from xailib.lrp.adapters import float64_copy

    from xailib.lrp.memory import parse_limit

    check_rule(rule, gamma)
    check_composite(composite)
    parse_limit(memory_limit)
    if isinstance(max_order, bool) or not isinstance(max_order, (int, np.integer)) or max_order < 1:
        raise ExplainError(f"max_order must be a positive integer (1 = atoms, 2 = pairs, ...), got {max_order!r}")
    max_order = int(max_order)

    n_steps = len(float64_copy(model).representation.interactions)
    affordable = len(atoms) ** (n_steps + 1) <= min(EXPLAIN_MAX_WALKS, MAX_WALKS)
    options = {"rule": rule, "gamma": gamma, "target": target, "composite": composite}
    nb = nbody_relevances(model, atoms, max_order=max_order, memory_limit=memory_limit, **options)  # guard first
    walks = walk_relevances(model, atoms, **options) if affordable else None
    return Explanation(walks, nb)
