"""Per-architecture model steps for schnetpack 2.2 ``NeuralNetworkPotential`` models.

A potential with ``T`` interaction blocks is seen as ``h0 = embed(Z)``, ``h_t = F_t(h_{t-1})``,
``y = head(h_T)`` (book chapter 03, "From atoms to walks"). Pair quantities (distances, radial basis, cutoff, filters, PaiNN
directions) are computed once by the ordinary forward and enter every step as constants: they carry
no relevance. The steps use the model's own layers (``in2f``, ``f2out``, context networks,
``mu_channel_mix``) and restate schnetpack's forward around them: the message sum
``scatter_add(x[idx_j] * W_ij, idx_i)`` runs on coalesced per-pair filters (:class:`~xailib.lrp.linear.EdgeFilters`), and each step
also gives its Jacobian in factored form (:mod:`xailib.lrp.linear`). Tests check that the steps
reproduce the model's output.

- ``SchNet``: ``F_t(h) = h + interaction_t(h)``.
- ``PaiNN``: ``F_t(q) = mixing_t(interaction_t(q, mu_{t-1}), mu'_t)``; relevance flows through the
  scalar channel ``q`` only. The vector channel ``mu`` (``mu_{t-1}`` entering the interaction and
  ``mu'_t`` entering the mixing) is computed by one forward pass of the same (rule-modified) model
  and then held constant (detached) in every step. The constant vector features that enter the mixing
  network (``|mu_V|``) act like biases there: for PaiNN the step constants ``k_t`` (bias terms,
  :mod:`xailib.lrp.bias`) are nonzero even when all biases are zero, unlike SchNet.
- head: a schnetpack ``Atomwise`` output module with ``n_out = 1`` and ``sum`` or ``avg``
  aggregation. The explained output is the head's output *before* schnetpack post-processing
  (``AddOffsets`` atomrefs and mean, scaling, casts are not part of the explanation).

The envelope is whatever module the representation holds as ``cutoff_fn`` (schnetpack's
``CosineCutoff`` or :class:`xailib.models.envelopes.PolynomialEnvelope`): it enters only the edge filters.

Neighbour lists are the model's own: schnetpack's ``AtomsConverter`` with an ``ASENeighborList`` at
the cutoff of the model's representation, then the model's ``input_modules`` (``PairwiseDistances``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from xailib.base.errors import XailibError
from xailib.base.structures import validate_structure
from xailib.lrp.linear import EdgeFilters, LinearStep, linear_or_row_jacobians, row_jacobians

Step = Callable[[torch.Tensor], torch.Tensor]
Linearizer = Callable[[torch.Tensor], LinearStep]
SUPPORTED = ("SchNet", "PaiNN")


class UnsupportedArchitectureError(XailibError, TypeError):
    """The model is not a schnetpack NeuralNetworkPotential with a SchNet or PaiNN representation."""


class UnsupportedOutputError(XailibError, ValueError):
    """The requested output is not an explainable ``Atomwise`` head (scalar, aggregated)."""


@dataclass
class ModelSteps:
    """One structure seen as embedding, interaction steps and output head (all float64).

    Attributes
    ----------
    h0
        Embeddings, shape ``(N, d)`` (a constant: the relevance is gradient x input here).
    hs
        Forward points ``[h0, h1, ..., hT]`` of the (rule-modified) model.
    steps
        ``F_t`` for ``t = 1..T``; each maps an ``(..., N, d)`` tensor to an ``(..., N, d)`` tensor.
    linear
        The Jacobian of each ``F_t`` at ``h_{t-1}`` in factored form (batched JVPs and VJPs).
    head
        Maps ``h_T`` to the scalar output.
    adjacency
        Boolean ``(N, N)``: neighbours in the model's cutoff graph, diagonal included (staying put).
    atom_head
        Maps ``h_T`` to the per-atom contributions ``(N,)`` that ``head`` sums (divided by ``N`` for
        ``avg`` aggregation).

    Each step is affine in ``h`` at its operating point (gate ratios of the rule frozen):
    ``F_t(h) = J_t h + k_t`` with the step constants ``k_t`` (:meth:`step_constants`), and the head is
    ``y = sum_a g[a] . h_T[a] + k_head[a]`` (:meth:`head_gradient`, :meth:`head_constants`).
    """

    architecture: str
    target: str
    h0: torch.Tensor
    hs: list[torch.Tensor]
    steps: list[Step]
    linear: list[LinearStep]
    head: Step
    adjacency: np.ndarray
    extra: dict = field(default_factory=dict)
    atom_head: Step | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_atoms(self) -> int:
        return int(self.h0.shape[0])

    @property
    def n_steps(self) -> int:
        return len(self.steps)

    def forward(self, h: torch.Tensor | None = None) -> torch.Tensor:
        """The scalar output from embeddings ``h`` (default ``h0``) through all steps and the head."""
        h = self.h0 if h is None else h
        for step in self.steps:
            h = step(h)
        return self.head(h)

    def head_gradient(self) -> torch.Tensor:
        """``g = dy/dh_T`` at the forward point (rule-modified), shape ``(N, d)``."""
        if "g" not in self._cache:
            from torch.func import vjp

            self._cache["g"] = vjp(self.head, self.hs[-1])[1](torch.ones((), dtype=self.h0.dtype))[0].detach()
        return self._cache["g"]

    def step_constants(self) -> list[torch.Tensor]:
        """``[k_1, ..., k_T]``, ``k_t = h_t - J_t h_{t-1}`` (shape ``(N, d)``): each step's constant part.

        It holds every bias of step ``t`` and, for PaiNN, the terms of the detached vector channel.
        """
        if "k" not in self._cache:
            with torch.no_grad():
                self._cache["k"] = [h - lin.push(h_prev[None])[0]
                                    for lin, h_prev, h in zip(self.linear, self.hs[:-1], self.hs[1:])]
        return self._cache["k"]

    def head_constants(self) -> torch.Tensor:
        """``k_head[a] = atom_head(h_T)[a] - g[a] . h_T[a]``, shape ``(N,)``: the head's constant part per atom."""
        if "k_head" not in self._cache:
            with torch.no_grad():
                self._cache["k_head"] = self.atom_head(self.hs[-1]) - (self.head_gradient() * self.hs[-1]).sum(dim=1)
        return self._cache["k_head"]


def representation_name(model: nn.Module) -> str:
    """Name of the supported representation of ``model``; raises for anything else."""
    from schnetpack.model import NeuralNetworkPotential
    from schnetpack.representation import PaiNN, SchNet

    if not isinstance(model, NeuralNetworkPotential):
        raise UnsupportedArchitectureError(
            f"expected a schnetpack NeuralNetworkPotential, got {type(model).__name__}; build or load "
            f"the model with schnetpack (representation one of {', '.join(SUPPORTED)})")
    rep = model.representation
    for cls in (SchNet, PaiNN):  # exact types: subclasses (e.g. FieldSchNet) change the forward
        if type(rep) is cls:
            return cls.__name__
    raise UnsupportedArchitectureError(
        f"representation {type(rep).__name__} is not supported by the relevance engine; supported: "
        f"{', '.join(SUPPORTED)} (schnetpack 2.2). Write an adapter in xailib/lrp/adapters.py for it")


def float64_copy(model: nn.Module) -> nn.Module:
    """A frozen float64 CPU copy in eval mode (the caller's model is left untouched)."""
    representation_name(model)
    model64 = copy.deepcopy(model).to(device="cpu", dtype=torch.float64).eval()
    for p in model64.parameters():
        p.requires_grad_(False)
    return model64


def atomwise_head(model: nn.Module, target: str | None) -> nn.Module:
    """The ``Atomwise`` output module named ``target`` (default: the first one)."""
    from schnetpack.atomistic import Atomwise

    heads = [m for m in model.output_modules if isinstance(m, Atomwise)]
    if not heads:
        raise UnsupportedOutputError("the model has no schnetpack Atomwise output module to explain; "
                                     f"its outputs are {list(model.model_outputs or [])}")
    if target is None:
        head = heads[0]
    else:
        match = [m for m in heads if m.output_key == target]
        if not match:
            raise UnsupportedOutputError(f"no Atomwise output named {target!r}; choose one of "
                                         f"{[m.output_key for m in heads]}")
        head = match[0]
    if head.n_out != 1:
        raise UnsupportedOutputError(f"output {head.output_key!r} has n_out={head.n_out}; only scalar "
                                     "outputs (n_out=1) can be explained")
    if head.aggregation_mode not in ("sum", "avg"):
        raise UnsupportedOutputError(f"output {head.output_key!r} has aggregation "
                                     f"{head.aggregation_mode!r}; only 'sum' and 'avg' are supported")
    return head


def model_elements(model: nn.Module) -> list[int] | None:
    """Atomic numbers the model accepts: the ``elements`` buffer of an input module (``ElementGuard``), or None."""
    for module in getattr(model, "input_modules", None) or ():
        allowed = getattr(module, "elements", None)
        if isinstance(allowed, torch.Tensor):
            return [int(z) for z in allowed.tolist()]
    return None


def check_structure(model: nn.Module, atoms) -> None:
    """Refuse ``atoms`` before any work unless the model can compute it.

    :func:`xailib.base.structures.validate_structure` (an ``ase.Atoms`` with atoms, finite coordinates,
    no two atoms closer than 0.4 Angstrom) with the elements of the model's element guard. Periodic
    structures are handled explicitly: the engine uses the model's own neighbour list, periodic images
    included (exact, tested against the brute-force reference), so they need a finite, non-degenerate
    cell and no atoms overlapping across the boundary. (Whether a model trained on isolated molecules
    means anything for a crystal is the caller's question.)

    Raises
    ------
    MalformedStructureError
        Not an ``ase.Atoms``, no atoms, NaN or infinite coordinates, overlapping atoms; for a periodic
        structure a NaN/infinite or degenerate cell, or atoms overlapping with a periodic image.
    UnsupportedElementError
        An element the model was not trained on (its ``ElementGuard``), or outside ``Z = 1..118``.
    """
    validate_structure(atoms, elements=model_elements(model), method="the relevance engine", periodic=True)


def model_inputs(model: nn.Module, atoms) -> dict[str, torch.Tensor]:
    """schnetpack inputs for ``atoms`` (float64) with the model's own cutoff graph and input modules."""
    from schnetpack import properties
    from schnetpack.atomistic import PairwiseDistances
    from schnetpack.interfaces import AtomsConverter
    from schnetpack.transform import ASENeighborList

    check_structure(model, atoms)
    cutoff = float(model.representation.cutoff)
    converter = AtomsConverter(neighbor_list=ASENeighborList(cutoff=cutoff), dtype=torch.float64)
    inputs = converter(atoms)
    with torch.no_grad():
        for module in model.input_modules:
            inputs = module(inputs)
        if properties.Rij not in inputs:
            inputs = PairwiseDistances()(inputs)
    return inputs


def _adjacency(inputs: dict[str, torch.Tensor], n: int) -> np.ndarray:
    from schnetpack import properties

    adj = np.eye(n, dtype=bool)
    adj[inputs[properties.idx_i].numpy(), inputs[properties.idx_j].numpy()] = True
    return adj


def _embed(rep: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    from schnetpack import properties

    x = rep.embedding(inputs[properties.Z])
    for embedding in rep.electronic_embeddings:
        x = x + embedding(x, inputs)
    return x.detach()


def _schnet_steps(rep: nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[list[Step], list[Linearizer]]:
    """``F_t(h) = h + f2out(message(C_t, in2f(h)))``, i.e. ``h + SchNetInteraction_t(h)``."""
    from schnetpack import properties

    idx_i, idx_j = inputs[properties.idx_i], inputs[properties.idx_j]
    n = inputs[properties.Z].shape[0]
    d_ij = torch.norm(inputs[properties.Rij], dim=1)
    f_ij, rcut_ij = rep.radial_basis(d_ij), rep.cutoff_fn(d_ij)
    steps, linearizers = [], []
    for inter in rep.interactions:
        with torch.no_grad():
            c = EdgeFilters.from_edges(inter.filter_network(f_ij) * rcut_ij[:, None], idx_i, idx_j, n)

        def step(h: torch.Tensor, inter=inter, c=c) -> torch.Tensor:
            return h + inter.f2out(c.message(inter.in2f(h)))

        def linearize(h: torch.Tensor, inter=inter, c=c) -> LinearStep:
            m = c.message(inter.in2f(h))
            return LinearStep(c, linear_or_row_jacobians(inter.in2f, h), post=linear_or_row_jacobians(inter.f2out, m))

        steps.append(step)
        linearizers.append(linearize)
    return steps, linearizers


def _painn_steps(rep: nn.Module, inputs: dict[str, torch.Tensor],
                 h0: torch.Tensor) -> tuple[list[Step], list[Linearizer]]:
    """Scalar channel of ``PaiNNMixing_t(PaiNNInteraction_t(q, mu_{t-1}), mu'_t)`` with ``mu`` constant."""
    from schnetpack import properties

    idx_i, idx_j = inputs[properties.idx_i], inputs[properties.idx_j]
    r_ij = inputs[properties.Rij]
    n, width = h0.shape
    d_ij = torch.norm(r_ij, dim=1, keepdim=True)
    dir_ij = r_ij / d_ij
    filters = rep.filter_net(rep.radial_basis(d_ij)) * rep.cutoff_fn(d_ij)[..., None]
    if rep.share_filters:
        filter_list = [filters] * rep.n_interactions
    else:
        filter_list = list(torch.split(filters, 3 * rep.n_atom_basis, dim=-1))
    # the vector channel from one forward pass of schnetpack's own modules, then held constant
    q = h0.unsqueeze(1)
    mu = torch.zeros((n, 3, width), dtype=q.dtype)
    steps, linearizers = [], []
    for t, (inter, mix) in enumerate(zip(rep.interactions, rep.mixing)):
        with torch.no_grad():
            q, mu_mid = inter(q, mu, filter_list[t], dir_ij, idx_i, idx_j, n)
            q, mu = mix(q, mu_mid)
            c = EdgeFilters.from_edges(filter_list[t][:, 0, :width], idx_i, idx_j, n)  # the dq part of the filter
            mu_v, mu_w = torch.split(mix.mu_channel_mix(mu_mid), width, dim=-1)
            mu_vn = torch.sqrt(torch.sum(mu_v**2, dim=-2) + mix.epsilon)  # (N, d), as in PaiNNMixing
            vw = torch.sum(mu_v * mu_w, dim=-2)

        def context(h: torch.Tensor, inter=inter) -> torch.Tensor:  # PaiNNInteraction, dq part
            return inter.interatomic_context_net(h)[..., :width]

        def mixing(q1: torch.Tensor, vn: torch.Tensor, vw: torch.Tensor, mix=mix) -> torch.Tensor:
            x = mix.intraatomic_context_net(torch.cat([q1, vn.expand_as(q1)], dim=-1))
            dq_intra, _, dqmu_intra = torch.split(x, width, dim=-1)
            return q1 + dq_intra + dqmu_intra * vw  # PaiNNMixing, scalar channel

        def step(h: torch.Tensor, context=context, mixing=mixing, c=c, vn=mu_vn, vw=vw) -> torch.Tensor:
            return mixing(h + c.message(context(h)), vn, vw)

        def linearize(h: torch.Tensor, context=context, mixing=mixing, c=c, vn=mu_vn, vw=vw) -> LinearStep:
            q1 = h + c.message(context(h))
            return LinearStep(c, row_jacobians(context, h), mix=row_jacobians(lambda q: mixing(q, vn, vw), q1))

        steps.append(step)
        linearizers.append(linearize)
    return steps, linearizers


def build_steps(model64: nn.Module, atoms, target: str | None = None,
                inputs: dict[str, torch.Tensor] | None = None) -> ModelSteps:
    """Embedding, steps and head of a float64 model (see :func:`float64_copy`) for one structure.

    Call it inside an open rule context when a rule is wanted: the forward points and (PaiNN) the
    vector channel are those of the rule-modified model.
    """
    arch = representation_name(model64)
    head_module = atomwise_head(model64, target)
    inputs = model_inputs(model64, atoms) if inputs is None else inputs
    rep = model64.representation
    with torch.no_grad():
        h0 = _embed(rep, inputs)
    if arch == "SchNet":
        steps, linearizers = _schnet_steps(rep, inputs)
    else:
        steps, linearizers = _painn_steps(rep, inputs, h0)
    n = h0.shape[0]
    outnet, avg = head_module.outnet, head_module.aggregation_mode == "avg"

    def atom_head(h: torch.Tensor) -> torch.Tensor:
        y = outnet(h)[..., 0]
        return y / n if avg else y

    def head(h: torch.Tensor) -> torch.Tensor:
        return atom_head(h).sum()

    hs = [h0]
    with torch.no_grad():
        for step in steps:
            hs.append(step(hs[-1]))
    with torch.no_grad():
        linear = [lin(h) for lin, h in zip(linearizers, hs[:-1])]
    return ModelSteps(arch, head_module.output_key, h0, hs, steps, linear, head, _adjacency(inputs, n),
                      {"inputs": inputs}, atom_head)


def model_output(model64: nn.Module, inputs: dict[str, torch.Tensor], target: str) -> float:
    """The model's own forward output ``target`` before post-processing (for cross-checks)."""
    saved = model64.do_postprocessing
    model64.do_postprocessing = False
    try:  # grad mode stays on: a Forces module differentiates the energy inside the forward
        out = model64({k: v.detach().clone() for k, v in inputs.items()})
    finally:
        model64.do_postprocessing = saved
    return float(out[target].detach().reshape(-1)[0])
