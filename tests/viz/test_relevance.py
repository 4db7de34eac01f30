"""Relevance maps: the 2-D projection keeps planar geometry; the map draws what it is given."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
from ase.build import molecule
from lrp_models import mol, potential

from xailib import lrp
from xailib.viz.relevance import project_2d, relevance_map, relevance_view


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
