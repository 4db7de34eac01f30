"""Restricted subgraph passes, per-pair edge filters, vectorised Moebius inversion and the memory guard,
each against an independent reference (masked full passes, dense filters, the dict Moebius inversion,
the sizes of the arrays actually built)."""

import itertools

import numpy as np
import pytest
import torch
from lrp_models import mol, potential

from xailib import lrp
from xailib.lrp import memory
from xailib.lrp.engine import prepared
from xailib.lrp.linear import EdgeFilters, message
from xailib.lrp.nbody import connected_subsets, masked_subgraph_relevances, moebius, moebius_arrays
from xailib.lrp.restricted import restricted_relevances


def _periodic_chain():
    """Three atoms in a small periodic cell: atoms neighbour their own periodic images (C[:, i, i] != 0)."""
    from ase import Atoms

    return Atoms("CHO", positions=[[0.1, 0.2, 0.0], [1.2, 0.1, 0.3], [0.4, 1.3, 0.9]], cell=[2.6, 2.8, 3.0], pbc=True)


@pytest.mark.parametrize("rule", ["gi", "gamma"])
@pytest.mark.parametrize("arch", ["schnet", "painn", "schnet-poly"])
def test_restricted_passes_equal_masked_full_passes_in_every_chunking(arch, rule):
    model, atoms = potential(arch, 3, width=6, cutoff=3.0), mol("CH3CH2OH")
    with prepared(model, atoms, rule=rule, gamma=0.2, target=None) as (st, _):
        subsets = connected_subsets(st.adjacency, 4)
        subsets += [tuple(range(st.n_atoms))]  # one large set: every atom, every edge
        ref_walks, ref_bias = masked_subgraph_relevances(st, subsets)
        for budget in (1, 10_000, 2**28):  # one set per chunk, a few, all at once
            walks, bias = restricted_relevances(st, subsets, budget=budget)
            np.testing.assert_allclose(walks, ref_walks, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(bias, ref_bias, rtol=1e-12, atol=1e-12)
    assert np.abs(ref_walks).max() > 1e-3 and np.abs(ref_bias).max() > 1e-3


def test_restricted_passes_with_periodic_self_images():
    model, atoms = potential("schnet", 2, width=5, cutoff=3.2), _periodic_chain()
    with prepared(model, atoms, rule="gi", gamma=0.0, target=None) as (st, _):
        lin = st.linear[0]
        assert torch.diagonal(lin.c, dim1=1, dim2=2).abs().max() > 0  # self-image edges exist
        subsets = connected_subsets(st.adjacency, 3)
        ref = masked_subgraph_relevances(st, subsets)
        new = restricted_relevances(st, subsets)
    np.testing.assert_allclose(new[0], ref[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(new[1], ref[1], rtol=1e-12, atol=1e-12)


def test_nbody_methods_agree_and_conserve():
    model, atoms = potential("painn", 3, width=6), mol("CH3CH2OH")
    new = lrp.nbody_relevances(model, atoms, max_order=3)
    ref = lrp.nbody_relevances(model, atoms, max_order=3, method="masked")
    assert new.terms.keys() == ref.terms.keys()
    for key in ref.terms:
        assert new.terms[key] == pytest.approx(ref.terms[key], abs=1e-11)
        assert new.bias_terms[key] == pytest.approx(ref.bias_terms[key], abs=1e-11)
    assert sum(new.order_sums().values()) == pytest.approx(new.rule_output, rel=1e-10)
    with pytest.raises(ValueError, match="unknown method"):
        lrp.nbody_relevances(model, atoms, method="fast")


def test_edge_filters_match_the_dense_scatter_sum_with_repeated_edges():
    rng = np.random.default_rng(0)
    n, f = 5, 4
    idx_i = torch.tensor([0, 1, 1, 2, 4, 4, 3, 0])
    idx_j = torch.tensor([1, 0, 0, 4, 2, 2, 3, 2])  # (1, 0) and (4, 2) twice, (3, 3) a self-image
    w = torch.tensor(rng.normal(size=(len(idx_i), f)))
    filters = EdgeFilters.from_edges(w, idx_i, idx_j, n)
    dense = torch.zeros((n, n, f), dtype=w.dtype).index_put_((idx_i, idx_j), w, accumulate=True).permute(2, 0, 1)
    torch.testing.assert_close(filters.dense(), dense, rtol=0, atol=1e-15)
    x = torch.tensor(rng.normal(size=(3, n, f)))
    torch.testing.assert_close(filters.message(x), message(dense.contiguous(), x))
    torch.testing.assert_close(filters.message_t(x), message(dense.transpose(1, 2).contiguous(), x))
    idx = torch.tensor([[0, 1, 2], [4, 2, 3]])
    blocks = filters.blocks(idx)
    for m, a, b in itertools.product(range(2), range(3), range(3)):
        torch.testing.assert_close(blocks[m, a, b], dense[:, idx[m, a], idx[m, b]])


def test_vectorised_moebius_equals_the_dict_inversion():
    rng = np.random.default_rng(3)
    adj = rng.random((9, 9)) < 0.35
    adj = adj | adj.T
    np.fill_diagonal(adj, True)
    subsets = connected_subsets(adj, 3)
    values = rng.normal(size=len(subsets))
    ref = moebius(dict(zip(subsets, values.tolist())), subsets, adj)
    new = moebius_arrays(values, subsets, 9)
    assert new.keys() == ref.keys()
    for key in ref:
        assert new[key] == pytest.approx(ref[key], abs=1e-12)


@pytest.mark.parametrize("arch", ["schnet", "painn"])
def test_memory_estimate_counts_the_arrays_that_are_built(arch):
    model, atoms = potential(arch, 2, width=6), mol("CH3CH2OH")
    with prepared(model, atoms, rule="gi", gamma=0.0, target=None) as (st, _):
        est = memory.estimate_nbody_memory(model, atoms,
                                           max_order=3, inputs=st.extra["inputs"])
        factors = sum(8 * sum(x.numel() for x in (lin.pre, lin.post, lin.mix) if x is not None) for lin in st.linear)
        filters = sum(lin.filters.nbytes() for lin in st.linear)
        exact2 = len(connected_subsets(st.adjacency, 2))
        n3 = len(connected_subsets(st.adjacency, 3))
    assert est.parts["Jacobian factors"] == factors
    assert est.parts["edge filters"] == filters
    assert memory.count_connected_sets(st.adjacency, 2) == exact2
    assert est.n_sets >= n3


def test_memory_guard_refuses_before_any_work_and_chunks_under_a_tight_limit(monkeypatch):
    model, atoms = potential("schnet", 2, width=6), mol("CH3CH2OH")
    free = lrp.nbody_relevances(model, atoms)
    fixed = memory.estimate_nbody_memory(model, atoms, max_order=3).fixed
    tight = lrp.nbody_relevances(model, atoms, memory_limit=fixed + memory.MIN_PASS_BYTES + 1)
    assert tight.terms == pytest.approx(free.terms, abs=1e-12)

    def no_work(*args, **kwargs):
        raise AssertionError("work started")

    monkeypatch.setattr("xailib.lrp.engine.build_steps", no_work)
    with pytest.raises(memory.MemoryLimitError, match="stated limit"):
        lrp.nbody_relevances(model, atoms, memory_limit=fixed // 2)
    with pytest.raises(memory.MemoryLimitError, match="available"):
        monkeypatch.setattr(memory, "available_bytes", lambda: 1000)
        lrp.nbody_relevances(model, atoms)
    for bad in ("lots", -1, float("nan"), True, "0GB"):
        with pytest.raises(memory.MemoryLimitError):
            lrp.nbody_relevances(model, atoms, memory_limit=bad)
    assert memory.parse_limit("1.5 GB") == 1_500_000_000 and memory.parse_limit(2048) == 2048


def test_vectorised_connected_sets_equal_the_set_expansion():
    """Up to 3 atoms the sets are found by centre atoms (vectorised); the 4-atom call still expands sets
    one atom at a time, so its sets of up to 3 atoms are an independent reference, order included."""
    rng = np.random.default_rng(5)
    adj = rng.random((25, 25)) < 0.25
    adj = adj | adj.T
    np.fill_diagonal(adj, True)
    expanded = [s for s in connected_subsets(adj, 4) if len(s) <= 3]
    assert connected_subsets(adj, 3) == expanded
    assert connected_subsets(adj, 2) == [s for s in expanded if len(s) <= 2]
