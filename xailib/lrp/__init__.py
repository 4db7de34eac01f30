"""The relevance engine: exact GNN-LRP walk relevances, bias terms and n-body terms for schnetpack SchNet and PaiNN.

Public API
----------
walk_relevances(model, atoms, *, rule="gi", gamma=0.1, target=None, composite="features")
    all walk relevances and bias suffixes, fast and exact (:mod:`xailib.lrp.walks`);
walks_bruteforce(model, atoms, walks, *, rule="gi", gamma=0.1, target=None, composite="features")
    the per-walk masked reference;
nbody_relevances(model, atoms, *, max_order=3, rule="gi", gamma=0.1, target=None, composite="features",
                 method="restricted", memory_limit=None)
    exact 1-, 2-, 3-body walk and bias terms and the higher-order remainders (:mod:`xailib.lrp.nbody`),
    from restricted passes (:mod:`xailib.lrp.restricted`) under a memory guard (:mod:`xailib.lrp.memory`);
atom_relevances(model, atoms, *, rule="gi", gamma=0.1, target=None, composite="features", bias=True)
    relevance per atom (bias terms counted for the first atom of their suffix).

explain(model, atoms, *, rule="gi", gamma=0.1, target=None, max_order=3, composite="features")
    walks (when affordable) and n-body terms of one structure, with a summary and save (the CLI's ``explain``).

Conservation: walks + bias terms (:mod:`xailib.lrp.bias`) add up to the forward value of the
rule-modified model (``rule_output``), which is the model output for ``gi``.
Rules live in :mod:`xailib.lrp.rules` (``with rules.applied(model, "gamma", gamma=0.1): ...``), the
choice of layers that get them (the composite, ``"features"`` or ``"reference"``) in
:mod:`xailib.lrp.composites`; :mod:`xailib.lrp.engine` holds the shared batched JVP/VJP machinery.
This subpackage imports only :mod:`xailib.base`.
All functions explain the model output *before* schnetpack post-processing.
"""

from xailib.base.errors import MalformedStructureError, UnsupportedElementError
from xailib.lrp import bias, composites, rules
from xailib.lrp.adapters import UnsupportedArchitectureError, UnsupportedOutputError
from xailib.lrp.composites import COMPOSITES, UnknownCompositeError
from xailib.lrp.explain import Explanation, ExplainError, explain
from xailib.lrp.memory import MemoryLimitError
from xailib.lrp.nbody import NBodyRelevances, nbody_from_walks, nbody_relevances
from xailib.lrp.rules import RuleAlreadyAppliedError, RuleParameterError, UnknownRuleError
from xailib.lrp.walks import (TooManyWalksError, WalkRelevances, atom_relevances, walk_relevances,
                              walks_bruteforce)

__all__ = [
    "MalformedStructureError", "UnsupportedElementError", "ExplainError", "RuleParameterError",
    "walk_relevances", "walks_bruteforce", "nbody_relevances", "atom_relevances", "nbody_from_walks",
    "WalkRelevances", "NBodyRelevances", "explain", "Explanation", "rules", "composites", "UnsupportedArchitectureError", "UnsupportedOutputError",
    "UnknownRuleError", "RuleAlreadyAppliedError", "TooManyWalksError", "bias", "COMPOSITES",
    "UnknownCompositeError", "MemoryLimitError",
]
