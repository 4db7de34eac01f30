"""The relevance engine: exact GNN-LRP walk relevances and n-body terms for schnetpack SchNet and PaiNN.

Public API
----------
walk_relevances(model, atoms, *, rule="gi", gamma=0.1, target=None)
    all walk relevances, fast and exact (:mod:`xailib.lrp.walks`);
walks_bruteforce(model, atoms, walks, *, rule="gi", gamma=0.1, target=None)
    the per-walk masked reference;
nbody_relevances(model, atoms, *, max_order=3, rule="gi", gamma=0.1, target=None)
    exact 1-, 2-, 3-body terms and the higher-order remainder (:mod:`xailib.lrp.nbody`);
atom_relevances(model, atoms, *, rule="gi", gamma=0.1, target=None)
    first-order relevance per atom.

explain(model, atoms, *, rule="gi", gamma=0.1, target=None, max_order=3)
    walks (when affordable) and n-body terms of one structure, with a summary and save (the CLI's ``explain``).

Rules live in :mod:`xailib.lrp.rules` (``with rules.applied(model, "gamma", gamma=0.1): ...``), the
choice of layers that get them in :mod:`xailib.lrp.composites`; :mod:`xailib.lrp.engine` holds the
shared batched JVP/VJP machinery. This subpackage imports only :mod:`xailib.base`.
All functions explain the model output *before* schnetpack post-processing.
"""

from xailib.base.errors import MalformedStructureError, UnsupportedElementError
from xailib.lrp import composites, rules
from xailib.lrp.adapters import UnsupportedArchitectureError, UnsupportedOutputError
from xailib.lrp.explain import Explanation, ExplainError, explain
from xailib.lrp.nbody import NBodyRelevances, nbody_from_walks, nbody_relevances
from xailib.lrp.rules import RuleAlreadyAppliedError, RuleParameterError, UnknownRuleError
from xailib.lrp.walks import (TooManyWalksError, WalkRelevances, atom_relevances, walk_relevances,
                              walks_bruteforce)

__all__ = [
    "MalformedStructureError", "UnsupportedElementError", "ExplainError", "RuleParameterError",
    "walk_relevances", "walks_bruteforce", "nbody_relevances", "atom_relevances", "nbody_from_walks",
    "WalkRelevances", "NBodyRelevances", "explain", "Explanation", "rules", "composites", "UnsupportedArchitectureError", "UnsupportedOutputError",
    "UnknownRuleError", "RuleAlreadyAppliedError", "TooManyWalksError",
]
