"""The test-set explanation script: manifest lines are replaced or appended, never lost; test split as Atoms."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from xailib.data.manifest import sha256, verify_manifest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("explain_test_sets", ROOT / "scripts" / "explain_test_sets.py")
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)


def test_update_manifest_replaces_changed_lines_and_keeps_others(tmp_path):
    (tmp_path / "a.db").write_text("a")
    (tmp_path / "relevance").mkdir()
    new = tmp_path / "relevance" / "m.npz"
    new.write_text("old")
    (tmp_path / "MANIFEST.sha256").write_text(f"{sha256(tmp_path / 'a.db')}  a.db\n{sha256(new)}  relevance/m.npz\n")
    new.write_text("new content")
    assert verify_manifest(tmp_path)["relevance/m.npz"] == "CHANGED"
    script.update_manifest(tmp_path, [new])
    assert verify_manifest(tmp_path) == {"a.db": "OK", "relevance/m.npz": "OK"}
    other = tmp_path / "relevance" / "n.npz"
    other.write_text("x")
    script.update_manifest(tmp_path, [other])
    assert verify_manifest(tmp_path) == {"a.db": "OK", "relevance/m.npz": "OK", "relevance/n.npz": "OK"}


def test_test_structures_are_the_split_rows_schnetpack_reads():
    from xailib.data.store import load, load_split

    atoms = script.test_structures()
    idx = load_split("nci-small")["test_idx"]
    data = load("nci-small")  # schnetpack's index -> row mapping is the reference
    assert len(atoms) == len(idx)
    for k in (0, len(idx) // 2, len(idx) - 1):
        ref = data[int(idx[k])]
        np.testing.assert_array_equal(atoms[k].numbers, ref["_atomic_numbers"].numpy())
        np.testing.assert_allclose(atoms[k].positions, ref["_positions"].numpy(), atol=1e-5)
