"""Text of summarised numbers (xailib.analysis.formats): exact strings of constructed summaries, and equality
with the formatters chapters 04, 05 and 06 defined inline before."""

from __future__ import annotations

import numpy as np
import pytest

from xailib.analysis import Interval
from xailib.analysis.formats import (
    format_difference,
    format_interval,
    format_ranges,
    format_rank_correlation,
    format_seed_interval,
    format_seed_range,
    format_summary,
    pair_label,
)
from xailib.analysis.known_answer_report import format_recovered

S = {"mean": 0.123456, "sd": 0.0456, "min": -0.01, "max": 0.2, "low": 0.0812, "high": 0.1649, "n_molecules": 57,
     "pooled": 0.5, "n_pairs": 11}


def _random_summaries(n=50):
    rng = np.random.default_rng(0)
    for _ in range(n):
        v = rng.normal(scale=rng.choice([0.01, 1.0, 100.0]), size=7)
        yield {"mean": v[0], "sd": abs(v[1]), "min": v[2], "max": v[3], "low": v[4], "high": v[5],
               "pooled": v[6], "n_molecules": int(rng.integers(1, 100)), "n_pairs": int(rng.integers(1, 30))}


def test_format_summary_known_strings():
    assert format_summary(S) == "0.12 ± 0.05 [0.08, 0.16]"
    assert format_summary(S, 0, 100) == "12 ± 5 [8, 16]"
    assert format_summary({**S, "sd": float("nan")}, 3) == "0.123 [0.081, 0.165]"  # one seed: no sd
    assert format_summary({k: v for k, v in S.items() if k != "sd"}) == "0.12 [0.08, 0.16]"


def test_format_summary_equals_previous_formatters():
    fmt = lambda s, p=2, f=1: f"{f * s['mean']:.{p}f} ± {f * s['sd']:.{p}f} [{f * s['low']:.{p}f}, {f * s['high']:.{p}f}]"  # noqa: E731,E501
    fmt1 = lambda s: f"{s['mean']:.2f} [{s['low']:.2f}, {s['high']:.2f}]"  # noqa: E731
    for s in _random_summaries():
        assert format_summary(s) == fmt(s)
        assert format_summary(s, 3) == fmt(s, 3)
        assert format_summary(s, 0, 100) == fmt(s, 0, 100)
        assert format_summary(s, 1, 100) == fmt(s, 1, 100)
        assert format_summary({**s, "sd": float("nan")}) == fmt1(s)
        sd = s["sd"]  # 03b's format_recovered, as it was before it called format_summary
        assert format_recovered(s, 3) == f"{s['mean']:.3f} ± {sd:.3f} [{s['low']:.3f}, {s['high']:.3f}]"
        assert format_recovered({**s, "sd": float("nan")}) == f"{s['mean']:.2f} [{s['low']:.2f}, {s['high']:.2f}]"


def test_format_interval_and_difference():
    ci = Interval(0.0512, -0.0123, 0.1101, 40, 0.95)
    assert format_interval(ci) == "0.05 [-0.01, 0.11]"
    assert format_interval(ci, 3) == "0.051 [-0.012, 0.110]"
    assert format_difference(ci, [0.02, -0.004, 0.07]) == "+0.05 [-0.01, +0.11], seed pairings -0.00 to +0.07"
    assert (format_difference(ci, [0.02, 0.07], 0, 100, " points")
            == "+5 [-1, +11] points, seed pairings +2 to +7")
    fmt_diff = lambda ci, pairs, p=2, f=1, unit="": (  # noqa: E731  chapter 05's previous formatter
        f"{f * ci.estimate:+.{p}f} [{f * ci.low:+.{p}f}, {f * ci.high:+.{p}f}]{unit}, "
        f"seed pairings {f * min(pairs):+.{p}f} to {f * max(pairs):+.{p}f}")
    for s in _random_summaries():
        ci, pairs = Interval(s["mean"], s["low"], s["high"], 10, 0.95), [s["min"], s["max"], s["pooled"]]
        assert format_difference(ci, pairs) == fmt_diff(ci, pairs)
        assert format_difference(ci, pairs, 0, 100, " points") == fmt_diff(ci, pairs, 0, 100, " points")


def test_chapter_04_formats():
    assert format_seed_interval(S) == ("+0.1235 ± 0.0456 (seeds -0.0100 to +0.2000; 95 % CI [+0.0812, +0.1649], "
                                       "57 molecules)")
    assert format_rank_correlation(S) == ("+0.12 ± 0.05 (seeds -0.01 to +0.20; seed-averaged +0.50, 95 % CI "
                                          "[+0.08, +0.16]; 11 pairs, 57 molecules)")
    assert pair_label({"pair": ("H", "C")}) == "H–C"
    fmt = lambda r, d=4: (f"{r['mean']:+.{d}f} ± {r['sd']:.{d}f} (seeds {r['min']:+.{d}f} to {r['max']:+.{d}f}; "  # noqa: E731
                          f"95 % CI [{r['low']:+.{d}f}, {r['high']:+.{d}f}], {r['n_molecules']} molecules)")
    fmt_rho = lambda r: (f"{r['mean']:+.2f} ± {r['sd']:.2f} (seeds {r['min']:+.2f} to {r['max']:+.2f}; seed-averaged "  # noqa: E731
                         f"{r['pooled']:+.2f}, 95 % CI [{r['low']:+.2f}, {r['high']:+.2f}]; {r['n_pairs']} pairs, "
                         f"{r['n_molecules']} molecules)")
    for s in _random_summaries():
        assert format_seed_interval(s) == fmt(s) and format_seed_interval(s, 2) == fmt(s, 2)
        assert format_rank_correlation(s) == fmt_rho(s)


def test_chapter_06_formats():
    assert format_ranges(S) == "12.3 % (seeds [-1.0, 20.0], molecules [8.1, 16.5])"
    assert format_ranges(S, 2, 1.0, "") == "0.12 (seeds [-0.01, 0.20], molecules [0.08, 0.16])"
    assert format_seed_range(S) == "12.3 [-1.0, 20.0]"
    assert format_seed_range(S, 2) == "12.35 [-1.00, 20.00]"

    def fmt(r, d=1, scale=100.0, unit=" %"):  # chapter 06's previous formatters
        def f(x):
            return f"{scale * x:.{d}f}"
        return f"{f(r['mean'])}{unit} (seeds [{f(r['min'])}, {f(r['max'])}], molecules [{f(r['low'])}, {f(r['high'])}])"

    def seeds_only(r, d=1):
        return f"{100 * r['mean']:.{d}f} [{100 * r['min']:.{d}f}, {100 * r['max']:.{d}f}]"

    for s in _random_summaries():
        for args in ((), (0,), (2, 1.0, ""), (3, 1.0, "")):
            assert format_ranges(s, *args) == fmt(s, *args)
        assert format_ranges(s, 1, unit="") == fmt(s, 1, unit="")
        assert format_seed_range(s) == seeds_only(s) and format_seed_range(s, 2) == seeds_only(s, 2)


def test_missing_key_is_an_error():
    with pytest.raises(KeyError):
        format_summary({"mean": 1.0, "sd": 0.1})
