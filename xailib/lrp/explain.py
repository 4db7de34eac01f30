"""One-call explanation of a structure (used by ``python -m xailib explain``): summary, top walks and
pairs, and saving the arrays to ``.npz`` or ``.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from xailib.base.errors import XailibError
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
        """Human-readable report: what is explained, how the total splits, top walks and top pairs.

        The explained value is the model output before schnetpack post-processing (offsets, casts).
        The total relevance is the sum of all walks, which equals the exact 1- to ``max_order``-body
        terms plus the higher-order remainder; ``output - total`` is what the walks do not carry
        (bias terms, and the gamma rule's changes to the forward).
        """
        nb = self.nbody
        atoms = nb.atoms
        sym = atoms.get_chemical_symbols()
        name = lambda idx: "-".join(f"{sym[i]}{i}" for i in idx)  # noqa: E731
        listed = nb.total - nb.remainder
        orders = "1" if nb.max_order == 1 else f"1- to {nb.max_order}"
        lines = [f"structure: {atoms.get_chemical_formula()} ({len(atoms)} atoms); target {nb.target!r}; "
                 f"rule {nb.rule}" + (f" (gamma={nb.gamma:g})" if nb.rule == "gamma" else ""),
                 f"output explained (model output before post-processing): {nb.output:+.6f}",
                 f"total relevance (sum of all walks):                      {nb.total:+.6f}",
                 f"  = {orders}-body terms {listed:+.6f} + remainder (sets of more than {nb.max_order} "
                 f"atom{'s' if nb.max_order > 1 else ''}) {nb.remainder:+.6f}",
                 f"  output - total (not carried by walks: biases, rule):   {nb.output - nb.total:+.6f}",
                 "relevance by order: " + ", ".join(f"{k}: {v:+.6f}" for k, v in nb.order_sums().items())]
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
            pairs = nb.top(top, order=2)
            lines.append(f"top {top} pairs (exact 2-body terms, of {len(nb.order(2))}):")
            lines += [f"  {name(p):<16s} {r:+.6f}" for p, r in pairs]
            shown = float(sum(r for _, r in pairs))
            lines.append(f"  sum of these {len(pairs)} pairs {shown:+.6f}; all other terms and the remainder "
                         f"{nb.total - shown:+.6f}")
        return "\n".join(lines)

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything as numpy arrays (keys: R, atom_relevances, pairs, pair_relevances, ...)."""
        nb = self.nbody
        out: dict[str, np.ndarray] = {
            "numbers": nb.atoms.numbers, "positions": nb.atoms.positions,
            "output": np.float64(nb.output), "total": np.float64(nb.total),
            "remainder": np.float64(nb.remainder), "rule": np.str_(nb.rule), "gamma": np.float64(nb.gamma),
            "target": np.str_(nb.target),
        }
        for k in range(1, nb.max_order + 1):
            terms = nb.order(k)
            out[f"sets{k}"] = np.array(list(terms), dtype=np.int64).reshape(-1, k)
            out[f"relevances{k}"] = np.array(list(terms.values()), dtype=np.float64)
        if self.walks is not None:
            out["R"] = self.walks.R
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
            max_order: int = 3) -> Explanation:
    """Walk relevances (if ``N^(T+1)`` is at most :data:`EXPLAIN_MAX_WALKS`) and exact n-body terms.

    The rule, gamma and ``max_order`` are checked before anything is computed.

    Raises
    ------
    UnknownRuleError, RuleParameterError
        An unknown rule, or a gamma that is negative or not finite.
    ExplainError
        ``max_order`` is not a positive integer.
    """
    from xailib.lrp.adapters import float64_copy

    check_rule(rule, gamma)
    if isinstance(max_order, bool) or not isinstance(max_order, (int, np.integer)) or max_order < 1:
        raise ExplainError(f"max_order must be a positive integer (1 = atoms, 2 = pairs, ...), got {max_order!r}")
    max_order = int(max_order)

    n_steps = len(float64_copy(model).representation.interactions)
    affordable = len(atoms) ** (n_steps + 1) <= min(EXPLAIN_MAX_WALKS, MAX_WALKS)
    walks = walk_relevances(model, atoms, rule=rule, gamma=gamma, target=target) if affordable else None
    nb = nbody_relevances(model, atoms, max_order=max_order, rule=rule, gamma=gamma, target=target)
    return Explanation(walks, nb)
