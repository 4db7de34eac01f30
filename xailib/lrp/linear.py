"""Step Jacobians in factored form, for batched exact JVPs and VJPs without ``vmap`` overhead.

At a forward point every interaction step of SchNet and PaiNN has the Jacobian
``J u = Mix (u + Post message(C, Pre u))``: ``Pre``, ``Post`` and ``Mix`` are per-atom (block
diagonal) Jacobians of the atom-wise networks, ``C`` the dense edge filters, ``message`` the sum over
neighbours (SchNet: ``Mix = I``; PaiNN: ``Post = I``). The filters are stored per edge
(:class:`EdgeFilters`, memory linear in the number of edges); the dense ``(F, N, N)`` form is built only
when a full-width batched product asks for it. The per-atom blocks are computed by automatic
differentiation of the model's own (rule-modified) layers (forward mode, all atoms at once), so the
rules stay defined in one place (:mod:`xailib.lrp.rules`). Applying
the factors to a batch of ``B`` tangents is then a few batched matrix products. The brute-force
reference differentiates the steps directly, so the tests compare two independent routes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.func import jvp, vmap


def message(c: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``m[..., i, f] = sum_j c[f, i, j] x[..., j, f]`` for ``x`` of shape ``(..., N, F)``."""
    shape = x.shape
    flat = x.reshape(-1, shape[-2], shape[-1]).permute(2, 1, 0).contiguous()  # (F, N, B); contiguous: bmm is much faster
    return torch.bmm(c, flat).permute(2, 1, 0).reshape(shape)


@dataclass
class EdgeFilters:
    """Edge filters of one step per ordered pair ``i <- j`` of the cutoff graph (coalesced: periodic images
    of the same pair are summed), ``C[f, i, j] = w[e, f]`` for the pair ``e = (i[e], j[e])``.

    ``keys = i * n + j`` are sorted, so the filter of any pair is found by binary search
    (:meth:`blocks`).
    """

    i: torch.Tensor  # (P,)
    j: torch.Tensor  # (P,)
    w: torch.Tensor  # (P, F)
    n: int

    @classmethod
    def from_edges(cls, w_ij: torch.Tensor, idx_i: torch.Tensor, idx_j: torch.Tensor, n: int) -> "EdgeFilters":
        """Coalesce schnetpack's edge list (``idx_i``, ``idx_j``, filters ``w_ij``) into one entry per pair."""
        keys, inverse = torch.unique(idx_i.long() * n + idx_j.long(), sorted=True, return_inverse=True)
        w = torch.zeros((keys.numel(), w_ij.shape[-1]), dtype=w_ij.dtype).index_add_(0, inverse, w_ij.detach())
        return cls(torch.div(keys, n, rounding_mode="floor"), keys % n, w, n)

    @property
    def keys(self) -> torch.Tensor:
        return self.i * self.n + self.j

    def message(self, x: torch.Tensor) -> torch.Tensor:
        """``m[..., i, f] = sum_j C[f, i, j] x[..., j, f]`` for ``x`` of shape ``(..., N, F)`` (sparse)."""
        return torch.zeros_like(x).index_add(-2, self.i, x[..., self.j, :] * self.w)

    def message_t(self, x: torch.Tensor) -> torch.Tensor:
        """``m[..., j, f] = sum_i C[f, i, j] x[..., i, f]`` (the transpose of :meth:`message`)."""
        return torch.zeros_like(x).index_add(-2, self.j, x[..., self.i, :] * self.w)

    def dense(self) -> torch.Tensor:
        """``C`` as a dense ``(F, N, N)`` tensor (``F * N^2`` numbers)."""
        c = torch.zeros((self.n, self.n, self.w.shape[1]), dtype=self.w.dtype)
        c[self.i, self.j] = self.w
        return c.permute(2, 0, 1).contiguous()

    def blocks(self, idx: torch.Tensor) -> torch.Tensor:
        """``out[m, a, b] = C[:, idx[m, a], idx[m, b]]`` (zero where there is no edge), shape ``(M, k, k, F)``."""
        keys = self.keys
        wanted = idx[:, :, None] * self.n + idx[:, None, :]
        pos = torch.searchsorted(keys, wanted).clamp(max=max(keys.numel() - 1, 0))
        found = keys[pos] == wanted if keys.numel() else torch.zeros_like(wanted, dtype=torch.bool)
        out = self.w[pos] if keys.numel() else self.w.new_zeros((*wanted.shape, self.w.shape[1]))
        return out * found[..., None]

    def nbytes(self) -> int:
        return 8 * (self.w.numel() + 2 * self.i.numel())


def row_jacobians(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Jacobians ``(N, out, in)`` of a row-wise map ``fn`` (rows independent) at every row of ``x``.

    Forward mode with ``in`` tangents, tangent ``k`` being the unit vector ``e_k`` in every row: its
    JVP is column ``k`` of all row Jacobians at once (the tangents are batched with ``vmap``).
    """
    n, k = x.shape
    tangents = torch.eye(k, dtype=x.dtype)[:, None, :].expand(k, n, k)
    out = vmap(lambda t: jvp(fn, (x,), (t,))[1])(tangents)  # (in, N, out)
    return out.permute(1, 2, 0).contiguous().detach()


def linear_or_row_jacobians(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """:func:`row_jacobians` of ``module``; a plain linear layer (no activation, so no rule) is just its
    weight matrix for every row, and a ``Sequential`` is the product of its layers' row Jacobians
    (chain rule; each layer carries its own rule), which saves the tangents of every later layer."""
    from torch import nn

    if isinstance(module, nn.Linear) and isinstance(getattr(module, "activation", nn.Identity()), nn.Identity):
        return module.weight.detach().expand(x.shape[0], *module.weight.shape)
    if isinstance(module, nn.Sequential) and len(module) > 1:
        jac = None
        for layer in module:
            step = linear_or_row_jacobians(layer, x)
            jac = step if jac is None else torch.matmul(step, jac)
            with torch.no_grad():
                x = layer(x)
        return jac.contiguous()
    return row_jacobians(module, x)


def rows_apply(a: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``out[b, n] = a[n] @ u[b, n]`` for ``a`` of shape ``(N, o, i)`` and ``u`` of shape ``(B, N, i)``."""
    return torch.bmm(u.transpose(0, 1), a.transpose(1, 2)).transpose(0, 1)


def rows_apply_t(a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``out[b, n] = a[n].T @ v[b, n]`` (the transpose of :func:`rows_apply`)."""
    return torch.bmm(v.transpose(0, 1), a).transpose(0, 1)


@dataclass
class LinearStep:
    """Jacobian ``J u = Mix (u + Post message(C, Pre u))`` of one step at one forward point.

    :meth:`push` and :meth:`pull` of a single tangent use the sparse edge filters; batches of tangents
    and the one-row products use the dense form of ``C`` (built on first use and kept).
    """

    filters: EdgeFilters
    pre: torch.Tensor  # (N, F, d)
    post: torch.Tensor | None = None  # (N, d, F) or identity
    mix: torch.Tensor | None = None  # (N, d, d) or identity

    def __post_init__(self) -> None:
        self._dense: dict[str, torch.Tensor] = {}

    @property
    def c(self) -> torch.Tensor:
        """Dense filters ``(F, N, N)``."""
        if "c" not in self._dense:
            self._dense["c"] = self.filters.dense()
        return self._dense["c"]

    @property
    def _from(self) -> torch.Tensor:  # (N_j, N_i, F): filters out of atom j
        if "from" not in self._dense:
            self._dense["from"] = self.c.permute(2, 1, 0).contiguous()
        return self._dense["from"]

    @property
    def _into(self) -> torch.Tensor:  # (N_i, N_j, F): filters into atom i
        if "into" not in self._dense:
            self._dense["into"] = self.c.permute(1, 2, 0).contiguous()
        return self._dense["into"]

    def filter_blocks(self, idx: torch.Tensor) -> torch.Tensor:
        """``C[:, idx[m, a], idx[m, b]]`` as ``(M, k, k, F)``: the edge blocks between the atoms of each set."""
        return self.filters.blocks(idx)

    def _message(self, x: torch.Tensor, transpose: bool = False) -> torch.Tensor:
        if x.shape[0] == 1 and "c" not in self._dense:
            return self.filters.message_t(x) if transpose else self.filters.message(x)
        return message(self.c.transpose(1, 2) if transpose else self.c, x)

    def push(self, u: torch.Tensor) -> torch.Tensor:
        """``J u`` for tangents ``u`` of shape ``(B, N, d)``."""
        m = self._message(rows_apply(self.pre, u))
        out = u + (m if self.post is None else rows_apply(self.post, m))
        return out if self.mix is None else rows_apply(self.mix, out)

    def pull(self, v: torch.Tensor) -> torch.Tensor:
        """``J^T v`` for cotangents ``v`` of shape ``(B, N, d)``."""
        w = v if self.mix is None else rows_apply_t(self.mix, v)
        m = w if self.post is None else rows_apply_t(self.post, w)
        return w + rows_apply_t(self.pre, self._message(m, transpose=True))

    def push_rows(self, vectors: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """``J u`` for one-row tangents (``u`` zero except row ``rows[b] = vectors[b]``): ``(B, N, d)``.

        Same result as :meth:`push`, cheaper: ``Pre u`` and the message only involve the one row.
        """
        b = torch.arange(vectors.shape[0])
        pre_u = torch.bmm(self.pre[rows], vectors[:, :, None])[:, :, 0]  # (B, F) at the row
        m = self._from[rows] * pre_u[:, None, :]  # (B, N, F): c[f, i, row] pre_u[f]
        out = m if self.post is None else rows_apply(self.post, m)
        out[b, rows] += vectors
        return out if self.mix is None else rows_apply(self.mix, out)

    def pull_rows(self, vectors: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """``J^T v`` for one-row cotangents (``v`` zero except row ``rows[b] = vectors[b]``)."""
        b = torch.arange(vectors.shape[0])
        w = vectors if self.mix is None else torch.bmm(vectors[:, None, :], self.mix[rows])[:, 0]
        m = w if self.post is None else torch.bmm(w[:, None, :], self.post[rows])[:, 0]  # (B, F)
        msg = self._into[rows] * m[:, None, :]  # (B, N, F): c[f, row, j] m[f]
        out = rows_apply_t(self.pre, msg)
        out[b, rows] += w
        return out

