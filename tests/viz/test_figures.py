"""Tests of the analysis figures: the heatmap matrix places every pair once, symmetrically; fitted lines follow the law."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from xailib.analysis import DecayFit
from xailib.viz import decay_plot, pair_heatmap, pair_matrix, shares_bars

STRENGTH = {
    ("H", "C"): {"mean": -0.5, "ci_low": -0.6, "ci_high": -0.4, "count": 10},
    ("C", "C"): {"mean": -2.0, "ci_low": -2.1, "ci_high": -1.9, "count": 5},
    ("C", "O"): {"mean": -3.0, "ci_low": -3.2, "ci_high": -2.8, "count": 1},
}


def test_pair_matrix_places_pairs_symmetrically_in_atomic_number_order():
    els, mat = pair_matrix(STRENGTH)
    assert els == ["H", "C", "O"]
    np.testing.assert_array_equal(mat, mat.T)
    assert mat[0, 1] == -0.5 and mat[1, 1] == -2.0 and mat[1, 2] == -3.0
    assert np.isnan(mat[0, 0]) and np.isnan(mat[0, 2]) and np.isnan(mat[2, 2])
    _, counts = pair_matrix(STRENGTH, key="count")
    assert np.nansum(np.triu(counts)) == 16


def test_pair_matrix_min_count_and_unknown_elements():
    _, mat = pair_matrix(STRENGTH, min_count=2)
    assert np.isnan(mat[1, 2])
    with pytest.raises(ValueError, match="O"):
        pair_matrix(STRENGTH, elements=["H", "C"])


def test_decay_plot_draws_the_fitted_power_law():
    r = np.array([1.0, 2.0, 4.0])
    profile = {"center": r, "mean": 3.0 * r**-2.0, "sem": np.full(3, 0.01), "count": np.array([5, 5, 5])}
    fit = DecayFit("power", 2.0, (1.9, 2.1), 3.0, 1.0, 0.0, 3)
    fig, ax = plt.subplots()
    decay_plot(profile, ax, fit=fit, label="x", fit_range=(1.5, 3.0))
    x, y = ax.lines[-1].get_data()
    np.testing.assert_allclose(y, 3.0 * x**-2.0)
    assert x.min() == 1.5 and x.max() == 3.0
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    plt.close(fig)
    fig, (ax1, ax2) = plt.subplots(1, 2)
    pair_heatmap(STRENGTH, ax1)
    assert len(ax1.texts) == 5  # H-C twice, C-C once, C-O twice
    shares_bars({"a": {"1-body": 0.5, "2-body": 0.5}, "b": {"1-body": 0.2, "2-body": 0.8}}, ax2)
    assert [round(p.get_height(), 2) for p in ax2.patches] == [0.5, 0.5, 0.2, 0.8]
    plt.close(fig)
