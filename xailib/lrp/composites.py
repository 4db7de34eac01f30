"""Which layers of a schnetpack model get an LRP rule (a *composite*, in zennit's terms).

By default a rule applies to the *atom-feature* ``Dense`` layers only: the interaction and mixing
networks and the output head. Edge networks (``filter_network`` of SchNet, ``filter_net`` of PaiNN),
the radial basis, the cutoff and the embeddings keep their ordinary forward: they compute pair
quantities that carry no relevance (they act as edge weights), so a rule there would only change the
filter values, never the relevance flow.
"""

from __future__ import annotations

from torch import nn

#: Submodule names whose Dense layers compute pair or embedding quantities; rules leave them alone.
EDGE_MODULE_NAMES = frozenset({"filter_network", "filter_net", "radial_basis", "cutoff_fn",
                               "embedding", "electronic_embeddings"})


def _dense_type() -> type:
    from schnetpack.nn import Dense

    return Dense


def has_activation(layer: nn.Module) -> bool:
    """True for a schnetpack ``Dense`` layer whose activation is not the identity."""
    act = getattr(layer, "activation", None)
    return isinstance(layer, _dense_type()) and act is not None and not isinstance(act, nn.Identity)


def rule_layers(model: nn.Module) -> list[nn.Module]:
    """The atom-feature Dense layers with a non-identity activation that rules modify.

    Dense layers inside submodules named in :data:`EDGE_MODULE_NAMES` (filter networks, embeddings)
    are left on their ordinary forward.
    """
    layers, seen = [], set()
    for name, module in model.named_modules():
        if not has_activation(module) or id(module) in seen:
            continue
        if EDGE_MODULE_NAMES.intersection(name.split(".")):
            continue
        seen.add(id(module))
        layers.append(module)
    return layers
