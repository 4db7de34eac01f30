"""Bond orders from SMILES and 2-body terms split by bond order (xailib.analysis.bonds)."""

import numpy as np
import pytest

from xailib.analysis import (
    BondAssignmentError,
    bond_class_strengths,
    bond_order_matrix,
    bond_rank_correlation,
    load_results,
    pair_bond_classes,
)
from xailib.base.errors import XailibError
from xailib.data.molecules import embed, to_atoms


def _built(smiles: str):
    return to_atoms(embed(smiles, seed=0))


def _bonds(order: np.ndarray, atoms) -> list[tuple[str, str, float]]:
    s = atoms.get_chemical_symbols()
    return sorted((*sorted((s[i], s[j])), float(order[i, j])) for i, j in zip(*np.nonzero(np.triu(order))))


def test_ethanol_all_single():
    atoms = _built("CCO")
    order = bond_order_matrix(atoms, "CCO")
    assert order.shape == (9, 9) and np.array_equal(order, order.T) and not order.diagonal().any()
    assert _bonds(order, atoms) == sorted([("C", "C", 1.0), ("C", "O", 1.0), ("H", "O", 1.0)] + [("C", "H", 1.0)] * 5)


def test_benzene_aromatic():
    atoms = _built("c1ccccc1")
    bonds = _bonds(bond_order_matrix(atoms, "c1ccccc1"), atoms)
    assert bonds.count(("C", "C", 1.5)) == 6 and bonds.count(("C", "H", 1.0)) == 6 and len(bonds) == 12


def test_acetonitrile_triple():
    atoms = _built("CC#N")
    bonds = _bonds(bond_order_matrix(atoms, "CC#N"), atoms)
    assert ("C", "N", 3.0) in bonds and ("C", "C", 1.0) in bonds and len(bonds) == 5


def test_nitro_is_kekulised():
    atoms = _built("C[N+](=O)[O-]")
    bonds = _bonds(bond_order_matrix(atoms, "C[N+](=O)[O-]"), atoms)
    assert ("N", "O", 2.0) in bonds and ("N", "O", 1.0) in bonds


def test_permuted_atoms_raise():
    atoms = _built("CCO")
    with pytest.raises(BondAssignmentError, match="elements"):  # element sequence no longer RDKit's
        bond_order_matrix(atoms[[2, 1, 0, 3, 4, 5, 6, 7, 8]], "CCO")
    h = [k for k, s in enumerate(atoms.get_chemical_symbols()) if s == "H"]
    order = bond_order_matrix(atoms, "CCO")
    # swap a hydroxyl H with a carbon H: same elements, wrong bonds
    oh = next(k for k in h if order[k, 2])
    ch = next(k for k in h if order[k, 0])
    perm = list(range(len(atoms)))
    perm[oh], perm[ch] = ch, oh
    with pytest.raises(BondAssignmentError, match="bonds") as info:
        bond_order_matrix(atoms[perm], "CCO")
    assert isinstance(info.value, XailibError) and isinstance(info.value, ValueError)
    with pytest.raises(BondAssignmentError):
        bond_order_matrix(atoms, "not a smiles")


@pytest.fixture(scope="module")
def shipped():
    return load_results("nci-small-energy-schnet-seed1").subset(range(20))


def test_shipped_bonded_pairs_get_orders(shipped):
    t = pair_bond_classes(shipped)
    bonded = t["separation"] == 1
    assert bonded.any() and (~bonded).any()
    assert np.all(np.isin(t["bond_order"][bonded], [1.0, 1.5, 2.0, 3.0]))
    assert np.all(t["bond_order"][~bonded] == 0)
    assert set(t["bond_label"][bonded]) <= {"single", "aromatic", "double", "triple"}
    assert np.array_equal(t["bond_label"][~bonded], t["separation_class"][~bonded])
    assert len(t["bond_label"]) == len(t["value"])


def test_shipped_wrong_smiles_raise(shipped):
    ids = sorted(set(shipped.molecule_ids().tolist()))
    with pytest.raises(BondAssignmentError, match="structure"):
        pair_bond_classes(shipped, smiles={m: "CCO" for m in ids})
    with pytest.raises(BondAssignmentError, match="no SMILES"):
        pair_bond_classes(shipped, smiles={})


def test_strengths_and_rank_correlation(shipped):
    rows = bond_class_strengths([shipped, shipped], n_boot=50)
    by = {(r["pair"], r["bond_label"]): r for r in rows}
    ch = by[("H", "C"), "single"]
    assert ch["n_seeds"] == 2 and ch["sd"] == 0 and ch["low"] <= ch["mean"] <= ch["high"]
    assert all(r["flagged"] == (r["n_molecules"] < 5) for r in rows)
    few = bond_class_strengths([shipped], min_molecules=1, n_boot=50)  # 20 structures are 5 molecules
    singles = [r for r in few if r["bond_label"] == "single"]
    assert len(singles) >= 3
    # a reference ordered exactly like the strengths gives rho = 1
    rho = bond_rank_correlation([shipped], {r["pair"]: r["mean"] for r in singles}, min_molecules=1, n_boot=50)
    assert rho["n_pairs"] == len(singles) and rho["pooled"] == pytest.approx(1.0)
    assert rho["per_seed"][0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="need 3"):
        bond_rank_correlation([shipped], {("C", "C"): 1.0, ("H", "C"): 2.0}, n_boot=10)
