"""Bond topology from geometry and the cosine cutoff envelope (xailib.analysis.topology)."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule

from xailib.analysis import (
    SEPARATION_CLASSES,
    bond_graph,
    bond_separation,
    cosine_envelope,
    envelope_corrected,
    separation_class,
)
from xailib.base.errors import MalformedStructureError


@pytest.fixture
def ethanol():
    atoms = molecule("CH3CH2OH")
    # ase's ethanol: C0 methyl (H6, H7, H8), C1 methylene (H4, H5), O2 hydroxyl O, H3 hydroxyl H
    assert atoms.get_chemical_symbols() == ["C", "C", "O", "H", "H", "H", "H", "H", "H"]
    return atoms


def test_ethanol_bond_graph(ethanol):
    g = bond_graph(ethanol)
    assert g.dtype == bool and g.shape == (9, 9)
    assert np.array_equal(g, g.T) and not g.diagonal().any()
    # CH3-CH2-OH: C-C, C-O, O-H and five C-H bonds
    expected = {(0, 1), (1, 2), (2, 3), (0, 6), (0, 7), (0, 8), (1, 4), (1, 5)}
    assert {(i, j) for i, j in zip(*np.nonzero(np.triu(g)))} == expected


def test_ethanol_bond_separation(ethanol):
    s = bond_separation(ethanol)
    assert s.dtype.kind == "i" and np.array_equal(s, s.T)
    assert np.all(s.diagonal() == 0)
    methyl_c, methylene_c, o, ho, methylene_h, methyl_h = 0, 1, 2, 3, 4, 6
    assert s[methyl_c, methylene_c] == 1
    assert s[ho, o] == 1
    assert s[ho, methylene_c] == 2            # H-O-C
    assert s[ho, methyl_c] == 3               # H-O-C-C
    assert s[ho, methyl_h] == 4               # H-O-C-C-H
    assert s[methyl_h, methylene_h] == 3      # H-C-C-H (vicinal)
    assert s[6, 7] == 2                       # geminal methyl H
    assert s.max() == 4 and (s >= 0).all()
    names = separation_class(s[np.triu_indices(9, 1)])
    assert set(names) == {"1-2", "1-3", "1-4", ">=1-5"}
    assert separation_class(s[ho, methyl_h]) == ">=1-5"
    assert separation_class(s[ho, methylene_c]) == "1-3"
    assert separation_class(s[ho, methyl_c]) == "1-4"


def test_two_fragments_are_through_space():
    w1, w2 = molecule("H2O"), molecule("H2O")
    w2.positions += [10.0, 0.0, 0.0]
    s = bond_separation(w1 + w2)
    assert np.all(s[:3, 3:] == -1) and np.all(s[3:, :3] == -1)
    assert np.array_equal(s[:3, :3], bond_separation(w1))
    assert set(separation_class(s[:3, 3:]).ravel()) == {"through-space"}


def test_separation_class_mapping_and_zero():
    got = separation_class(np.array([[1, 2, 3], [4, 7, -1]]))
    assert got.shape == (2, 3)
    assert got.tolist() == [["1-2", "1-3", "1-4"], [">=1-5", ">=1-5", "through-space"]]
    assert set(got.ravel()) == set(SEPARATION_CLASSES)
    with pytest.raises(ValueError):
        separation_class(np.array([1, 0, 2]))
    with pytest.raises(ValueError):
        separation_class(0)


def test_envelope_matches_schnetpack():
    from schnetpack.nn import CosineCutoff

    cutoff = 5.0
    r = np.linspace(0.0, 6.0, 241)
    ref = CosineCutoff(cutoff)(torch.tensor(r, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(cosine_envelope(r, cutoff), ref, atol=1e-6)
    assert cosine_envelope(0.0, cutoff) == 1.0
    assert np.all(cosine_envelope(np.array([5.0, 5.5]), cutoff) == 0.0)


def test_envelope_corrected_round_trip_and_errors():
    rng = np.random.default_rng(0)
    cutoff = 5.0
    r = rng.uniform(0.5, 4.9, size=(4, 6))
    values = rng.normal(size=(4, 6))
    for k in (0, 1, 2, 3):
        np.testing.assert_allclose(envelope_corrected(values * cosine_envelope(r, cutoff) ** k, r, cutoff, k),
                                   values, rtol=1e-10)
    with pytest.raises(ValueError):
        envelope_corrected(values, np.where(r > 4.0, 5.0, r), cutoff, 1)
    with pytest.raises(ValueError):
        envelope_corrected(np.array([1.0]), np.array([6.0]), cutoff, 0)
    with pytest.raises(ValueError):
        envelope_corrected(values, r, cutoff, -1)
    with pytest.raises(ValueError):
        envelope_corrected(values, r, cutoff, 1.5)
    with pytest.raises(ValueError):
        envelope_corrected(values, r[:, :3], cutoff, 1)


@pytest.mark.parametrize("scale", [0.0, -1.0])
def test_invalid_scale(ethanol, scale):
    with pytest.raises(ValueError):
        bond_graph(ethanol, scale=scale)
    with pytest.raises(ValueError):
        bond_separation(ethanol, scale=scale)


def test_nan_positions_raise(ethanol):
    ethanol.positions[2, 1] = np.nan
    with pytest.raises(MalformedStructureError):
        bond_graph(ethanol)
    with pytest.raises(MalformedStructureError):
        bond_separation(ethanol)


def test_single_atom_and_not_atoms():
    assert bond_separation(Atoms("C", positions=[[0, 0, 0]])).tolist() == [[0]]
    with pytest.raises(MalformedStructureError):
        bond_graph(np.zeros((3, 3)))
