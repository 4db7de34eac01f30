"""Molecular dynamics with trained potentials (chapter 07): runs, stability monitors, the MD-stability study.

:mod:`~xailib.md.simulate` runs MD (:func:`run_md`) and judges it (:func:`stability`);
:mod:`~xailib.md.metrics` summarises explanations and MD runs of a family of models;
:mod:`~xailib.md.study` runs the study (:func:`train_family`, :func:`run_stability_study`,
:func:`explanation_study`) and :mod:`~xailib.md.store` reads and writes its cached files
(:func:`load_run` / :func:`save_run`, :func:`load_explanations` / :func:`save_explanations`).
"""

from xailib.base.io import CacheFileError
from xailib.md.metrics import (DECAY_WINDOW_A, METRICS, SHORT_RANGE_A, RankCorrelation, config_difference,
                               correlations, describe_difference, explanation_metrics, family_table, histogram_w1,
                               metrics_from_tables, spearman_ci, time_to_failure)
from xailib.md.simulate import (ENSEMBLES, MDResult, MDSettingsError, StabilityReport, bond_graph, nonfinite_values,
                                run_md, stability)
from xailib.md.store import (cached_runs, explanations_path, load_explanations, load_run, run_path,
                             save_explanations, save_run, study_dir)
from xailib.md.study import (BOND_EDGES, PAIR_EDGES, StudySettingsError, explanation_study, family_configs,
                             load_calculator, reference_structure, run_stability_study, simulate_seeds,
                             test_frames, train_family, training_config_difference)

__all__ = ["CacheFileError", "MDSettingsError", "run_md", "stability", "bond_graph", "nonfinite_values", "MDResult",
           "StabilityReport", "ENSEMBLES", "METRICS",
           "SHORT_RANGE_A", "DECAY_WINDOW_A", "RankCorrelation", "config_difference", "correlations",
           "describe_difference", "explanation_metrics", "family_table", "histogram_w1", "metrics_from_tables",
           "spearman_ci", "time_to_failure",
           "study_dir", "run_path", "explanations_path", "cached_runs", "save_run", "load_run",
           "save_explanations", "load_explanations",
           "PAIR_EDGES", "BOND_EDGES", "StudySettingsError", "family_configs", "train_family",
           "reference_structure", "load_calculator", "simulate_seeds", "run_stability_study", "test_frames",
           "training_config_difference", "explanation_study"]
