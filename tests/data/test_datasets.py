"""The shipped datasets are real and consistent: stored labels equal fresh GFN2-xTB calculations, forces
equal finite differences, splits are disjoint by molecule, bond graphs match SMILES, the manifest verifies,
and the builders reject bad input clearly."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from xailib.base.paths import data_dir
from xailib.base.units import PROPERTY_UNITS
from xailib.data import DatasetError, derived_seed, frame_table, load, load_split
from xailib.data.manifest import EXCLUDED_DIRS, GOOD_STATES, data_files, verify_manifest, write_manifest
from xailib.data.md17 import MD17_MOLECULES
from xailib.data.molecules import (
    NCI_ELEMENTS,
    MoleculeError,
    embed,
    filter_nci,
    geometry_adjacency,
    rejection_reason,
    smiles_adjacency,
)
from xailib.data.registry import DATASETS, build
from xailib.data.store import split_by_group
from xailib.qm.xtb import XTBSettings, xtb_energy, xtb_labels

NCI = ("nci-small", "nci-large")
MD17 = tuple(f"md17-{m}" for m in MD17_MOLECULES)


def rows(name, idx):
    """(Atoms, stored properties as float64 numpy) of database rows ``idx`` (0-based)."""
    from ase.db import connect

    with connect(str(data_dir() / f"{name}.db")) as conn:
        out = []
        for i in idx:
            row = conn.get(id=int(i) + 1)
            out.append((row.toatoms(), {k: np.asarray(v, dtype=float) for k, v in row.data.items()}))
    return out


@pytest.fixture(scope="module", params=MD17 + NCI)
def name(request):
    return request.param


def test_metadata_counts_and_units(name):
    ds = load(name)
    md = ds.metadata
    assert len(ds) == md["n_frames"]
    assert md["level_of_theory"].startswith("GFN2-xTB")
    assert ds.units == {k: PROPERTY_UNITS[k] for k in ds.available_properties}
    assert ds.distance_unit == "Ang"
    assert set(md["elements"]) <= {"H", "C", "N", "O", "F", "S", "Cl"}
    sample = ds[0]
    assert sample["forces"].shape == (int(sample["_n_atoms"]), 3)
    if name in MD17:
        assert md["n_frames"] >= 5000 and md["md"]["temperature_K"] == 500.0
        assert set(ds.available_properties) == {"energy", "forces"}
    else:
        assert set(ds.available_properties) == set(PROPERTY_UNITS)
        assert md["n_frames"] == 11 * md["n_molecules"]
    if name == "nci-large":
        assert md["n_molecules"] >= 400


@pytest.mark.slow  # GFN2-xTB (tblite)
def test_stored_labels_equal_fresh_calculations(name):
    """A seeded random sample of frames recomputed with tblite reproduces every stored label."""
    n = load(name).metadata["n_frames"]
    idx = np.random.default_rng(derived_seed("test", name)).choice(n, 4, replace=False)
    for atoms, stored in rows(name, idx):
        fresh = xtb_labels(atoms)
        assert stored["energy"][0] == pytest.approx(fresh["energy"][0], abs=1e-6)
        np.testing.assert_allclose(stored["forces"], fresh["forces"], atol=2e-5, rtol=1e-5)  # float32 storage
        for key in set(stored) - {"energy", "forces"}:
            np.testing.assert_allclose(stored[key], fresh[key], atol=2e-5, rtol=1e-5, err_msg=key)


@pytest.mark.slow  # GFN2-xTB (tblite)
@pytest.mark.parametrize("name", ["md17-aspirin", "nci-small", "nci-large"])
def test_stored_forces_match_finite_differences(name):
    n = load(name).metadata["n_frames"]
    rng = np.random.default_rng(derived_seed("fd", name))
    (atoms, stored), = rows(name, [rng.integers(n)])
    tight, h = XTBSettings(accuracy=0.01), 1e-3
    for i, c in zip(rng.choice(len(atoms), 3, replace=False), rng.integers(0, 3, 3)):
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[i, c] += h
        minus.positions[i, c] -= h
        fd = -(xtb_energy(plus, tight) - xtb_energy(minus, tight)) / (2 * h)
        assert fd == pytest.approx(stored["forces"][i, c], abs=1e-3)


def test_splits_partition_frames_and_are_disjoint_by_molecule(name):
    split, table = load_split(name), frame_table(name)
    n = load(name).metadata["n_frames"]
    allidx = np.concatenate(list(split.values()))
    assert len(allidx) == n and set(allidx.tolist()) == set(range(n))
    assert all(len(v) > 0 for v in split.values())
    if name in NCI:
        mols = {k: set(table["mol_id"][v].tolist()) for k, v in split.items()}
        assert not mols["train_idx"] & mols["val_idx"]
        assert not mols["train_idx"] & mols["test_idx"]
        assert not mols["val_idx"] & mols["test_idx"]


def test_frame_table_matches_database_rows():
    from ase.db import connect

    table = frame_table("nci-small")
    with connect(str(data_dir() / "nci-small.db")) as conn:
        ids = [row.mol_id for row in conn.select()]
    assert ids == table["mol_id"].tolist()
    relaxed = table["t_fs"] == 0
    assert relaxed.sum() == len(set(ids))  # exactly one relaxed structure per molecule
    assert np.all(table["temperature_K"][relaxed] == 0) and np.all(table["temperature_K"][~relaxed] > 0)


@pytest.mark.parametrize("name", MD17)
def test_md17_thermostat_reaches_500_K(name):
    temps = frame_table(name)["temperature_K"]
    assert np.mean(temps) == pytest.approx(500.0, rel=0.04)


@pytest.mark.parametrize("name", NCI)
def test_every_nci_structure_has_the_bond_graph_of_its_smiles(name):
    """Covalent-radius graph (RDKit DetermineConnectivity, factor 1.3) of every frame equals the SMILES graph."""
    from ase.db import connect
    from rdkit import Chem

    smiles = load(name).metadata["smiles"]
    refs, checked = {}, 0
    with connect(str(data_dir() / f"{name}.db")) as conn:
        for row in conn.select():
            checked += 1
            if row.mol_id not in refs:
                mol = Chem.AddHs(Chem.MolFromSmiles(smiles[row.mol_id]))
                refs[row.mol_id] = ([a.GetAtomicNum() for a in mol.GetAtoms()], smiles_adjacency(mol))
            numbers, adj = refs[row.mol_id]
            assert row.numbers.tolist() == numbers, row.mol_id
            assert np.array_equal(geometry_adjacency(row.numbers, row.positions), adj), row.mol_id
    assert checked == load(name).metadata["n_frames"] and len(refs) == len(smiles)


def test_nci_molecules_obey_the_filter():
    from rdkit import Chem

    for name, (lo, hi) in {"nci-small": (1, 9), "nci-large": (10, 20)}.items():
        md = load(name).metadata
        for smi in md["smiles"].values():
            mol = Chem.MolFromSmiles(smi)
            assert lo <= mol.GetNumHeavyAtoms() <= hi
            assert {a.GetAtomicNum() for a in mol.GetAtoms()} <= NCI_ELEMENTS
            assert Chem.GetFormalCharge(mol) == 0 and len(Chem.GetMolFrags(mol)) == 1
    small = load("nci-small").metadata
    kept, _ = filter_nci(1, 9)
    assert small["n_passing_filter"] == len(kept)
    assert small["n_molecules"] + small["n_rejected"] == len(kept)
    assert set(load("nci-large").metadata["smiles"]).isdisjoint(small["smiles"])


@pytest.mark.slow  # GFN2-xTB (tblite)
def test_one_molecule_regenerates_bit_for_bit():
    """Rebuilding the smallest nci-small molecule gives the stored structures (seeded, deterministic)."""
    from xailib.data.molecules import SourceMolecule
    from xailib.data.nci import process_molecule

    md, table = load("nci-small").metadata, frame_table("nci-small")
    mol_id = min(md["smiles"], key=lambda m: (len(md["smiles"][m]), m))
    idx = np.flatnonzero(table["mol_id"] == mol_id)
    result = process_molecule(SourceMolecule(mol_id, md["smiles"][mol_id], 0))
    assert result["reason"] is None
    stored = rows("nci-small", idx)
    assert len(stored) == len(result["records"])
    for (atoms, props), rec in zip(stored, result["records"]):
        np.testing.assert_allclose(atoms.positions, rec["atoms"].positions, atol=1e-9)
        assert props["energy"][0] == pytest.approx(rec["props"]["energy"][0], abs=1e-8)


@pytest.mark.parametrize("smiles, reason", [
    ("CCO", None),
    ("c1ccccc1[N+](=O)[O-]", None),  # net neutral charge-separated nitro group is kept
    ("CC(=O)[O-]", "ion"),
    ("[NH4+]", "ion"),
    ("CCO.O", "several fragments"),
    ("CCBr", "element Br"),
    ("C[Si](C)(C)C", "element Si"),
    ("CCCCCCCCCC", "10 heavy atoms"),
    ("[CH3]", "radical"),
    ("not a smiles", "unparsable SMILES"),
])
def test_filter_decisions(smiles, reason):
    got = rejection_reason(smiles, 1, 9)
    assert (got is None) if reason is None else (got is not None and got.startswith(reason))


def test_split_by_group_properties():
    groups = [f"m{i % 37}" for i in range(500)]
    s = split_by_group(groups, seed=5)
    assert sorted(np.concatenate(list(s.values())).tolist()) == list(range(500))
    parts = [{groups[i] for i in v} for v in s.values()]
    assert all(not (a & b) for k, a in enumerate(parts) for b in parts[k + 1:])
    assert split_by_group(groups, seed=5)["test_idx"].tolist() == s["test_idx"].tolist()
    with pytest.raises(ValueError, match="sum"):
        split_by_group(groups, fractions=(0.5, 0.2, 0.2))


def test_manifest_verifies_and_detects_tampering(tmp_path):
    status = verify_manifest(data_dir())
    assert status and "OK" in status.values() and set(status.values()) <= set(GOOD_STATES)
    assert {f"{n}.db" for n in DATASETS} <= set(status)
    for name in ("md17-ethanol.split.npz", "md17-ethanol.frames.npz"):
        shutil.copy(data_dir() / name, tmp_path / name)
    write_manifest(tmp_path)
    assert set(verify_manifest(tmp_path).values()) == {"OK"}
    with open(tmp_path / "md17-ethanol.split.npz", "r+b") as fh:
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 1]))
    (tmp_path / "md17-ethanol.frames.npz").unlink()
    assert verify_manifest(tmp_path) == {"md17-ethanol.frames.npz": "MISSING", "md17-ethanol.split.npz": "CHANGED"}


def test_manifest_covers_every_tracked_file_under_data(repo_root):
    """Every committed file under data/ is listed, except README files and the manifest itself."""
    import subprocess

    proc = subprocess.run(["git", "ls-files", "data"], cwd=repo_root, capture_output=True, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        pytest.skip("not a git checkout")
    tracked = {ln.removeprefix("data/") for ln in proc.stdout.splitlines()}
    tracked = {t for t in tracked if not t.endswith("README.md") and t != "MANIFEST.sha256"}
    listed = {ln.split(maxsplit=1)[1] for ln in (data_dir() / "MANIFEST.sha256").read_text().splitlines() if ln}
    assert tracked <= listed, sorted(tracked - listed)
    assert {f"models/{m}/model.pt.sha256" for m in ("md17-ethanol-schnet", "nci-small-gap-painn")} <= listed
    assert not any(t.startswith(tuple(d + "/" for d in EXCLUDED_DIRS)) for t in listed)


@pytest.mark.parametrize("case, expected", [
    ("new result file", {"results/b.npz": "UNLISTED"}),
    ("trained weights (excluded folder)", {"md/models/m/model.pt": "EXCLUDED"}),
    ("transfer build (excluded folder)", {"transfer/build/t.db": "EXCLUDED"}),
    ("README and transient files", {}),
])
def test_verify_reports_files_the_manifest_does_not_list(case, expected, tmp_path, capsys):
    from xailib.cli import main

    (tmp_path / "a.db").write_text("a")
    (tmp_path / "results").mkdir()
    write_manifest(tmp_path)
    new = {"new result file": ["results/b.npz"], "README and transient files": ["results/README.md", "a.db-journal"],
           "trained weights (excluded folder)": ["md/models/m/model.pt"],
           "transfer build (excluded folder)": ["transfer/build/t.db"]}[case]
    for rel in new:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    assert verify_manifest(tmp_path) == {"a.db": "OK", **expected}
    bad = "UNLISTED" in expected.values()
    assert main(["data", "verify", "--data-dir", str(tmp_path)]) == (1 if bad else 0)
    out = capsys.readouterr().out
    assert ("1 unlisted" in out) == bad and ("in excluded folders, not checked" in out) == ("EXCLUDED" in str(expected))
    assert main(["data", "manifest", "--data-dir", str(tmp_path)]) == 0  # rewrite: lists the new result file
    assert [str(p) for p in data_files(tmp_path)] == ["a.db"] + (["results/b.npz"] if bad else [])
    assert set(verify_manifest(tmp_path).values()) <= set(GOOD_STATES)
    assert main(["data", "verify", "--data-dir", str(tmp_path)]) == 0


def test_bad_requests_fail_clearly(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load("qm9", tmp_path)
    with pytest.raises(DatasetError, match="unknown dataset"):
        build(["qm9"], tmp_path)
    with pytest.raises(MoleculeError, match="cannot parse"):
        embed("C1CC", seed=0)
    from xailib.data.manifest import ManifestError

    with pytest.raises(ManifestError, match="data build"):
        verify_manifest(tmp_path)


def test_schnetpack_datamodule_reads_the_split(tmp_path, monkeypatch):
    import schnetpack as spk

    monkeypatch.chdir(tmp_path)  # schnetpack writes splitting.lock into the working directory

    dm = spk.data.AtomsDataModule(str(data_dir() / "md17-ethanol.db"), batch_size=8,
                                  split_file=str(data_dir() / "md17-ethanol.split.npz"),
                                  load_properties=["energy", "forces"], num_workers=0)
    dm.setup()
    assert len(dm.train_dataset) == len(load_split("md17-ethanol")["train_idx"])
    batch = next(iter(dm.train_dataloader()))
    assert batch["energy"].shape == (8,)


def test_cli_verify_and_label_arrays(capsys):
    from xailib.cli import main
    from xailib.data.stats import heavy_atom_counts, label_arrays

    assert main(["data", "verify"]) == 0
    assert "files verified" in capsys.readouterr().out
    arr = label_arrays("md17-ethanol", ("energy", "forces"))
    ds = load("md17-ethanol")
    assert arr["energy"].shape == (len(ds),) and arr["forces"].shape == (9 * len(ds), 3)
    assert arr["energy"][7] == pytest.approx(float(ds[7]["energy"][0]), abs=1e-9)
    assert heavy_atom_counts("nci-small").max() <= 9


@pytest.mark.slow
def test_parallel_build_matches_shipped_frames(tmp_path):
    """Two worker processes rebuild the first nci-small molecules exactly as shipped."""
    from xailib.data.nci import build_nci

    md = build_nci("nci-small", tmp_path, progress=False, workers=2, limit=2)
    ours, shipped = frame_table("nci-small", tmp_path), frame_table("nci-small")
    for mol_id in md["smiles"]:
        new_idx = np.flatnonzero(ours["mol_id"] == mol_id)
        old_idx = np.flatnonzero(shipped["mol_id"] == mol_id)
        assert len(new_idx) == len(old_idx) == 11
        for (a, pa), (b, pb) in zip(rows_in(tmp_path, "nci-small", new_idx), rows("nci-small", old_idx)):
            np.testing.assert_allclose(a.positions, b.positions, atol=1e-9)
            assert pa["energy"][0] == pytest.approx(pb["energy"][0], abs=1e-8)


def rows_in(directory, name, idx):
    from ase.db import connect

    with connect(str(directory / f"{name}.db")) as conn:
        return [(r.toatoms(), {k: np.asarray(v, dtype=float) for k, v in r.data.items()})
                for r in (conn.get(id=int(i) + 1) for i in idx)]
