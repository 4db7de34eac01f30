"""Dataset-level analyses of n-body relevances: element pairs, decay with distance, many-body order, locality.

:func:`explain_dataset` runs the relevance engine over many structures (a Lightning predict loop) and
:func:`save_results` / :func:`load_results` store the result; :meth:`RelevanceResults.tables` turns it
into :class:`NBodyTable` objects that the analyses take. :func:`explain_test_sets` explains the shipped
``nci-small`` models on their test split (``data/relevance/<model>.npz``, read with ``load_results(model_name)``).

Statistics (:mod:`xailib.analysis.stats`, :mod:`xailib.analysis.seeds`): intervals from a bootstrap over
molecules (:func:`molecule_bootstrap`), per-molecule tables (:func:`element_pair_table`,
:func:`order_table`), and seed-aggregated pair strengths and order shares with molecule counts and flags
(:func:`pair_strengths`, :func:`order_shares`, :func:`ranked`).
"""

from xailib.analysis.bonds import (
    BOND_LABELS,
    BondAssignmentError,
    bond_class_strengths,
    bond_order_matrix,
    bond_rank_correlation,
    pair_bond_classes,
)
from xailib.analysis.decay import (
    DecayFit,
    decay_exponent,
    decay_fit_bootstrap,
    decay_profile,
    fit_exponential,
    fit_power_law,
)
from xailib.analysis.locality import atom_relevance_parts, locality
from xailib.analysis.manybody import (
    manybody_shares,
    manybody_shares_by_distance,
    manybody_shares_by_distance_bootstrap,
)
from xailib.analysis.pair_terms import pair_terms
from xailib.analysis.pairs import element_pair_strength
from xailib.analysis.ranks import pair_rank_correlation
from xailib.analysis.runs import RelevanceResults, explain_dataset, load_results, results_path, save_results
from xailib.analysis.seeds import (
    as_pair_dict,
    common_structures,
    order_shares,
    pair_strengths,
    ranked,
    seed_molecule_summary,
)
from xailib.analysis.stats import (
    Interval,
    conservation_table,
    element_pair_table,
    molecule_bootstrap,
    molecule_means,
    order_table,
    seed_summary,
)
from xailib.analysis.tables import ORDERS, NBodyTable, tables_from_nbody
from xailib.analysis.test_sets import explain_on_test_split, explain_test_sets, result_name, test_molecule_ids
from xailib.analysis.topology import (
    SEPARATION_CLASSES,
    bond_graph,
    bond_separation,
    cosine_envelope,
    envelope_corrected,
    separation_class,
)
from xailib.base.io import CacheFileError

__all__ = [
    "NBodyTable", "tables_from_nbody", "ORDERS", "element_pair_strength", "decay_profile", "DecayFit",
    "fit_power_law", "fit_exponential", "decay_fit_bootstrap", "manybody_shares", "manybody_shares_by_distance",
    "manybody_shares_by_distance_bootstrap", "locality", "atom_relevance_parts",
    "explain_dataset", "RelevanceResults", "load_results", "save_results", "results_path",
    "explain_test_sets", "explain_on_test_split", "result_name", "test_molecule_ids", "CacheFileError",
    "Interval", "molecule_bootstrap", "molecule_means", "element_pair_table", "order_table", "conservation_table",
    "seed_summary", "seed_molecule_summary", "common_structures", "pair_strengths", "order_shares", "ranked", "as_pair_dict",
    "pair_rank_correlation", "bond_graph", "bond_separation", "SEPARATION_CLASSES", "separation_class",
    "cosine_envelope", "envelope_corrected", "decay_exponent", "pair_terms",
    "BondAssignmentError", "BOND_LABELS", "bond_order_matrix", "pair_bond_classes", "bond_class_strengths",
    "bond_rank_correlation",
]
