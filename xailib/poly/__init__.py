"""The polynomial-envelope study (chapter 10): SchNet/PaiNN with an r^-6 envelope against the shipped models.

:func:`explain` and :func:`summarise` are the study's two stages (``python -m xailib study poly
explain|summarise``); :func:`load_results` reads the committed summary ``data/poly/results.json``
(format in :mod:`xailib.poly.study`), :func:`save_results` writes it.
"""

from xailib.base.io import CacheFileError
from xailib.poly.study import (BINS, EXTRA_WINDOWS, FILTER_GRID, POLY_ETHANOL, POLY_NCI, R_MAXES, SHIPPED_ETHANOL,
                               SHIPPED_NCI, WINDOW, explain, filter_profile, load_results, md_summary,
                               metrics_summary, relevance_summary, results_path, save_results, summarise)

__all__ = ["CacheFileError", "explain", "summarise", "load_results", "save_results", "results_path", "relevance_summary",
           "filter_profile", "md_summary", "metrics_summary", "POLY_NCI", "SHIPPED_NCI", "POLY_ETHANOL",
           "SHIPPED_ETHANOL", "WINDOW", "R_MAXES", "EXTRA_WINDOWS", "BINS", "FILTER_GRID"]
