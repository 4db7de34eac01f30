"""Every public relevance function checks its structure before any work (issue 18): a named error, never
a plausible output for NaN/inf coordinates, coincident atoms, no atoms, a broken periodic cell, a non-Atoms
input or an element the model was not trained on. Periodic structures with a sound cell are explained
(with their periodic images; tests/lrp/test_walks.py checks them against the brute-force reference)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from lrp_models import mol, potential

from xailib import lrp
from xailib.base.errors import MalformedStructureError, UnsupportedElementError, XailibError
from xailib.lrp import engine


def _nan(a):
    a.positions[1] = np.nan
    return a


def _inf(a):
    a.positions[2, 0] = np.inf
    return a


def _coincident(a):
    a.positions[1] = a.positions[0]
    return a


def _too_close(a):
    a.positions[1] = a.positions[0] + [0.1, 0.0, 0.0]
    return a


def _periodic(a, cell=(10.0, 10.0, 10.0), pbc=True):
    a.cell = cell
    a.pbc = pbc
    return a


def _overlapping_image(a):
    # atom 1 sits 0.1 A from atom 0's periodic image along z
    a = _periodic(a, pbc=[False, False, True])
    a.positions[1] = a.positions[0] + [0.0, 0.0, 9.9]
    return a


BAD = {
    "nan coordinates": (_nan, MalformedStructureError, "NaN or infinite"),
    "inf coordinates": (_inf, MalformedStructureError, "NaN or infinite"),
    "coincident atoms": (_coincident, MalformedStructureError, "overlapping"),
    "atoms 0.1 A apart": (_too_close, MalformedStructureError, "overlapping"),
    "no atoms": (lambda a: Atoms(), MalformedStructureError, "no atoms"),
    "periodic, NaN cell": (lambda a: _periodic(a, cell=(10.0, np.nan, 10.0)), MalformedStructureError, "cell"),
    "periodic, zero cell": (lambda a: _periodic(a, cell=(0.0, 0.0, 0.0)), MalformedStructureError,
                            "linearly dependent"),
    "periodic, flat cell": (lambda a: _periodic(a, cell=(10.0, 10.0, 0.0)), MalformedStructureError,
                            "linearly dependent"),
    "periodic, tiny cell": (lambda a: _periodic(a, cell=(10.0, 10.0, 0.2), pbc=[False, False, True]),
                            MalformedStructureError, "own image"),
    "periodic, atoms overlap across the boundary": (_overlapping_image, MalformedStructureError,
                                                    "across the periodic boundary"),
    "positions array": (lambda a: a.positions, MalformedStructureError, "ase.Atoms"),
    "list of symbols": (lambda a: a.get_chemical_symbols(), MalformedStructureError, "ase.Atoms"),
    "dummy atom Z=0": (lambda a: Atoms("X", positions=[[0, 0, 0]]), UnsupportedElementError, "Z = 1..118"),
}

FUNCTIONS = {
    "walk_relevances": lambda m, a: lrp.walk_relevances(m, a),
    "walks_bruteforce": lambda m, a: lrp.walks_bruteforce(m, a, [[0, 0, 0]]),
    "nbody_relevances": lambda m, a: lrp.nbody_relevances(m, a),
    "atom_relevances": lambda m, a: lrp.atom_relevances(m, a),
    "explain": lambda m, a: lrp.explain(m, a),
}


@pytest.fixture(scope="module", params=["schnet", "painn"])
def model(request):
    return potential(request.param, 2)


@pytest.fixture
def no_work(monkeypatch):
    """Any model copy or graph construction fails the test: the check must come first."""
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the structure was checked")

    monkeypatch.setattr(engine, "float64_copy", forbidden)
    monkeypatch.setattr(engine, "model_inputs", forbidden)


@pytest.mark.parametrize("function", list(FUNCTIONS))
@pytest.mark.parametrize("case", list(BAD))
def test_bad_structure_is_refused_before_any_work(model, no_work, function, case):
    make, error, message = BAD[case]
    with pytest.raises(error, match=message) as info:
        FUNCTIONS[function](model, make(mol("H2O")))
    assert isinstance(info.value, XailibError) and isinstance(info.value, ValueError)


def guarded(arch: str, elements=(1, 6, 8)):
    from xailib.models.build import ElementGuard

    model = potential(arch, 2)
    model.input_modules.insert(0, ElementGuard(elements))
    return model


@pytest.mark.parametrize("function", list(FUNCTIONS))
@pytest.mark.parametrize("arch", ["schnet", "painn"])
def test_element_outside_the_training_data_is_refused_before_any_work(no_work, function, arch):
    with pytest.raises(UnsupportedElementError, match=r"\['N'\].*H, C, O"):
        FUNCTIONS[function](guarded(arch), mol("NH3"))


@pytest.mark.parametrize("arch", ["schnet", "painn"])
def test_guarded_model_still_explains_its_own_elements(arch):
    model = guarded(arch)
    atoms = mol("CH3OH")
    ref = lrp.walk_relevances(potential(arch, 2), atoms)
    got = lrp.walk_relevances(model, atoms)
    np.testing.assert_allclose(got.R, ref.R, rtol=1e-12, atol=1e-14)
    assert got.total == pytest.approx(ref.total)


def test_the_caller_structure_is_checked_not_modified(model):
    atoms = mol("H2O")
    before = atoms.positions.copy()
    lrp.atom_relevances(model, atoms)
    np.testing.assert_array_equal(atoms.positions, before)


@pytest.mark.parametrize("pbc", [True, [False, False, True]], ids=["3d", "1d"])
def test_periodic_structures_are_explained_with_their_images(model, pbc):
    """A box wider than the cutoff plus the molecule has no image within the cutoff: the same numbers as
    isolated; a box narrower than the cutoff adds image neighbours and changes them."""
    atoms = mol("H2O")
    wide = _periodic(atoms.copy(), cell=(30.0, 30.0, 30.0), pbc=pbc)
    narrow = _periodic(atoms.copy(), cell=(4.0, 4.0, 4.0), pbc=pbc)
    ref = lrp.walk_relevances(model, atoms)
    np.testing.assert_allclose(lrp.walk_relevances(model, wide).R, ref.R, rtol=1e-12, atol=1e-14)
    got = lrp.walk_relevances(model, narrow)
    assert not np.allclose(got.R, ref.R)
    assert got.R.sum() == pytest.approx(got.total, rel=1e-12)


def test_a_non_periodic_cell_is_fine(model):
    # a cell without periodicity (e.g. read from a file) changes nothing
    atoms = mol("H2O")
    boxed = atoms.copy()
    boxed.cell = [10.0, 10.0, 10.0]
    np.testing.assert_allclose(lrp.atom_relevances(model, boxed), lrp.atom_relevances(model, atoms), rtol=1e-12)


# --- xailib.analysis.explain_dataset checks every item before the predict loop starts ---

@pytest.fixture
def no_dataset_work(monkeypatch):
    from xailib.analysis import runs

    def forbidden(*args, **kwargs):
        raise AssertionError("the predict loop started before every item was checked")

    monkeypatch.setattr(runs, "_explainer_module", forbidden)


@pytest.mark.parametrize("case", [c for c in BAD if BAD[c][1] is not MalformedStructureError
                                  or BAD[c][2] != "ase.Atoms"])
def test_explain_dataset_refuses_a_bad_item_before_any_work(model, no_dataset_work, case):
    from xailib.analysis import explain_dataset

    make, error, message = BAD[case]
    with pytest.raises(error, match=f"dataset item 2 .*{message}"):
        explain_dataset(model, [mol("H2O"), mol("NH3"), make(mol("H2O"))], progress=False)


@pytest.mark.parametrize("item", [np.zeros((3, 3)), ["H", "H"], None])
def test_explain_dataset_non_atoms_item_is_a_type_error(model, no_dataset_work, item):
    from xailib.analysis import explain_dataset

    with pytest.raises(TypeError, match="dataset item 1 is a .*not an ase.Atoms"):
        explain_dataset(model, [mol("H2O"), item], progress=False)


def test_explain_dataset_checks_elements_and_settings_first(no_dataset_work, tmp_path):
    from xailib.analysis import explain_dataset

    with pytest.raises(UnsupportedElementError, match=r"dataset item 1 \(H3N\).*\['N'\]"):
        explain_dataset(guarded("schnet"), [mol("H2O"), mol("NH3")], progress=False)
    with pytest.raises(ValueError, match=".npz"):
        explain_dataset(potential("schnet", 2), [mol("H2O")], out=tmp_path / "x.csv", progress=False)
    with pytest.raises(ValueError, match="max_order"):
        explain_dataset(potential("schnet", 2), [mol("H2O")], max_order=0, progress=False)
    with pytest.raises(lrp.UnknownRuleError):
        explain_dataset(potential("schnet", 2), [mol("H2O")], rule="alpha-beta", progress=False)
