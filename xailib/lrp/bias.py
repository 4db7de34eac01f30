"""Bias terms: the relevance of the constant part of each step, so that relevances add up to the output.

At its operating point (the rule's gate ratios frozen) every step is affine,
``F_t(h) = J_t h + k_t`` with ``k_t = h_t - J_t h_{t-1}`` (every bias of step ``t`` and, for PaiNN,
the terms of the detached vector channel), and the head is ``y = sum_a g[a] . h_T[a] + k_head[a]``
(:meth:`xailib.lrp.adapters.ModelSteps.step_constants`, ``head_constants``). Unrolling the steps,

``y~ = sum of walks + sum_t sum_(a, w_{t+1}, ..., w_T) k_t[a] . J_{t+1}[a->w_{t+1}] ... g[w_T] + sum_a k_head[a]``,

where ``y~`` is the forward value of the rule-modified model (``rule_output``; the model output for
``gi``). A constant ``k_t[a]`` thus starts a *bias suffix* ``(a, w_{t+1}, ..., w_T)``: its relevance
belongs to the atoms the suffix visits (first atom ``a``); ``k_head[a]`` is a 1-body term of atom ``a``.
For ``gamma`` the identity holds for ``rule_output``; ``output - rule_output`` is the rule's change of
the forward value (the conservation residual).

:func:`bias_tensors` gives all bias suffixes from the suffix cotangents the walk computation pulls
anyway; :func:`bruteforce_bias` is the per-suffix masked reference (``k_t`` from a JVP of ``F_t``, not
from the factored Jacobians).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.func import jvp

from xailib.lrp.adapters import ModelSteps
from xailib.lrp.engine import keep_row_gradient, push_prefixes


def layer_gradients(st: ModelSteps) -> list[torch.Tensor]:
    """``[dy~/dh_0, ..., dy~/dh_T]`` (each ``(N, d)``), by pulling ``g`` back through the steps."""
    grads = [st.head_gradient()]
    with torch.no_grad():
        for lin in reversed(st.linear):
            grads.append(lin.pull(grads[-1][None])[0])
    return grads[::-1]


def bias_atom_terms(st: ModelSteps) -> torch.Tensor:
    """Bias relevance per atom ``(N,)``: every bias suffix counted for its first atom, head constants included.

    ``sum_t k_t[a] . dy~/dh_t[a] + k_head[a]``.
    """
    grads = layer_gradients(st)
    out = st.head_constants().clone()
    for k, grad in zip(st.step_constants(), grads[1:]):
        out += (k * grad).sum(dim=1)
    return out


def bias_tensors(st: ModelSteps, suffixes: dict[int, torch.Tensor], meet: int) -> list[torch.Tensor]:
    """All bias-suffix relevances: entry ``t - 1`` is ``B_t`` of shape ``(N,) * (T - t + 1)``, ``t = 1..T``.

    ``B_t[a, w_{t+1}, ..., w_T] = k_t[a] . J_{t+1}[a->w_{t+1}] ... J_T[w_{T-1}->w_T] g[w_T]``.

    Parameters
    ----------
    suffixes
        The suffix cotangents of levels ``T..meet`` (:func:`xailib.lrp.engine.pull_suffixes`).
    meet
        The level where walk prefixes and suffixes meet. For ``t >= meet``, ``B_t`` is a dot product with
        the level-``t`` suffixes; for ``t < meet`` the constants ``k_t`` are pushed forward to ``meet``
        first (``N`` one-row tangents per step, against the walks' ``N^t``).
    """
    n, d, t_max = st.n_atoms, st.h0.shape[1], st.n_steps
    out = []
    for t, k in enumerate(st.step_constants(), start=1):
        if t >= meet:
            b = (suffixes[t].reshape(n, -1, d) * k[:, None, :]).sum(dim=-1)
        else:
            pushed = push_prefixes(st, k, t, meet)
            b = torch.einsum("amd,mbd->amb", pushed.reshape(-1, n, d), suffixes[meet].reshape(n, -1, d))
        out.append(b.reshape((n,) * (t_max - t + 1)))
    return out


def bruteforce_bias(st: ModelSteps, step: int, suffix: Sequence[int]) -> float:
    """Relevance of one bias suffix by the masked definition (the reference for :func:`bias_tensors`).

    ``k_t = F_t(h_{t-1}) - dF_t(h_{t-1})[h_{t-1}]`` by a forward-mode JVP of the step function itself;
    then ``k_t[a] . dy/dh_t[a]`` with the gradient flowing only through atom ``suffix[i]`` after step
    ``t + i``, as for walks.

    Parameters
    ----------
    step
        ``t`` in ``1..T``.
    suffix
        ``(a, w_{t+1}, ..., w_T)``: ``T - t + 1`` atom indices.
    """
    if not 1 <= step <= st.n_steps or len(suffix) != st.n_steps - step + 1:
        raise ValueError(f"a bias suffix of step {step} of a {st.n_steps}-step model has "
                         f"{st.n_steps - step + 1} atoms, got {list(suffix)}")
    h_prev = st.hs[step - 1]
    value, linear_part = jvp(st.steps[step - 1], (h_prev,), (h_prev,))
    k = (value - linear_part).detach()
    x = value.detach().clone().requires_grad_(True)
    h = keep_row_gradient(x, suffix[0])
    for fn, atom in zip(st.steps[step:], suffix[1:]):
        h = keep_row_gradient(fn(h), atom)
    (grad,) = torch.autograd.grad(st.head(h), x)
    return float((k[suffix[0]] * grad[suffix[0]]).sum())

