"""Kernel-alignment width (infonb.alignment): the alignment, the golden-section search against a brute-force 300-point
grid, scale invariance, batching, smoothing, refusals."""
import math, warnings
import numpy as np
import pytest
import torch
from fastcore.test import test_close as close, test_fail as fails

from infonb.kernels import gaussian_gram, kernel_width, label_gram, pairwise_sq_dists
from infonb.renyi import renyi_entropy
from infonb.alignment import (AlignmentSearch, AlignmentWidth, alignment, alignment_search, alignment_width,
                              grid_alignment_width, smooth_width)
from tolerances import EPS, entropy_resolution, sum_resolution

F64 = torch.float64

def clustered(seed:int, n:int=120, d:int=5, classes:int=4, spread:float=3.0):
    "Two Gaussian clusters per class: an alignment curve with one interior maximum."
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    centres = spread * torch.randn(2 * classes, d, generator=g, dtype=F64)
    x = centres[y + classes * (torch.arange(n) % 2)] + torch.randn(n, d, generator=g, dtype=F64)
    return x, y

def brute_force_grid(x:np.ndarray, y:np.ndarray, num:int=300, low:float=0.3, high:float=10.):
    "The published search written out in NumPy: every Gram matrix in full, np.linspace, argmax."
    d = np.sqrt(np.clip(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1), 0, None))
    n = len(x)
    mean_d = d.sum() / (n * (n - 1))
    ky = (y[:, None] == y[None, :]).astype(float)
    sigmas = np.linspace(low, high * mean_d, num)
    grams = (np.exp(-d ** 2 / (2 * s ** 2)) for s in sigmas)
    A = np.array([(K * ky).sum() / (np.linalg.norm(K) * np.linalg.norm(ky)) for K in grams])
    return sigmas[A.argmax()], A.max(), sigmas[1] - sigmas[0]

# ---- the alignment --------------------------------------------------------------------------------------------------
def test_alignment_values_and_limits():
    y = torch.arange(60) % 3
    Ky = label_gram(y)
    close(alignment(Ky, y), 1., eps=sum_resolution(60 * 60))  # K = K_Y: a cosine of 1, to the sums' rounding
    close(alignment(torch.eye(60, dtype=F64), y), math.sqrt(3 / 60), eps=sum_resolution(60 * 60))  # sigma -> 0
    close(alignment(torch.ones(60, 60, dtype=F64), y), 1 / math.sqrt(3), eps=sum_resolution(60 * 60))  # sigma -> inf
    K = gaussian_gram(torch.randn(2, 60, 3, dtype=F64))
    got = alignment(K, Ky)
    want = torch.stack([(k * Ky).sum() / (k.norm() * Ky.norm()) for k in K])
    close(got, want, eps=sum_resolution(60 * 60))
    assert ((got >= 0) & (got <= 1)).all()

def test_alignment_refusals():
    y = torch.arange(10) % 2
    fails(lambda: alignment(label_gram(y), None), contains='needs the labels')
    fails(lambda: alignment(label_gram(y), y[:5]), contains='n=5 samples but the features have n=10')
    fails(lambda: alignment(label_gram(y)[0], y), contains='must be Gram matrices')
    fails(lambda: alignment(label_gram(y), torch.ones(10, 3)), contains='must be a Gram matrix (n, n) or labels')
    fails(lambda: alignment_width(torch.randn(1, 3, dtype=F64), y[:1]), contains='need n >= 2')
    fails(lambda: alignment_width(torch.randn(10, 3, dtype=F64), None), contains='needs the labels')
    fails(lambda: alignment_width(torch.randn(12, 3, dtype=F64), y), contains='n=10 samples but the features have n=12')
    fails(lambda: alignment_search(torch.randn(10, 3, dtype=F64), y, bracket=(0, 1)), contains='0 < low < high')
    fails(lambda: alignment_search(torch.randn(10, 3, dtype=F64), y, coarse=True), contains='coarse must be')
    fails(lambda: alignment_search(torch.randn(10, 3, dtype=F64), y, tol=0), contains='tol must be in (0, 1)')

# ---- against a brute-force 300-point grid ---------------------------------------------------------------------------
@pytest.mark.parametrize('seed', [0, 1, 2, 3])
def test_grid_equals_brute_force(seed):
    "The grid search is the published one: the same width and alignment as every Gram matrix written out."
    x, y = clustered(seed)
    s, a, _ = brute_force_grid(x.numpy(), y.numpy())
    got = grid_alignment_width(x, y)
    assert got.evaluations == 300
    close(got.width, s, eps=1e-12 * s)  # the same grid point (grid values agree to rounding)
    close(got.alignment, a, eps=sum_resolution(120 * 120))

@pytest.mark.parametrize('seed', [0, 1, 2, 3, 4, 5])
def test_golden_section_finds_the_grid_optimum(seed):
    "Within one grid spacing of the brute-force optimum, at least its alignment, with about a tenth of the Gram matrices."
    x, y = clustered(seed, d=3 + seed, classes=2 + seed % 3, spread=1.5 + seed / 2)
    s, a, spacing = brute_force_grid(x.numpy(), y.numpy())
    got = alignment_search(x, y)
    assert not got.at_edge
    assert abs(got.width.item() - s) <= spacing
    assert got.alignment >= a - 1e-6  # tol = 1e-3 in log sigma: the alignment is flat to 2nd order at its maximum
    assert got.evaluations == 29 and got.evaluations * 10 < 300

def test_evaluation_count():
    x, y = clustered(0)
    for coarse, tol in ((12, 1e-3), (8, 1e-2), (20, 1e-4)):
        h = math.log(10 / 0.01) / (coarse - 1)
        steps = math.ceil(math.log(tol / (2 * h)) / math.log(2 / (1 + math.sqrt(5))))
        assert alignment_search(x, y, coarse=coarse, tol=tol).evaluations == coarse + 2 + steps

def test_batched_over_variables_and_layers():
    "One search for a batch (V, n, d), and for stacked squared distances of layers of different widths."
    xs = torch.stack([clustered(s)[0] for s in range(3)])
    y = clustered(0)[1]
    batch = alignment_search(xs, y)
    single = torch.stack([alignment_search(x, y).width for x in xs])
    close(batch.width, single, eps=1e-12 * single.max())  # the same operations batched: rounding only
    layers = [xs[0], xs[1][:, :2], torch.cat([xs[2], xs[0]], 1)]  # 5, 2 and 10 features
    d2 = torch.stack([pairwise_sq_dists(t) for t in layers])
    together = alignment_search(None, y, d2=d2)
    # distances computed once (stacked) vs per call: their rounding (~1e-15 relative) can move a
    # golden-section step; the search's own precision is far coarser, 1e-9 of widths of order 1
    close(together.width, torch.stack([alignment_search(t, y).width for t in layers]), eps=1e-9)

def test_at_edge_warns():
    x, y = clustered(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        got = alignment_search(x, y, bracket=(0.01, 0.05))
    assert got.at_edge and any('widen it' in str(w.message) for w in caught)

# ---- scale invariance -----------------------------------------------------------------------------------------------
def test_scale_invariance():
    "x4 is exact in binary floating point: the same search, sigma* x 4, the same alignment and entropy."
    x, y = clustered(1)
    a, b = alignment_search(x, y), alignment_search(4 * x, y)
    assert torch.equal(b.width, 4 * a.width) and torch.equal(b.alignment, a.alignment)
    assert torch.equal(renyi_entropy(gaussian_gram(4 * x, b.width)), renyi_entropy(gaussian_gram(x, a.width)))
    c = alignment_search(3 * x, y)
    close(c.width, 3 * a.width, eps=1e-12 * c.width)  # rounding of 3x only
    close(renyi_entropy(gaussian_gram(3 * x, c.width)), renyi_entropy(gaussian_gram(x, a.width)),
          eps=entropy_resolution(120))

# ---- smoothing over training ----------------------------------------------------------------------------------------
def test_smooth_width():
    best = torch.tensor([2., 4.], dtype=F64)
    assert torch.equal(smooth_width(None, best), best)
    # 0.9 x 1 + 0.1 x best in float64: two roundings of a number below 2, and the literal's (4 eps)
    close(smooth_width(torch.tensor([1., 1.], dtype=F64), best), torch.tensor([1.1, 1.3], dtype=F64),
          eps=4 * EPS)
    assert torch.equal(smooth_width([1., 1.], best, momentum=0.), best)  # 0 x previous + 1 x best, exactly
    fails(lambda: smooth_width(None, best, 1.), contains='momentum must be in [0, 1)')
    fails(lambda: smooth_width(None, best, True), contains='momentum must be in [0, 1)')
    fails(lambda: smooth_width(torch.ones(3), best), contains='a different number of variables')

def test_alignment_width_rule():
    "A tracker's rule: smoothed per key, usable as a kernel_width callable, recorded."
    x, y = clustered(2)
    rule = AlignmentWidth(y, momentum=0.9, tol=1e-4)
    w0 = kernel_width(x, rule)
    w1 = kernel_width(x + 0.5, rule)  # a shift: the same distances, so the same best width
    best = alignment_search(x, y, tol=1e-4).width
    assert torch.equal(w0, best)  # the first call: the search's own width
    close(w1, best, eps=1e-4 * best)  # centring x + 0.5 rounds differently: within the search's precision tol
    rule(x[:, :2], key='fc1')
    state = rule.state()
    assert state['rule'] == 'alignment' and state['momentum'] == 0.9 and state['tol'] == 1e-4
    assert sorted(state['previous']) == ['None', 'fc1'] and len(rule.history) == 3
    assert rule.history[-1]['key'] == 'fc1' and rule.history[0]['evaluations'] > 12
    fails(lambda: rule(torch.stack([x, x]), key='fc1'), contains='a different number of variables')
    fails(lambda: AlignmentWidth(None), contains='needs the labels')
    fails(lambda: AlignmentWidth(y, momentum=1.5), contains='momentum must be in [0, 1)')
    fails(lambda: AlignmentWidth(y, coarse=1), contains='coarse must be')
    assert isinstance(alignment_search(x, y), AlignmentSearch)
