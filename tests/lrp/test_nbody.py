"""n-body terms from subgraph passes and Moebius inversion against terms aggregated from walks."""

import itertools

import numpy as np
import pytest
from lrp_models import mol, potential

from xailib import lrp
from xailib.lrp.nbody import connected_subsets


@pytest.mark.parametrize("rule", ["gi", "gamma"])
@pytest.mark.parametrize("arch", ["schnet", "painn"])
def test_subgraph_nbody_equals_nbody_aggregated_from_walks(arch, rule):
    model, atoms = potential(arch, 3, cutoff=2.6), mol("CH3CH2OH")  # 4-atom walks: a real remainder
    walks = lrp.walk_relevances(model, atoms, rule=rule)
    nb = lrp.nbody_relevances(model, atoms, max_order=3, rule=rule)
    ref = walks.nbody(3)
    assert abs(ref.remainder) > 1e-6 and len(nb.order(3)) > 0
    for key in set(nb.terms) | set(ref.terms):
        assert nb.terms.get(key, 0.0) == pytest.approx(ref.terms.get(key, 0.0), abs=1e-10)
    assert nb.remainder == pytest.approx(ref.remainder, abs=1e-10)
    assert nb.total == pytest.approx(walks.total, rel=1e-12)
    assert nb.output == pytest.approx(walks.output, rel=1e-12)


def test_order_sums_add_up_and_a_triatomic_has_no_remainder_even_when_deep():
    """H2O under a 6-interaction SchNet: every walk visits at most 3 atoms, so orders 1-3 are all."""
    model, atoms = potential("schnet", 6), mol("H2O")
    nb = lrp.nbody_relevances(model, atoms, max_order=3, rule="gamma")
    walks = nb.order_sums("walks")
    assert sum(walks.values()) == pytest.approx(nb.total, rel=1e-12)
    sums = nb.order_sums()  # walks + bias terms
    assert sum(sums.values()) == pytest.approx(nb.conserved_total, rel=1e-12)
    assert nb.conserved_total == pytest.approx(nb.rule_output, rel=1e-10)
    assert abs(nb.bias_total) > 1e-3  # the bias terms are really there
    assert abs(nb.remainder) < 1e-10 * max(1.0, abs(nb.total))
    assert abs(nb.conserved_remainder) < 1e-10 * max(1.0, abs(nb.total))
    assert nb[(2, 0, 1)] == nb.terms[(0, 1, 2)]
    atom = lrp.atom_relevances(model, atoms, rule="gamma", bias=False)
    assert atom.sum() == pytest.approx(nb.total, rel=1e-12)
    atom = lrp.atom_relevances(model, atoms, rule="gamma")
    assert atom.sum() == pytest.approx(nb.conserved_total, rel=1e-12)


def test_lower_max_order_moves_terms_into_the_remainder():
    model, atoms = potential("painn", 2), mol("CH4")
    nb3 = lrp.nbody_relevances(model, atoms, max_order=3)
    nb2 = lrp.nbody_relevances(model, atoms, max_order=2)
    assert nb2.terms == pytest.approx({k: v for k, v in nb3.terms.items() if len(k) <= 2}, abs=1e-12)
    assert nb2.remainder == pytest.approx(nb3.remainder + sum(nb3.order(3).values()), abs=1e-12)
    assert nb2.bias_terms == pytest.approx({k: v for k, v in nb3.bias_terms.items() if len(k) <= 2}, abs=1e-12)
    assert nb2.bias_remainder == pytest.approx(nb3.bias_remainder + sum(nb3.order(3, part="bias").values()),
                                               abs=1e-12)
    assert [len(k) for k, _ in nb3.top(3, order=3)] == [3, 3, 3]


def test_connected_subsets_match_enumeration():
    rng = np.random.default_rng(2)
    adj = rng.random((7, 7)) < 0.35
    adj = adj | adj.T | np.eye(7, dtype=bool)

    def connected(s):
        seen, stack = {s[0]}, [s[0]]
        while stack:
            i = stack.pop()
            for j in s:
                if adj[i, j] and j not in seen:
                    seen.add(j)
                    stack.append(j)
        return len(seen) == len(s)

    expected = [s for k in (1, 2, 3) for s in itertools.combinations(range(7), k) if connected(s)]
    assert sorted(connected_subsets(adj, 3)) == sorted(expected)
