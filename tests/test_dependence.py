"Whole-set dependence (infonb.dependence): canonical discrete cases, a NumPy reference, properties, the control, layers."
import math, warnings
from collections import Counter
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from fastcore.test import test_close as close, test_fail as fails

from infonb.kernels import gaussian_gram, label_gram
from infonb.renyi import SaturationWarning, renyi_entropy
from infonb.hooks import channel_log_grams
from infonb.dependence import (Dependence, LayerDependence, check_variables, copies_dependence, dependence,
                               dependence_by_products, dual_total_correlation, layer_o_information,
                               o_information, total_correlation, _leave_one_out)
from tolerances import EPS, entropy_resolution, mi_resolution, sum_resolution

F64 = torch.float64
# all 8 equally likely outcomes of three fair bits, repeated 3 times: n = 24
B1, B2, B3 = (torch.tensor([(i >> s) & 1 for i in range(8)] * 3) for s in (2, 1, 0))
CASES = {'copies': ((B1, B1, B1), (2, 1, 1)),  # (TC, DTC, Omega) in bits, Shannon (Rosas et al. 2019)
         'xor': ((B1, B2, B1 ^ B2), (1, 2, -1)),
         'independent': ((B1, B2, B3), (0, 0, 0))}

def views(d): return torch.stack([d.tc, d.dtc, d.o_information])

def omega_resolution(n:int, alpha:float, V:int)->float:
    "Omega = sum S(T^c) - sum S(T^-c) + (V-2) S(all): 3V-2 entropy-sized terms, each to the eigensolver's resolution."
    return mi_resolution(n, alpha, terms=3 * V - 2)

# ---- an independent reference: NumPy, explicit products, numpy.linalg.eigvalsh ---------------------------------------
def np_entropy(K:np.ndarray, alpha:float)->float:
    "Matrix-based Renyi entropy in bits: trace-normalise, eigvalsh, clip at 0, renormalise."
    lam = np.clip(np.linalg.eigvalsh(K / np.trace(K)), 0, None)
    lam = lam[lam > 0] / lam.sum()
    if alpha == 1: return float(-(lam * np.log2(lam)).sum())
    return float(np.log2((lam ** alpha).sum()) / (1 - alpha))

def np_dependence(grams:list, alpha:float, correction:bool=False)->tuple:
    "(TC, DTC, Omega) with every joint an explicit element-wise product (its m-th root with the correction)."
    V = len(grams)
    grams = [K / np.sqrt(np.outer(np.diag(K), np.diag(K))) for K in grams]  # unit diagonals, then products
    def joint(idx):
        K = np.ones_like(grams[0])
        for i in idx: K = K * grams[i]
        return K ** (1 / len(idx)) if correction else K
    s = [np_entropy(K, alpha) for K in grams]
    loo = [np_entropy(joint([j for j in range(V) if j != c]), alpha) for c in range(V)]
    full = np_entropy(joint(range(V)), alpha)
    tc, dtc = sum(s) - full, sum(loo) - (V - 1) * full
    return tc, dtc, tc - dtc

def shannon_dependence(cols:list)->tuple:
    "(TC, DTC, Omega) of discrete samples from the plug-in Shannon entropies of the value counts."
    n, V = len(cols[0]), len(cols)
    def H(idx):
        counts = Counter(zip(*[cols[i] for i in idx])).values()
        return -sum(c / n * math.log2(c / n) for c in counts)
    full = H(range(V))
    tc = sum(H([c]) for c in range(V)) - full
    dtc = sum(H([j for j in range(V) if j != c]) for c in range(V)) - (V - 1) * full
    return tc, dtc, tc - dtc

# ---- canonical cases ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('case', list(CASES))
@pytest.mark.parametrize('fn', [dependence, dependence_by_products])
def test_canonical_alpha_1(case, fn):
    "Exact to 1e-9: plug-in entropies of at most 8 values through eigvalsh of 24 x 24 delta kernels."
    xs, want = CASES[case]
    assert omega_resolution(24, 1, 3) < 1e-9  # the stated tolerance covers the eigensolver's resolution
    close(views(fn([label_gram(x) for x in xs], alpha=1)), torch.tensor(want, dtype=F64), eps=1e-9)

@pytest.mark.parametrize('case', list(CASES))
@pytest.mark.parametrize('alpha', [0.5, 1.01, 2.0])
def test_canonical_any_alpha_and_correction(case, alpha):
    "Uniform distributions: every Renyi entropy is Shannon's; delta kernels have no width to correct."
    xs, want = CASES[case]
    for corr in (False, True):
        got = views(dependence([label_gram(x) for x in xs], alpha, joint_width_correction=corr))
        close(got, torch.tensor(want, dtype=F64), eps=omega_resolution(24, alpha, 3))

def test_views_are_thin():
    "The three functions read one Dependence: the same path, so equal exactly."
    grams = [label_gram(x) for x in CASES['xor'][0]]
    d = dependence(grams, 1)
    assert torch.equal(total_correlation(grams, 1), d.tc)
    assert torch.equal(dual_total_correlation(grams, 1), d.dtc)
    assert torch.equal(o_information(grams, 1), d.o_information)
    assert torch.equal(d.o_information, d.tc - d.dtc)

def test_two_variables_refused():
    "Convention: fewer than 3 variables are refused (for 2, TC = DTC = I and Omega = 0 identically)."
    grams = [label_gram(B1), label_gram(B2)]
    for fn in (dependence, dependence_by_products, total_correlation, dual_total_correlation, o_information):
        fails(lambda: fn(grams), contains='O-information needs at least 3 variables, got 2')
    fails(lambda: check_variables(torch.stack(grams)), contains='mutual_information')
    fails(lambda: layer_o_information(torch.randn(20, 2, 3, 3)), contains='at least 3 variables, got 2')
    fails(lambda: copies_dependence(label_gram(B1), 2), contains='at least 3 variables, got 2')

# ---- against the NumPy reference ------------------------------------------------------------------------------------
@pytest.mark.parametrize('V', [3, 4, 6])
@pytest.mark.parametrize('alpha', [1.0, 1.01, 2.0])
@pytest.mark.parametrize('corr', [False, True])
def test_matches_numpy_reference(V, alpha, corr):
    "Gaussian kernels, each its own width: the same Gram matrices up to rounding, so the eigensolvers' resolution."
    g = torch.Generator().manual_seed(V)
    n = 40
    K = gaussian_gram(torch.randn(V, n, 3, generator=g, dtype=F64), 'median')
    want = np_dependence([k.numpy() for k in K], alpha, corr)
    close(views(dependence(K, alpha, joint_width_correction=corr)), torch.tensor(want, dtype=F64),
          eps=omega_resolution(n, alpha, V))

def test_fast_equals_simple_with_negative_entries():
    "Linear kernels: signs carried separately; the same values as explicit products (alpha = 2: Frobenius norms)."
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 30, 3, generator=g, dtype=F64)
    K = x @ x.mT + 0.1 * torch.eye(30, dtype=F64)
    assert (K < 0).any()
    for alpha in (1.01, 2.0):
        a, b = dependence(K, alpha), dependence_by_products(K, alpha)
        close(torch.cat([a.marginals, a.leave_one_out, a.joint[None]]),
              torch.cat([b.marginals, b.leave_one_out, b.joint[None]]), eps=entropy_resolution(30, alpha))
    want = np_dependence([k.numpy() for k in K], 2.0)
    close(views(dependence(K, 2.0)), torch.tensor(want, dtype=F64), eps=omega_resolution(30, 2.0, 4))
    fails(lambda: dependence(K, joint_width_correction=True), contains='entries >= 0')

def test_batch_equals_items():
    "A batch (V, B, n, n) is B independent sets."
    g = torch.Generator().manual_seed(2)
    K = gaussian_gram(torch.randn(3, 4, 25, 2, generator=g, dtype=F64), 'median')
    d = dependence(K)
    assert d.joint.shape == (4,) and d.marginals.shape == (4, 3)
    for b in range(4): close(d.o_information[b], dependence(K[:, b]).o_information, eps=omega_resolution(25, 1.01, 3))

def test_leave_one_out_exact_and_nan_free():
    v = torch.tensor([2., 3., 5., 7., 11.])
    out, total = _leave_one_out(v)
    assert out.tolist() == [total.item() - a for a in v.tolist()] and total.item() == 28.
    assert _leave_one_out(v, torch.mul)[0].tolist() == [2310 / a for a in v.tolist()]
    logs = torch.tensor([0., -math.inf, -2., -math.inf])  # zeros among the factors
    out, total = _leave_one_out(logs)
    assert not out.isnan().any() and out.tolist() == [-math.inf, -math.inf, -math.inf, -math.inf]
    out, _ = _leave_one_out(logs[:3])
    assert out.tolist() == [-math.inf, -2., -math.inf]

def test_log_domain_does_not_underflow():
    "500 copies with the correction: the joint is K itself; a product formed first underflows."
    g = torch.Generator().manual_seed(3)
    K = gaussian_gram(torch.randn(30, 2, generator=g, dtype=F64), 'median')
    d = dependence(torch.stack([K] * 500), joint_width_correction=True)
    s = renyi_entropy(K, 1.01)
    close(d.joint, s, eps=entropy_resolution(30, 1.01))
    close(d.o_information, 498 * s, eps=omega_resolution(30, 1.01, 500))

# ---- properties -----------------------------------------------------------------------------------------------------
discrete_sets = st.integers(3, 5).flatmap(lambda V: st.integers(6, 18).flatmap(
    lambda n: st.lists(st.lists(st.integers(0, 2), min_size=n, max_size=n), min_size=V, max_size=V)))

@settings(max_examples=30, deadline=None)
@given(cols=discrete_sets)
def test_discrete_equals_shannon_and_bounds(cols):
    "Delta kernels at alpha = 1: the plug-in Shannon values of the counts, hence TC >= 0 and DTC >= 0."
    n, V = len(cols[0]), len(cols)
    d = dependence([label_gram(torch.tensor(c)) for c in cols], alpha=1)
    tol = omega_resolution(n, 1, V)
    close(views(d), torch.tensor(shannon_dependence(cols), dtype=F64), eps=tol)
    assert d.tc >= -tol and d.dtc >= -tol

@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), V=st.integers(3, 5), alpha=st.sampled_from([1.0, 1.01, 2.0]))
def test_permutation_invariance(seed, V, alpha):
    "The order of the variables and of the samples changes no value (PKP^T has K's eigenvalues)."
    g = torch.Generator().manual_seed(seed)
    n = 30
    K = gaussian_gram(torch.randn(V, n, 2, generator=g, dtype=F64), 'median')
    d = dependence(K, alpha)
    pv, ps = torch.randperm(V, generator=g), torch.randperm(n, generator=g)
    tol = omega_resolution(n, alpha, V)
    close(views(dependence(K[pv], alpha)), views(d), eps=tol)
    close(views(dependence(K[:, ps][:, :, ps], alpha)), views(d), eps=tol)

@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), V=st.integers(3, 6))
def test_product_joints_floor(seed, V):
    "Product joints never have less entropy than a leave-one-out joint here, so Omega >= its floor."
    g = torch.Generator().manual_seed(seed)
    d = dependence(gaussian_gram(torch.randn(V, 30, 2, generator=g, dtype=F64), 'median'))
    tol = omega_resolution(30, 1.01, V)
    assert (d.leave_one_out <= d.joint + tol).all()
    assert d.o_information >= d.floor - tol

# ---- the copies control ---------------------------------------------------------------------------------------------
def test_copies_control():
    g = torch.Generator().manual_seed(4)
    n = 40
    K = gaussian_gram(torch.randn(3, n, 2, generator=g, dtype=F64), 'median')
    y = label_gram(torch.arange(n) % 4)
    tol = omega_resolution(n, 1.01, 6)
    for corr in (False, True):
        c = copies_dependence(K, 5, joint_width_correction=corr)
        cy = copies_dependence(K, 4, y, joint_width_correction=corr)
        for b in range(3):
            close(views(c)[:, b], views(dependence([K[b]] * 5, joint_width_correction=corr)), eps=tol)
            close(views(cy)[:, b], views(dependence([K[b]] * 4 + [y], joint_width_correction=corr)), eps=tol)
    s = renyi_entropy(K, 1.01)
    c = copies_dependence(K, 5, joint_width_correction=True)  # exact by construction: (V-1)S, S, (V-2)S
    close(views(c), torch.stack([4 * s, s, 3 * s]), eps=tol)
    assert (copies_dependence(K, 5).o_information < 3 * s).all()  # product joints: the resolution bias
    close(copies_dependence(label_gram(B1), 6, alpha=1).o_information, 4., eps=tol)  # delta: K o K = K
    lin = torch.randn(n, 2, generator=g, dtype=F64)
    fails(lambda: copies_dependence(lin @ lin.T + torch.eye(n, dtype=F64), 5), contains='entries >= 0')
    fails(lambda: copies_dependence(K, 5, label_gram(torch.arange(10) % 2)), contains='extra has shape')

# ---- layers ---------------------------------------------------------------------------------------------------------
def test_layer_equals_kernels_and_label():
    g = torch.Generator().manual_seed(5)
    n = 60
    acts = torch.randn(n, 1, 3, 3, generator=g, dtype=F64) + 0.5 * torch.randn(n, 5, 3, 3, generator=g, dtype=F64)
    y = torch.arange(n) % 3
    D, widths = channel_log_grams(acts, width='median')
    Ky = label_gram(y)
    tol = omega_resolution(n, 1.01, 6)
    for corr in (False, True):
        r = layer_o_information(acts, y, width='median', mode='hadamard_sqrtC' if corr else 'hadamard',
                                name='conv')
        assert isinstance(r, LayerDependence) and r.with_label and r.channels == 5 and r.n == n
        close(views(r.dependence), views(dependence(list(torch.exp(-D)) + [Ky], joint_width_correction=corr)), eps=tol)
        close(views(r.control), views(copies_dependence(torch.exp(-D), 5, Ky, joint_width_correction=corr)), eps=tol)
        assert torch.equal(r.widths, widths)
        s = r.summary()
        assert s['layer'] == 'conv' and s['variables'] == 6 and s['joint_width_correction'] == corr
        assert s['O_information_control_min'] <= s['O_information_control'] <= s['O_information_control_max']
    r = layer_o_information(acts, width='median', control=False)
    assert r.control is None and 'O_information_control' not in r.summary() and r.dependence.variables == 5
    assert r.o_information > 0  # five noisy copies of one map: redundancy-dominated

def test_layer_refusals():
    acts = torch.randn(20, 4, 3, 3)
    fails(lambda: layer_o_information(acts, torch.arange(10) % 2), contains='has n=20 samples')
    fails(lambda: layer_o_information(acts, torch.randn(20)), contains='integer class indices')
    assert layer_o_information(acts[:, :2], torch.arange(20) % 2, width='median').dependence.variables == 3

def test_saturation_warned_once():
    "Very narrow kernels: every Gram matrix is numerically I/n; one warning names the set and the count."
    g = torch.Generator().manual_seed(6)
    K = gaussian_gram(torch.randn(3, 30, 4, generator=g, dtype=F64), 0.05)  # tiny, not 0: a width
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        d = dependence(K, name='narrow')
    msgs = [str(w.message) for w in caught if issubclass(w.category, SaturationWarning)]
    assert len(msgs) == 1 and 'narrow: 7 of the 7 Gram matrices' in msgs[0] and d.n_saturated == 7

def test_input_forms_and_errors():
    K = [label_gram(x) for x in CASES['xor'][0]]
    assert torch.equal(dependence(torch.stack(K), 1).o_information, dependence(K, 1).o_information)  # same path
    close(dependence([4 * k for k in K], 1).o_information, -1., eps=1e-9)  # raw Gram matrices: unit diagonal first
    fails(lambda: dependence(K[0]), contains='must be V Gram matrices')
    fails(lambda: dependence(K[:2] + [label_gram(B1[:12])]), contains='differ in shape')
    fails(lambda: dependence(K, alpha=0), contains='alpha must be')
    fails(lambda: dependence(K, method='nope'), contains='unknown entropy method')
    d = Dependence(torch.ones(3), torch.ones(3), torch.tensor(1.))
    assert (d.tc.item(), d.dtc.item(), d.o_information.item(), d.floor.item()) == (2, 1, 1, 1)
    assert 'O-information=+1.0000' in repr(d)
    assert abs(sum_resolution(3, 1.0)) < 1e-15  # the float64 sum of three bit-sized terms is exact to 1e-15
