"""The estimator core against an independent NumPy/SciPy implementation, closed forms and properties.

The reference below is written the straightforward way (scipy's cdist and eigh, explicit products, the textbook
formulas) and shares no code with infonb.
"""
import math, warnings
import numpy as np
import pytest
import torch
from hypothesis import example, given, settings, strategies as st, HealthCheck
from scipy.linalg import eigh
from scipy.spatial.distance import cdist

from tolerances import EPS, entropy_resolution, mi_resolution
from infonb.kernels import gaussian_gram, kernel_width, label_gram, pairwise_sq_dists
from infonb.renyi import (SaturationWarning, conditional_entropy, conditional_mutual_information, joint_entropy,
                          multivariate_mutual_information, mutual_information, normalize_gram, renyi_entropy)

ALPHAS = [0.5, 1, 1.01, 2, 3]

# ---- reference ----------------------------------------------------------------------------------------------
def ref_gram(x, s): return np.exp(-cdist(x, x, 'sqeuclidean') / (2 * s * s))
def ref_norm(K): return K / np.sqrt(np.outer(np.diag(K), np.diag(K))) / len(K)
def ref_entropy(K, a):
    lam = np.clip(eigh(ref_norm(K), eigvals_only=True), 0, None); lam = lam / lam.sum()
    lam = lam[lam > len(lam) * EPS * lam.max()]  # below n eps lambda_max: the solver's noise
    if a == 1: return float(-(lam * np.log2(lam)).sum())
    return float(np.log2((lam ** a).sum()) / (1 - a))
def ref_joint(*Ks, a):
    P = np.ones_like(Ks[0])
    for K in Ks: P = P * ref_norm(K)
    return ref_entropy(P / np.trace(P), a)
def ref_knn(x, k):
    D = cdist(x, x); return np.sort(D, 1)[:, 1:k + 1].mean()

def rand(seed, *shape): return np.random.default_rng(seed).standard_normal(shape)

@pytest.mark.parametrize('alpha', ALPHAS)
def test_against_reference(alpha):
    xa, xb, xc = rand(0, 70, 3), rand(1, 70, 2), rand(2, 70, 4)
    xb = xb + xa[:, :2]
    Ka, Kb, Kc = ref_gram(xa, 1.3), ref_gram(xb, 0.9), ref_gram(xc, 2.0)
    Ta, Tb, Tc = (torch.from_numpy(K) for K in (Ka, Kb, Kc))
    Sa, Sb, Sc = (ref_entropy(K, alpha) for K in (Ka, Kb, Kc))
    Sab, Sac, Sbc = ref_joint(Ka, Kb, a=alpha), ref_joint(Ka, Kc, a=alpha), ref_joint(Kb, Kc, a=alpha)
    Sabc = ref_joint(Ka, Kb, Kc, a=alpha)
    # two eigensolvers (scipy's and torch's): within the resolution of the four entropies of a CMI
    close = lambda got, want: np.testing.assert_allclose(float(got), want, atol=mi_resolution(70, alpha, 4), rtol=0)
    close(renyi_entropy(Ta, alpha), Sa)
    close(joint_entropy(Ta, Tb, alpha=alpha), Sab)
    close(joint_entropy(Ta, Tb, Tc, alpha=alpha), Sabc)
    close(mutual_information(Ta, Tb, alpha), Sa + Sb - Sab)
    close(multivariate_mutual_information([Ta, Tb], Tc, alpha), Sab + Sc - Sabc)
    close(conditional_entropy(Ta, Tb, alpha), Sab - Sb)
    close(conditional_mutual_information(Ta, Tb, Tc, alpha), Sac + Sbc - Sabc - Sc)
    # infonb's own Gram matrices equal the reference's: exp(-d2 / 2 s^2) <= 1 of distances that agree to
    # tau = (d+1) eps (|a|^2 + |b|^2) ~ 1e-14 (the expansion against cdist's differences)
    np.testing.assert_allclose(gaussian_gram(torch.from_numpy(xa), 1.3).numpy(), Ka, atol=1e-12)

def test_widths_against_reference():
    x = rand(3, 90, 5)
    # each distance agrees with cdist's to tau / (2 d) ~ 1e-14 relative (tau: the expansion's rounding bound)
    np.testing.assert_allclose(float(kernel_width(torch.from_numpy(x), 'knn', k=10)), ref_knn(x, 10), rtol=1e-12)
    D = cdist(x, x)[np.triu_indices(90, 1)]
    # the median distance, as above: ~1e-14 relative of a distance of order 3, so 1e-12 absolute
    assert abs(float(kernel_width(torch.from_numpy(x), 'median')) - np.sort(D)[(len(D) - 1) // 2]) < 1e-12
    # the published code's width: sigma = mean(sort(D[:, :10], axis=1)) in exp(-d^2 / sigma^2), our width sigma/sqrt 2
    sigma = np.mean(np.sort(cdist(x, x)[:, :10], axis=1))
    # a mean of such distances (1e-14 relative, as above), and exp of their squares (entries <= 1)
    assert abs(float(kernel_width(torch.from_numpy(x), 'paper_code')) - sigma / math.sqrt(2)) < 1e-12
    np.testing.assert_allclose(gaussian_gram(torch.from_numpy(x), 'paper_code').numpy(),
                               np.exp(-cdist(x, x, 'sqeuclidean') / sigma ** 2), atol=1e-12, rtol=0)
    d2 = cdist(x, x, 'sqeuclidean')
    sq = ((x - x.mean(0)) ** 2).sum(1)
    tau = (5 + 1) * EPS * (sq[:, None] + sq[None, :])  # the expansion's rounding bound; cdist's is smaller
    assert (np.abs(pairwise_sq_dists(torch.from_numpy(x)).numpy() - d2) <= 2 * tau + 4 * EPS * d2).all()

@pytest.mark.parametrize('alpha', ALPHAS)
def test_closed_forms(alpha):
    for n in [2, 7, 64]:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', SaturationWarning)
            assert abs(float(renyi_entropy(torch.eye(n), alpha)) - math.log2(n)) <= entropy_resolution(n, alpha)
        assert abs(float(renyi_entropy(torch.ones(n, n), alpha))) <= entropy_resolution(n, alpha)
    y = torch.tensor([0] * 7 + [1] * 2 + [2] * 11 + [3])
    p = np.bincount(y.numpy()) / len(y)
    want = -(p * np.log2(p)).sum() if alpha == 1 else np.log2((p ** alpha).sum()) / (1 - alpha)
    assert abs(float(renyi_entropy(label_gram(y), alpha)) - want) <= entropy_resolution(len(y), alpha)

def test_float16_bfloat16_computed_in_float64():
    K = gaussian_gram(torch.from_numpy(rand(4, 30, 2)))
    for dt in (torch.float16, torch.bfloat16):
        assert renyi_entropy(K.to(dt)).dtype == torch.float64
        # the same float64 values on the same path: exactly equal
        assert float(renyi_entropy(K.to(dt))) == float(renyi_entropy(K.to(dt).double()))

@pytest.mark.parametrize('bad, msg', [
    (lambda: renyi_entropy(torch.ones(3, 4)), 'square'),
    (lambda: renyi_entropy(torch.tensor([[1., .2], [.3, 1.]])), 'not symmetric'),
    (lambda: renyi_entropy(torch.ones(1, 1)), 'n=1'),
    (lambda: renyi_entropy(torch.tensor([[1., float('inf')], [float('inf'), 1.]])), 'NaN or Inf'),
    (lambda: renyi_entropy(torch.eye(3), alpha=0), 'alpha must be'),
    (lambda: renyi_entropy(torch.eye(3), alpha=-0.5), 'alpha must be'),
    (lambda: mutual_information(torch.eye(3), torch.eye(4)), 'differ in n'),
    (lambda: renyi_entropy(torch.eye(3, dtype=torch.int32)), 'dtype torch.int32'),
    (lambda: gaussian_gram(torch.randn(5, 2), -1.), 'must be finite and > 0'),
    (lambda: gaussian_gram(torch.randn(5, 2), 0.), 'must be finite and > 0'),
    (lambda: gaussian_gram(torch.ones(5, 2, dtype=torch.int64)), 'dtype torch.int64'),
])
def test_bad_input(bad, msg):
    with pytest.raises((ValueError, TypeError), match=msg): bad()

# ---- properties on random data --------------------------------------------------------------------------------
features = st.tuples(st.integers(2, 24), st.integers(1, 4), st.integers(0, 2**31 - 1), st.floats(0.3, 5.0))

@settings(max_examples=40)
@given(features, st.sampled_from(ALPHAS))
@example((7, 1, 0, 3.0), 0.5)  # a stack and a single matrix differed by 2.3e-12 bits here (issue 12): within resolution
def test_properties(f, alpha):
    n, d, seed, s = f
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, n, d, generator=g, dtype=torch.float64)
    Ka, Kb = gaussian_gram(x, s)
    tol, tol_joint = entropy_resolution(n, alpha), mi_resolution(n, alpha)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', SaturationWarning)
        Sa, Sb, Sab = float(renyi_entropy(Ka, alpha)), float(renyi_entropy(Kb, alpha)), float(joint_entropy(Ka, Kb, alpha=alpha))
        I = float(mutual_information(Ka, Kb, alpha))
        assert -tol <= Sa <= math.log2(n) + tol
        assert Sab >= max(Sa, Sb) - tol_joint
        assert I == float(mutual_information(Kb, Ka, alpha)) or abs(I - float(mutual_information(Kb, Ka, alpha))) <= tol_joint
        p = torch.randperm(n, generator=g)
        assert abs(float(renyi_entropy(Ka[p][:, p], alpha)) - Sa) <= tol  # a permuted matrix: another LAPACK input
        both = renyi_entropy(torch.stack([Ka, Kb]), alpha)  # a stack may take another LAPACK path than one matrix
        assert abs(float(both[0]) - Sa) <= tol and abs(float(both[1]) - Sb) <= tol
