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


def _log(tmp_path, losses):
    path = tmp_path / "log.csv"
    path.write_text("epoch,val_loss\n" + "".join(f"{e},{v}\n" for e, v in enumerate(losses)))
    return path


def test_convergence_needs_a_long_enough_tail(tmp_path):
    from xailib.models.callbacks import MIN_TAIL_EPOCHS, convergence

    short = [1.0 / (e + 1) for e in range(8)] + [0.2]  # 9 epochs, no gain in the last one
    assert convergence(_log(tmp_path, short))["converged"] is False
    flat = [1.0 / (e + 1) for e in range(20)] + [0.05] * (5 * MIN_TAIL_EPOCHS)
    assert convergence(_log(tmp_path, flat))["converged"] is True
    improving = [1.0 / (e + 1) for e in range(40)]
    assert convergence(_log(tmp_path, improving))["converged"] is False


def test_seed_replica_names_and_folders_are_apart():
    from xailib.models.train_config import TrainConfig, seed_replica

    base = TrainConfig.from_dict({"name": "synthetic-pair_exp-painn", "dataset": "data/x.db", "split_file": "data/x.npz",
                                  "out_dir": "data/synthetic/models/synthetic-pair_exp-painn/", "model": {}, "seed": 0})
    rep = seed_replica(base, 2)
    assert (rep.name, rep.seed, rep.out_dir) == ("synthetic-pair_exp-painn-seed2", 2,
                                                 "data/synthetic/models/synthetic-pair_exp-painn-seed2")
    assert seed_replica(base, 0) is base
    plain = seed_replica(TrainConfig.from_dict({**base.to_dict(), "out_dir": None}), 1)
    assert plain.out_dir is None and plain.name.endswith("-seed1")
