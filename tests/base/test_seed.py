import random

import numpy as np
import pytest
import torch

import xailib


def draws():
    return random.random(), np.random.rand(3).tolist(), torch.randn(3).tolist()


def test_set_seed_repeats_draws():
    xailib.set_seed(7)
    first = draws()
    xailib.set_seed(7)
    assert draws() == first


def test_different_seeds_differ():
    xailib.set_seed(1)
    a = draws()
    xailib.set_seed(2)
    assert draws() != a


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        xailib.set_seed(bad)
