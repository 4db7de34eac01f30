import os
from pathlib import Path

import pytest

# Keep tests from fighting over the two CI cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


# --- fixtures of the model and training tests: tiny GFN2-xTB-labelled ASEAtomsData sets ---
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


def make_xtb_dataset(path: Path, names: list[str], n_per: int, seed: int = 0, rattle: float = 0.08) -> Path:
    """Write an ``ASEAtomsData`` db of rattled G2 molecules with GFN2-xTB energy, forces and gap.

    Units: eV, eV/Angstrom, Angstrom. Also writes ``<path>.split.npz`` (60/20/20 split).
    """
    from ase.build import molecule
    from ase.units import Hartree
    from schnetpack.data import ASEAtomsData
    from tblite.ase import TBLite

    rng = np.random.default_rng(seed)
    ds = ASEAtomsData.create(
        str(path), distance_unit="Ang", property_unit_dict={"energy": "eV", "forces": "eV/Ang", "gap": "eV"}
    )
    atoms_list, props = [], []
    for name in names:
        base = molecule(name)
        for _ in range(n_per):
            at = base.copy()
            at.positions += rng.normal(scale=rattle, size=at.positions.shape)
            calc = TBLite(method="GFN2-xTB", verbosity=0)
            at.calc = calc
            e = at.get_potential_energy()
            f = at.get_forces()
            eps = calc._res.get("orbital-energies")
            occ = calc._res.get("orbital-occupations")
            homo, lumo = eps[occ > 1e-6].max(), eps[occ <= 1e-6].min()
            at.calc = None
            atoms_list.append(at)
            props.append({"energy": np.array([e]), "forces": f, "gap": np.array([(lumo - homo) * Hartree])})
    ds.add_systems(props, atoms_list)
    n = len(atoms_list)
    perm = rng.permutation(n)
    a, b = int(0.6 * n), int(0.8 * n)
    np.savez(str(path) + ".split.npz", train_idx=perm[:a], val_idx=perm[a:b], test_idx=perm[b:])
    return path


@pytest.fixture(scope="session")
def ethanol_db(tmp_path_factory) -> Path:
    """40 rattled ethanol geometries (one composition, like an MD17 set)."""
    return make_xtb_dataset(tmp_path_factory.mktemp("data") / "ethanol.db", ["CH3CH2OH"], 40)


@pytest.fixture(scope="session")
def mixed_db(tmp_path_factory) -> Path:
    """Rattled small molecules of several compositions (H, C, O), like a tiny NCI set."""
    names = ["CH3CH2OH", "CH3OH", "H2O", "CH4", "C2H6", "CH3CHO", "HCOOH", "C2H4"]
    return make_xtb_dataset(tmp_path_factory.mktemp("data") / "mixed.db", names, 6)
