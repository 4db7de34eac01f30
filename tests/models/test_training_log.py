"""Training logs keep float32 values exactly, with no float64 noise digits."""

from __future__ import annotations

import numpy as np
import pytest

from xailib.models.callbacks import float32_text


@pytest.mark.parametrize("value", [4.594521522521973, 0.001, 1.5625e-05, -0.07615315914154053, 123456.7890625])
def test_float32_text_round_trips_the_logged_float32(value):
    text = float32_text(repr(float(np.float32(value))))
    assert np.float32(float(text)) == np.float32(value)
    assert len(text) <= 14


@pytest.mark.parametrize("value", ["", None, "9", "530", "-3", "nan-ish"])
def test_integers_empty_cells_and_text_stay(value):
    assert float32_text(value) == value
