"""The polynomial-envelope study (chapter 10): SchNet/PaiNN with an r^-6 envelope against the cosine cutoff.

:mod:`xailib.poly.equal` is the controlled comparison the chapter rests on (equal data, epochs and seeds;
:func:`load_equal` reads ``data/poly/equal.json``, :mod:`xailib.poly.compare` its paired statistics). :mod:`xailib.poly.study` is the earlier study with the
ethanol MD runs (:func:`explain` and :func:`summarise`, ``python -m xailib study poly explain|summarise``;
:func:`load_results` reads ``data/poly/results.json``, :func:`save_results` writes it).
"""

from xailib.base.io import CacheFileError
from xailib.poly.compare import (error_difference, equal_time, long_range_share, power_law_long_share, runs_of,
                                 summary_rows, two_level_interval)
from xailib.poly.equal import (ARCHS, LONG_RANGE, SEEDS, VARIANTS, all_runs, best_within, equal_time_budget,
                               explain_runs, load_equal, molecule_errors, pair_range_summary, run_name, run_summary,
                               step_costs, summarise_equal)
from xailib.poly.study import (BINS, EXTRA_WINDOWS, FILTER_GRID, POLY_ETHANOL, POLY_NCI, R_MAXES, SHIPPED_ETHANOL,
                               SHIPPED_NCI, WINDOW, explain, filter_profile, load_results, md_summary,
                               metrics_summary, relevance_summary, results_path, save_results, summarise)

__all__ = ["CacheFileError", "explain", "summarise", "load_results", "save_results", "results_path", "relevance_summary",
           "filter_profile", "md_summary", "metrics_summary", "POLY_NCI", "SHIPPED_NCI", "POLY_ETHANOL",
           "SHIPPED_ETHANOL", "WINDOW", "R_MAXES", "EXTRA_WINDOWS", "BINS", "FILTER_GRID",
           "ARCHS", "VARIANTS", "SEEDS", "LONG_RANGE", "all_runs", "run_name", "run_summary", "pair_range_summary",
           "best_within", "equal_time_budget", "explain_runs", "summarise_equal", "load_equal", "molecule_errors",
           "runs_of", "error_difference", "long_range_share", "equal_time", "summary_rows", "two_level_interval",
           "power_law_long_share", "step_costs"]
