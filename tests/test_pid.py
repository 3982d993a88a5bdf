"Partial information decomposition (infonb.pid): canonical discrete cases, properties on random data, batched vs per-pair, errors."
import math
import pytest
import torch
from hypothesis import given, settings, strategies as st
from fastcore.test import test_close as close, test_fail as fails
from tolerances import pid_resolution, sum_resolution

from infonb.kernels import gaussian_gram, label_gram, label_classes, check_label_gram
from infonb.renyi import mutual_information, renyi_entropy, label_joint_entropy
from infonb.hooks import layer_gram, channel_log_grams
from infonb.estimator import Estimator
from infonb.flow import layer_information
from infonb.pid import (pid, layer_pid, mmi_redundancy, coinformation_redundancy, redundancy_synergy_tradeoff,
                        weighted_nonredundant_information, width_corrected_joint_gram, pair_indices, PID)

MODE = {False: 'hadamard', True: 'hadamard_sqrtC'}  # the sqrt(m) width correction is the estimator's mode

F64 = torch.float64
T1, T2 = torch.tensor([0, 0, 1, 1] * 2), torch.tensor([0, 1, 0, 1] * 2)  # fair independent bits, every combination twice
h = lambda *p: -sum(q * math.log2(q) for q in p)
renyi = lambda a, *p: math.log2(sum(q ** a for q in p)) / (1 - a)
H_AND = h(.75, .25)
# (Rdn, Unq_1, Unq_2, Syn, I(T1;Y), I(T2;Y), I(T1,T2;Y)), Shannon
CASES = {'copy': ((T1, T1, T1), (1, 0, 0, 0, 1, 1, 1)),
         'xor': ((T1, T2, T1 ^ T2), (0, 0, 0, 1, 0, 0, 1)),
         'unique': ((T1, T2, T1), (0, 1, 0, 0, 1, 0, 1)),
         'and': ((T1, T2, T1 & T2), (H_AND - .5, 0, 0, .5, H_AND - .5, H_AND - .5, H_AND))}

def as_vec(p:PID)->torch.Tensor: return torch.stack(list(p))

# ---- canonical discrete cases ---------------------------------------------------------------------------------------
@pytest.mark.parametrize('case', list(CASES))
def test_canonical_alpha_1(case):
    (a, b, y), want = CASES[case]
    got = pid(label_gram(a), label_gram(b), label_gram(y), alpha=1, require_label_kernel=True)
    # label Grams of n = 8: block spectra, exact up to the logs' rounding; 9 entropies per term
    close(as_vec(got), torch.tensor(want, dtype=F64), eps=pid_resolution(8, 1))

def test_and_known_values():
    got = pid(label_gram(T1), label_gram(T2), T1 & T2, alpha=1)
    # the published values are rounded to 4 decimals: half a unit of the last place, 5e-5, with room
    close(got.mi_iy, 0.3113, eps=1e-4)
    close(got.mi_ijy, 0.8113, eps=1e-4)
    close(got.redundancy, 0.3113, eps=1e-4)
    close(got.synergy, 0.5, eps=pid_resolution(8, 1))  # exactly 1/2 bit: the eigensolver's resolution

@pytest.mark.parametrize('case', list(CASES))
def test_canonical_alpha_101(case):
    "Plug-in Rényi values at alpha = 1.01 exactly; within 0.005 bits of Shannon's."
    (a, b, y), want = CASES[case]
    got = as_vec(pid(label_gram(a), label_gram(b), y, alpha=1.01))
    if case == 'and':
        mi1 = 1 + renyi(1.01, .75, .25) - renyi(1.01, .5, .25, .25)
        exact = (mi1, 0, 0, renyi(1.01, .75, .25) - mi1, mi1, mi1, renyi(1.01, .75, .25))
    else: exact = want  # uniform distributions: every Rényi entropy is Shannon's
    close(got, torch.tensor(exact, dtype=F64), eps=pid_resolution(8))  # closed form, n = 8
    # alpha = 1.01 vs Shannon: dS/dalpha ~ Var(log2 p) ln2 / 2 < 0.5 bits here, times 0.01
    assert (got - torch.tensor(want, dtype=F64)).abs().max() < 0.005

def test_delta_kernels_unaffected_by_width_correction():
    for (a, b, y), _ in CASES.values():
        # 0/1 entries are unchanged by the sqrt(2) width correction: the same matrices, so the
        # same eigenvalues; equal up to a few ulps of bit-sized sums
        close(as_vec(pid(label_gram(a), label_gram(b), y, joint_width_correction=True)),
                   as_vec(pid(label_gram(a), label_gram(b), y)), eps=1e-12)

def test_coinformation_redundancy_brackets_mmi():
    for (a, b, y), _ in CASES.values():
        lo = pid(label_gram(a), label_gram(b), y, alpha=1, redundancy=coinformation_redundancy)
        hi = pid(label_gram(a), label_gram(b), y, alpha=1)
        # 1e-12: label Grams of n = 8 give their MIs to ~1e-12 (pid_resolution(8, 1) = 6e-12 over 9)
        assert lo.redundancy <= hi.redundancy + 1e-12 and lo.synergy >= -1e-12
        # completeness is an identity of the same MIs: only the additions' rounding, a few ulps
        close(lo.redundancy + lo.unique_i + lo.unique_j + lo.synergy, lo.mi_ijy, eps=1e-12)

# ---- properties on random data --------------------------------------------------------------------------------------
def random_pair(seed, n, d, classes):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, n, d, generator=g, dtype=F64)
    y = torch.randint(0, classes, (n,), generator=g)
    x[0, :, 0] += y.double() * torch.rand(1, generator=g, dtype=F64)  # some dependence on the label
    return gaussian_gram(x), y

@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(6, 40), d=st.integers(1, 3), classes=st.integers(2, 4),
       alpha=st.sampled_from([1.0, 1.01, 2.0]), corr=st.booleans())
def test_pid_properties(seed, n, d, classes, alpha, corr):
    K, y = random_pair(seed, n, d, classes)
    p = pid(K[0], K[1], y, alpha=alpha, joint_width_correction=corr)
    q = pid(K[1], K[0], y, alpha=alpha, joint_width_correction=corr)
    # completeness and consistency are identities of the same computed MIs: the additions'
    # rounding (a few ulps); 1e-10 leaves room
    close(p.redundancy + p.unique_i + p.unique_j + p.synergy, p.mi_ijy, eps=1e-10)
    close(p.redundancy + p.unique_i, p.mi_iy, eps=1e-10)
    close(p.redundancy + p.unique_j, p.mi_jy, eps=1e-10)
    # symmetry: the same matrices in swapped roles, so the same entropies; the additions' rounding
    close(torch.stack([p.redundancy, p.unique_i, p.unique_j, p.synergy]),
               torch.stack([q.redundancy, q.unique_j, q.unique_i, q.synergy]), eps=1e-10)
    # MMI: one unique term is exactly 0 (a difference of equal numbers), the other not negative
    assert p.unique_i >= -1e-10 and p.unique_j >= -1e-10 and min(p.unique_i, p.unique_j) <= 1e-12
    # redundancy is not negative where the mutual informations are not (at alpha = 2 they can be:
    # see the next test); 1e-10 for the MIs' rounding
    if min(p.mi_iy, p.mi_jy) >= 0: assert p.redundancy >= -1e-10
    # the class-block shortcut and the full joint matrices agree: other matrices, other eigensolver
    # calls, each term to the resolution of its 9 entropies
    close(as_vec(pid(K[0], K[1], y, alpha=alpha, joint_width_correction=corr, label_blocks=False)),
          as_vec(p), eps=pid_resolution(n, alpha))

def test_negative_mutual_information_at_alpha_2():
    "The matrix-based MI can be negative at alpha = 2 (found by hypothesis); MMI's redundancy then follows it below 0."
    K, y = random_pair(3, 6, 1, 2)
    p = pid(K[0], K[1], y, alpha=2)
    assert p.mi_iy < -0.05 and p.redundancy < -0.05 and p.unique_i >= 0 and p.unique_j >= 0
    assert pid(K[0], K[1], y, alpha=1.01).mi_iy > 0

@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(8, 30), C=st.integers(2, 5), classes=st.integers(2, 4), corr=st.booleans())
def test_layer_pid_matches_per_pair_loop(seed, n, C, classes, corr):
    g = torch.Generator().manual_seed(seed)
    acts = torch.randn(n, C, 2, 2, generator=g, dtype=F64)
    y = torch.randint(0, classes, (n,), generator=g)
    acts[:, 0] += y.double()[:, None, None]
    r = layer_pid(acts, y, mode=MODE[corr], max_bytes=(C + 1 + 8 * 2) * n * n * 8)  # chunks of two pairs
    no_info = bool((r.pair_values('mi_pairs') <= 1e-9).all())  # e.g. every label the same: RST and WNI undefined (NaN)
    assert (-1 <= r.rst <= 1 and 0 <= r.wni <= 1) if not no_info else (math.isnan(r.rst) and math.isnan(r.wni))
    Kc = torch.exp(-channel_log_grams(acts)[0])
    # batched vs per pair: other eigensolver calls (and exponents summed in log space), each term
    # to the resolution of its 9 entropies
    tol = pid_resolution(n)
    for i, j in r.pairs.tolist():
        p = pid(Kc[i], Kc[j], y, joint_width_correction=corr)
        close(torch.stack([r.redundancy[i, j], r.unique[i, j], r.unique[j, i], r.synergy[i, j],
                           r.mi_pairs[i, j]]),
              torch.stack([p.redundancy, p.unique_i, p.unique_j, p.synergy, p.mi_ijy]), eps=tol)
    for i in range(C):
        close(r.self_synergy[i], pid(Kc[i], Kc[i], y, joint_width_correction=corr).synergy, eps=tol)
    i, j = r.pairs.T
    # completeness: an identity of the same computed MIs, the additions' rounding; 1e-10 leaves room
    close(r.redundancy[i, j] + r.unique[i, j] + r.unique[j, i] + r.synergy[i, j], r.mi_pairs[i, j],
          eps=1e-10)
    # the layer MI by another path: 3 entropies, each to the eigensolver's resolution
    close(r.mi_layer, mutual_information(layer_gram(acts, mode=MODE[corr])[0], label_gram(y)),
          eps=pid_resolution(n))
    # the layer quantity is the measurement core's I(T;Y) for the same estimator (exponents summed
    # otherwise: rounding, then the eigensolver's resolution)
    close(r.mi_layer, layer_information({'t': acts}, (acts, y), mode=MODE[corr])['t']['I_TY'],
          eps=pid_resolution(n))

def test_layer_pid_from_grams_and_acts_agree():
    g = torch.Generator().manual_seed(3)
    acts, y = torch.randn(50, 4, 3, generator=g, dtype=F64), torch.arange(50) % 5
    a = layer_pid(acts, y)
    b = layer_pid(torch.exp(-channel_log_grams(acts)[0]), label_gram(y))
    # Grams from exp(-D) vs from the activations: rounding of the exponent, then the eigensolver's
    # resolution at n = 50 for the 9 entropies of a term
    for f in ('redundancy', 'synergy', 'unique', 'mi_pairs'):
        close(getattr(a, f), getattr(b, f), eps=pid_resolution(50))
    close(a.mi_layer, b.mi_layer, eps=pid_resolution(50))
    assert torch.equal(a.widths, layer_gram(acts, mode='hadamard')[1])  # the flow tracker's widths: one code path
    assert b.widths is None

def test_self_pair_control():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(80, 1, 6, generator=g, dtype=F64)
    y = (x[:, 0, 0] > 0).long()
    acts = torch.cat([x, x], 1)  # two identical channels
    plain, fixed = layer_pid(acts, y), layer_pid(acts, y, mode='hadamard_sqrtC')
    assert plain.self_synergy.min() > 0.01  # resolution bias
    tol = pid_resolution(80)  # 9 entropies of 80 x 80 matrices (4.9e-10 bits)
    close(plain.synergy[0, 1], plain.self_synergy[0], eps=tol)  # a copy pair is a self pair
    # corrected: the joint of a channel with itself is the channel, synergy 0 to the resolution
    close(fixed.self_synergy, torch.zeros(2, dtype=F64), eps=tol)
    close(fixed.synergy[0, 1], 0., eps=tol)
    # RST, WNI: ratios of such terms to MIs of order 1 bit
    close(fixed.rst, -1., eps=tol)
    close(fixed.wni, 0., eps=tol)

def test_layer_quantities():
    rdn, syn, mi = (torch.tensor(v, dtype=F64) for v in ([1, 0, .3], [0, 1, .5], [1, 1, .8]))
    # arithmetic on three numbers: a few ulps (sum_resolution(3) ~ 7e-16)
    close(redundancy_synergy_tradeoff(rdn, syn, mi), (-1 + 1 + .25) / 3, eps=10 * sum_resolution(3))
    close(weighted_nonredundant_information(rdn, mi), 1.5 / 2.8, eps=10 * sum_resolution(3))
    close(redundancy_synergy_tradeoff(rdn, syn - 5, mi), -1., eps=10 * sum_resolution(3))
    assert weighted_nonredundant_information(rdn, 0 * mi).isnan()

def test_label_tools():
    y = torch.tensor([3, 1, 3, 0, 1, 1])
    assert [c.tolist() for c in label_classes(label_gram(y))] == [[0, 2], [1, 4, 5], [3]]
    G = gaussian_gram(torch.randn(2, 6, 2, dtype=F64, generator=torch.Generator().manual_seed(0)))
    for a in (1, 1.01, 2, 0.5):
        # class blocks vs the whole 6 x 6 matrix: two eigensolver calls, each to its resolution
        # (entropy_resolution(6, 0.5) ~ 1e-6 is the bound at alpha < 1; 1e-10 holds on these blocks)
        close(label_joint_entropy(G, label_classes(label_gram(y)), a), renyi_entropy(G * label_gram(y), a),
              eps=1e-10)
    # K^(1/2) o K^(1/2) = K: a square root and a product, a few ulps of entries <= 1
    close(width_corrected_joint_gram(G[0], G[0]), G[0], eps=1e-14)
    assert pair_indices(4).tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    assert len(pair_indices(10, 7)) == 7 and pair_indices(10, 7).tolist() == pair_indices(10, 7).tolist()

# ---- rejected inputs --------------------------------------------------------------------------------------------------
def test_errors():
    g = torch.Generator().manual_seed(5)
    acts, y = torch.randn(30, 3, 4, generator=g, dtype=F64), torch.arange(30) % 3
    K = gaussian_gram(acts.transpose(0, 1))
    fails(lambda: layer_pid(acts[:, :1], y, name='conv1'), contains='conv1 has C=1 channel')
    fails(lambda: layer_pid(K[:1], y, name='conv1'), contains='pair quantities need at least two channels')
    fails(lambda: layer_pid(acts, y[:20], name='conv1'), contains='conv1 has n=30 samples')
    fails(lambda: layer_pid(K, y[:20]), contains='but the target has n=20')
    fails(lambda: pid(K[0], K[1], y[:20]), contains='Ky has n=20 samples')
    fails(lambda: pid(K[0], K[1, :20, :20], y), contains='Ki and Kj differ in n')
    fails(lambda: pid(K[0], K[1], K[2], require_label_kernel=True), contains='Ky is not a label Gram matrix')
    fails(lambda: layer_pid(acts, K[2], require_label_kernel=True), contains='Ky is not a label Gram matrix')
    not_transitive = torch.tensor([[1., 1, 0], [1, 1, 1], [0, 1, 1]])
    fails(lambda: check_label_gram(not_transitive), contains='not an equivalence relation')
    fails(lambda: layer_pid(acts, y, pairs=[(1, 1)]), contains='join a channel with itself')
    fails(lambda: layer_pid(acts, y, pairs=[(0, 3)]), contains='outside 0..2')
    fails(lambda: layer_pid(acts, y, pairs=0), contains='at least one pair')
    fails(lambda: layer_pid(acts, y, max_bytes=1000, name='conv1'), contains='layer_pid on conv1')
    fails(lambda: layer_pid(K - 0.3, y, mode='hadamard_sqrtC'), contains='entries >= 0')
    fails(lambda: layer_pid(acts, y, Estimator(), name='conv1'), contains="mode must be 'hadamard'")
    fails(lambda: layer_pid(acts, y, Estimator.paper(), k=3), contains='contradict it')
    fails(lambda: layer_pid(acts, y, max_memory=1000), contains="unknown estimator options ['max_memory']")
    fails(lambda: pid(K[0], K[1], y, alpha=-1), contains='alpha')


def test_layer_pid_takes_an_estimator():
    "Keywords change Estimator.paper(); an estimator gives the width rule, order, method and (sqrt(m)) mode."
    g = torch.Generator().manual_seed(6)
    acts, y = torch.randn(40, 3, 4, generator=g, dtype=F64), torch.arange(40) % 4
    a = layer_pid(acts, y, Estimator.paper(alpha=2, k=5, width='median'))
    b = layer_pid(acts, y, alpha=2, k=5, width='median')
    assert torch.equal(a.synergy.nan_to_num(), b.synergy.nan_to_num()) and a.mi_layer == b.mi_layer
    assert a.estimator == 'hadamard/median/a2' and a.alpha == 2.0 and not a.joint_width_correction
    assert layer_pid(acts, y, mode='hadamard_sqrtC').joint_width_correction
    Ky = label_gram(y, 'onehot')
    c = layer_pid(acts, y, label_kernel='onehot')  # integer labels get the estimator's label kernel
    assert c.mi_layer == layer_pid(acts, Ky).mi_layer  # the same target matrix, the same path


def test_module_is_callable():
    import importlib
    m = importlib.import_module('infonb.pid')
    K, y = random_pair(0, 20, 2, 3)
    assert torch.equal(torch.stack(list(m(K[0], K[1], y))), torch.stack(list(pid(K[0], K[1], y))))
    assert m.layer_pid is layer_pid
