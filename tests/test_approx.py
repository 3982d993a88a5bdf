"""Large-n approximations (infonb.approx) against the exact entropy, closed forms, an independent NumPy formula for
the low-rank estimator, the memory guard and the chunked distances."""
import math, warnings
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st, HealthCheck

from tolerances import entropy_resolution, mi_resolution
from infonb.kernels import gaussian_gram, label_gram, pairwise_sq_dists
from infonb.renyi import (conditional_mutual_information, exact_entropy, joint_entropy, mutual_information,
                          normalize_gram, renyi_entropy)
from infonb.approx import (MemoryLimitError, auto_entropy, check_memory, chunked_gaussian_gram, chunked_sq_dists,
                           deflated_entropy, estimate_memory, gauss_radau_nodes, get_memory_limit, lanczos_tridiag,
                           lowrank_entropy, make_generator, rademacher, set_memory_limit, slq_entropy, top_eigvals)

ALPHAS = [0.5, 1, 1.01, 2, 3]
HYP = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

def clustered(n, d=6, clusters=8, spread=0.6, seed=0):
    "Samples around a few centres: a Gram matrix with a spectrum like real data's (a few large eigenvalues, a long tail)."
    g = torch.Generator().manual_seed(seed)
    centres = 2 * torch.randn(clusters, d, generator=g, dtype=torch.float64)
    return centres[torch.arange(n) % clusters] + spread * torch.randn(n, d, generator=g, dtype=torch.float64)

@pytest.fixture(scope='module')
def A800():
    return normalize_gram(gaussian_gram(clustered(800), 'knn'))

@pytest.fixture(autouse=True)
def restore_memory_limit():
    previous = get_memory_limit(); yield; set_memory_limit(previous)

# ---- accuracy against the exact entropy ----------------------------------------------------------------------
@pytest.mark.parametrize('alpha', ALPHAS)
def test_deflated_close_to_exact(A800, alpha):
    S = exact_entropy(A800, alpha)
    est, err = deflated_entropy(A800, alpha, exact_below=0, return_error=True)
    # the method's target is rtol=0.01 on its estimated error; the actual error within twice that
    assert abs(est - S) / S < 0.02, (est, S)
    assert err / S < 0.03  # the error estimate is of the right size

@pytest.mark.parametrize('alpha', [0.5, 1.01, 2])
def test_slq_unbiased_within_its_error(A800, alpha):
    S = exact_entropy(A800, alpha)
    ests = torch.stack([slq_entropy(A800, alpha, steps=16, seed=s) for s in range(6)])
    _, err = slq_entropy(A800, alpha, steps=16, return_error=True)
    # the mean of 6 seeds: within 3 of its standard errors (err is 2 SE of one run), plus the
    # quadrature's bias at 16 Lanczos steps, under 2% on this spectrum
    assert abs(ests.mean() - S) < 3 * err / math.sqrt(6) + 0.02 * S

@pytest.mark.parametrize('alpha', ALPHAS)
def test_lowrank_bounds_bracket_exact(A800, alpha):
    S = exact_entropy(A800, alpha)
    for k in (8, 64, 150):
        est, lo, up = lowrank_entropy(A800, alpha, k=k, return_bounds=True)
        tol = entropy_resolution(800, alpha)  # bounds from Ritz values, S from eigvalsh: two solver paths
        assert lo - tol <= S <= up + tol, (k, lo, S, up)
        assert est == up  # Dong et al.'s even spread is the upper bound

def test_lowrank_matches_numpy_formula(A800):
    lam = np.sort(np.linalg.eigvalsh(A800.numpy()))[::-1]
    n = len(lam)
    for alpha in (0.5, 1.01, 2, 3):
        for k in (10, 150):
            top = lam[:k]; rest = (1 - top.sum()) / (n - k)
            want = np.log2((top ** alpha).sum() + (n - k) * rest ** alpha) / (1 - alpha)
            got = lowrank_entropy(A800, alpha, k=k, conv_tol=1e-3)
            # Ritz values converged to conv_tol=1e-3 are accurate to about conv_tol^2 relative
            np.testing.assert_allclose(float(got), want, rtol=1e-6)

def test_lowrank_adaptive_certifies():
    A = normalize_gram(gaussian_gram(clustered(800), 6.0))  # a wide kernel: fast-decaying spectrum
    for alpha in (1.01, 2):
        est, lo, up = lowrank_entropy(A, alpha, rtol=0.01, return_bounds=True)
        tol = entropy_resolution(800, alpha)  # the bounds and the exact value come from two solver paths
        assert (up - lo) <= 0.01 * lo and lo - tol <= exact_entropy(A, alpha) <= up + tol

# ---- closed forms and low rank --------------------------------------------------------------------------------
@pytest.mark.parametrize('method', ['lanczos', 'lowrank', 'deflated'])
@pytest.mark.parametrize('alpha', [0.5, 1, 1.01, 3])
def test_closed_forms(method, alpha):
    n = 600
    I = torch.eye(n, dtype=torch.float64) / n
    ones = torch.ones(n, n, dtype=torch.float64) / n
    opts = {'deflated': dict(exact_below=0), 'lanczos': dict(steps=8), 'lowrank': {}}[method]
    fn = {'lanczos': slq_entropy, 'lowrank': lowrank_entropy, 'deflated': deflated_entropy}[method]
    # I/n and 11^T/n are exact for every method (one distinct eigenvalue, or rank one): within the resolution
    assert abs(fn(I, alpha, **opts) - math.log2(n)) <= entropy_resolution(n, alpha)
    assert abs(fn(ones, alpha, **opts)) <= entropy_resolution(n, alpha)

@pytest.mark.parametrize('fn', [deflated_entropy, lowrank_entropy])
def test_exact_on_label_grams(fn):
    y = torch.arange(700) % 7
    L = normalize_gram(label_gram(y))
    for alpha in (0.5, 1.01, 2):
        # 7 distinct eigenvalues: the Krylov space is exact after 7 steps; two solver paths
        assert abs(fn(L, alpha) - exact_entropy(L, alpha)) <= entropy_resolution(700, alpha)

# ---- reproducibility, batching, alpha -> 1 ------------------------------------------------------------------------
def test_seeds_and_generators(A800):
    for fn, kw in ((slq_entropy, dict(steps=10)), (deflated_entropy, dict(steps=4, exact_below=0))):
        assert fn(A800, 1.01, seed=4, **kw) == fn(A800, 1.01, seed=4, **kw)
        assert fn(A800, 1.01, seed=4, **kw) != fn(A800, 1.01, seed=5, **kw)
        assert fn(A800, 1.01, generator=torch.Generator().manual_seed(9), **kw) == fn(A800, 1.01, seed=9, **kw)

def test_batched_equals_first_item(A800):
    B = normalize_gram(gaussian_gram(clustered(800, seed=1), 'median'))
    for fn, kw in ((slq_entropy, dict(steps=10)), (deflated_entropy, dict(steps=4, exact_below=0))):
        for first, second in ((A800, B), (B, A800)):
            got = fn(torch.stack([first, second]), 1.01, **kw)
            assert got.shape == (2,)
            # the first item draws the same probes as a single call; a batched product rounds differently, which
            # the Lanczos steps carry into the nodes like another eigensolver path: the resolution of 3 entropies
            assert abs(got[0] - fn(first, 1.01, **kw)) <= mi_resolution(800, 1.01)

def test_alpha_one_limit(A800):
    for fn, kw in ((slq_entropy, dict(steps=10)), (deflated_entropy, dict(steps=4, exact_below=0))):
        # the same probes: only the order moves, by 1e-10 times the slope |dS/dalpha| = ln2/2 Var(log2 lambda),
        # below (log2 n)^2 for such a spectrum; and the two orders' formulas round differently
        assert abs(fn(A800, 1 + 1e-10, **kw) - fn(A800, 1, **kw)) <= 1e-10 * math.log2(800) ** 2 + mi_resolution(800, 1)

# ---- quadrature bracket (Gauss above, Gauss-Radau below) -------------------------------------------------------
@HYP
@given(seed=st.integers(0, 10_000), n=st.integers(30, 120), m=st.integers(2, 6))
def test_gauss_radau_bracket(seed, n, m):
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    A = normalize_gram(gaussian_gram(x, 'knn'))
    lam, U = torch.linalg.eigh(A)
    q = rademacher((n, 2), make_generator(seed))
    f = lambda t: -torch.special.xlogy(t, t)
    exact = (f(lam.clamp_min(0))[:, None] * (U.T @ (q / q.norm(dim=0))) ** 2).sum(0)
    a, b = lanczos_tridiag(A, q, m)
    (tg, wg), (tr, wr) = gauss_radau_nodes(a, b)
    tol = entropy_resolution(n, 1) * math.log(2)  # nats: the rules' nodes and the exact spectrum, two solver paths
    assert ((wr * f(tr)).sum(-1) <= exact + tol).all() and (exact <= (wg * f(tg)).sum(-1) + tol).all()

def test_top_eigvals(A800):
    lam = torch.linalg.eigvalsh(A800).flip(-1)
    np.testing.assert_allclose(top_eigvals(A800, 20).numpy(), lam[:20].numpy(), rtol=1e-3)  # about conv_tol^2 / gap
    # via eigvalsh, on the same matrix: the same eigenvalues to n eps lambda_max absolute (2e-13 here)
    np.testing.assert_allclose(top_eigvals(A800, 300).numpy(), lam[:300].numpy(), rtol=0, atol=800 * 2.3e-16)

# ---- registration: every function of infonb.renyi takes the methods ------------------------------------------
@pytest.mark.parametrize('method', ['lanczos', 'lowrank', 'deflated', 'auto'])
def test_registered_everywhere(method):
    xa, xb, xc = clustered(600, seed=0), clustered(600, seed=1), clustered(600, seed=2)
    Ka, Kb, Kc = (gaussian_gram(x, 8.0) for x in (xa, xb, xc))  # wide kernels: spectra that 'lowrank' can handle
    # the methods' accuracy on these 600-sample spectra (entropies of ~5-9 bits, a CMI of 4 of
    # them): SLQ and low-rank a few percent, deflated about 1%; 'auto' is the exact method at
    # n <= exact_max_n, normalised by another route: the resolution of the CMI's 4 entropies
    tol = {'lanczos': 0.5, 'lowrank': 0.5, 'deflated': 0.15,
           'auto': mi_resolution(600, 1.01, terms=4)}[method]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        pairs = [(renyi_entropy(Ka, 1.01, method=method), renyi_entropy(Ka, 1.01)),
                 (joint_entropy(Ka, Kb, alpha=1.01, method=method), joint_entropy(Ka, Kb, alpha=1.01)),
                 (mutual_information(Ka, Kb, 1.01, method=method), mutual_information(Ka, Kb, 1.01)),
                 (conditional_mutual_information(Ka, Kb, Kc, 1.01, method=method),
                  conditional_mutual_information(Ka, Kb, Kc, 1.01))]
    for got, want in pairs: assert abs(got - want) < tol, (method, got, want)

def test_auto_policy(A800):
    assert auto_entropy(A800, 1.01) == exact_entropy(A800, 1.01)                   # small n: exact
    assert auto_entropy(A800, 2, exact_max_n=10) == exact_entropy(A800, 2)           # alpha = 2: Frobenius
    assert auto_entropy(A800, 1.01, exact_max_n=10) == deflated_entropy(A800, 1.01)  # large n: deflated

# ---- bad input -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('fn', [slq_entropy, lowrank_entropy, deflated_entropy, auto_entropy])
def test_rejects(fn, A800):
    with pytest.raises(ValueError, match='unit trace'): fn(torch.eye(5, dtype=torch.float64), 1.01)
    with pytest.raises(ValueError, match=r'square \(\.\.\., n, n\)'): fn(torch.ones(3, 4, dtype=torch.float64), 1.01)
    with pytest.raises(TypeError, match='dtype torch.int64'): fn(torch.eye(4, dtype=torch.int64), 1.01)
    with pytest.raises(ValueError, match='alpha must be'): fn(A800, -1)

def test_rejects_options(A800):
    with pytest.raises(ValueError, match='probes must be an int >= 2'): slq_entropy(A800, probes=1)
    with pytest.raises(ValueError, match='quadrature must be one of'): slq_entropy(A800, quadrature='trapezoid')
    with pytest.raises(ValueError, match='block must be an int >= 2'): deflated_entropy(A800, block=0)
    with pytest.raises(ValueError, match='on_fail must be one of'): deflated_entropy(A800, on_fail='crash')
    with pytest.raises(ValueError, match=r'k must be an int in \[1, n-1=799\]'): lowrank_entropy(A800, k=800)
    with pytest.raises(ValueError, match='tail must be one of'): lowrank_entropy(A800, tail='normal')

def test_warns_when_not_within_rtol(A800):
    with pytest.warns(UserWarning, match='estimated error'): deflated_entropy(A800, 1.01, exact_below=0, max_steps=2, rtol=1e-6)
    S = deflated_entropy(A800, 1.01, exact_below=0, max_steps=2, rtol=1e-6, on_fail='exact')
    assert S == exact_entropy(A800, 1.01)

# ---- memory guard and chunked distances --------------------------------------------------------------------------
def test_memory_guard():
    set_memory_limit('100MiB')
    assert get_memory_limit() == 100 * 2**20
    with pytest.raises(MemoryLimitError, match=r'needs about 1\.0 GiB, more than the memory limit of 100\.0 MiB'):
        check_memory(2**30, 'something big')
    with pytest.raises(MemoryLimitError, match='chunked_sq_dists of features'):
        chunked_sq_dists(torch.zeros(5000, 2))  # refused before allocating 190 MiB
    with pytest.raises(MemoryLimitError, match='block Krylov space'):
        deflated_entropy(torch.eye(3000, dtype=torch.float64) / 3000, 1.01, block=700, steps=2, exact_below=0)
    set_memory_limit(None)
    assert check_memory(2**60, 'anything') == 2**60
    with pytest.raises(ValueError, match='positive number of bytes'): set_memory_limit(0)
    with pytest.raises(ValueError, match='cannot read the memory size'): set_memory_limit('a lot')

def test_estimate_memory():
    assert estimate_memory(8192) == 4 * 8192 ** 2 * 8
    assert estimate_memory(2048, batch=3) == 3 * estimate_memory(2048)
    assert estimate_memory(2048, method='deflated') > estimate_memory(2048)
    assert estimate_memory(1000, d=100_000) > estimate_memory(1000)
    with pytest.raises(ValueError, match='unknown entropy method'): estimate_memory(10, method='fast')

@HYP
@given(seed=st.integers(0, 10_000), n=st.integers(2, 90), d=st.integers(1, 5), chunk=st.integers(1, 40))
def test_chunked_sq_dists_equal_pairwise(seed, n, d, chunk):
    x = torch.randn(2, n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 3
    want = pairwise_sq_dists(x)
    got = chunked_sq_dists(x, chunk)
    # the same expansion |a|^2 + |b|^2 - 2 a.b in row chunks (another BLAS blocking): its rounding,
    # (d + 2) eps times the largest distance ~ 1e-15 relative, with room
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12 * max(1., want.abs().max().item()))
    assert (got.diagonal(dim1=-2, dim2=-1) == 0).all() and (got >= 0).all()

@pytest.mark.parametrize('width', ['knn', 'silverman', 2.0])
def test_chunked_gaussian_gram_equals_gaussian_gram(width):
    x = clustered(300)
    K, K2 = gaussian_gram(x, width), chunked_gaussian_gram(x, width, chunk=37)
    # the distances' rounding in chunks (above), through exp: entries <= 1 change by as much
    torch.testing.assert_close(K2, K, rtol=0, atol=1e-12)
