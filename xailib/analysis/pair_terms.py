"""The stored 2-body terms of dataset results as flat columns, with each pair's bond separation.

Chapters that fit decay laws per bond-separation class (the corrections validated in chapter 03b) start
here: :func:`pair_terms` lists every stored pair of a :class:`~xailib.analysis.RelevanceResults` with its
distance, elements, value and separation; :func:`xailib.analysis.decay_exponent` fits any subset of them
with a bootstrap over molecules, raw or divided by the cosine envelope.
"""

from __future__ import annotations

import numpy as np

from xailib.analysis.runs import RelevanceResults
from xailib.analysis.topology import bond_separation, separation_class


def pair_terms(results: RelevanceResults, part: str = "combined", *, scale: float = 1.2) -> dict[str, np.ndarray]:
    """Every stored 2-body term: ``structure``, ``molecule`` (its id), ``i``, ``j``, ``z`` (sorted atomic
    numbers, ``(P, 2)``), ``r`` (Angstrom), ``value`` (``part`` as in :meth:`RelevanceResults.term_values`),
    ``separation`` (bonds on the shortest bond path of the structure's geometry, ``scale`` as in
    :func:`~xailib.analysis.bond_graph`; -1 for none) and ``separation_class``."""
    atoms = results.term_atoms
    is_pair = (atoms[:, 0] >= 0) & (atoms[:, 1] >= 0) & (atoms[:, 2] < 0)
    structure = results.term_molecule[is_pair].astype(int)
    i, j = atoms[is_pair, 0].astype(int), atoms[is_pair, 1].astype(int)
    values = results.term_values(part)[is_pair]
    r, z, sep = np.empty(len(i)), np.empty((len(i), 2), int), np.empty(len(i), int)
    for k in np.unique(structure):
        rows = structure == k
        a = results.atoms(int(k))
        d, s = a.get_all_distances(), bond_separation(a, scale)
        r[rows], sep[rows] = d[i[rows], j[rows]], s[i[rows], j[rows]]
        z[rows] = np.sort(np.stack([a.numbers[i[rows]], a.numbers[j[rows]]], 1), 1)
    return {"structure": structure, "molecule": results.molecule_ids()[structure], "i": i, "j": j, "z": z, "r": r,
            "value": np.asarray(values, float), "separation": sep, "separation_class": separation_class(sep)}
