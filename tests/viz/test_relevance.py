"""Relevance maps: the 2-D projection keeps planar geometry; the map and the 3-D view draw what they are given
(top pairs, top walks as paths); the HTML page has the view and a static PNG fallback."""

import base64
import json
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from ase.build import molecule
from lrp_models import mol, potential

from xailib import lrp
from xailib.viz.relevance import (PAIR_COLOURS, WALK_COLOURS, project_2d, relevance_html, relevance_map,
                                  relevance_view)


def test_projection_keeps_distances_of_a_planar_molecule():
    atoms = molecule("C6H6")
    atoms.rotate(37, "x")
    atoms.rotate(21, "y")
    xy = project_2d(atoms.positions)
    d3 = np.linalg.norm(atoms.positions[:, None] - atoms.positions[None], axis=-1)
    d2 = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    np.testing.assert_allclose(d2, d3, atol=1e-10)


def test_map_and_view_draw_the_top_pairs():
    atoms = mol("CH3CH2OH")
    nb = lrp.nbody_relevances(potential("schnet", 2), atoms, max_order=2)
    pairs = nb.order(2)
    ax = relevance_map(atoms, pairs, np.array([nb[(i,)] for i in range(len(atoms))]), top=6)
    assert len(ax.lines) == 6
    widths = sorted(line.get_linewidth() for line in ax.lines)
    assert widths[-1] == 6.5  # the largest |R| pair gets the full width
    view = relevance_view(atoms, pairs, top=4)
    assert view.startjs.count("addCylinder") == 4


# --- the 3-D view of n-body terms and walks, and the standalone HTML page ---


def _calls(view, name: str) -> list[dict]:
    """The JSON specs of every ``viewer.<name>(...)`` call recorded by py3Dmol, in order."""
    found = re.findall(rf"\.{name}\((.*)\);$", view.startjs, flags=re.M)
    return [json.loads(args if name == "addCylinder" else args.split(",", 1)[1]) for args in found]


def _labels(view) -> list[tuple[str, dict]]:
    found = re.findall(r"\.addLabel\((\".*?\"),(\{.*\})\);$", view.startjs, flags=re.M)
    return [(json.loads(text), json.loads(spec)) for text, spec in found]


def _point(spec: dict) -> np.ndarray:
    return np.array([spec["x"], spec["y"], spec["z"]])


@pytest.fixture(scope="module")
def ethanol():
    atoms = mol("CH3CH2OH")
    return atoms, lrp.explain(potential("schnet", 2), atoms, max_order=2)


def test_view_draws_the_top_pairs_of_the_nbody_terms_at_their_atoms(ethanol):
    atoms, e = ethanol
    nb = e.nbody
    everything = len(nb.order(2))
    for part, top in (("combined", 7), ("walks", 7), ("combined", everything)):
        expected = nb.top(top, order=2, part=part)
        cylinders = _calls(relevance_view(atoms, nb, top=top, part=part), "addCylinder")
        assert len(cylinders) == top
        for ((i, j), r), cyl in zip(expected, cylinders):
            np.testing.assert_allclose(_point(cyl["start"]), atoms.positions[i], atol=1e-12)
            np.testing.assert_allclose(_point(cyl["end"]), atoms.positions[j], atol=1e-12)
            assert cyl["color"] == (PAIR_COLOURS[0] if r > 0 else PAIR_COLOURS[1])
            assert "dashed" not in cyl
        radii = [c["radius"] for c in cylinders]
        assert radii[0] == pytest.approx(0.3) and radii == sorted(radii, reverse=True)  # radius by |R|
    assert {r > 0 for _, r in nb.order(2, part="combined").items()} == {True, False}  # both colours were checked
    # the part matters: walk terms alone rank these pairs differently
    assert [p for p, _ in nb.top(7, part="walks")] != [p for p, _ in nb.top(7, part="combined")]


def test_view_of_a_pair_dict_is_the_same_as_of_the_nbody_terms(ethanol):
    atoms, e = ethanol
    from_nbody = _calls(relevance_view(atoms, e.nbody, top=6), "addCylinder")
    from_dict = _calls(relevance_view(atoms, e.nbody.order(2, part="combined"), top=6), "addCylinder")
    assert from_dict == from_nbody and len(from_dict) == 6
    walks_only = _calls(relevance_view(atoms, e.nbody.order(2, part="walks"), top=6), "addCylinder")
    assert walks_only != from_nbody  # the default is walks + bias, not walks alone


def test_view_draws_the_top_walks_as_paths_with_rank_labels(ethanol):
    atoms, e = ethanol
    k = 12
    view = relevance_view(atoms, e.nbody, top=3, walks=e.walks, top_walks=k)
    cylinders = _calls(view, "addCylinder")
    pairs, paths = cylinders[:3], cylinders[3:]
    assert not any("dashed" in c for c in pairs) and all(c["dashed"] for c in paths)
    walks = e.walks.top_walks(k)
    steps = [(a, b, r) for w, r in walks for a, b in zip(w, w[1:]) if a != b]
    assert 0 < len(steps) < sum(len(w) - 1 for w, _ in walks)  # some steps move, some stay put
    assert len(paths) == len(steps)
    for (a, b, r), cyl in zip(steps, paths):
        np.testing.assert_allclose(_point(cyl["start"]), atoms.positions[a], atol=1e-12)
        np.testing.assert_allclose(_point(cyl["end"]), atoms.positions[b], atol=1e-12)
        assert cyl["color"] == (WALK_COLOURS[0] if r > 0 else WALK_COLOURS[1])
    labels = _labels(view)
    assert [text for text, _ in labels] == [f"#{n}" for n in range(1, k + 1)]
    for (w, r), (_, spec) in zip(walks, labels):
        np.testing.assert_allclose(_point(spec["position"]), atoms.positions[w[0]], atol=1e-12)
        assert spec["backgroundColor"] == (WALK_COLOURS[0] if r > 0 else WALK_COLOURS[1])
    assert {r > 0 for _, r in walks} == {True, False}
    assert len(set(WALK_COLOURS) | set(PAIR_COLOURS)) == 4
    none = relevance_view(atoms, e.nbody, top=3, walks=e.walks, top_walks=0)
    assert len(_calls(none, "addCylinder")) == 3 and not _labels(none)


@pytest.mark.parametrize("kwargs, message", [
    ({"top": -1}, "top must be a non-negative integer"),
    ({"top": 2.5}, "top must be a non-negative integer"),
    ({"top": True}, "top must be a non-negative integer"),
    ({"top_walks": -2}, "top_walks must be a non-negative integer"),
    ({"top_walks": "3"}, "top_walks must be a non-negative integer"),
    ({"part": "both"}, "unknown part 'both'"),
])
def test_view_refuses_bad_arguments(kwargs, message, ethanol):
    atoms, e = ethanol
    with pytest.raises(ValueError, match=message):
        relevance_view(atoms, e.nbody, walks=e.walks, **kwargs)


def test_view_refuses_atoms_outside_the_structure(ethanol):
    atoms, e = ethanol
    with pytest.raises(ValueError, match="names atom 9, but the structure has 9 atoms"):
        relevance_view(atoms, {(0, 1): 0.5, (2, 9): -0.1})
    with pytest.raises(ValueError, match="names atom -1"):
        relevance_view(atoms, {(-1, 1): 0.5})
    with pytest.raises(ValueError, match="two atom indices"):
        relevance_view(atoms, {(0, 1, 2): 0.5})
    with pytest.raises(ValueError, match="structure with 9 atoms, not of these 8"):
        relevance_view(atoms[:8], e.nbody)
    with pytest.raises(ValueError, match="walks are of a structure with 9 atoms"):
        relevance_view(atoms[:8], {(0, 1): 0.5}, walks=e.walks)
    with pytest.raises(ValueError, match="2-body terms need max_order >= 2"):
        relevance_view(atoms, lrp.nbody_relevances(potential("schnet", 2), atoms, max_order=1))


def test_html_page_has_the_view_and_a_static_png_fallback(ethanol):
    import matplotlib.pyplot as plt

    atoms, e = ethanol
    figures = plt.get_fignums()
    page = relevance_html(atoms, e.nbody, top=5, walks=e.walks, top_walks=4, title="ethanol <test>")
    assert plt.get_fignums() == figures  # no pyplot figure left behind
    assert page.startswith("<!DOCTYPE html>") and "<title>ethanol &lt;test&gt;</title>" in page
    assert '<div id="3dmolviewer_' in page and "$3Dmol.createViewer" in page and "3Dmol-min.js" in page
    assert page.count("addCylinder(") == 5 + sum(a != b for w, _ in e.walks.top_walks(4) for a, b in zip(w, w[1:]))
    assert page.count("addLabel(") == 4
    png = re.search(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert png and base64.b64decode(png.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert "needs JavaScript and network access to the 3Dmol.js CDN" in " ".join(page.split())
    assert page.index("data:image/png") < page.index("3dmolviewer_")  # the static map comes first
    with pytest.raises(ValueError, match="top must be"):
        relevance_html(atoms, e.nbody, top=-3)


def test_view_can_skip_walks_that_stay_at_one_atom_keeping_their_global_rank(ethanol):
    atoms, e = ethanol
    ranked = list(enumerate(e.walks.top_walks(30), start=1))
    moving = [(rank, w, r) for rank, (w, r) in ranked if len(set(w)) >= 2][:3]
    assert ranked[0][1][0][0] == ranked[0][1][0][-1] and moving[0][0] > 1  # the strongest walk stays put
    view = relevance_view(atoms, e.nbody, top=0, walks=e.walks, top_walks=3, walk_atoms=2)
    assert [text for text, _ in _labels(view)] == [f"#{rank}" for rank, _, _ in moving]
    steps = [(a, b) for _, w, _ in moving for a, b in zip(w, w[1:]) if a != b]
    cylinders = _calls(view, "addCylinder")
    assert len(cylinders) == len(steps) >= 3
    for (a, b), cyl in zip(steps, cylinders):
        np.testing.assert_allclose(_point(cyl["start"]), atoms.positions[a], atol=1e-12)
        np.testing.assert_allclose(_point(cyl["end"]), atoms.positions[b], atol=1e-12)
    three = [rank for rank, (w, _) in enumerate(e.walks.top_walks(e.walks.R.size), start=1) if len(set(w)) == 3]
    view = relevance_view(atoms, e.nbody, top=0, walks=e.walks, top_walks=2, walk_atoms=3)
    assert [text for text, _ in _labels(view)] == [f"#{rank}" for rank in three[:2]] and three[0] > 30
    for bad in (0, 4, 1.5):  # walks of this 2-interaction model visit at most 3 atoms
        with pytest.raises(ValueError, match="walk_atoms must"):
            relevance_view(atoms, e.nbody, walks=e.walks, walk_atoms=bad)
