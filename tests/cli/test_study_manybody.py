"""``python -m xailib study manybody``: bad names and a subset without --out are usage errors, before any work."""

from __future__ import annotations

from xailib.cli import main


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_unknown_model_entry_is_a_usage_error(capsys):
    assert main(["study", "manybody", "nci-small-energy-schnet-seed9"]) == 2
    assert "nci-small-energy-painn.init" in error_line(capsys)


def test_a_subset_needs_an_output_file(capsys):
    assert main(["study", "manybody", "nci-small-energy-schnet"]) == 2
    assert "--out" in error_line(capsys)
