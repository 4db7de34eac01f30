"""Tests of xailib.transfer.atomic: training databases from partition results, error tables, functional groups."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xailib.data import frames, load_split, metadata
from xailib.transfer import (
    FUNCTIONAL_GROUPS,
    build_transfer_db,
    error_tables,
    functional_groups,
    hydrogen_energies,
    load_partition,
    partition_path,
    reference_table,
    save_partition,
)
from xailib.viz import markdown_table

PARTITION = partition_path("nci-small")
needs_partition = pytest.mark.skipif(not PARTITION.exists(), reason="data/partition not built")


@pytest.fixture(scope="module")
def small_partition(tmp_path_factory):
    """The first 12 molecules of the committed nci-small partition, as a partition file of their own."""
    part = load_partition(PARTITION)
    k = 12
    n = int(part["offsets"][k])
    path = tmp_path_factory.mktemp("part") / "nci-small-sub.npz"
    per_atom = ("numbers", "ao", "mo", "ao_relative", "mo_relative")
    arrays = {key: part[key][:n] for key in per_atom} | {"offsets": part["offsets"][:k + 1]}
    arrays |= {key: part[key][:k] for key in ("frame", "mol_id", "scf_energy", "seconds")}
    return save_partition(arrays, part["meta"], path)


@needs_partition
def test_database_sums_and_split(small_partition, tmp_path):
    db = build_transfer_db("nci-small", small_partition, tmp_path / "t.db")
    ref = reference_table(db)
    part = load_partition(small_partition)
    off = ref["offsets"]
    for s in ("ao", "mo"):  # energy = sum of either scheme's relative atomic energies
        np.testing.assert_allclose(np.add.reduceat(ref[s], off[:-1]), ref["energy"], atol=1e-8)
    # relative energies: SCF energy minus free atoms, so the two schemes agree atom-sum-wise with the SCF total
    np.testing.assert_allclose(np.add.reduceat(part["ao"], off[:-1]), part["scf_energy"], atol=1e-6)
    # xTB atomic energies minus free atoms sum to the xTB energy minus the free atoms (independent: the db rows)
    refs = metadata("nci-small")["atomrefs"]
    refs = np.asarray((json.loads(refs) if isinstance(refs, str) else refs)["energy"])
    for k, atoms in enumerate(frames("nci-small", indices=ref["frame"])):
        e_xtb = float(atoms.info["labels"]["energy"][0]) - refs[atoms.numbers].sum()
        assert ref["xtb"][off[k]:off[k + 1]].sum() == pytest.approx(e_xtb, abs=1e-4)  # xTB: to ~1e-5 eV
        assert np.array_equal(ref["numbers"][off[k]:off[k + 1]], atoms.numbers)
    # every molecule on the side of the parent split it has there
    split = np.load(str(db) + ".split.npz")
    parent = load_split("nci-small")
    for name in ("train_idx", "val_idx", "test_idx"):
        assert all(int(ref["frame"][i]) in set(parent[name].tolist()) for i in split[name])
    assert sorted(np.concatenate([split[n] for n in split.files]).tolist()) == list(range(len(ref["energy"])))


@needs_partition
def test_wrong_dataset_is_an_error(small_partition, tmp_path):
    with pytest.raises(ValueError, match="partitions 'nci-small', not 'nci-large'"):
        build_transfer_db("nci-large", small_partition, tmp_path / "x.db")


@needs_partition
def test_mo_scheme_separates_hydrogens_across_the_dataset():
    h = hydrogen_energies(PARTITION)
    means = {s: {p: h[s][h["partner"] == p].mean() for p in "CNO"} for s in ("ao", "mo")}
    sd = {p: h["mo"][h["partner"] == p].std() for p in "CNO"}
    # MO: H-C < H-N < H-O, each gap larger than the spread within the groups
    assert means["mo"]["C"] + sd["C"] + sd["N"] < means["mo"]["N"]
    assert means["mo"]["N"] + sd["N"] + sd["O"] < means["mo"]["O"]
    # and far wider apart than in the AO scheme
    assert means["mo"]["O"] - means["mo"]["C"] > 2 * (means["ao"]["O"] - means["ao"]["C"])


def test_functional_groups():
    acid = functional_groups("CC(=O)O", 8)["carboxylic acid"]
    assert acid.tolist() == [1, 2, 3, 7]  # C, =O, O and the acidic H (AddHs order)
    cases = {"CC=O": {"aldehyde/ketone"}, "CC(=O)OC": {"ester"}, "CC(=O)NC": {"amide"}, "CCOC": {"ether"},
             "CCN": {"amine"}, "CC#N": {"nitrile"}, "C[N+](=O)[O-]": {"nitro"}, "Nc1ccccc1": {"aromatic amine",
             "aromatic ring"}, "CCO": {"alcohol"}, "Oc1ccccc1": {"phenol", "aromatic ring"}, "CCCl": {"halide"}}
    for smi, expected in cases.items():
        assert set(functional_groups(smi)) == expected, smi
    assert set(FUNCTIONAL_GROUPS) >= {"alcohol", "amine", "aromatic ring"}
    with pytest.raises(ValueError, match="has 9 atoms with hydrogens"):
        functional_groups("CCO", 8)


def test_error_tables_on_known_errors():
    """Predictions off by known amounts give exactly those errors."""
    rng = np.random.default_rng(0)
    n_atoms = np.array([3, 5, 4])
    off = np.r_[0, np.cumsum(n_atoms)]
    z = np.array([8, 1, 1, 6, 1, 1, 1, 1, 7, 1, 1, 1])
    res = {"meta": {"models": {"transfer-schnet-mo": {}, "transfer-schnet-total": {}}}}
    for tag in ("small", "large"):
        ref = {s: rng.normal(size=12) for s in ("ao", "mo", "xtb")}
        res.update({f"{tag}_offsets": off, f"{tag}_numbers": z, f"{tag}_mol_id": np.array(["a", "b", "c"]),
                    f"{tag}_energy": np.add.reduceat(ref["mo"], off[:-1]), **{f"{tag}_{s}": v for s, v in ref.items()}})
        res[f"{tag}_transfer-schnet-mo_atomic"] = ref["mo"] + 0.01  # 10 meV per atom too high
        res[f"{tag}_transfer-schnet-mo_energy"] = res[f"{tag}_energy"] + 0.01 * n_atoms
        res[f"{tag}_transfer-schnet-total_atomic"] = ref["mo"] - 0.002 * (z == 1)
        res[f"{tag}_transfer-schnet-total_energy"] = res[f"{tag}_energy"] - 0.002 * np.add.reduceat(z == 1, off[:-1])
    t = error_tables(res, {"a": "O", "b": "C", "c": "N"})
    s = {(r["model"], r["set"]): r for r in t["summary"]}
    assert s[("transfer-schnet-mo", "large")]["energy_mae_meV_per_atom"] == pytest.approx(10.0)
    assert s[("transfer-schnet-mo", "large")]["atomic_mae_meV_mo"] == pytest.approx(10.0)
    e = {(r["model"], r["element"]): r["atomic_mae_meV"] for r in t["element"] if r["set"] == "small"}
    assert e[("transfer-schnet-total", "H")] == pytest.approx(2.0) and e[("transfer-schnet-total", "C")] == 0
    g = {(r["model"], r["group"]): r for r in t["group"] if r["set"] == "small"}
    assert g[("transfer-schnet-mo", "amine")]["n_molecules"] == 1 and g[("transfer-schnet-mo", "amine")]["n_atoms"] == 4
    assert g[("transfer-schnet-mo", "amine")]["atomic_mae_meV"] == pytest.approx(10.0)


def test_markdown_table():
    text = markdown_table([{"a": 1.234, "b": "x"}], ["a", "b"], {"a": ".1f"})
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1.2 | x |"]


def test_load_results_restores_atomic_predictions(tmp_path):
    from xailib.transfer import load_results

    ref = np.array([-1.5, 0.25, 3.0], dtype=np.float32)
    diff = np.array([0.125, -0.5, 0.0], dtype=np.float16)
    path = tmp_path / "r.npz"
    np.savez(path, meta=json.dumps({"models": {"transfer-painn-mo": {}}}), large_mo=ref,
             **{"large_transfer-painn-mo_atomic_minus_mo": diff})
    res = load_results(path)
    np.testing.assert_array_equal(res["large_transfer-painn-mo_atomic"], [-1.375, -0.25, 3.0])
    assert not any("_minus_" in k for k in res)
