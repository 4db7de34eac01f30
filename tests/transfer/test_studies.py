"""The transfer and partition studies (xailib.transfer: partition_runs, adversarial_study, models_study) and
their CLI: cached-file round trips, the committed caches read as they are, and the commands' parsing."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import molecule

from xailib.base.paths import resolve_path
from xailib.cli import build_parser, main
from xailib.transfer import (
    ADVERSARIAL_FILE,
    RESULTS_FILE,
    env_labels,
    equilibrium_frames,
    load_adversarial,
    load_partition,
    load_partition_timing,
    load_results,
    partition_path,
    save_adversarial,
    save_partition,
    save_partition_timing,
    save_results,
    timing_table,
)


def _raw(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files if k != "meta"}


def _assert_same_arrays(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _synthetic_partition():
    rng = np.random.default_rng(1)
    n_atoms = np.array([3, 5])
    ao, mo = rng.normal(size=8), rng.normal(size=8)
    off = np.r_[0, np.cumsum(n_atoms)]
    return {"frame": np.array([4, 9]), "mol_id": np.array(["m1", "m2"]), "offsets": off,
            "numbers": np.array([8, 1, 1, 6, 1, 1, 1, 1]), "ao": ao, "mo": mo, "ao_relative": ao - 1,
            "mo_relative": mo - 1, "scf_energy": np.add.reduceat(ao, off[:-1]), "seconds": np.array([0.5, 0.7])}


def test_partition_round_trip(tmp_path):
    arrays = _synthetic_partition()
    meta = {"dataset": "toy", "method": "hf", "basis": "sto-3g", "n_done": 2, "skipped": []}
    path = save_partition(arrays, meta, tmp_path / "toy-hf-sto-3g.npz")
    back = load_partition(path)
    assert back.pop("meta") == meta
    for k, v in arrays.items():
        np.testing.assert_array_equal(back[k], v)
    assert back["numbers"].dtype == np.int16 and back["offsets"].dtype == np.int64
    # the per-atom energies of each molecule add up to its SCF energy
    np.testing.assert_allclose(np.add.reduceat(back["ao"], back["offsets"][:-1]), back["scf_energy"])
    with pytest.raises(ValueError, match="offsets"):
        save_partition({**arrays, "offsets": arrays["offsets"][:-1]}, meta, tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="seconds"):
        save_partition({k: v for k, v in arrays.items() if k != "seconds"}, meta, tmp_path / "bad.npz")


@pytest.mark.parametrize("dataset", ["nci-small", "nci-large"])
def test_committed_partition_files(dataset, tmp_path):
    part = load_partition(dataset)
    meta = part["meta"]
    assert meta["dataset"] == dataset and meta["n_done"] == len(part["frame"]) == len(part["offsets"]) - 1
    off = part["offsets"]
    # both schemes add up to the SCF energy, and their relative energies to the same sum
    np.testing.assert_allclose(np.add.reduceat(part["ao"], off[:-1]), part["scf_energy"], atol=1e-6)
    np.testing.assert_allclose(np.add.reduceat(part["mo"], off[:-1]), part["scf_energy"], atol=1e-6)
    np.testing.assert_allclose(np.add.reduceat(part["ao_relative"], off[:-1]),
                               np.add.reduceat(part["mo_relative"], off[:-1]), atol=1e-6)
    # the molecule selection is reproducible: the seeded subset of the command in meta
    n = None if "subset" not in meta["structures"] else meta["n_done"]
    np.testing.assert_array_equal(equilibrium_frames(dataset, n, 0), part["frame"])
    # the saver writes the committed format: a re-save holds the same arrays with the same dtypes
    path = save_partition({k: v for k, v in part.items() if k != "meta"}, meta, tmp_path / "p.npz")
    _assert_same_arrays(_raw(path), _raw(partition_path(dataset)))


def test_adversarial_round_trip_and_committed_file(tmp_path):
    adv = load_adversarial()
    meta = adv.pop("meta")
    assert len(adv["mol_proba_large"]) == len(adv["err_schnet_large"])  # one per nci-large frame
    assert len(adv["frames_small"]) == len(adv["err_painn_small"])
    assert adv["atom_env_large"].max() < len(meta["env_labels"])
    for tag in ("mol", "int", "atom"):
        lo, hi = adv[f"{tag}_ci"]
        assert lo <= adv[f"{tag}_auc"] <= hi
    path = save_adversarial(adv, meta, tmp_path / "adv.npz")
    _assert_same_arrays(_raw(path), _raw(resolve_path(ADVERSARIAL_FILE)))
    back = load_adversarial(path)
    assert back["meta"] == meta
    with pytest.raises(ValueError, match="frames_small"):
        save_adversarial({k: v for k, v in adv.items() if k != "frames_small"}, meta, tmp_path / "x.npz")


def test_results_round_trip_stores_differences(tmp_path):
    ref = np.array([-1.5, 0.25, 3.0, 2.0], dtype=np.float32)
    pred = ref.astype(float) + np.array([0.125, -0.5, 0.0, 0.25])
    arrays = {"large_energy": np.array([1.0, 2.0]), "large_offsets": np.array([0, 1, 4]), "large_ao": ref,
              "large_mo": ref + 1, "large_xtb": ref - 1, "large_numbers": np.array([6, 1, 1, 8]),
              "large_transfer-schnet-ao_energy": np.array([1.5, 2.5]), "large_transfer-schnet-ao_atomic": pred,
              "large_transfer-schnet-total_energy": np.array([1.0, 2.0]),
              "large_transfer-schnet-total_atomic": pred + 1}
    meta = {"models": {"transfer-schnet-ao": {}, "transfer-schnet-total": {}}}
    path = save_results(arrays, meta, tmp_path / "r.npz")
    raw = _raw(path)
    assert raw["large_transfer-schnet-ao_atomic_minus_ao"].dtype == np.float16  # own scheme
    assert "large_transfer-schnet-total_atomic_minus_mo" in raw  # total-only models: against MO
    back = load_results(path)
    np.testing.assert_array_equal(back["large_transfer-schnet-ao_atomic"], pred)
    np.testing.assert_array_equal(back["large_transfer-schnet-total_atomic"], pred + 1)
    assert back["meta"] == meta and not any("_minus_" in k for k in back)


def test_committed_results_resave_identically(tmp_path):
    res = load_results()
    assert set(res["meta"]["models"]) == {f"transfer-{a}-{t}" for a in ("schnet", "painn") for t in ("total", "ao", "mo")}
    for tag in ("small", "large"):
        assert len(res[f"{tag}_energy"]) == len(res[f"{tag}_offsets"]) - 1
        assert len(res[f"{tag}_transfer-painn-mo_atomic"]) == res[f"{tag}_offsets"][-1]
    path = save_results({k: v for k, v in res.items() if k != "meta"}, res["meta"], tmp_path / "r.npz")
    _assert_same_arrays(_raw(path), _raw(resolve_path(RESULTS_FILE)))


def test_timing_round_trip(tmp_path):
    rows = [{"heavy": 6, "atoms": 14, "nao": 40, "scf_s": 0.5, "ao_s": 0.1, "mo_s": 0.3, "cpu_s": 0.9,
             "dev_ao": 1e-12, "dev_mo": 2e-12, "smiles": "c1ccccc1"}]
    path = save_partition_timing(rows, {"method": "hf"}, tmp_path / "t.json")
    assert load_partition_timing(path) == (rows, {"method": "hf"})
    text = timing_table(rows, mean=True).splitlines()
    assert text[0].split()[:3] == ["heavy", "atoms", "nao"] and text[1].endswith("c1ccccc1")
    assert text[-1].startswith("mean per molecule: scf 0.50 s")


def test_env_labels():
    labels = env_labels(molecule("CH3CH2OH"))
    assert sorted(labels) == sorted(["C(CHHO)", "C(CHHH)", "O(CH)", "H(C)", "H(C)", "H(C)", "H(C)", "H(C)", "H(O)"])


def test_cli_parses():
    p = build_parser()
    a = p.parse_args(["study", "partition", "nci-large", "--n-molecules", "150", "--seed", "0"])
    assert (a.dataset, a.n_molecules, a.seed, a.method, a.basis) == ("nci-large", 150, 0, "hf", "sto-3g")
    a = p.parse_args(["study", "transfer", "train", "x.yaml", "y.yaml", "--build-only"])
    assert a.transfer_step == "train" and a.configs == ["x.yaml", "y.yaml"] and a.build_only
    a = p.parse_args(["study", "transfer", "adversarial", "--folds", "3"])
    assert a.transfer_step == "adversarial" and a.folds == 3 and callable(a.func)
    a = p.parse_args(["study", "partition-timing", "--heavy", "6", "10"])
    assert a.heavy == [6, 10]
    with pytest.raises(SystemExit):
        p.parse_args(["study", "partition", "nci-small", "--n-molecules", "0"])


@pytest.mark.parametrize("argv, message, status", [  # 2: usage error found before computing; 1: failure at run time
    (["study", "partition", "nci-nothere"], "dataset 'nci-nothere' not found", 2),
    (["study", "partition", "md17-ethanol"], "no relaxed structures", 1),
    (["study", "transfer", "train", "no-such.yaml"], "no training config no-such.yaml", 2),
    (["study", "transfer", "eval", "--models-dir", "no/such/dir"], "no trained models in no/such/dir", 2),
])
def test_cli_bad_input_is_one_line(argv, message, status, capsys):
    assert main(argv) == status
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


@pytest.mark.slow
def test_partition_dataset_reproduces_the_committed_rows():
    """PySCF on two nci-small molecules gives the committed atomic energies, which sum to the SCF energy."""
    from xailib.transfer import partition_dataset

    ref = load_partition("nci-small")
    arrays, meta = partition_dataset("nci-small", rows=ref["frame"][:2])
    n = int(arrays["offsets"][-1])
    assert meta["n_done"] == 2 and meta["skipped"] == [] and n == ref["offsets"][2]
    for key in ("ao", "mo", "ao_relative", "mo_relative"):
        np.testing.assert_allclose(arrays[key], ref[key][:n], atol=1e-7)
    for s in ("ao", "mo"):
        np.testing.assert_allclose(np.add.reduceat(arrays[s], arrays["offsets"][:-1]), arrays["scf_energy"], atol=1e-7)


@pytest.mark.slow
def test_partition_cache_resumes_without_recomputing(tmp_path, monkeypatch):
    """A run with a cache folder leaves one file per molecule; a second run reads them and computes nothing."""
    import xailib.qm.partition as partition
    from xailib.transfer import partition_dataset

    rows = load_partition("nci-small")["frame"][:2]
    first, _ = partition_dataset("nci-small", rows=rows, cache=tmp_path / "cache")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(f"{r}.npz" for r in rows)

    def no_scf(*args, **kwargs):
        raise AssertionError("the cached molecule was computed again")

    monkeypatch.setattr(partition, "run_scf", no_scf)
    again, meta = partition_dataset("nci-small", rows=rows, cache=tmp_path / "cache")
    assert meta["n_done"] == 2
    for key in ("ao", "mo", "ao_relative", "mo_relative", "scf_energy", "seconds", "frame", "offsets"):
        np.testing.assert_array_equal(again[key], first[key])


@pytest.mark.slow
def test_partition_timing_small_molecules():
    from xailib.transfer import partition_timing

    rows, meta = partition_timing([3, 4])
    assert [r["heavy"] for r in rows] == [3, 4] and meta["method"] == "hf"
    assert all(r["dev_ao"] < 1e-8 and r["dev_mo"] < 1e-8 and r["scf_s"] > 0 for r in rows)
