"""PID benchmark (issue 5): all channel pairs of a 16-channel and a 64-channel layer at n = 500.

    python benchmarks/bench_pid.py [--quick]        # prints its own rows; benchmarks/run.py runs the whole suite

For each layer, one run measures side by side:
  - `infonb.pid.layer_pid` (batched: per-channel log-domain kernels once, pairs in chunked batched eigvalsh calls, joints
    with the label from its class blocks; it also computes the C self pairs and the layer's I(T;Y), which the
    baselines do not);
  - the same, with `label_blocks=False` (every joint with the label as a full n x n eigendecomposition; 16 channels only);
  - a per-pair loop of `infonb.pid.pid` over the same channel Gram matrices (seven entropies per pair);
  - a reference pipeline written the way the authors' code (Wickstrom/InfExperiment, VGG16.py) computes it, in NumPy:
    per pair, each channel's Gram matrix from scipy's pdist/squareform, the label's delta kernel, explicit element-wise
    products with a division by the trace, `np.linalg.eig` (a general eigensolver, eigenvectors included) and the sum
    of |lambda|^alpha, for the seven entropies of the pair's PID. It gets the same per-channel widths.
The per-pair loop and the reference are slow, so they are timed on a sample of pairs and extrapolated linearly to
all pairs (each row says so); values are compared on the sampled pairs (max |difference| in bits over Rdn, Unq_i, Unq_j,
Syn and I(T^i,T^j;Y)).

Layers: conv2 outputs of an untrained, seeded infonb.models.LeNet5 (16 channels of 5x5) and WideCNN (64 channels of
5x5) on n class-balanced Fashion-MNIST test images (timing does not depend on training; random data if the images are
missing). Labels: the delta kernel.
"""
import math, os, sys, time, warnings
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.distance import pdist, squareform

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
if str(ROOT / 'benchmarks') not in sys.path: sys.path.insert(0, str(ROOT / 'benchmarks'))
from timing import timed
from infonb.pid import layer_pid, pid
from infonb.hooks import channel_log_grams

ALPHA = 1.01

# ---- data ---------------------------------------------------------------------------------------------------------------
def layer_activations(channels:int, n:int, seed:int=0):
    "conv2 outputs (n, channels, 5, 5) of an untrained seeded CNN on n class-balanced Fashion-MNIST test images, and labels."
    from infonb.models import LeNet5, WideCNN
    from infonb.hooks import layer_outputs
    try:
        from infonb.data import load_dataset, probe_batch
        x, y = probe_batch(load_dataset('fashion-mnist', 'test', download=False), n, seed=seed)
        source = 'Fashion-MNIST test images'
    except Exception:
        g = torch.Generator().manual_seed(seed)
        x, y, source = torch.randn(n, 1, 28, 28, generator=g), torch.arange(n) % 10, 'random images (Fashion-MNIST missing)'
    torch.manual_seed(seed)
    model = LeNet5() if channels == 16 else WideCNN(filters=(32, channels))
    acts = layer_outputs(model, x, ['conv2'])['conv2'].double()
    assert acts.shape[1] == channels, acts.shape
    return acts, y, f'{type(model).__name__} conv2 (untrained, seed {seed}) on {n} {source}'

# ---- the reference pipeline, written the way the authors' code does it ------------------------------------------------------
def ref_gram(x, sigma):
    "Gaussian Gram matrix from scipy's pdist/squareform (infonb's 2 sigma^2 convention)."
    d = squareform(pdist(x, 'euclidean'))
    return np.exp(-d ** 2 / (2 * sigma ** 2))

def ref_entropy(k, alpha=ALPHA):
    "Divide by the trace, general eigensolver, sum of |lambda|^alpha (the authors' renyi / joint_renyi_conv)."
    k = k / np.trace(k)
    l, v = np.linalg.eig(k)
    return (1 / (1 - alpha)) * np.log2(np.sum(np.abs(l) ** alpha))

def ref_joint(*grams):
    "Explicit element-wise products, dividing by the trace after each (as the authors' joint_renyi_conv)."
    k = grams[0]
    for g in grams[1:]:
        k = np.multiply(k, g); k = k / np.trace(k)
    return k

def ref_pid(ti, tj, y, si, sj, alpha=ALPHA):
    "MMI PID of one pair from features: seven entropies, each from its own Gram matrix and np.linalg.eig."
    ki, kj, ky = ref_gram(ti, si), ref_gram(tj, sj), (y[:, None] == y[None, :]).astype(float)
    s_i, s_j, s_y = ref_entropy(ki, alpha), ref_entropy(kj, alpha), ref_entropy(ky, alpha)
    i_iy = s_i + s_y - ref_entropy(ref_joint(ki, ky), alpha)
    i_jy = s_j + s_y - ref_entropy(ref_joint(kj, ky), alpha)
    i_ijy = ref_entropy(ref_joint(ki, kj), alpha) + s_y - ref_entropy(ref_joint(ki, kj, ky), alpha)
    rdn = min(i_iy, i_jy)
    return np.array([rdn, i_iy - rdn, i_jy - rdn, i_ijy - i_iy - i_jy + rdn, i_ijy])

# ---- timing -------------------------------------------------------------------------------------------------------------
def batched_values(r, pairs):
    "(P, 5) Rdn, Unq_i, Unq_j, Syn, I(T^i,T^j;Y) of a LayerPID at the given pairs."
    i, j = torch.as_tensor(pairs).T
    return torch.stack([r.redundancy[i, j], r.unique[i, j], r.unique[j, i], r.synergy[i, j], r.mi_pairs[i, j]], 1)

def bench_layer(channels:int, n:int, loop_sample:int|None, ref_sample:int, full_matrix:bool=True, seed:int=0)->list:
    "Rows for one layer: batched layer_pid against itself without class blocks, the per-pair loop and the reference."
    acts, y, where = layer_activations(channels, n, seed)
    P = channels * (channels - 1) // 2
    case = f'{channels} channels ({P} pairs)'
    warnings.simplefilter('ignore')  # an untrained layer may hold a dead (constant) channel: saturated pairs, timed all the same
    layer_pid(acts[:50], y[:50], pairs=2); ref_entropy(np.eye(50) + 1)  # warm-up (library initialisation) outside the timings
    t_batched, r = timed(lambda: layer_pid(acts, y, alpha=ALPHA))
    if channels <= 16: t_batched = min(t_batched, timed(lambda: layer_pid(acts, y, alpha=ALPHA))[0])  # best of two when cheap
    every = r.pairs.tolist()
    g = np.random.default_rng(seed)
    sample = lambda m: every if m is None or m >= P else [every[k] for k in sorted(g.choice(P, m, replace=False))]
    common = dict(suite='pid', case=case, n=n, method='batched layer_pid', error_kind='abs', target=None, met=None)
    rows = []
    if full_matrix:
        t_full, r_full = timed(lambda: layer_pid(acts, y, alpha=ALPHA, label_blocks=False))
        rows.append(dict(common, baseline='layer_pid(label_blocks=False)', t=t_batched, t_baseline=t_full,
                         speedup=t_full / t_batched, error=(r.synergy - r_full.synergy).abs().max().item(),
                         note='same batched pipeline, joints with the label as full n x n eigendecompositions'))
    # the per-pair loop over infonb's pid, on the same channel Gram matrices (built once, timed)
    lp = sample(loop_sample)
    def loop():
        Kc = torch.exp(-channel_log_grams(acts)[0])
        return torch.stack([torch.stack(list(pid(Kc[i], Kc[j], y, alpha=ALPHA)))[[0, 1, 2, 3, 6]] for i, j in lp])
    t_loop, v_loop = timed(loop)
    scale = P / len(lp)
    rows.append(dict(common, baseline='per-pair pid loop', t=t_batched, t_baseline=t_loop * scale,
                     speedup=t_loop * scale / t_batched, error=(v_loop - batched_values(r, lp)).abs().max().item(),
                     note=(f'loop timed on {len(lp)} of {P} pairs, extrapolated x{scale:.1f}' if scale > 1 else 'loop over all pairs')))
    # the reference: NumPy, authors' style, same widths
    rp = sample(ref_sample)
    t_np = acts.reshape(n, channels, -1).transpose(0, 1).contiguous().numpy()
    sig, yn = r.widths.numpy(), y.numpy()
    t_ref, v_ref = timed(lambda: np.stack([ref_pid(t_np[i], t_np[j], yn, sig[i], sig[j]) for i, j in rp]))
    scale = P / len(rp)
    rows.append(dict(common, baseline='authors-style NumPy (eig)', t=t_batched, t_baseline=t_ref * scale,
                     speedup=t_ref * scale / t_batched,
                     error=np.abs(v_ref - batched_values(r, rp).numpy()).max().item(),
                     note=f'reference timed on {len(rp)} of {P} pairs, extrapolated x{scale:.0f}'))
    for row in rows: row['note'] += f'; batched includes {channels} self pairs and the layer MI; {where}'
    return rows

def run(quick=False)->list:
    "Rows for benchmarks/run.py: 16- and 64-channel layers, all pairs, batched vs per-pair loop vs authors-style reference."
    n = 200 if quick else 500
    with warnings.catch_warnings():
        rows = bench_layer(16, n, loop_sample=None, ref_sample=2 if quick else 4, full_matrix=True)
        rows += bench_layer(64, n, loop_sample=32 if quick else 64, ref_sample=2 if quick else 4, full_matrix=False)
    return rows

if __name__ == '__main__':
    from run import suite_main
    suite_main(run)
