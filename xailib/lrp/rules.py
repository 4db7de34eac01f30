"""LRP rules as reversible modified forwards of schnetpack ``Dense`` layers (zennit style).

A rule replaces the output of every selected ``schnetpack.nn.Dense`` layer that has a non-identity
activation by a *modified forward*: a tensor whose value is used in the forward pass and whose
gradient is the LRP rule. Gradient x input of the modified network is then the LRP relevance.

Rules (the book's chapter 03, section on rules), with ``z = W x + b`` and ``y = sigma(z)``:

``gi`` (gradient x input, LRP-0)
    ``out = z * [y / z]_const`` (the forward value is ``y``).
``gamma`` (signed generalised gamma rule with bias handling)
    with ``W+ = max(W, 0)``, ``W- = min(W, 0)``, ``x+ = max(x, 0)``, ``x- = min(x, 0)``; for units
    with ``y > 1e-6``: ``n = (W + g W+) x+ + (W + g W-) x- + (b + g b+)``,
    ``d = max((W + g W+) x+ + (W + g W-) x-, b + g b+)``; for units with ``y < -1e-6``:
    ``n = (W + g W-) x+ + (W + g W+) x- + (b + g b-)``,
    ``d = min((W + g W-) x+ + (W + g W+) x-, b + g b-)``; other units give 0;
    ``out = n * [y / d]_const`` (0 where ``d = 0``). Its forward value ``n y / d`` can differ from ``y``.

Which layers get the rule is decided by a *composite* (:mod:`xailib.lrp.composites`: ``"features"``,
the default, or ``"reference"``); pass ``layers=`` to choose explicitly.

The rule is applied by giving each selected layer an instance ``forward`` (the class method stays
untouched); leaving the ``with`` block deletes it, so the model is exactly the model it was
(parameters untouched, outputs bit-identical).
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Iterable, Iterator

import torch
from torch import nn
from torch.nn import functional as F

from xailib.base.errors import XailibError
from xailib.lrp.composites import check_composite, has_activation, rule_layers

RULES = ("gi", "gamma")
#: Units with |y| at most this value get zero relevance under the gamma rule.
GAMMA_EPS = 1e-6

_ACTIVE: "weakref.WeakSet[nn.Module]" = weakref.WeakSet()


class UnknownRuleError(XailibError, ValueError):
    """The rule name is not one of :data:`RULES`."""


class RuleAlreadyAppliedError(XailibError, RuntimeError):
    """A rule context is already open on this model; nested rule contexts are not allowed."""


class RuleParameterError(XailibError, ValueError):
    """A rule parameter is out of range: gamma must be a finite number >= 0."""


def check_rule(rule: str, gamma: float = 0.1) -> None:
    """Raise a clear error for an unknown rule name or a gamma that is negative, NaN or infinite.

    An infinite gamma would give NaN relevances everywhere (``inf * 0`` in the modified forward).
    """
    if rule not in RULES:
        raise UnknownRuleError(f"unknown LRP rule {rule!r}; choose one of {', '.join(RULES)}")
    if rule == "gamma":
        try:
            g = float(gamma)
        except (TypeError, ValueError):
            g = float("nan")
        if not (math.isfinite(g) and g >= 0.0):
            raise RuleParameterError(f"gamma must be a finite number >= 0 (e.g. 0.1), got {gamma!r}")


def gi_output(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Modified output of the ``gi`` rule: value ``y``, gradient ``[y/z]_const`` times that of ``z``."""
    y = y.detach()
    zero = z == 0
    ratio = torch.where(zero, torch.zeros_like(y), y / torch.where(zero, torch.ones_like(z), z)).detach()
    # where z == 0 exactly the unit is constant (value y, no gradient)
    return z * ratio + torch.where(zero, y, torch.zeros_like(y))


def gamma_output(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, y: torch.Tensor,
                 gamma: float) -> torch.Tensor:
    """Modified output of the signed generalised gamma rule (module docstring), ``out = n [y/d]_const``."""
    y = y.detach()
    w_pos, w_neg = weight.clamp(min=0), weight.clamp(max=0)
    # masks rather than clamp: an input that is exactly 0 passes no gradient (its relevance is 0)
    x_pos, x_neg = x * (x > 0), x * (x < 0)
    b = bias if bias is not None else torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device)
    # positive units: W + g W+ on x+, W + g W- on x-; negative units: the other way round
    a_pos = F.linear(x_pos, weight + gamma * w_pos) + F.linear(x_neg, weight + gamma * w_neg)
    a_neg = F.linear(x_pos, weight + gamma * w_neg) + F.linear(x_neg, weight + gamma * w_pos)
    b_pos, b_neg = b + gamma * b.clamp(min=0), b + gamma * b.clamp(max=0)
    up, down = y > GAMMA_EPS, y < -GAMMA_EPS
    n = torch.where(up, a_pos + b_pos, torch.where(down, a_neg + b_neg, torch.zeros_like(y)))
    d = torch.where(up, torch.maximum(a_pos, b_pos.expand_as(a_pos)),
                    torch.where(down, torch.minimum(a_neg, b_neg.expand_as(a_neg)), torch.zeros_like(y)))
    d = d.detach()
    live = d != 0
    ratio = torch.where(live, y / torch.where(live, d, torch.ones_like(d)), torch.zeros_like(y))
    return n * ratio.detach()


def _modified_forward(layer: nn.Module, rule: str, gamma: float):
    """The replacement forward of one Dense layer: the linear map is computed once."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        z = F.linear(x, layer.weight, layer.bias)
        y = layer.activation(z)
        if rule == "gi":
            return gi_output(z, y)
        return gamma_output(x, layer.weight, layer.bias, y, gamma)

    return forward


@contextlib.contextmanager
def applied(model: nn.Module, rule: str, *, gamma: float = 0.1,
            layers: Iterable[nn.Module] | None = None, composite: str = "features") -> Iterator[nn.Module]:
    """Apply an LRP rule to ``model`` inside a ``with`` block; removed on exit, even on error.

    Parameters
    ----------
    model
        A torch module (typically a schnetpack ``NeuralNetworkPotential``).
    rule
        ``"gi"`` or ``"gamma"``.
    gamma
        The gamma of the gamma rule (ignored for ``gi``).
    layers
        The Dense layers to modify; default :func:`rule_layers` of ``composite``.
    composite
        ``"features"`` (atom-feature layers, not the edge filter networks) or ``"reference"`` (every
        Dense with an activation); see :mod:`xailib.lrp.composites`. Ignored when ``layers`` is given.

    Yields
    ------
    nn.Module
        The same model, with the rule active.

    Examples
    --------
    >>> with applied(model, "gamma", gamma=0.1):          # doctest: +SKIP
    ...     y = model(inputs)["energy"]
    """
    check_rule(rule, gamma)
    check_composite(composite)
    if model in _ACTIVE:
        raise RuleAlreadyAppliedError("an LRP rule is already applied to this model; leave the first "
                                      "`with rules.applied(...)` block before opening another")
    chosen = rule_layers(model, composite) if layers is None else list(layers)
    for layer in chosen:
        if not has_activation(layer):
            raise TypeError(f"rules modify schnetpack Dense layers with an activation, got {layer!r}")
    patched = []
    _ACTIVE.add(model)
    try:
        for layer in chosen:
            if "forward" in layer.__dict__:
                raise RuleAlreadyAppliedError(f"layer {layer!r} already has a replaced forward")
            layer.forward = _modified_forward(layer, rule, float(gamma))  # instance attribute
            patched.append(layer)
        yield model
    finally:
        for layer in patched:
            del layer.__dict__["forward"]  # the class forward is back
        _ACTIVE.discard(model)
