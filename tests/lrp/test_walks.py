"""Fast all-walk relevances against the per-walk masked definition, conservation, invariances."""

import numpy as np
import pytest
import torch
from lrp_models import all_walks, mol, potential, zero_biases
from scipy.spatial.transform import Rotation

from xailib import lrp
from xailib.lrp import adapters, rules

CASES = [("schnet", "H2O", 3), ("schnet", "CH3CH2OH", 2), ("painn", "H2O", 3), ("painn", "CH3CH2OH", 2),
         ("schnet-poly", "CH3CH2OH", 2), ("painn-poly", "CH3CH2OH", 2)]  # -poly: polynomial envelope
ARCHS = ["schnet", "painn", "schnet-poly", "painn-poly"]


@pytest.mark.parametrize("rule", ["gi", "gamma"])
@pytest.mark.parametrize("arch,name,t", CASES)
def test_fast_walks_equal_bruteforce_for_every_walk(arch, name, t, rule):
    model, atoms = potential(arch, t), mol(name)
    res = lrp.walk_relevances(model, atoms, rule=rule, gamma=0.25)
    assert res.R.shape == (len(atoms),) * (t + 1) and res.R.dtype == np.float64
    walks = all_walks(len(atoms), t)
    ref = lrp.walks_bruteforce(model, atoms, walks, rule=rule, gamma=0.25)
    scale = np.abs(ref).max()
    assert scale > 1e-3  # the check is not vacuous
    np.testing.assert_allclose(res.R[tuple(walks.T)], ref, rtol=0, atol=1e-10 * max(1.0, scale))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("aggregation", ["sum", "avg"])
def test_steps_reproduce_the_model_output(arch, aggregation):
    model, atoms = potential(arch, 3, aggregation=aggregation), mol("CH3CH2OH")
    m64 = adapters.float64_copy(model)
    st = adapters.build_steps(m64, atoms)
    ref = adapters.model_output(m64, st.extra["inputs"], "energy")
    assert float(st.forward()) == pytest.approx(ref, rel=1e-12, abs=1e-12)
    res = lrp.walk_relevances(model, atoms)
    assert res.output == pytest.approx(ref, rel=1e-12, abs=1e-12)
    assert res.rule_output == pytest.approx(ref, rel=1e-12, abs=1e-12)  # gi keeps the forward value


@pytest.mark.parametrize("rule", ["gi", "gamma"])
def test_walks_sum_to_gradient_x_input_of_schnetpacks_own_forward(rule):
    """SchNet: the total equals h0 . dy/dh0 of the unmodified schnetpack forward pass (rule applied)."""
    model, atoms = potential("schnet", 3), mol("CH3CH2OH")
    res = lrp.walk_relevances(model, atoms, rule=rule)
    m64 = adapters.float64_copy(model)
    inputs = adapters.model_inputs(m64, atoms)
    leaf = {}

    def grab(module, args, out):
        leaf["h0"] = out.detach().requires_grad_(True)
        return leaf["h0"]

    handle = m64.representation.embedding.register_forward_hook(grab)
    m64.do_postprocessing = False
    try:
        with rules.applied(m64, rule):
            y = m64(inputs)["energy"].sum()
    finally:
        handle.remove()
    (g,) = torch.autograd.grad(y, leaf["h0"])
    expected = float((leaf["h0"] * g).sum().detach())
    assert res.R.sum() == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert res.total == pytest.approx(expected, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("arch", ARCHS)
def test_walks_sum_to_total_and_atoms(arch):
    model, atoms = potential(arch, 2), mol("CH3CH2OH")
    res = lrp.walk_relevances(model, atoms, rule="gamma")
    assert res.R.sum() == pytest.approx(res.total, rel=1e-12, abs=1e-12)
    atom = lrp.atom_relevances(model, atoms, rule="gamma", bias=False)
    np.testing.assert_allclose(atom, res.atom_relevances(bias=False), atol=1e-12)
    assert atom.sum() == pytest.approx(res.total, rel=1e-12)
    atom = lrp.atom_relevances(model, atoms, rule="gamma")  # bias suffixes counted for their first atom
    np.testing.assert_allclose(atom, res.atom_relevances(), atol=1e-12)
    assert atom.sum() == pytest.approx(res.conserved_total, rel=1e-12)


@pytest.mark.parametrize("arch", ["schnet", "schnet-poly"])
def test_gi_with_zero_biases_conserves_the_output(arch):
    model, atoms = zero_biases(potential(arch, 3)), mol("CH3CH2OH")
    res = lrp.walk_relevances(model, atoms, rule="gi")
    assert abs(res.output) > 1e-3
    assert res.R.sum() == pytest.approx(res.output, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("arch", ["schnet", "schnet-poly"])
def test_walks_off_the_cutoff_graph_are_exactly_zero(arch):
    model, atoms = potential(arch, 2, cutoff=1.3), mol("CH3CH2OH")
    res = lrp.walk_relevances(model, atoms)
    adj = res.adjacency
    assert not adj.all()  # the small cutoff leaves non-neighbours
    off = ~(adj[:, :, None] & adj[None, :, :])
    assert np.all(res.R[off] == 0.0)
    assert np.abs(res.R[~off]).max() > 0


@pytest.mark.parametrize("arch", ARCHS)
def test_invariant_under_rotation_and_translation(arch):
    model, atoms = potential(arch, 2), mol("CH3CH2OH")
    moved = atoms.copy()
    moved.positions = Rotation.random(random_state=3).apply(atoms.positions) + np.array([1.5, -2.0, 0.7])
    a, b = lrp.walk_relevances(model, atoms, rule="gamma"), lrp.walk_relevances(model, moved, rule="gamma")
    np.testing.assert_allclose(a.R, b.R, atol=1e-10)


@pytest.mark.parametrize("arch", ARCHS)
def test_relevances_permute_with_the_atoms(arch):
    model, atoms = potential(arch, 2), mol("CH3CH2OH")
    perm = np.random.default_rng(5).permutation(len(atoms))
    a = lrp.walk_relevances(model, atoms)
    b = lrp.walk_relevances(model, atoms[perm])  # new atom k is old atom perm[k]
    np.testing.assert_allclose(b.R, a.R[np.ix_(perm, perm, perm)], atol=1e-10)


def test_float32_model_is_explained_in_float64_and_left_untouched():
    model = potential("schnet", 2, dtype=torch.float32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = lrp.walk_relevances(model, mol("H2O"))
    assert res.R.dtype == np.float64
    assert all(v.dtype == torch.float32 for v in model.state_dict().values())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_top_walks_are_sorted_and_match_the_tensor():
    res = lrp.walk_relevances(potential("schnet", 2), mol("CH4"))
    top = res.top_walks(7)
    assert len(top) == 7
    values = [abs(r) for _, r in top]
    assert values == sorted(values, reverse=True)
    assert values[0] == np.abs(res.R).max()
    for walk, r in top:
        assert res.R[walk] == r


def test_target_selects_the_head():
    model, atoms = potential("schnet", 2, extra_heads=1), mol("H2O")
    a, b = lrp.walk_relevances(model, atoms), lrp.walk_relevances(model, atoms, target="y0")
    assert a.target == "energy" and b.target == "y0"
    assert b.R.sum() == pytest.approx(b.total) and not np.allclose(a.R, b.R)


@pytest.mark.parametrize("arch", ARCHS)
def test_one_row_products_equal_full_products(arch):
    """LinearStep.push_rows/pull_rows (one-row shortcut) against push/pull on dense tangents."""
    st = adapters.build_steps(adapters.float64_copy(potential(arch, 2)), mol("CH3CH2OH"))
    n, d = st.h0.shape
    gen = torch.Generator().manual_seed(0)
    vectors = torch.randn(12, d, generator=gen, dtype=torch.float64)
    rows = torch.randint(0, n, (12,), generator=gen)
    dense = torch.zeros(12, n, d, dtype=torch.float64)
    dense[torch.arange(12), rows] = vectors
    for lin in st.linear:
        torch.testing.assert_close(lin.push_rows(vectors, rows), lin.push(dense), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(lin.pull_rows(vectors, rows), lin.pull(dense), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("arch", ARCHS)
def test_periodic_crystal_and_isolated_atoms(arch):
    """Periodic images (several edges per atom pair) and atoms without neighbours."""
    from ase import Atoms
    from ase.build import bulk

    model = potential(arch, 2)
    for atoms in (bulk("C", "diamond", a=3.57), Atoms("OH", positions=[[0, 0, 0], [0, 0, 9.0]])):
        res = lrp.walk_relevances(model, atoms, rule="gamma")
        walks = all_walks(len(atoms), 2)
        ref = lrp.walks_bruteforce(model, atoms, walks, rule="gamma")
        np.testing.assert_allclose(res.R[tuple(walks.T)], ref, atol=1e-10 * max(1.0, np.abs(ref).max()))
        assert res.R.sum() == pytest.approx(res.total, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("arch", ARCHS)
def test_rule_output_is_schnetpacks_own_forward_under_the_rule(arch):
    """The steps under gamma reproduce the model's own forward pass with the rule applied."""
    model, atoms = potential(arch, 3), mol("CH3CH2OH")
    res = lrp.walk_relevances(model, atoms, rule="gamma", gamma=0.3)
    m64 = adapters.float64_copy(model)
    inputs = adapters.model_inputs(m64, atoms)
    with rules.applied(m64, "gamma", gamma=0.3):
        expected = adapters.model_output(m64, inputs, "energy")
    assert res.rule_output == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert res.rule_output != pytest.approx(res.output, rel=1e-6)  # the gamma forward differs here
