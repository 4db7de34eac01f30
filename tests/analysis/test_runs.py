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
        assert res.terms(k, "walks") == pytest.approx(ref.terms, abs=1e-12)
        assert res.terms(k) == pytest.approx(ref.combined_terms(), abs=1e-12)
        assert res.output[k] == pytest.approx(ref.output)
        assert res.remainder[k] == pytest.approx(ref.remainder)
        # walks + bias terms (orders 1-3 and the rest) add up to the output (rule gi)
        assert sum(res.terms(k).values()) + res.remainders()[k] == pytest.approx(res.output[k], abs=1e-10)
        np.testing.assert_array_equal(res.atoms(k).get_atomic_numbers(), atoms.get_atomic_numbers())
        # conservation: terms plus remainder give the total
        assert sum(res.terms(k, "walks").values()) + res.remainder[k] == pytest.approx(res.total[k], abs=1e-10)
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


def test_truncated_and_subset_results_keep_every_sum(setting, tmp_path):
    """Storing to order 2 or a subset of structures moves terms to the remainder; nothing is lost."""
    model, structures = setting
    res = explain_dataset(model, structures, progress=False)
    np.testing.assert_allclose(res.residual, 0.0, atol=1e-10)
    short = res.truncated(2)
    assert set((short.term_atoms >= 0).sum(axis=1)) == {1, 2} and short.stored_order == 2
    for k in range(len(res)):
        stored = sum(short.terms(k).values())
        assert stored + short.remainders()[k] == pytest.approx(res.output[k], abs=1e-10)
        assert short.terms(k, "walks") == {s: v for s, v in res.terms(k, "walks").items() if len(s) <= 2}
    np.testing.assert_array_equal(short.order_abs, res.order_abs)  # order sums stay complete
    np.testing.assert_allclose(res.order_sum.sum(axis=1) + res.beyond(), res.output, atol=1e-10)
    part = short.subset([2, 0])
    assert len(part) == 2 and part.atoms(0).get_chemical_formula() == structures[2].get_chemical_formula()
    assert part.terms(1) == pytest.approx(short.terms(0))
    save = tmp_path / "short.npz"
    from xailib.analysis.runs import save_results

    save_results(part, save)
    back = load_results(save)
    assert back.stored_order == 2 and back.terms(0) == pytest.approx(part.terms(0), abs=1e-6)
    np.testing.assert_array_equal(back.order_abs, part.order_abs)
