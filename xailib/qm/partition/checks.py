"""Input checks of the partition: basis name, elements, charge and spin (closed shells only).

Used by :mod:`xailib.qm.partition.scf`; the errors are exported from :mod:`xailib.qm.partition`.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from xailib.base.errors import UnsupportedElementError, XailibError

__all__ = ["OpenShellError", "ChargeSpinError", "UnknownBasisError", "ground_state_unpaired", "check_basis",
           "check_elements", "check_charge_spin"]


class OpenShellError(XailibError, ValueError):
    """An open shell (odd electron count, ``spin`` > 0, magnetic moments, or an atom with unpaired
    electrons in its ground state); only closed shells are partitioned (restricted SCF)."""


class ChargeSpinError(XailibError, ValueError):
    """Invalid ``charge``/``spin``, or ``charge`` disagrees with the ``initial_charges`` on the Atoms."""


class UnknownBasisError(XailibError, ValueError):
    """The basis is not a basis name that PySCF knows."""



_MAIN_GROUP_BLOCKS = ((21, 30), (39, 48), (57, 80), (89, 112))  # d and f blocks (excluded)
_SUBSHELLS = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (4, 0), (3, 2), (4, 1), (5, 0), (4, 2),
              (5, 1), (6, 0), (4, 3), (5, 2), (6, 1))


def ground_state_unpaired(z: int) -> int:
    """Number of unpaired electrons of a main-group atom's ground state (aufbau + Hund's rule)."""
    if any(lo <= z <= hi for lo, hi in _MAIN_GROUP_BLOCKS) or z < 1 or z > 86:
        raise UnsupportedElementError(
            f"element {chemical_symbols[z] if 0 < z < len(chemical_symbols) else z} (Z={z}) is not a "
            "main-group element; free-atom references are defined for main-group atoms only")
    return _unpaired(z)


def _unpaired(n_electrons: int) -> int:
    """Unpaired electrons of ``n_electrons`` filled into atomic subshells (aufbau + Hund's rule)."""
    left = n_electrons
    for _n, l in _SUBSHELLS:
        cap = 2 * (2 * l + 1)
        if left <= cap:
            return left if left <= cap // 2 else cap - left
        left -= cap
    raise ValueError(f"{n_electrons} electrons exceed the tabulated subshells")


def _load_basis(basis: str, sym: str):
    from pyscf import gto

    with warnings.catch_warnings():  # PySCF suggests installing basis-set-exchange
        warnings.simplefilter("ignore", UserWarning)
        return gto.basis.load(basis, sym)


def check_basis(basis: str) -> None:
    """Raise :class:`UnknownBasisError` unless ``basis`` names a basis that PySCF can load."""
    from pyscf.gto.basis import ALIAS, BasisNotFoundError, _format_basis_name

    if not isinstance(basis, str) or not basis.strip():
        raise UnknownBasisError(f"basis must be a PySCF basis name such as 'sto-3g', got {basis!r}")
    if _format_basis_name(basis) in ALIAS or os.path.isfile(basis):
        return
    for sym in ("H", "C", "O"):  # a name PySCF resolves some other way (e.g. basis-set-exchange)
        try:
            _load_basis(basis, sym)
            return
        except (BasisNotFoundError, KeyError, RuntimeError):
            continue
    raise UnknownBasisError(f"unknown basis {basis!r}: PySCF has no basis of that name (known names "
                            "include 'sto-3g', '6-31g*', 'def2-svp', 'cc-pvdz')")


def check_elements(numbers: np.ndarray, basis: str, *, need_iao: bool) -> None:
    """Raise :class:`UnknownBasisError` for an unknown basis, :class:`UnsupportedElementError` for
    elements the basis (or MINAO) lacks."""
    from pyscf.gto.basis import BasisNotFoundError

    check_basis(basis)
    for z in sorted(set(int(n) for n in numbers)):
        sym = chemical_symbols[z]
        ground_state_unpaired(z)
        for bas, why in ((basis, f"basis {basis!r}"), ("minao", "the MINAO reference of the IAOs")):
            if bas == "minao" and not need_iao:
                continue
            try:
                _load_basis(bas, sym)
            except (BasisNotFoundError, KeyError, RuntimeError) as err:
                raise UnsupportedElementError(
                    f"element {sym} (Z={z}) is not available in {why}; choose a basis that covers "
                    f"it or leave such molecules out") from err



def _integer(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ChargeSpinError(f"{name} must be an integer, got {value!r}")
    return int(value)


def check_charge_spin(atoms: Atoms, charge: int, spin: int) -> int:
    """Check ``charge`` and ``spin`` (2S, PySCF's convention) against ``atoms``; return the electron count.

    Raises :class:`ChargeSpinError` (not integers; no electrons left; non-zero ``initial_charges`` on
    the Atoms that do not sum to ``charge``) or :class:`OpenShellError` (``spin`` != 0, non-zero
    ``initial_magmoms``, an odd electron count, a single atom with unpaired electrons).
    """
    charge, spin = _integer(charge, "charge"), _integer(spin, "spin")
    formula = atoms.get_chemical_formula()
    initial = atoms.get_initial_charges()
    if np.any(initial != 0) and abs(float(initial.sum()) - charge) > 1e-6:
        raise ChargeSpinError(
            f"{formula} carries initial_charges summing to {float(initial.sum()):+g} but charge={charge}; "
            "pass the total charge as the `charge` argument (per-atom initial charges are not used) or "
            "clear them")
    if spin < 0:
        raise ChargeSpinError(f"spin (2S, the number of unpaired electrons) must be >= 0, got {spin}")
    if spin:
        raise OpenShellError(f"spin={spin} asks for an open shell; only closed shells (spin=0) are "
                             "partitioned (restricted SCF)")
    n_elec = int(atoms.get_atomic_numbers().sum()) - charge
    if n_elec <= 0:
        raise ChargeSpinError(f"{formula} with charge={charge} has {n_elec} electrons")
    if n_elec % 2:
        raise OpenShellError(
            f"{formula} with charge {charge:+d} has {n_elec} electrons (odd); only closed-shell "
            "molecules are partitioned (restricted SCF)")
    if len(atoms) == 1 and _unpaired(n_elec):
        raise OpenShellError(
            f"a single {formula} atom{f' (charge {charge:+d})' if charge else ''} has {_unpaired(n_elec)} "
            "unpaired electrons in its ground state (Hund's rule); only closed shells are partitioned. "
            "For the isolated neutral atom's energy use free_atom_energy()")
    magmom = atoms.get_initial_magnetic_moments()
    if np.any(np.abs(magmom) > 1e-6):
        raise OpenShellError(f"{formula} carries initial magnetic moments (total {float(magmom.sum()):g}); "
                             "only closed shells are partitioned (restricted SCF)")
    return n_elec

