"""explain_dataset: the Lightning predict loop gives the engine's numbers, deterministically, and round-trips."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from lrp_models import mol, potential

from xailib.analysis import explain_dataset, load_results, manybody_shares
from xailib.lrp import nbody_relevances


@pytest.fixture(scope="module")
def setting():
    model = potential("schnet", n_interactions=2, width=8, seed=3)
    structures = [mol("H2O"), mol("CH3OH"), mol("NH3")]
    return model, structures


def test_dataset_run_matches_single_structure_engine_and_repeats(setting, tmp_path):
    model, structures = setting
    out = tmp_path / "rel.npz"
    res = explain_dataset(model, structures, out=out, progress=False)
    assert len(res) == 3 and res.meta["target"] == "energy"
    for k, atoms in enumerate(structures):
        ref = nbody_relevances(model, atoms)
        assert res.terms(k) == pytest.approx(ref.terms, abs=1e-12)
        assert res.output[k] == pytest.approx(ref.output)
        assert res.remainder[k] == pytest.approx(ref.remainder)
        np.testing.assert_array_equal(res.atoms(k).get_atomic_numbers(), atoms.get_atomic_numbers())
        # conservation: terms plus remainder give the total
        assert sum(res.terms(k).values()) + res.remainder[k] == pytest.approx(res.total[k], abs=1e-10)
    again = explain_dataset(model, structures, progress=False)
    np.testing.assert_array_equal(again.term_relevance, res.term_relevance)
    loaded = load_results(out)
    for name in ("term_atoms", "term_molecule", "output", "positions", "offsets", "remainder", "total"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(res, name))
    # term relevances are stored as float32
    np.testing.assert_array_equal(loaded.term_relevance, res.term_relevance.astype(np.float32).astype(np.float64))
    assert loaded.term_relevance.dtype == np.float64
    assert {k: v for k, v in loaded.meta.items() if not k.startswith("stored_")} == res.meta
    tables = loaded.tables()
    shares = manybody_shares(tables, loaded.remainder)
    assert sum(shares.values()) == pytest.approx(1.0)


def test_bad_dataset_items_are_rejected(setting, tmp_path):
    model, _ = setting
    with pytest.raises(ValueError, match="at least one"):
        explain_dataset(model, [], progress=False)
    with pytest.raises(TypeError, match="not an ase.Atoms"):
        explain_dataset(model, [np.zeros((3, 3))], progress=False)
    with pytest.raises(ValueError, match=".npz"):
        explain_dataset(model, [Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])], out=tmp_path / "x.csv",
                        progress=False)
