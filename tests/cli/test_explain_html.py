"""``python -m xailib explain --html``: a standalone page with the 3-D view and a static PNG fallback; its path is
checked before any work, like ``--out`` and ``--plot``."""

import base64
import re

import ase.io
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


def argv(tmp, *extra):
    return ["explain", "--model", str(tmp / "model.pt"), "--structure", str(tmp / "ethanol.xyz"), "--trust", *extra]


@pytest.fixture()
def no_computation(monkeypatch):
    """Usage errors must be found before any model is loaded or anything is computed."""
    def forbidden(*args, **kwargs):
        raise AssertionError("computation started before the arguments were checked")

    monkeypatch.setattr("xailib.models.load_model", forbidden)
    monkeypatch.setattr("xailib.lrp.explain", forbidden)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_html_page_has_the_view_and_a_png_fallback(files, capsys):
    model, atoms, tmp = files
    page = tmp / "ethanol.html"
    assert main(argv(tmp, "--html", str(page), "--top", "4", "--max-order", "2")) == 0
    assert f"wrote {page}\n" in capsys.readouterr().out
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and '<div id="3dmolviewer_' in text and "$3Dmol.createViewer" in text
    png = re.search(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert png and base64.b64decode(png.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert "3Dmol.js CDN" in text
    # the 4 top pairs (walks + bias) as solid cylinders, the 3 strongest walks that move as dashed paths
    ranked = lrp.walk_relevances(model, atoms).top_walks(10_000)
    walks = [(w, r) for w, r in ranked if len(set(w)) >= 2][:3]
    steps = sum(a != b for w, _ in walks for a, b in zip(w, w[1:]))
    assert steps >= 3
    assert text.count('"dashed": true') == steps and text.count("addCylinder(") == 4 + steps
    assert text.count("addLabel(") == 3


def test_existing_page_is_refused_unless_overwrite(files, capsys):
    _, _, tmp = files
    page = tmp / "old.html"
    page.write_text("old page\n")
    assert main(argv(tmp, "--html", str(page), "--top", "2")) == 2
    assert "exists; pass --overwrite" in one_error_line(capsys)
    assert page.read_text() == "old page\n"
    assert main(argv(tmp, "--html", str(page), "--top", "2", "--overwrite")) == 0
    assert f"wrote {page}" in capsys.readouterr().out
    assert "old page" not in page.read_text() and "3dmolviewer_" in page.read_text()


@pytest.mark.parametrize("extra, message", [
    (["--html", "page.htm"], "--html page.htm: the file name must end in .html"),
    (["--html", "page.png"], "--html page.png: the file name must end in .html"),
    (["--html", "nodir/page.html"], "the folder nodir does not exist"),
    (["--html", "page.html", "--max-order", "1"], "--html draws the 2-body terms; it needs --max-order 2"),
])
def test_bad_html_options_are_usage_errors_before_any_work(extra, message, files, capsys, monkeypatch,
                                                           no_computation):
    _, _, tmp = files
    monkeypatch.chdir(tmp)
    assert main(argv(tmp, *extra)) == 2
    assert message in one_error_line(capsys)
    assert not list(tmp.glob("page.*"))


def test_missing_py3dmol_is_a_usage_error_before_any_work(files, capsys, monkeypatch, no_computation):
    import importlib.util

    _, _, tmp = files
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "py3Dmol" else real(name, *a))
    assert main(argv(tmp, "--html", str(tmp / "page.html"))) == 2
    assert "--html needs the py3Dmol package" in one_error_line(capsys)
    assert not (tmp / "page.html").exists()
