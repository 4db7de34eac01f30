"""The learning-curve figure: one line per seed on a log scale, each run's best epoch marked."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from xailib.viz import learning_curves

CURVES = {
    "seed 0": {"epoch": np.arange(5), "val_loss": np.array([1.0, 0.5, 0.3, 0.4, 0.35]),
               "val_energy_MAE": np.array([0.9, 0.6, 0.2, 0.3, 0.25])},
    "seed 1": {"epoch": np.arange(4), "val_loss": np.array([2.0, 1.0, 0.8, 0.6]),
               "val_energy_MAE": np.array([1.0, 0.8, 0.7, 0.5])},
}


def test_one_line_per_seed_log_scale_and_best_epochs_marked():
    fig, ax = plt.subplots()
    assert learning_curves(CURVES, ax) is ax
    lines = ax.get_lines()
    assert len(lines) == 4 and ax.get_yscale() == "log"
    curves, markers = lines[:2], lines[2:]
    assert [ln.get_label() for ln in curves] == ["seed 0", "seed 1"]
    np.testing.assert_allclose(curves[1].get_ydata(), CURVES["seed 1"]["val_loss"])
    assert [ln.get_xdata()[0] for ln in markers] == [2, 3]  # the epochs of the lowest validation loss
    assert markers[0].get_color() == curves[0].get_color()
    plt.close(fig)


def test_other_columns_are_scaled_and_marked_at_the_best_val_loss_epoch():
    ax = learning_curves(CURVES, key="val_energy_MAE", scale=1000, mark_best=True)
    curves, markers = ax.get_lines()[:2], ax.get_lines()[2:]
    np.testing.assert_allclose(curves[0].get_ydata(), 1000 * CURVES["seed 0"]["val_energy_MAE"])
    assert markers[0].get_ydata()[0] == pytest.approx(200.0)
    assert len(learning_curves(CURVES, mark_best=False).get_lines()) == 2
    plt.close("all")


def test_missing_column_and_empty_input_raise():
    with pytest.raises(KeyError, match="val_forces_MAE"):
        learning_curves(CURVES, key="val_forces_MAE")
    with pytest.raises(ValueError):
        learning_curves({})
    plt.close("all")
