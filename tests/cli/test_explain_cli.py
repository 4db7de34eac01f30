"""``python -m xailib explain`` end to end on a random model saved with torch.save."""

import json
import subprocess
import sys

import ase.io
import numpy as np
import pytest
import torch
from lrp_models import mol, potential

from xailib import lrp
from xailib.cli import main


@pytest.fixture()
def files(tmp_path):
    model, atoms = potential("schnet", 2), mol("CH3CH2OH")
    torch.save(model, tmp_path / "model.pt")
    ase.io.write(tmp_path / "ethanol.xyz", atoms)
    return model, ase.io.read(tmp_path / "ethanol.xyz"), tmp_path


def test_explain_prints_and_saves_npz(files, capsys):
    model, atoms, tmp = files
    out = tmp / "rel.npz"
    assert main(["explain", "--model", str(tmp / "model.pt"), "--structure", str(tmp / "ethanol.xyz"),
                 "--rule", "gamma", "--out", str(out), "--trust", "--top", "5"]) == 0
    text = capsys.readouterr().out
    ref = lrp.walk_relevances(model, atoms, rule="gamma")
    assert f"{ref.output:+.6f}" in text and f"{ref.total:+.6f}" in text
    assert "top 5 walks" in text and "top 5 pairs" in text
    data = np.load(out)
    np.testing.assert_allclose(data["R"], ref.R, atol=1e-12)
    nb = lrp.nbody_relevances(model, atoms, rule="gamma")
    pairs = dict(zip(map(tuple, data["sets2"]), data["relevances2"]))
    assert pairs == pytest.approx(nb.order(2), abs=1e-12)
    assert float(data["remainder"]) == pytest.approx(nb.remainder, abs=1e-12)


def test_explain_json_in_a_subprocess(files):
    _, _, tmp = files
    out = tmp / "rel.json"
    proc = subprocess.run([sys.executable, "-m", "xailib", "explain", "--model", str(tmp / "model.pt"),
                           "--structure", str(tmp / "ethanol.xyz"), "--out", str(out), "--trust"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert np.asarray(data["R"]).shape == (9, 9, 9)
    assert np.sum(data["R"]) == pytest.approx(data["total"], rel=1e-12)


def test_explain_refuses_a_pickled_model_without_trust(files, capsys):
    _, _, tmp = files
    assert main(["explain", "--model", str(tmp / "model.pt"), "--structure", str(tmp / "ethanol.xyz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "trust=True" in err and "Traceback" not in err


def test_explain_reference_composite_reports_bias_and_conservation(files, capsys):
    model, atoms, tmp = files
    out = tmp / "rel.npz"
    assert main(["explain", "--model", str(tmp / "model.pt"), "--structure", str(tmp / "ethanol.xyz"),
                 "--rule", "gamma", "--composite", "reference", "--out", str(out), "--trust"]) == 0
    text = capsys.readouterr().out
    ref = lrp.walk_relevances(model, atoms, rule="gamma", composite="reference")
    assert "composite reference" in text
    for value in (ref.output, ref.rule_output, ref.total, ref.bias_total, ref.residual):
        assert f"{value:+.6f}" in text
    data = np.load(out)
    assert str(data["composite"]) == "reference"
    np.testing.assert_allclose(data["R"], ref.R, atol=1e-12)
    for t, b in enumerate(ref.bias, start=1):
        np.testing.assert_allclose(data[f"bias{t}"], b, atol=1e-12)
    np.testing.assert_allclose(data["head_bias"], ref.head_bias, atol=1e-12)
    assert float(data["conserved_total"]) == pytest.approx(float(data["rule_output"]), rel=1e-10)
    nb = lrp.nbody_relevances(model, atoms, rule="gamma", composite="reference")
    total = sum(float(data[f"relevances{k}"].sum() + data[f"bias_relevances{k}"].sum()) for k in (1, 2, 3))
    assert total + nb.conserved_remainder == pytest.approx(nb.conserved_total, rel=1e-10)
    feats = lrp.walk_relevances(model, atoms, rule="gamma")
    assert np.abs(feats.R - data["R"]).max() > 1e-6  # the composite was really used


def test_explain_unknown_composite_is_a_usage_error(files, capsys):
    _, _, tmp = files
    with pytest.raises(SystemExit) as info:
        main(["explain", "--model", str(tmp / "model.pt"), "--structure", str(tmp / "ethanol.xyz"),
              "--composite", "zennit", "--trust"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--composite" in err and "'features', 'reference'" in err
    assert tuple(lrp.COMPOSITES) == ("features", "reference")  # the CLI's choices are the library's


def test_explain_memory_limit_refuses_before_work_with_one_line(files, capsys):
    _, _, tmp = files
    args = ["explain", "--model", str(tmp / "model.pt"), "--structure", str(tmp / "ethanol.xyz"), "--trust"]
    assert main(args + ["--memory-limit", "10KB", "--out", str(tmp / "x.npz")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "more than the stated limit" in err and "\n" not in err
    assert not (tmp / "x.npz").exists()
    assert main(args + ["--memory-limit", "lots"]) == 2
    assert "--memory-limit" in capsys.readouterr().err
    assert main(args + ["--memory-limit", "4GB", "--top", "2"]) == 0


@pytest.mark.parametrize("option, name", [("--out", "old.npz"), ("--plot", "old.png")])
def test_explain_refuses_to_replace_an_existing_output_before_work(files, capsys, option, name):
    _, _, tmp = files
    target = tmp / name
    target.write_bytes(b"keep me")
    args = ["explain", "--model", str(tmp / "model.pt"), "--structure", str(tmp / "ethanol.xyz"), "--trust"]
    assert main(args + [option, str(target)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert target.read_bytes() == b"keep me"
    assert main(args + [option, str(target), "--overwrite", "--top", "2"]) == 0
    assert target.read_bytes() != b"keep me"
