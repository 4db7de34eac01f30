"""Atomic-energy partitions (xailib.qm.partition): exact sums, independent references, invariances."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.units import Hartree
from scipy.spatial.transform import Rotation

pytest.importorskip("pyscf")

from xailib.qm.partition import scf as P  # noqa: E402  (the module: tests patch its SCF settings)
from xailib.qm.partition.ao import basis_owner  # noqa: E402
from xailib.qm.partition.mo import localise_occupied, orbital_contributions  # noqa: E402
from xailib.transfer.descriptors import hydrogen_partners  # noqa: E402

pytestmark = pytest.mark.slow  # PySCF SCF runs

MOLECULES = ["H2O", "CH4", "NH3", "CH3OH", "HCN"]


@pytest.fixture(scope="module")
def scf_cache():
    cache: dict[tuple[str, str], object] = {}

    def get(name: str, method: str = "hf"):
        if (name, method) not in cache:
            cache[(name, method)] = P.run_scf(molecule(name), method=method)
        return cache[(name, method)]

    return get


def _rotated(atoms: Atoms, seed: int) -> Atoms:
    out = atoms.copy()
    rot = Rotation.random(random_state=seed).as_matrix()
    out.positions = atoms.positions @ rot.T + np.array([0.7, -1.3, 2.1])
    return out


@pytest.mark.parametrize("scheme", P.SCHEMES)
@pytest.mark.parametrize("name", MOLECULES)
def test_sum_is_scf_total(scf_cache, name, scheme):
    mf = scf_cache(name)
    res = P.partition_scf(mf, scheme)
    assert abs(res.energies_hartree.sum() - mf.e_tot) < 1e-8
    assert abs(res.scf_energy_hartree - mf.e_tot) == 0.0
    # terms add up to the atomic energies, eV view is consistent
    np.testing.assert_allclose(sum(res.terms_hartree.values()), res.energies_hartree, atol=1e-12)
    assert res.total == pytest.approx(mf.e_tot * Hartree, abs=1e-6)
    np.testing.assert_allclose(res.relative, (res.energies_hartree - res.free_atom_hartree) * Hartree)


@pytest.mark.parametrize("name", ["H2O", "CH3OH"])
def test_each_term_matches_pyscf(scf_cache, name):
    """Term totals against PySCF's own energy pieces (an independent route)."""
    mf = scf_cache(name)
    mats = P.energy_matrices(mf)
    e = mats.term_energies()
    dm = mf.make_rdm1()
    h1 = mf.get_hcore()
    assert e["kinetic"] + e["nuclear_attraction"] == pytest.approx(np.einsum("ij,ji", dm, h1), abs=1e-10)
    assert e["coulomb"] + e["exchange"] == pytest.approx(mf.energy_elec(dm)[1], abs=1e-10)
    assert e["nuclear_repulsion"] == pytest.approx(mf.energy_nuc(), abs=1e-10)
    np.testing.assert_allclose(mats.nuclear_attraction_by_atom.sum(0),
                               mf.mol.intor_symmetric("int1e_nuc"), atol=1e-10)


def test_ao_scheme_against_four_index_integrals(scf_cache):
    """Per-atom Coulomb/exchange of the AO scheme from the full ERI tensor, written out."""
    mf = scf_cache("H2O")
    mol = mf.mol
    dm = mf.make_rdm1()
    eri = mol.intor("int2e")  # (mu nu | la si)
    owner = basis_owner(mol)
    res = P.partition_scf(mf, "ao")
    coul = 0.5 * np.einsum("mn,nmls,ls->m", dm, eri, dm)
    exch = -0.25 * np.einsum("mn,nlms,ls->m", dm, eri, dm)
    kin = np.einsum("mn,nm->m", dm, mol.intor("int1e_kin"))
    for term, per_function in (("coulomb", coul), ("exchange", exch), ("kinetic", kin)):
        expected = [per_function[owner == a].sum() for a in range(mol.natm)]
        np.testing.assert_allclose(res.terms_hartree[term], expected, atol=1e-10)
    # electron-nucleus attraction: half by basis-function owner, half to the attracting nucleus
    z = mol.atom_charges()
    v_own = np.zeros(mol.natm)
    v_nuc = np.zeros(mol.natm)
    for a in range(mol.natm):
        mol.set_rinv_origin(mol.atom_coord(a))
        va = -z[a] * mol.intor("int1e_rinv")
        v_nuc[a] = np.einsum("ij,ji", dm, va)
        v_own += np.bincount(owner, np.einsum("mn,nm->m", dm, va), minlength=mol.natm)
    np.testing.assert_allclose(res.terms_hartree["nuclear_attraction"], 0.5 * (v_own + v_nuc),
                               atol=1e-10)
    # row-owner split == half of every off-diagonal element to each owner (symmetric D, X)
    elementwise = dm * mol.intor("int1e_kin")
    half_split = np.zeros(mol.natm)
    np.add.at(half_split, owner, 0.5 * elementwise.sum(axis=1))
    np.add.at(half_split, owner, 0.5 * elementwise.sum(axis=0))
    np.testing.assert_allclose(res.terms_hartree["kinetic"], half_split, atol=1e-12)


def test_mo_orbital_contributions_against_mo_integrals(scf_cache):
    """e_i = 2 h_ii + sum_j [2 (ii|jj) - (ij|ji)] from MO-basis two-electron integrals."""
    from pyscf import ao2mo

    mf = scf_cache("CH3OH")
    mol = mf.mol
    loc = localise_occupied(mf)
    # localisation is a rotation of the occupied space: same density
    np.testing.assert_allclose(2 * loc @ loc.T, mf.make_rdm1(), atol=1e-10)
    n = loc.shape[1]
    eri = ao2mo.restore(1, ao2mo.kernel(mol, loc), n)  # (ij|kl)
    h = loc.T @ mf.get_hcore() @ loc
    ref = 2 * np.diag(h) + 2 * np.einsum("iijj->i", eri) - np.einsum("ijji->i", eri)
    got = sum(orbital_contributions(loc, P.energy_matrices(mf)).values())
    np.testing.assert_allclose(got, ref, atol=1e-9)
    assert got.sum() + mf.energy_nuc() == pytest.approx(mf.e_tot, abs=1e-8)


def test_mo_populations_and_orbital_energies(scf_cache):
    res = P.partition_scf(scf_cache("CH4"), "mo")
    assert res.populations.shape == (5, 5)
    np.testing.assert_allclose(res.populations.sum(1), 1.0, atol=1e-12)
    assert np.all(res.populations > -1e-12)
    # one core orbital on carbon, four C-H bonds shared between C and one H
    assert np.sum(res.populations[:, 0] > 0.99) == 1
    bonds = res.populations[res.populations[:, 0] < 0.99]
    assert np.all(np.sort(bonds[:, 1:], axis=1)[:, -1] > 0.3)


@pytest.mark.parametrize("scheme", P.SCHEMES)
@pytest.mark.parametrize("name", ["CH3OH", "HCN", "NH3"])
def test_rotation_translation_invariance(scf_cache, name, scheme):
    ref = P.partition_scf(scf_cache(name), scheme)
    moved = P.atomic_energies(_rotated(molecule(name), seed=3), scheme)
    np.testing.assert_allclose(moved.energies_hartree, ref.energies_hartree, atol=1e-6)


@pytest.mark.parametrize("scheme", P.SCHEMES)
def test_permutation_permutes_energies(scf_cache, scheme):
    atoms = molecule("CH3OH")
    perm = np.array([3, 5, 0, 4, 1, 2])
    ref = P.partition_scf(scf_cache("CH3OH"), scheme)
    permuted = P.atomic_energies(atoms[perm], scheme)
    np.testing.assert_allclose(permuted.energies_hartree, ref.energies_hartree[perm], atol=1e-6)
    np.testing.assert_array_equal(permuted.numbers, atoms.numbers[perm])


@pytest.mark.parametrize("scheme", P.SCHEMES)
@pytest.mark.parametrize("name,n_h", [("CH4", 4), ("NH3", 3)])
def test_symmetric_atoms_equal(scf_cache, name, scheme, n_h):
    res = P.partition_scf(scf_cache(name), scheme)
    h = res.energies_hartree[res.numbers == 1]
    assert len(h) == n_h
    assert np.ptp(h) < 1e-6


def _h_by_partner(atoms: Atoms, rel: np.ndarray) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"C": [], "N": [], "O": []}
    for i, partner in enumerate(hydrogen_partners(atoms)):
        if partner is not None:
            out[partner].append(float(rel[i]))
    return out


def test_mo_scheme_separates_hydrogens_by_bonding_partner():
    """H on C, N and O: three well separated groups of relative atomic energies (eV)."""
    groups: dict[str, list[float]] = {"C": [], "N": [], "O": []}
    for name in ["H3CNH2", "CH3OH", "CH3CH2OH", "CH3CH2NH2"]:
        atoms = molecule(name)
        res = P.atomic_energies(atoms, "mo")
        for k, v in _h_by_partner(atoms, res.relative).items():
            groups[k] += v
    hc, hn, ho = (np.array(groups[k]) for k in "CNO")
    assert len(hc) == 16 and len(hn) == 4 and len(ho) == 2
    gap_cn = hn.min() - hc.max()
    gap_no = ho.min() - hn.max()
    spread = max(np.ptp(hc), np.ptp(hn), np.ptp(ho))
    assert gap_cn > 0.5 and gap_no > 0.5  # eV
    assert min(gap_cn, gap_no) > 3 * spread


def test_free_atom_references_literature():
    # UHF/STO-3G atomic energies (Hartree), Hund's-rule ground states
    assert P.free_atom_energy(1) == pytest.approx(-0.4665818496, abs=1e-8)
    assert P.free_atom_energy(6) == pytest.approx(-37.19839, abs=1e-4)
    assert P.free_atom_energy(8) == pytest.approx(-73.80415, abs=1e-4)
    assert [P.ground_state_unpaired(z) for z in (1, 6, 7, 8, 9, 16, 17, 35)] == [1, 2, 3, 2, 1, 2, 1, 1]


def test_dft_sums_and_xc_energy(scf_cache):
    mf = scf_cache("H2O", "pbe")
    mats = P.energy_matrices(mf)
    veff = mf.get_veff(mf.mol, mf.make_rdm1())
    assert mats.term_energies()["xc"] == pytest.approx(float(veff.exc), abs=1e-9)
    for scheme in P.SCHEMES:
        res = P.partition_scf(mf, scheme)
        assert abs(res.energies_hartree.sum() - mf.e_tot) < 1e-8
        assert "xc" in res.terms_hartree and "exchange" not in res.terms_hartree


def test_hybrid_has_scaled_exchange(scf_cache):
    mf = scf_cache("HCN", "b3lyp")
    for scheme in P.SCHEMES:
        res = P.partition_scf(mf, scheme)
        assert abs(res.energies_hartree.sum() - mf.e_tot) < 1e-8
        assert {"xc", "exchange"} <= set(res.terms_hartree)


def test_errors():
    with pytest.raises(P.UnknownSchemeError, match="scheme"):
        P.atomic_energies(molecule("H2O"), "bader")
    with pytest.raises(P.UnsupportedMethodError, match="unknown method"):
        P.atomic_energies(molecule("H2O"), "ao", method="not-a-functional")
    with pytest.raises(P.UnsupportedMethodError, match="meta-GGA|MGGA"):
        P.atomic_energies(molecule("H2O"), "ao", method="tpss")
    with pytest.raises(P.UnsupportedMethodError, match="range-separated"):
        P.atomic_energies(molecule("H2O"), "ao", method="camb3lyp")
    with pytest.raises(P.OpenShellError, match="odd"):
        P.atomic_energies(molecule("CH3"), "ao")
    with pytest.raises(P.UnsupportedElementError, match="Xe"):
        P.atomic_energies(Atoms("Xe2", positions=[[0, 0, 0], [0, 0, 3.0]]), "ao")
    with pytest.raises(P.UnsupportedElementError, match="main-group"):
        P.atomic_energies(Atoms("Fe2", positions=[[0, 0, 0], [0, 0, 2.0]]), "ao")
    with pytest.raises(TypeError):
        P.atomic_energies("H2O", "ao")


def test_not_converged_is_an_error(monkeypatch):
    monkeypatch.setattr(P, "_SCF_MAX_CYCLE", 1)
    with pytest.raises(P.SCFNotConvergedError, match="did not converge"):
        P.run_scf(molecule("CH3OH"))
    from pyscf import gto, scf

    mf = scf.RHF(gto.M(atom="H 0 0 0; H 0 0 0.74", basis="sto-3g", verbose=0))  # never run
    with pytest.raises(P.SCFNotConvergedError, match="not converged"):
        P.partition_scf(mf, "ao")


def test_many_records_skipped_molecules():
    frames = [molecule("H2O"), molecule("CH3"), Atoms("Xe2", positions=[[0, 0, 0], [0, 0, 3.0]]),
              molecule("NH3")]
    results, skipped = P.atomic_energies_many(frames, progress=False)
    assert [r is None for r in results] == [False, True, True, False]
    assert [k for k, _ in skipped] == [1, 2]
    assert "OpenShellError" in skipped[0][1] and "UnsupportedElementError" in skipped[1][1]
    one = P.atomic_energies(molecule("NH3"), "mo")
    np.testing.assert_allclose(results[3]["mo"].energies, one.energies, atol=1e-6)
    assert set(results[0]) == {"ao", "mo"}


# ---------------------------------------------------------------- charge, spin, open shells, basis

def _with(atoms: Atoms, **arrays) -> Atoms:
    out = atoms.copy()
    for name, values in arrays.items():
        getattr(out, f"set_{name}")(values)
    return out


@pytest.mark.parametrize("atoms,kwargs,match", [
    (molecule("CH3"), {}, "odd"),                                     # radical
    (Atoms("C"), {}, "2 unpaired"),                                   # triplet ground state
    (Atoms("N"), {}, "odd"),
    (Atoms("O"), {}, "2 unpaired"),
    (Atoms("C"), {"charge": 2}, None),                                # C2+ (1s2 2s2): closed, accepted
    (molecule("H2O"), {"spin": 2}, "spin=2"),                         # explicit triplet
    (molecule("NH3"), {"charge": 1}, "odd"),                          # NH3+ radical cation
    (_with(molecule("H2O"), initial_magnetic_moments=[2, 0, 0]), {}, "magnetic moments"),
    (_with(molecule("H2O"), initial_charges=[1, 0, 0]), {"charge": 1}, "odd"),  # H2O+ from the Atoms
], ids=["CH3", "C-atom", "N-atom", "O-atom", "C2+-ion-ok", "spin2", "NH3+", "magmoms", "H2O+"])
def test_open_shells_are_refused(atoms, kwargs, match):
    if match is None:
        mf = P.run_scf(atoms, **kwargs, need_iao=False)
        assert mf.converged and mf.mol.nelectron == 4
        return
    with pytest.raises(P.OpenShellError, match=match):
        P.atomic_energies(atoms, "ao", **kwargs)


@pytest.mark.parametrize("atoms", [Atoms("He"), Atoms("Ne"), Atoms("Be")], ids=["He", "Ne", "Be"])
def test_closed_shell_atoms_run(atoms):
    res = P.atomic_energies(atoms, "ao")
    assert res.energies_hartree.shape == (1,)
    # a closed-shell atom: restricted energy equals the spin-polarised free-atom reference
    assert res.energies_hartree[0] == pytest.approx(res.free_atom_hartree[0], abs=1e-6)


@pytest.mark.parametrize("name,charge", [("NH4", 1), ("OH", -1)])
@pytest.mark.parametrize("scheme", P.SCHEMES)
def test_charged_closed_shells(name, charge, scheme):
    if name == "NH4":
        atoms = Atoms("NH4", positions=[[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63],
                                        [-0.63, 0.63, -0.63], [0.63, -0.63, -0.63]])
    else:
        atoms = Atoms("OH", positions=[[0, 0, 0], [0, 0, 0.97]])
    mf = P.run_scf(atoms, charge=charge)
    assert mf.mol.charge == charge and mf.mol.nelectron == atoms.numbers.sum() - charge
    res = P.atomic_energies(atoms, scheme, charge=charge)
    assert abs(res.energies_hartree.sum() - mf.e_tot) < 1e-8
    # the same ion with its charge on the Atoms (initial_charges summing to the argument) is accepted
    tagged = _with(atoms, initial_charges=[charge] + [0] * (len(atoms) - 1))
    res2 = P.atomic_energies(tagged, scheme, charge=charge)
    np.testing.assert_allclose(res2.energies_hartree, res.energies_hartree, atol=1e-6)


@pytest.mark.parametrize("atoms,kwargs,match", [
    (_with(molecule("H2O"), initial_charges=[1, 0, 0]), {}, "initial_charges summing to \\+1"),
    (_with(molecule("H2O"), initial_charges=[-0.5, 0, 0]), {"charge": 0}, "initial_charges"),
    (molecule("H2O"), {"charge": 0.5}, "charge must be an integer"),
    (molecule("H2O"), {"charge": True}, "charge must be an integer"),
    (molecule("H2O"), {"spin": -2}, "spin"),
    (molecule("H2"), {"charge": 2}, "0 electrons"),
    (_with(molecule("NH3"), initial_charges=[1, 0, 0, 0]), {"charge": -1}, "summing to \\+1 but charge=-1"),
], ids=["initial-charges-ignored-before", "partial-charges", "fractional", "bool", "negative-spin",
        "no-electrons", "disagreeing"])
def test_bad_charge_or_spin(atoms, kwargs, match):
    with pytest.raises(P.ChargeSpinError, match=match):
        P.atomic_energies(atoms, "ao", **kwargs)


@pytest.mark.parametrize("call", [
    lambda b: P.atomic_energies(molecule("H2O"), "ao", basis=b),
    lambda b: P.run_scf(molecule("H2O"), basis=b, need_iao=False),
    lambda b: P.free_atom_energy(8, "hf", b),
], ids=["atomic_energies", "run_scf", "free_atom_energy"])
@pytest.mark.parametrize("basis", ["no-such-basis", "sto-4x", ""])
def test_unknown_basis_is_named(call, basis):
    with pytest.raises(P.UnknownBasisError, match="basis") as err:
        call(basis)
    assert not isinstance(err.value, P.UnsupportedElementError)


def test_unknown_basis_is_exported_and_known_bases_pass():
    from xailib.base.errors import XailibError
    from xailib.qm import partition

    for name in ("UnknownBasisError", "OpenShellError", "ChargeSpinError"):
        err = getattr(partition, name)
        assert issubclass(err, XailibError) and issubclass(err, ValueError)
    from xailib.qm.partition.checks import check_basis

    for basis in ("sto-3g", "STO-3G", "6-31g*", "def2-svp", "cc-pvdz"):
        check_basis(basis)
    with pytest.raises(P.UnknownBasisError):
        check_basis({"H": "sto-3g"})
    # a known basis without the element is still an element error
    with pytest.raises(P.UnsupportedElementError, match="Xe"):
        P.atomic_energies(Atoms("Xe2", positions=[[0, 0, 0], [0, 0, 3.0]]), "ao")


def test_many_skips_charge_errors_and_raises_unknown_basis():
    frames = [molecule("H2O"), _with(molecule("H2O"), initial_charges=[1, 0, 0])]
    results, skipped = P.atomic_energies_many(frames, schemes=("ao",), progress=False)
    assert results[1] is None and "ChargeSpinError" in skipped[0][1]
    with pytest.raises(P.UnknownBasisError):
        P.atomic_energies_many(frames, basis="no-such-basis", progress=False)
