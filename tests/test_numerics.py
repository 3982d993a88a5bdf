"""Reproductions of the silently wrong numbers of issue 13, each now right or refused.

- duplicated samples: widths of rounding noise, S(X) above log2 of the distinct samples, I(X;T|Y) < 0;
- matrices that are not Gram matrices: [[1, 2], [2, 1]] accepted (-1.32 bits at alpha = 2);
- extreme orders: log1p(sum lambda^alpha - 1) cancelled (alpha = 30 lost a third of a bit, alpha >= 50 gave inf);
- gradients: the unit-diagonal shortcut lost the normalisation's dependence on the diagonal;
- the memory guard: label_gram and one-hot kernels allocated before refusing.
"""
import gzip, math, warnings
from pathlib import Path
import numpy as np
import pytest
import torch
from torch.autograd import gradcheck

from tolerances import EPS, LN2, entropy_resolution, mi_resolution
from infonb.kernels import gaussian_gram, kernel_width, label_gram, knn_widths
from infonb.memory import MemoryLimitError, set_memory_limit
from infonb.renyi import (NotPSDError, SaturationWarning, conditional_entropy, conditional_mutual_information,
                          entropy_from_atoms, joint_entropy, multivariate_mutual_information,
                          mutual_information, renyi_entropy, spectral_entropy)

ALPHAS = [0.5, 1, 1.01, 2, 3]
FMNIST = Path('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz')

def images(n:int)->torch.Tensor:
    "The first n Fashion-MNIST test images in [0, 1] (n, 784); seeded uniform noise where the data is missing."
    if FMNIST.exists():
        raw = gzip.open(FMNIST).read()
        return torch.from_numpy(np.frombuffer(raw, np.uint8, n * 784, 16).copy()).double().reshape(n, 784) / 255
    return torch.rand(n, 784, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

# ---- duplicated samples -------------------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
def test_duplicated_probe_entropy_at_most_log2_distinct(dtype):
    ten = images(10)
    probe = ten.repeat_interleave(30, 0)[torch.randperm(300, generator=torch.Generator().manual_seed(1))]
    # the width is the ten images' (the same distances up to rounding, ~1e-14 relative), not rounding noise
    assert abs(float(kernel_width(probe.to(dtype))) - float(kernel_width(ten.to(dtype)))) <= 1e-12 * 10
    with warnings.catch_warnings():
        warnings.simplefilter('error', SaturationWarning)  # not saturated either
        S300, S10 = (float(renyi_entropy(gaussian_gram(p.to(dtype)), a)) for p in (probe, ten) for a in [1.01])
    assert S300 <= math.log2(10) + entropy_resolution(300)
    # repeating every sample 30 times changes nothing: A_300 has A_10's non-zero spectrum
    assert abs(S300 - S10) <= entropy_resolution(300) + entropy_resolution(10)

def test_duplicated_probe_conditional_mi_not_negative():
    ten = images(10)
    x = ten.repeat_interleave(30, 0)
    t = torch.tanh(x @ torch.randn(784, 20, generator=torch.Generator().manual_seed(2), dtype=torch.float64) / 10)
    y = torch.arange(10).repeat_interleave(30) % 3
    Kx, Kt, Ky = gaussian_gram(x), gaussian_gram(t), label_gram(y)
    for a in (1, 1.01):  # I(X;T|Y) >= 0 for alpha <= 1.01 on such data; then it was negative
        assert float(conditional_mutual_information(Kx, Kt, Ky, a)) >= -mi_resolution(300, a, terms=4)

def test_layer_that_collapses_inputs():
    # a ReLU layer mapping 40 of 60 inputs to one point (0): that point counts once in the width
    x = torch.randn(60, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    t = torch.relu(x - torch.tensor([1.5] * 8, dtype=torch.float64))
    distinct = torch.unique(t, dim=0)
    assert len(distinct) < 60
    # the same distances, centred on different means: equal to ~1e-15 relative
    assert abs(float(knn_widths(t)) - float(knn_widths(distinct))) <= 1e-12 * float(knn_widths(distinct))
    assert float(renyi_entropy(gaussian_gram(t))) <= math.log2(len(distinct)) + entropy_resolution(60)

# ---- matrices that are not Gram matrices --------------------------------------------------------------------
@pytest.mark.parametrize('alpha', [2, 1.01, 0.5, 1])
@pytest.mark.parametrize('method', ['exact', 'auto', 'lanczos'])
def test_not_psd_refused(alpha, method):
    K = torch.tensor([[1., 2.], [2., 1.]], dtype=torch.float64)
    with pytest.raises(NotPSDError, match='Kt is not positive semi-definite'): renyi_entropy(K, alpha, method, 'Kt')
    with pytest.raises(NotPSDError): mutual_information(K, torch.ones(2, 2), alpha, method)

def test_indefinite_with_unit_entries_refused_by_eigenvalues():
    K = torch.tensor([[1., .9, -.9], [.9, 1., .9], [-.9, .9, 1.]], dtype=torch.float64)  # eigenvalue -0.8
    for a in (0.5, 1, 1.01, 3):
        with pytest.raises(NotPSDError, match='eigenvalue -0.8'): renyi_entropy(K, a)
    with pytest.raises(NotPSDError): joint_entropy(K, torch.ones(3, 3), alpha=1.01)  # K o 1 = K

@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16, torch.float32])
def test_gram_rounded_in_lower_precision_accepted(dtype):
    K = gaussian_gram(torch.randn(40, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64))
    for Kr in (K.to(dtype), K.to(dtype).double()):  # as it came, and upcast: the entries' rounding is dtype's
        for a in ALPHAS: assert torch.isfinite(renyi_entropy(Kr, a))
        assert torch.isfinite(mutual_information(Kr, Kr, 1.01))

# ---- extreme orders -----------------------------------------------------------------------------------------
def lse_reference(lam:np.ndarray, a:float)->float:
    "1/(1-a) log2 sum lam^a by log-sum-exp in NumPy (float64), independent of infonb."
    return float(np.logaddexp.reduce(a * np.log(lam)) / ((1 - a) * np.log(2)))

ORDERS = [1e-3, 0.1, 0.5, 0.99, 1.01, 1.5, 2, 3, 10, 30, 50, 100, 300, 1e3, 1e4, 1e6, 1e12, 1e300]

@pytest.mark.parametrize('alpha', ORDERS)
def test_every_order_against_log_sum_exp(alpha):
    K = gaussian_gram(images(120), 'knn')
    lam = torch.linalg.eigvalsh(K / 120)
    lam = torch.where(lam > 120 * EPS * lam.max(), lam, 0.)  # the noise floor spectral_entropy applies
    lam = lam / lam.sum()
    pos = lam[lam > 0].numpy()
    # both sides round each alpha ln(lambda) by eps alpha |ln lambda| and the sum by ln(n) eps; 1/|1-a| amplifies
    tol = 4 * EPS * (alpha * abs(np.log(pos)).max() + math.log(len(pos))) / (abs(1 - alpha) * LN2)
    assert abs(float(spectral_entropy(lam, alpha)) - lse_reference(pos, alpha)) <= tol
    # through renyi_entropy: another eigensolver call, within the entropy's resolution
    want = lse_reference(pos, alpha)
    assert abs(float(renyi_entropy(K, alpha)) - want) <= tol + entropy_resolution(120, alpha)

def test_large_orders_monotone_and_finite():
    lam = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    S = [float(entropy_from_atoms(lam, lam, a)) for a in (2, 30, 50, 1e3, 1e300, 1.7e308)]
    assert all(math.isfinite(s) for s in S) and all(b <= a + 4 * EPS for a, b in zip(S, S[1:]))
    assert abs(S[-1] - 1.0) <= 4 * EPS  # S_inf = -log2 lambda_max = 1 bit
    assert abs(S[1] - lse_reference(lam.numpy(), 30)) <= 1e-14 * 30  # 2.12 once came out 1.79 for a Gram

# ---- gradients ----------------------------------------------------------------------------------------------
def _grams(n=6, seed=7):
    g = torch.Generator().manual_seed(seed)
    return [gaussian_gram(torch.randn(n, 2, generator=g, dtype=torch.float64), 1.).requires_grad_()
            for _ in range(3)]

sym = lambda K: (K + K.mT) / 2  # the entropies are functions of symmetric matrices

@pytest.mark.parametrize('alpha', ALPHAS)
def test_gradcheck_every_estimator(alpha):
    Ka, Kb, Kc = _grams()
    a = alpha
    checks = {
        'renyi_entropy': (lambda A: renyi_entropy(sym(A), a), (Ka,)),
        'joint_entropy': (lambda A, B: joint_entropy(sym(A), sym(B), alpha=a), (Ka, Kb)),
        'mutual_information': (lambda A, B: mutual_information(sym(A), sym(B), a), (Ka, Kb)),
        'conditional_entropy': (lambda A, B: conditional_entropy(sym(A), sym(B), a), (Ka, Kb)),
        'conditional_mutual_information': (lambda A, B, C: conditional_mutual_information(
            sym(A), sym(B), sym(C), a), (Ka, Kb, Kc)),
        'multivariate_mutual_information': (lambda A, B, C: multivariate_mutual_information(
            [sym(A), sym(B)], sym(C), a), (Ka, Kb, Kc)),
    }
    for name, (fn, inputs) in checks.items(): assert gradcheck(fn, inputs), name
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda x: renyi_entropy(gaussian_gram(x, 1.3), a), (x,)), 'gaussian_gram (fixed width)'
    assert gradcheck(lambda x: renyi_entropy(gaussian_gram(x, 'knn', k=3), a), (x,)), 'gaussian_gram (knn)'

def test_gradient_of_a_unit_diagonal_gram_counts_the_diagonal():
    Ka = _grams()[0]
    (g,) = torch.autograd.grad(renyi_entropy(Ka), Ka)
    # S(K) = S(D^-1/2 K D^-1/2): a direction that scales the samples, dK = sK + Ks (s diagonal), leaves S
    # unchanged, so the gradient is orthogonal to it; the shortcut that skipped the normalisation was not
    s = torch.linspace(-1, 1, 6, dtype=torch.float64)
    dK = s[:, None] * Ka.detach() + Ka.detach() * s[None, :]
    assert abs(float((g * dK).sum())) <= 1e-12 * float(g.abs().sum())  # zero up to rounding of the products

# ---- the memory guard before every allocation ---------------------------------------------------------------
def _allocated(fn)->int:
    "Bytes the CPU allocator handed out while fn ran (torch's profiler), whether fn raised or not."
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as p:
        try: fn()
        except MemoryLimitError: pass
    return sum(max(e.cpu_memory_usage, 0) for e in p.events())

@pytest.mark.parametrize('kind, n, what', [('delta', 5000, 'label_gram of 5000 labels'),
                                           ('onehot', 4000, "label_gram(kind='onehot') of 4000 labels")])
def test_label_gram_refused_before_allocating(kind, n, what):
    y = torch.arange(n) % (10 if kind == 'delta' else n)
    previous = set_memory_limit('100MB')
    try:
        with pytest.raises(MemoryLimitError, match=what.replace('(', r'\(').replace(')', r'\)')):
            label_gram(y, kind)
        assert _allocated(lambda: label_gram(y, kind)) < 2**20  # nothing n x n (200 MB), no one-hot codes
    finally: set_memory_limit(previous)

def test_one_check_per_entry_point():
    # gaussian_gram's one estimate refuses; its inner helpers never check again (they trust it)
    previous = set_memory_limit('64MiB')
    try:
        with pytest.raises(MemoryLimitError, match='gaussian_gram of features'): gaussian_gram(torch.zeros(3000, 2))
        assert _allocated(lambda: gaussian_gram(torch.zeros(3000, 2))) < 2**20
        with pytest.raises(MemoryLimitError, match='mutual_information of Gram matrices'):
            mutual_information(torch.eye(1000), torch.eye(1000))
    finally: set_memory_limit(previous)

# ---- booleans are not numbers, kernels that would under- or overflow ----------------------------------------
@pytest.mark.parametrize('call, msg', [
    (lambda x: kernel_width(x, True), 'got the boolean True'),
    (lambda x: kernel_width(x, 'knn', k=True), 'k must be an int >= 1'),
    (lambda x: gaussian_gram(x, True), 'got the boolean True'),
    (lambda x: renyi_entropy(gaussian_gram(x), alpha=True), 'alpha must be a finite number'),
    (lambda x: gaussian_gram(x, 1e-200), 'width 1e-200 is so small or so large'),
    (lambda x: gaussian_gram(x, 1e170), 'under- or overflows float64'),
    (lambda x: gaussian_gram(x * 1e160), 'squared norms that overflow float64'),
])
def test_refusals_name_the_argument(call, msg):
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    with pytest.raises((ValueError, TypeError), match=msg): call(x)
