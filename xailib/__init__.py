"""xailib: explaining atomistic neural networks (SchNet, PaiNN) with higher-order relevance.

The library behind the executable book in this repository. Subpackages, one purpose each, with imports
running one way (a subpackage imports only those listed before it)::

    base      paths, cached-file I/O with provenance, errors, units
    qm        reference methods: GFN2-xTB (tblite), atomic-energy partitions (PySCF)
    data      molecules, sampling, the datasets and their registry, manifest, provenance
    models    SchNet/PaiNN configs, build/save/load, training, evaluation
    lrp       the relevance engine (uses base only)
    analysis  dataset-level relevance runs and their statistics (pairs, decay, many-body order)
    md        molecular dynamics, stability, the MD-stability study
    transfer  descriptors, adversarial validation, atomic-energy transferability
    poly      the polynomial-envelope study (chapter 10)
    viz       figures, relevance maps, 3-D views, tables
    cli       ``python -m xailib ...``

Subpackages are imported on demand so that ``import xailib`` stays light.
"""

from __future__ import annotations

from xailib.base.paths import repo_root
from xailib.base.seed import set_seed

__version__ = "0.1.0"

__all__ = ["__version__", "set_seed", "repo_root"]
