"""Bad input on the command line: one line per error, exit 2 for usage, 1 for failures, ``--debug`` (issue 18)."""

from __future__ import annotations

import math
import subprocess
import sys

import ase.io
import numpy as np
import pytest
from ase.build import molecule

from xailib import lrp, repo_root, set_seed
from xailib.base.structure_files import StructureFileError, read_structure
from xailib.cli import main
from xailib.cli.checks import UsageError
from xailib.lrp.explain import ExplainError
from xailib.lrp.rules import RuleParameterError, check_rule
from xailib.models import build_model, load_model, save_model

CFG = dict(architecture="schnet", n_atom_basis=8, n_interactions=2, n_rbf=6, cutoff=4.0, elements=["H", "C", "O"])


@pytest.fixture()
def files(tmp_path):
    set_seed(0)
    save_model(build_model(CFG), tmp_path / "model", CFG)
    ase.io.write(tmp_path / "ethanol.xyz", molecule("CH3CH2OH"))
    (tmp_path / "empty.xyz").write_text("")
    bad = molecule("CH3CH2OH")
    bad.positions[2] = np.nan
    ase.io.write(tmp_path / "nan.xyz", bad)
    close = molecule("CH3CH2OH")
    close.positions[1] = close.positions[0]
    ase.io.write(tmp_path / "overlap.xyz", close)
    return tmp_path


def explain_argv(tmp, *extra, model="model", structure="ethanol.xyz"):
    return ["explain", "--model", str(tmp / model), "--structure", str(tmp / structure), *extra]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture()
def no_computation(monkeypatch):
    """Usage errors must be found before any model is loaded or anything is computed."""
    def forbidden(*args, **kwargs):
        raise AssertionError("computation started before the arguments were checked")

    monkeypatch.setattr("xailib.models.load_model", forbidden)
    monkeypatch.setattr("xailib.lrp.explain", forbidden)


# argparse: types and ranges (exit 2 through SystemExit, one line)
@pytest.mark.parametrize("extra, message", [
    (["--gamma", "inf", "--rule", "gamma"], "--gamma: must be a finite number, got inf"),
    (["--gamma", "nan", "--rule", "gamma"], "--gamma: must be a finite number, got nan"),
    (["--gamma", "-0.5", "--rule", "gamma"], "--gamma: must be a finite number >= 0"),
    (["--max-order", "0"], "--max-order: must be a positive integer, got 0"),
    (["--top", "-1"], "--top: must be an integer >= 0, got -1"),
    (["--top", "ten"], "--top: must be an integer >= 0, got 'ten'"),
    (["--rule", "lrp-eps"], "--rule: invalid choice"),
])
def test_bad_numbers_are_usage_errors(extra, message, files, capsys, no_computation):
    with pytest.raises(SystemExit) as info:
        main(explain_argv(files, *extra))
    assert info.value.code == 2
    assert message in one_error_line(capsys)


# explicit checks before any computation (exit 2); paths relative to the test folder
@pytest.mark.parametrize("extra, structure, message", [
    (["--out", "run/rel.txt"], "ethanol.xyz", "--out run/rel.txt: the file name must end in .npz or .json"),
    (["--out", "run/nodir/rel.npz"], "ethanol.xyz", "the folder run/nodir does not exist"),
    (["--out", "run"], "ethanol.xyz", "--out run is a folder"),
    (["--plot", "run/fig.txt"], "ethanol.xyz", "--plot run/fig.txt: the file name must end in .png"),
    (["--plot", "run/nodir/fig.png"], "ethanol.xyz", "the folder run/nodir does not exist"),
    (["--plot", "run/fig.png", "--max-order", "1"], "ethanol.xyz", "needs --max-order 2"),
    ([], "missing.xyz", "no structure file missing.xyz"),
    ([], "empty.xyz", "structure file empty.xyz is empty"),
    ([], "README.md", "cannot read a structure from README.md (StopIteration)"),
    ([], "model", "model is a folder, not a structure file"),
    ([], "nan.xyz", "NaN or infinite"),
    ([], "overlap.xyz", "overlapping atoms"),
])
def test_bad_files_are_usage_errors_found_before_computing(extra, structure, message, files, capsys, monkeypatch,
                                                           no_computation):
    monkeypatch.chdir(files)
    (files / "run").mkdir()
    (files / "README.md").write_text("# not a structure\n\nsome text\n")
    assert main(["explain", "--model", "model", "--structure", structure, *extra]) == 2
    assert message in one_error_line(capsys)


def test_missing_model_is_a_usage_error(files, capsys, no_computation):
    assert main(explain_argv(files, model="no-such-model")) == 2
    assert "no model at" in one_error_line(capsys)


@pytest.mark.parametrize("case, message", [
    ("README.md", "is not a model file"),
    ("empty model.pt", "is empty (0 bytes)"),
    ("unknown target", "no Atomwise output named 'nosuch'"),
])
def test_failures_at_run_time_exit_1(case, message, files, capsys):
    argv = explain_argv(files)
    if case == "README.md":
        argv[2] = str(repo_root() / "README.md")
    elif case == "empty model.pt":
        (files / "model" / "model.pt").write_bytes(b"")
    else:
        argv += ["--target", "nosuch"]
    assert main(argv) == 1
    err = one_error_line(capsys)
    assert message in err and "pickled" not in err


def test_debug_reraises_with_the_traceback(files, capsys):
    with pytest.raises(UsageError) as info:
        main(["--debug", *explain_argv(files, structure="missing.xyz")])
    assert isinstance(info.value.__cause__, StructureFileError)
    proc = subprocess.run([sys.executable, "-m", "xailib", "--debug", "explain", "--model", str(files / "model"),
                           "--structure", str(repo_root() / "README.md")], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "StructureFileError" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "xailib", "explain", "--model", str(files / "model"),
                           "--structure", str(repo_root() / "README.md")], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_argparse_errors_are_one_line_in_a_subprocess():
    proc = subprocess.run([sys.executable, "-m", "xailib", "explain", "--model", "m", "--structure", "s",
                           "--max-order", "0"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")


def test_plot_and_summary_state_what_is_explained(files, capsys):
    png, out = files / "map.png", files / "rel.npz"
    assert main(explain_argv(files, "--plot", str(png), "--out", str(out), "--top", "4")) == 0
    text = capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.exists()
    nb = lrp.nbody_relevances(load_model(files / "model"), read_structure(files / "ethanol.xyz"))
    assert f"output explained (model output before post-processing): {nb.output:+.6f}" in text
    assert f"walk sum (relevance of all walks):                       {nb.total:+.6f}" in text
    assert f"bias sum (relevance of all bias terms):                  {nb.bias_total:+.6f}" in text
    assert f"conservation residual output - (walks + bias):           {nb.residual:+.6f}" in text
    assert f"walks = 1- to 3-body terms {nb.total - nb.remainder:+.6f} + remainder" in text
    assert f"{nb.remainder:+.6f}" in text and f"{nb.bias_remainder:+.6f}" in text
    assert "composite features" in text
    top = nb.top(4, order=2, part="combined")
    assert f"sum of these 4 pairs {sum(r for _, r in top):+.6f}" in text


@pytest.mark.parametrize("gamma", [math.inf, -math.inf, math.nan, -0.1, "abc", None])
def test_check_rule_refuses_non_finite_or_negative_gamma(gamma):
    with pytest.raises(RuleParameterError, match="gamma must be a finite number >= 0"):
        check_rule("gamma", gamma)
    check_rule("gamma", 0.0)
    check_rule("gi", gamma)  # gamma is not used by gi


@pytest.mark.parametrize("kwargs, error", [
    ({"rule": "gamma", "gamma": math.inf}, RuleParameterError),
    ({"max_order": 0}, ExplainError),
    ({"max_order": 2.5}, ExplainError),
])
def test_library_explain_checks_arguments_before_computing(kwargs, error, monkeypatch):
    def forbidden(*args, **kw):
        raise AssertionError("computed before checking")

    module = sys.modules["xailib.lrp.explain"]  # the module (xailib.lrp.explain is also the function)
    monkeypatch.setattr(module, "walk_relevances", forbidden)
    monkeypatch.setattr(module, "nbody_relevances", forbidden)
    set_seed(0)
    with pytest.raises(error):
        lrp.explain(build_model(CFG), molecule("CH3OH"), **kwargs)


def test_gamma_inf_no_longer_gives_nan_relevances():
    set_seed(0)
    with pytest.raises(RuleParameterError):
        lrp.walk_relevances(build_model(CFG), molecule("CH3OH"), rule="gamma", gamma=math.inf)


@pytest.mark.parametrize("name, message", [
    ("missing.xyz", "no structure file"),
    ("empty.xyz", "is empty"),
    ("README.md", r"cannot read a structure from .*README.md \(StopIteration\)"),
    ("model", "is a folder, not a structure file"),
    ("junk.xyz", "cannot read a structure from"),
])
def test_read_structure_names_the_file(name, message, files):
    (files / "README.md").write_text("# title\n\ntext\n")
    (files / "junk.xyz").write_text("3\n\nC 0 0\n")
    with pytest.raises(StructureFileError, match=message) as info:
        read_structure(files / name)
    assert str(files / name) in str(info.value) and "\n" not in str(info.value)
    assert len(read_structure(files / "ethanol.xyz")) == 9
