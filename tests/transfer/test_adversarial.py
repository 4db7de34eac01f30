"""Adversarial validation and descriptors (xailib.transfer.adversarial, xailib.transfer.descriptors)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from scipy.spatial.transform import Rotation

pytest.importorskip("xgboost")
pytest.importorskip("rdkit")

from xailib.transfer import UnsupportedElementError  # noqa: E402
from xailib.transfer.adversarial import (  # noqa: E402
    AdversarialInputError,
    adversarial_validation,
    atom_descriptors,
    molecule_descriptors,
    random_split_control,
)

ELEMENTS = ["H", "C", "N", "O"]


def _nci_molecules(n: int = 300) -> list[Atoms]:
    """Real NCI molecules (C, N, O; 4-14 heavy atoms) embedded with RDKit ETKDG, fixed seed."""
    from rdkit import Chem

    from xailib.data.molecules import EmbeddingError, embed, read_nci, to_atoms

    out = []
    for smi, _ in read_nci():
        mol = Chem.MolFromSmiles(smi)
        if mol is None or "." in smi or not 4 <= mol.GetNumHeavyAtoms() <= 14:
            continue
        if not {a.GetSymbol() for a in mol.GetAtoms()} <= {"C", "N", "O"}:
            continue
        try:
            out.append(to_atoms(embed(smi, seed=42, max_attempts=1, mmff=False)))
        except EmbeddingError:
            continue
        if len(out) == n:
            return out
    raise RuntimeError("not enough NCI molecules")


def _frames(mols, *, n_frames=2, noise=0.02, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    frames, groups = [], []
    for k, atoms in enumerate(mols):
        for _ in range(n_frames):
            f = atoms.copy()
            f.positions = scale * f.positions + rng.normal(0.0, noise, f.positions.shape)
            frames.append(f)
            groups.append(k)
    return frames, np.array(groups)


@pytest.fixture(scope="module")
def nci():
    mols = _nci_molecules()
    frames, groups = _frames(mols)
    return mols, molecule_descriptors(frames, elements=ELEMENTS, groups=groups)


# ---------------------------------------------------------------- descriptors

def test_molecule_descriptors_of_methane():
    d = molecule_descriptors([molecule("CH4")], elements=ELEMENTS)
    row = dict(zip(d.names, d.X[0]))
    assert row["count_C"] == 1 and row["count_H"] == 4 and row["n_atoms"] == 5 and row["n_heavy"] == 1
    assert row["n_bonds_H-C"] == 4 and row["bond_H-C_1.00-1.10"] == 4  # r(CH) = 1.087 A
    assert row["n_bonds_H-H"] == 0
    assert row["cn_C_4+"] == 1 and row["cn_H_1"] == 4 and row["cn_mean_C"] == 4
    r_ch = molecule("CH4").get_distance(0, 1)
    assert row["max_distance"] == pytest.approx(r_ch * np.sqrt(8 / 3), abs=1e-9)  # H...H
    assert row["radius_of_gyration"] == pytest.approx(r_ch * np.sqrt(4 / 5), abs=1e-9)
    assert d.X.shape == (1, len(d.names)) and len(set(d.names)) == len(d.names)


def test_descriptors_invariant_under_rotation_translation_permutation():
    atoms = molecule("CH3CH2OH")
    moved = atoms.copy()
    moved.positions = atoms.positions @ Rotation.random(random_state=1).as_matrix().T + [3, -2, 1]
    perm = np.random.default_rng(0).permutation(len(atoms))
    moved = moved[perm]
    a = molecule_descriptors([atoms, moved], elements=ELEMENTS)
    np.testing.assert_allclose(a.X[0], a.X[1], atol=1e-10)
    e = atom_descriptors([atoms, moved], elements=ELEMENTS)
    n = len(atoms)
    np.testing.assert_allclose(e.X[n:], e.X[:n][perm], atol=1e-10)
    np.testing.assert_array_equal(e.groups, np.r_[np.zeros(n), np.ones(n)])
    np.testing.assert_array_equal(e.atom_index[:n], np.arange(n))


def test_atom_descriptors_of_methanol():
    atoms = molecule("CH3OH")
    d = atom_descriptors([atoms], elements=ELEMENTS)
    names = d.names
    o = int(np.flatnonzero(atoms.numbers == 8)[0])
    assert d.X[o, names.index("is_O")] == 1 and d.X[o, names.index("cn")] == 2
    assert d.X[o, names.index("bonded_C")] == 1 and d.X[o, names.index("bonded_H")] == 1
    # every other atom lies in one of the shells of the oxygen
    shell_cols = [i for i, nm in enumerate(names) if nm.startswith("shell_")]
    assert d.X[o, shell_cols].sum() == len(atoms) - 1


def test_unknown_element_is_an_error():
    with pytest.raises(UnsupportedElementError, match="Cl"):
        molecule_descriptors([molecule("CH3Cl")], elements=ELEMENTS)
    with pytest.raises(UnsupportedElementError, match="union"):
        atom_descriptors([molecule("CH3Cl")], elements=ELEMENTS)


# ---------------------------------------------------------------- adversarial validation

def test_random_halves_of_one_set_give_auc_near_half(nci):
    _, d = nci
    res = random_split_control(d.X, groups=d.groups, seed=0, feature_names=d.names)
    assert 0.4 < res.auc < 0.6
    lo, hi = res.auc_ci
    assert lo < res.auc < hi and lo < 0.5 < hi
    # folds keep each molecule whole
    for proba, fold in ((res.proba_a, res.fold_a), (res.proba_b, res.fold_b)):
        assert np.all((proba >= 0) & (proba <= 1)) and np.all(fold >= 0)


def test_grouped_folds_prevent_frame_leakage(nci):
    """Halves by molecule: grouped CV gives ~0.5, ungrouped CV memorises molecules (AUC >> 0.5)."""
    _, d = nci
    in_b = np.isin(d.groups, np.random.default_rng(0).permutation(300)[:150])
    grouped = adversarial_validation(d.X[~in_b], d.X[in_b], groups_a=d.groups[~in_b],
                                     groups_b=d.groups[in_b], seed=0)
    leaky = adversarial_validation(d.X[~in_b], d.X[in_b], seed=0)
    assert 0.4 < grouped.auc < 0.6
    assert leaky.auc > grouped.auc + 0.2
    # each group's frames share one test fold
    for groups, folds in ((d.groups[~in_b], grouped.fold_a), (d.groups[in_b], grouped.fold_b)):
        for g in np.unique(groups):
            assert len(np.unique(folds[groups == g])) == 1
    # every fold is a test fold of both sets (stratified)
    assert set(grouped.fold_a) == set(grouped.fold_b) == set(range(5))


def test_clearly_different_sets_give_auc_near_one(nci):
    mols, d = nci
    frames, groups = _frames(mols, scale=1.05, seed=1)  # bonds 5 % longer
    stretched = molecule_descriptors(frames, elements=ELEMENTS, groups=groups)
    res = adversarial_validation(d.X, stretched.X, groups_a=d.groups, groups_b=stretched.groups,
                                 feature_names=d.names, seed=0)
    assert res.auc > 0.95
    assert res.auc_ci[0] <= res.auc <= res.auc_ci[1]
    assert res.proba_b.mean() > 0.8 > 0.2 > res.proba_a.mean()
    # the classifier points at bond lengths, not at composition (identical in both sets)
    top = [name for name, _ in res.top_features(5)]
    assert all(name.startswith("bond_") for name in top[:3])
    assert res.importances.sum() == pytest.approx(1.0)
    comp = [i for i, nm in enumerate(d.names) if nm.startswith("count_")]
    assert res.importances[comp].sum() < 0.05


def test_atom_level_validation_keeps_molecules_together(nci):
    mols, _ = nci
    small = mols[:40]
    fa, ga = _frames(small, n_frames=1, seed=2)
    fb, gb = _frames(small, n_frames=1, scale=1.08, seed=3)
    a = atom_descriptors(fa, elements=ELEMENTS, groups=ga)
    b = atom_descriptors(fb, elements=ELEMENTS, groups=gb)
    res = adversarial_validation(a.X, b.X, groups_a=a.groups, groups_b=b.groups, seed=1,
                                 n_bootstrap=200)
    assert res.auc > 0.9
    for g in np.unique(a.groups):
        assert len(np.unique(res.fold_a[a.groups == g])) == 1


def test_auc_recomputes_and_is_deterministic(nci):
    from sklearn.metrics import roc_auc_score

    _, d = nci
    x = d.X[:200]
    g = d.groups[:200]
    r1 = random_split_control(x, groups=g, seed=3, n_bootstrap=200)
    r2 = random_split_control(x, groups=g, seed=3, n_bootstrap=200)
    y = np.r_[np.zeros(len(r1.proba_a)), np.ones(len(r1.proba_b))]
    p = np.r_[r1.proba_a, r1.proba_b]
    fold = np.r_[r1.fold_a, r1.fold_b]
    # the AUC is stratified by test fold: per-fold AUCs weighted by n_A * n_B of the fold
    aucs = [roc_auc_score(y[fold == k], p[fold == k]) for k in range(r1.folds)]
    pairs = [np.sum(y[fold == k] == 0) * np.sum(y[fold == k] == 1) for k in range(r1.folds)]
    np.testing.assert_allclose(r1.fold_aucs, aucs)
    assert r1.auc == pytest.approx(np.average(aucs, weights=pairs), abs=1e-12)
    assert r1.pooled_auc == pytest.approx(roc_auc_score(y, p))
    assert r1.auc == r2.auc and r1.auc_ci == r2.auc_ci
    np.testing.assert_array_equal(r1.proba_a, r2.proba_a)


def _grouped(sizes: np.ndarray, rng: np.random.Generator, n_features: int = 5, shift: float = 0.0):
    """Groups of the given sizes: a group mean plus 10 % row noise (near-identical frames)."""
    means = rng.normal(size=(len(sizes), n_features)) + shift
    x = np.repeat(means, sizes, axis=0) + 0.1 * rng.normal(size=(sizes.sum(), n_features))
    return x, np.repeat(np.arange(len(sizes)), sizes)


def test_identical_features_unbalanced_groups_give_exactly_half():
    """Constant features: every fold model predicts its training prior. Pooled across folds those
    priors anti-correlate with the test labels (AUC 0.15, the old estimator); within folds all scores
    tie, so the fold-stratified AUC is exactly 0.5."""
    sa, sb = np.array([2, 5, 10, 20, 40, 80, 3, 7]), np.array([1, 2, 4, 8, 16, 30])
    ga, gb = np.repeat(np.arange(len(sa)), sa), np.repeat(np.arange(len(sb)), sb)
    res = adversarial_validation(np.zeros((len(ga), 3)), np.zeros((len(gb), 3)), groups_a=ga, groups_b=gb,
                                 seed=0, n_bootstrap=200)
    assert res.auc == 0.5 and res.auc_ci == (0.5, 0.5)
    assert res.pooled_auc < 0.3


def test_identical_distributions_unbalanced_groups_average_half():
    """Noise features from one distribution, 3:1 unbalanced sets of 1-4 rows per group: the mean AUC
    over five seeds lies within 0.05 of 0.5 (its standard error is about 0.02)."""
    aucs = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        xa, ga = _grouped(rng.integers(1, 5, 360), rng)
        xb, gb = _grouped(rng.integers(1, 5, 120), rng)
        res = adversarial_validation(xa, xb, groups_a=ga, groups_b=gb, seed=seed, n_bootstrap=200)
        assert res.auc_ci[0] <= res.auc <= res.auc_ci[1]
        aucs.append(res.auc)
    assert abs(np.mean(aucs) - 0.5) < 0.05


def test_separated_sets_unbalanced_groups_give_auc_near_one():
    rng = np.random.default_rng(0)
    xa, ga = _grouped(rng.integers(1, 12, 120), rng)
    xb, gb = _grouped(rng.integers(1, 12, 40), rng, shift=3.0)
    res = adversarial_validation(xa, xb, groups_a=ga, groups_b=gb, seed=0, n_bootstrap=200)
    assert res.auc > 0.98 and res.auc_ci[0] > 0.9 and res.auc_ci[1] <= 1.0


@pytest.mark.slow
def test_noise_control_interval_covers_half():
    """Coverage of 0.5 by the 95 % interval for identical sets, on 16 seeds (the 50-seed measurement is
    ``benchmarks/adversarial_coverage.py``): at least 13 of 16 (the old pooled interval: 0.82 over 50)."""
    covered, aucs = 0, []
    for seed in range(16):
        rng = np.random.default_rng(1000 + seed)
        xa, ga = _grouped(np.full(80, 11), rng, n_features=20)
        xb, gb = _grouped(np.full(40, 11), rng, n_features=20)
        res = adversarial_validation(xa, xb, groups_a=ga, groups_b=gb, seed=seed, n_bootstrap=500)
        covered += res.auc_ci[0] <= 0.5 <= res.auc_ci[1]
        aucs.append(res.auc)
    assert covered >= 13
    assert abs(np.mean(aucs) - 0.5) < 0.05


def test_bad_inputs():
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    with pytest.raises(AdversarialInputError, match="features"):
        adversarial_validation(xa, xb[:, :2])
    with pytest.raises(AdversarialInputError, match="2-D"):
        adversarial_validation(xa[:, 0], xb)
    bad = xa.copy()
    bad[3, 1] = np.nan
    with pytest.raises(AdversarialInputError, match="NaN"):
        adversarial_validation(bad, xb)
    with pytest.raises(AdversarialInputError, match="fewer than folds"):
        adversarial_validation(xa, xb, groups_a=np.arange(20) % 3)
    with pytest.raises(AdversarialInputError, match="one entry per sample"):
        adversarial_validation(xa, xb, groups_b=np.arange(5))
    with pytest.raises(AdversarialInputError, match="folds"):
        adversarial_validation(xa, xb, folds=1)
    with pytest.raises(AdversarialInputError, match="no samples"):
        adversarial_validation(np.empty((0, 3)), xb)
    with pytest.raises(AdversarialInputError, match="n_bootstrap"):
        adversarial_validation(xa, xb, n_bootstrap=0)
    with pytest.raises(AdversarialInputError, match="halves"):
        random_split_control(xa, groups=np.arange(20) % 6)


def test_hydrogen_partners():
    from xailib.transfer.descriptors import hydrogen_partners

    atoms = molecule("CH3OH")
    partners = hydrogen_partners(atoms)
    assert sorted(p for p in partners if p) == ["C", "C", "C", "O"]
    assert all(p is None for p, z in zip(partners, atoms.numbers) if z > 1)
    assert hydrogen_partners(molecule("H2")) == [None, None]
