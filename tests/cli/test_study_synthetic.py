"""``python -m xailib study synthetic``: bad names are usage errors, found before any work."""

from __future__ import annotations

import pytest

from xailib.cli import main


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_unknown_potential_is_a_usage_error(capsys):
    assert main(["study", "synthetic", "build", "lennard_jones"]) == 2
    assert "pair_power" in error_line(capsys)


@pytest.mark.parametrize("name, message", [
    ("synthetic-lj-schnet", "not a known-answer model name"),
    ("nci-small-energy-schnet", "not a known-answer model name"),
    ("synthetic-pair_exp-schnet-seed99", "train it first"),
    ("synthetic-init-painn-seed99", "synthetic-pair_power-painn-seed99"),
])
def test_explain_names_are_checked_before_work(name, message, capsys):
    assert main(["study", "synthetic", "explain", name]) == 2
    assert message in error_line(capsys)
