"""Which layers of a schnetpack model get an LRP rule (a *composite*, in zennit's terms).

Two composites (:data:`COMPOSITES`):

``"features"`` (the default)
    The *atom-feature* ``Dense`` layers with an activation only: the interaction and mixing networks
    and the output head. Edge networks (``filter_network`` of SchNet, ``filter_net`` of PaiNN), the
    radial basis, the cutoff and the embeddings keep their ordinary forward: they compute pair
    quantities that carry no relevance (edge weights), so a rule there would only change the filter
    values, never the relevance flow.
``"reference"``
    Every schnetpack ``Dense`` with a non-identity activation, edge networks included: the convention
    of the published per-walk GNN-LRP code (jnsLs/gnn-lrp-cg). Under ``gamma`` it changes SchNet's
    filter values (the first layer of each ``filter_network`` has a shifted-softplus activation), so
    SchNet relevances differ between the composites; only ``"reference"`` is comparable with numbers
    from that code.

Under ``gi`` the two composites agree (the ``gi`` forward value equals the ordinary one, so the filters
are unchanged up to round-off). For PaiNN they are identical under both rules: schnetpack's PaiNN
``filter_net`` is a single ``Dense`` *without* activation, so ``"reference"`` selects no extra layer
(tested in ``tests/lrp/test_composites.py``).

The engine computes the filters inside the rule context (:func:`xailib.lrp.engine.prepared`), so the
composite decides their values in both the fast and the brute-force routes.
"""

from __future__ import annotations

from torch import nn

from xailib.base.errors import XailibError

#: The composites: which Dense layers with an activation get the rule.
COMPOSITES = ("features", "reference")

#: Submodule names whose Dense layers compute pair or embedding quantities; ``"features"`` leaves them alone.
EDGE_MODULE_NAMES = frozenset({"filter_network", "filter_net", "radial_basis", "cutoff_fn",
                               "embedding", "electronic_embeddings"})


class UnknownCompositeError(XailibError, ValueError):
    """The composite name is not one of :data:`COMPOSITES`."""


def check_composite(composite: str) -> None:
    """Raise :class:`UnknownCompositeError` unless ``composite`` is one of :data:`COMPOSITES`."""
    if composite not in COMPOSITES:
        raise UnknownCompositeError(f"unknown composite {composite!r}; choose one of {', '.join(COMPOSITES)} "
                                    "('features': atom-feature layers only, 'reference': every Dense with an "
                                    "activation, edge filter networks included)")


def _dense_type() -> type:
    from schnetpack.nn import Dense

    return Dense


def has_activation(layer: nn.Module) -> bool:
    """True for a schnetpack ``Dense`` layer whose activation is not the identity."""
    act = getattr(layer, "activation", None)
    return isinstance(layer, _dense_type()) and act is not None and not isinstance(act, nn.Identity)


def rule_layers(model: nn.Module, composite: str = "features") -> list[nn.Module]:
    """The Dense layers with a non-identity activation that a rule modifies under ``composite``.

    ``"features"``: Dense layers inside submodules named in :data:`EDGE_MODULE_NAMES` (filter networks,
    embeddings) are left on their ordinary forward. ``"reference"``: all of them.
    """
    check_composite(composite)
    layers, seen = [], set()
    for name, module in model.named_modules():
        if not has_activation(module) or id(module) in seen:
            continue
        if composite == "features" and EDGE_MODULE_NAMES.intersection(name.split(".")):
            continue
        seen.add(id(module))
        layers.append(module)
    return layers
