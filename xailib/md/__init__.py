"""Molecular dynamics with trained potentials (chapter 07): runs, stability monitors and explanation metrics.

:mod:`~xailib.md.simulate` runs MD (:func:`run_md`) and judges it (:func:`stability`);
:mod:`~xailib.md.metrics` summarises explanations and MD runs of a family of models.
"""

from xailib.md.metrics import (DECAY_WINDOW_A, METRICS, SHORT_RANGE_A, RankCorrelation, config_difference,
                               correlations, describe_difference, explanation_metrics, family_table, histogram_w1,
                               metrics_from_tables, spearman_ci, time_to_failure)
from xailib.md.simulate import ENSEMBLES, MDResult, StabilityReport, bond_graph, run_md, stability

__all__ = ["run_md", "stability", "bond_graph", "MDResult", "StabilityReport", "ENSEMBLES", "METRICS",
           "SHORT_RANGE_A", "DECAY_WINDOW_A", "RankCorrelation", "config_difference", "correlations",
           "describe_difference", "explanation_metrics", "family_table", "histogram_w1", "metrics_from_tables",
           "spearman_ci", "time_to_failure"]
