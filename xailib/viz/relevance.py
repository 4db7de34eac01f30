"""Relevance maps of one molecule: a static 2-D map (matplotlib), an interactive 3-D view (py3Dmol) and a
standalone HTML page with both."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: CPK-like colours for the elements of organic molecules (others grey).
ELEMENT_COLOURS = {1: "#d9d9d9", 6: "#404040", 7: "#3050f8", 8: "#ff0d0d", 9: "#90e050", 16: "#e0c000",
                   17: "#1ff01f"}


def project_2d(positions: np.ndarray) -> np.ndarray:
    """Positions projected on their two principal axes (the view that shows the molecule best)."""
    centred = positions - positions.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def relevance_map(atoms, pairs: Mapping[tuple[int, int], float], atom_values: np.ndarray | None = None, *,
                  ax=None, top: int | None = 15, title: str | None = None):
    """2-D relevance map: atoms (colour by element, labelled ``symbol index``), the ``top`` pair terms
    as lines (red positive, blue negative, width by ``|R|``) and, if given, atom terms as rings.

    Parameters
    ----------
    atoms
        ``ase.Atoms``.
    pairs
        ``{(i, j): relevance}``, e.g. ``NBodyRelevances.order(2)``.
    atom_values
        Optional per-atom relevance (e.g. 1-body terms), drawn as rings scaled by ``|R|``.
    top
        Draw only the ``top`` largest ``|R|`` pairs (``None``: all).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 4))
    xy = project_2d(atoms.positions)
    items = sorted(pairs.items(), key=lambda kv: -abs(kv[1]))[:top]
    scale = max((abs(r) for _, r in items), default=1.0) or 1.0
    for (i, j), r in reversed(items):
        ax.plot(*xy[[i, j]].T, color="#c0392b" if r > 0 else "#2e64b4", lw=0.5 + 6 * abs(r) / scale,
                alpha=0.85, solid_capstyle="round", zorder=1)
    colours = [ELEMENT_COLOURS.get(int(z), "#a0a0a0") for z in atoms.numbers]
    ax.scatter(*xy.T, s=[260 if z > 1 else 140 for z in atoms.numbers], c=colours, edgecolors="k", zorder=2)
    if atom_values is not None:
        a_scale = np.abs(atom_values).max() or 1.0
        for (x, y), r in zip(xy, atom_values):
            ax.scatter([x], [y], s=150 + 900 * abs(r) / a_scale, facecolors="none", zorder=3,
                       edgecolors="#c0392b" if r > 0 else "#2e64b4", linewidths=1.5)
    for k, ((x, y), sym) in enumerate(zip(xy, atoms.get_chemical_symbols())):
        ax.annotate(f"{sym}{k}", (x, y), xytext=(6, 6), textcoords="offset points", fontsize=8, zorder=4)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


#: Colours of the 3-D view: pair terms (positive, negative) and walk paths (positive, negative).
PAIR_COLOURS = ("red", "blue")
WALK_COLOURS = ("darkorange", "green")


def _count(name: str, value) -> int:
    """A non-negative integer argument (``bool`` refused), else a clear ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _check_indices(atoms, indices, what: str) -> None:
    n = len(atoms)
    bad = [i for i in indices if not 0 <= i < n]
    if bad:
        raise ValueError(f"{what} names atom {bad[0]}, but the structure has {n} atoms (indices 0..{n - 1})")


def _pair_terms(atoms, relevances, part: str) -> dict[tuple[int, int], float]:
    """The 2-body terms to draw, ``{(i, j): R}``, from an ``NBodyRelevances`` (terms of ``part``) or a mapping,
    checked: pairs of atom indices of ``atoms`` with finite relevances."""
    from xailib.lrp.nbody import PARTS, NBodyRelevances

    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; choose one of {', '.join(PARTS)}")
    if isinstance(relevances, NBodyRelevances):
        if relevances.max_order < 2:
            raise ValueError(f"the n-body terms go to order {relevances.max_order} only; 2-body terms need "
                             "max_order >= 2")
        if relevances.atoms is not None and len(relevances.atoms) != len(atoms):
            raise ValueError(f"the n-body terms are of a structure with {len(relevances.atoms)} atoms, not "
                             f"of these {len(atoms)} atoms")
        relevances = relevances.order(2, part=part)
    elif not isinstance(relevances, Mapping):
        raise TypeError(f"relevances must be an NBodyRelevances or a mapping (i, j) -> R, got "
                        f"{type(relevances).__name__}")
    pairs = {}
    for key, r in relevances.items():
        if len(key) != 2:
            raise ValueError(f"pair terms are keyed by two atom indices (i, j), got {key!r}")
        i, j = (int(a) for a in key)
        _check_indices(atoms, (i, j), f"pair {key!r}")
        if not np.isfinite(r):
            raise ValueError(f"pair {key!r} has a non-finite relevance {r!r}")
        pairs[i, j] = float(r)
    return pairs


def _strongest_walks(walks, k: int, min_atoms: int) -> list[tuple[int, tuple[int, ...], float]]:
    """``(rank, walk, R)`` of the ``k`` strongest walks that visit at least ``min_atoms`` distinct atoms;
    ``rank`` is the walk's place among *all* walks (as in ``walks.top_walks``), 1 the strongest."""
    n = k
    while True:
        ranked = [(rank, w, r) for rank, (w, r) in enumerate(walks.top_walks(n), start=1) if len(set(w)) >= min_atoms]
        if len(ranked) >= k or n >= walks.R.size:
            return ranked[:k]
        n *= 4


def _colour(colours: tuple[str, str], r: float) -> str:
    return colours[0] if r > 0 else colours[1]


def _xyz(position) -> dict[str, float]:
    return dict(zip("xyz", map(float, position)))


def relevance_view(atoms, relevances, *, top: int = 10, walks=None, top_walks: int = 3, walk_atoms: int = 1,
                   width: int = 420, height: int = 320, part: str = "combined"):
    """Interactive py3Dmol view of a relevance explanation. Needs ``py3Dmol`` (and, to display, JavaScript
    with access to the 3Dmol.js CDN); :func:`relevance_map` draws the same pairs as a static figure.

    Drawn: the molecule (:func:`~xailib.viz.molecules.view3d`); the ``top`` 2-body terms of largest ``|R|``
    as cylinders between their atoms (red positive, blue negative, radius by ``|R|``); and, if ``walks`` is
    given, its ``top_walks`` walks of largest ``|R|`` as thin dashed paths through the atoms they visit
    (one cylinder per step to a different atom, dark orange positive, green negative, radius by ``|R|``),
    each with a label of its rank (``#1`` the strongest) at its start atom, in the walk's colour. A walk
    that stays at one atom draws no path: its label alone shows it; in trained models the strongest walks
    often do, so ``walk_atoms=2`` draws the ``top_walks`` strongest walks that move (their labels keep their
    rank among all walks, as in ``walks.top_walks``).

    Parameters
    ----------
    atoms
        ``ase.Atoms``: the explained structure.
    relevances
        An :class:`~xailib.lrp.nbody.NBodyRelevances` (its 2-body terms of ``part``: ``"combined"``
        walks + bias, the default, ``"walks"`` or ``"bias"``), or a mapping ``{(i, j): R}`` drawn as given.
    walks
        Optional :class:`~xailib.lrp.walks.WalkRelevances` of the same structure.
    walk_atoms
        Draw only walks that visit at least this many distinct atoms (1, the default: all walks).

    Raises
    ------
    ValueError
        Before drawing: ``top`` or ``top_walks`` not a non-negative integer, ``walk_atoms`` not between 1
        and the walk length, an unknown ``part``, n-body terms without 2-body terms, or an atom index
        outside ``atoms``.
    """
    from xailib.viz.molecules import view3d

    top, top_walks = _count("top", top), _count("top_walks", top_walks)
    items = sorted(_pair_terms(atoms, relevances, part).items(), key=lambda kv: -abs(kv[1]))[:top]
    paths = []
    if walks is not None:
        if walks.R.shape[0] != len(atoms):
            raise ValueError(f"the walks are of a structure with {walks.R.shape[0]} atoms, not of these "
                             f"{len(atoms)} atoms")
        if _count("walk_atoms", walk_atoms) not in range(1, walks.R.ndim + 1):
            raise ValueError(f"walk_atoms must be from 1 to the walk length {walks.R.ndim}, got {walk_atoms!r}")
        paths = _strongest_walks(walks, top_walks, int(walk_atoms)) if top_walks else []
        for _, walk, _ in paths:
            _check_indices(atoms, walk, f"walk {walk}")

    view = view3d(atoms, width=width, height=height)
    pos = atoms.positions
    scale = max((abs(r) for _, r in items), default=1.0) or 1.0
    for (i, j), r in items:
        view.addCylinder({"start": _xyz(pos[i]), "end": _xyz(pos[j]), "radius": 0.05 + 0.25 * abs(r) / scale,
                          "color": _colour(PAIR_COLOURS, r), "opacity": 0.6, "fromCap": 1, "toCap": 1})
    scale = max((abs(r) for _, _, r in paths), default=1.0) or 1.0
    starts: dict[int, int] = {}  # labels already at an atom: stack the next one below them
    for rank, walk, r in paths:
        for a, b in zip(walk, walk[1:]):
            if a != b:
                view.addCylinder({"start": _xyz(pos[a]), "end": _xyz(pos[b]), "radius": 0.03 + 0.05 * abs(r) / scale,
                                  "color": _colour(WALK_COLOURS, r), "dashed": True, "fromCap": 2, "toCap": 2})
        shift = starts[walk[0]] = starts.get(walk[0], -1) + 1
        view.addLabel(f"#{rank}", {"position": _xyz(pos[walk[0]]), "screenOffset": {"x": 0, "y": 16 * shift},
                                   "fontSize": 11, "fontColor": "white", "backgroundColor": _colour(WALK_COLOURS, r),
                                   "backgroundOpacity": 0.85, "inFront": True})
    view.zoomTo()
    return view


def relevance_html(atoms, relevances, *, top: int = 10, walks=None, top_walks: int = 3, walk_atoms: int = 1,
                   title: str = "", part: str = "combined") -> str:
    """A standalone HTML page: the static :func:`relevance_map` as an embedded PNG (always shown), then the
    interactive :func:`relevance_view` (py3Dmol's HTML, which loads 3Dmol.js from a CDN, so it needs
    JavaScript and network access). Same arguments as :func:`relevance_view`; with an ``NBodyRelevances``
    the map also shows the 1-body terms of ``part`` as rings. Returns the page as a string."""
    import base64
    import html
    import io

    from matplotlib.figure import Figure  # no pyplot: no backend or global figure state

    view = relevance_view(atoms, relevances, top=top, walks=walks, top_walks=top_walks, walk_atoms=walk_atoms,
                          width=640, height=480, part=part)  # validates every argument before anything is drawn
    pairs = _pair_terms(atoms, relevances, part)
    rings = None
    if not isinstance(relevances, Mapping):
        one_body = relevances.order(1, part=part)
        rings = np.array([one_body.get((i,), 0.0) for i in range(len(atoms))])
    title = title or f"{atoms.get_chemical_formula()}: relevance map"
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    relevance_map(atoms, pairs, rings, ax=ax, top=top, title=f"top {min(top, len(pairs))} pair terms"
                  + (" (lines), 1-body terms (rings)" if rings is not None else ""))
    ax.margins(0.12)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    which = "walks" if walk_atoms == 1 else f"walks through at least {walk_atoms} atoms"
    walk_note = (f" Dashed paths: the {min(top_walks, walks.R.size)} strongest {which} (dark orange positive, "
                 "green negative), labelled by their rank among all walks at their start atom; a walk that stays "
                 "at one atom has a label only." if walks is not None and top_walks else "")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>body {{ font-family: sans-serif; margin: 1.5em; }} figure {{ margin: 0 0 2em 0; }}
figcaption {{ color: #444; font-size: 0.9em; max-width: 640px; }}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<figure class="relevance-map">
<img alt="static relevance map" src="data:image/png;base64,{png}">
<figcaption>Static relevance map: the {min(top, len(pairs))} pair terms of largest |R| (red positive, blue
negative, width by |R|), atoms labelled by element and index. The interactive 3-D view below needs
JavaScript and network access to the 3Dmol.js CDN; without them it stays empty and this map shows the
same pairs.</figcaption>
</figure>
<figure class="relevance-view">
{view.write_html()}
<noscript><p>JavaScript is off: the interactive 3-D view is not shown (see the static map above).</p></noscript>
<figcaption>Interactive 3-D view (drag to rotate, scroll to zoom): the same pair terms as cylinders (red
positive, blue negative, radius by |R|).{walk_note}</figcaption>
</figure>
</body>
</html>
"""
