"""Entropy benchmarks: infonb's exact estimator against the authors' way of computing it, and the large-n approximations
against the exact eigendecomposition.

    python benchmarks/bench_entropy.py [--quick]        # prints its own rows; benchmarks/run.py runs the whole suite

`run_reference` (issue 3): exact infonb (torch `eigvalsh`, float64) against a reference pipeline written the way the
authors' published code (Wickstrom/InfExperiment, VGG16.py) computes it: per-channel Gram matrices from scipy's
`pdist`/`squareform` in NumPy, explicit element-wise products across channels with a division by the trace after each,
`np.linalg.eig` (a general eigensolver, eigenvectors included) and the sum of |lambda|^alpha. Both sides get the same
kernel widths (computed beforehand), so the values must agree; both sides are timed from features to bits.

`run_approx` (issue 6): `infonb.approx` estimators against `exact_entropy` (`eigvalsh`) on the same normalised Gram
matrices, from LeNet-5 feature maps on Fashion-MNIST and from random data, for n in {2048, 4096, 8192}.

Each row is a plain dict; see benchmarks/run.py for the keys.
"""
import gzip, math, os, sys, time, warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.distance import pdist, squareform

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
if str(ROOT / 'benchmarks') not in sys.path: sys.path.insert(0, str(ROOT / 'benchmarks'))
from timing import timed
from infonb.kernels import gaussian_gram, kernel_width
from infonb.renyi import exact_entropy, joint_entropy, normalize_gram, renyi_entropy
from infonb.approx import ENTROPY_METHODS, chunked_gaussian_gram

FMNIST = Path('/usr/share/datasets/fashion-mnist')

# ---- timing ---------------------------------------------------------------------------------------------------------

# ---- data: Fashion-MNIST and a briefly trained LeNet-5 ---------------------------------------------------------------
def _read_idx_gz(path, offset):
    with gzip.open(path) as f: return np.frombuffer(f.read(), np.uint8, offset=offset)

def load_fashion_mnist(split='train'):
    "Fashion-MNIST images (N, 1, 28, 28) in [0, 1] and labels: infonb.data when available, else the Debian idx files."
    try:
        from infonb.data import load_dataset
        ds = load_dataset('fashion-mnist', split, normalize=False, download=False)
        return ds.x.float(), ds.y.long(), f'infonb.data ({ds.source})'
    except Exception:
        part = 'train' if split == 'train' else 't10k'
        x = _read_idx_gz(FMNIST / f'{part}-images-idx3-ubyte.gz', 16).reshape(-1, 1, 28, 28)
        y = _read_idx_gz(FMNIST / f'{part}-labels-idx1-ubyte.gz', 8)
        return torch.from_numpy(x.astype(np.float32) / 255), torch.from_numpy(y.astype(np.int64)), str(FMNIST)

class _InlineLeNet5(torch.nn.Module):
    "LeNet-5 as infonb.models builds it (conv blocks with ReLU and 2x2 pooling), for when infonb.models is missing."
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        self.conv2 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.flatten = nn.Flatten()
        self.fc1 = nn.Sequential(nn.Linear(400, 120), nn.ReLU())
        self.fc2 = nn.Sequential(nn.Linear(120, 84), nn.ReLU())
        self.fc3 = nn.Linear(84, 10)
        self.info_layers = ['conv1', 'conv2', 'fc1', 'fc2', 'fc3']
    def forward(self, x):
        for m in self.children(): x = m(x)
        return x

@lru_cache(maxsize=1)
def lenet5_features(n=8192, steps=300, seed=0):
    "Outputs of LeNet-5's blocks on n Fashion-MNIST test images after `steps` Adam steps: (dict layer -> (n, ...), note)."
    torch.manual_seed(seed)
    try:
        from infonb.models import LeNet5
        model, where = LeNet5(), 'infonb.models.LeNet5'
    except Exception: model, where = _InlineLeNet5(), 'an inline LeNet-5'
    x, y, source = load_fashion_mnist('train')
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        i = torch.randint(0, len(x), (128,), generator=g)
        loss = torch.nn.functional.cross_entropy(model(x[i]), y[i]); opt.zero_grad(); loss.backward(); opt.step()
    xt, yt, _ = load_fashion_mnist('test')
    xt, yt = xt[:n], yt[:n]
    try:
        from infonb.hooks import layer_outputs
        acts = dict(layer_outputs(model, xt, model.info_layers, batch_size=1024))
    except Exception:
        acts, h = {}, xt
        model.eval()
        with torch.no_grad():
            for name in model.info_layers: h = getattr(model, name)(h if name != 'fc1' else model.flatten(h)); acts[name] = h
    model.eval()
    with torch.no_grad(): acc = (model(xt).argmax(1) == yt).float().mean().item()
    note = (f"{where} trained {steps} Adam steps (batch 128, lr 1e-3, seed {seed}) on Fashion-MNIST from {source}; "
            f"test accuracy {acc:.3f} on the {n} probe images; Gram matrices: one Gaussian kernel on each layer's flattened "
            "output (tensor mode) with the k-NN width (k=10)")
    return {'input': xt.double(), **{k: v.double() for k, v in acts.items()}}, note

def random_features(n, d=10, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)

# ---- the reference pipeline, written the way the authors' code does it ------------------------------------------------
def ref_gram(x, sigma):
    "Gaussian Gram matrix with scipy's pdist/squareform, as in the authors' gram_matrix (infonb's 2 sigma^2 convention)."
    d = squareform(pdist(x, 'euclidean'))
    return np.exp(-d ** 2 / (2 * sigma ** 2))

def ref_entropy_of_gram(k, alpha):
    "Divide by the trace, general eigensolver, sum of |lambda|^alpha (the authors' renyi / joint_renyi_conv)."
    k = k / np.trace(k)
    l, v = np.linalg.eig(k)
    lambda_x = np.abs(l)
    return (1 / (1 - alpha)) * np.log2(np.sum(lambda_x ** alpha))

def ref_entropy(x, sigma, alpha=1.01):
    return ref_entropy_of_gram(ref_gram(x, sigma), alpha)

def ref_joint_entropy(channels, sigmas, alpha=1.01):
    "Joint entropy of per-channel variables: explicit element-wise products, trace division after each (joint_renyi_conv)."
    k = ref_gram(channels[0], sigmas[0])
    for c in range(1, len(channels)):
        k = np.multiply(k, ref_gram(channels[c], sigmas[c]))
        k = k / np.trace(k)
    return ref_entropy_of_gram(k, alpha)

# ---- benchmark 1: exact infonb against the reference ------------------------------------------------------------------
def run_reference(quick=False, alpha=1.01):
    "Rows: single entropies at n in {256, 1024, 2048} and the joint entropy of a 16-channel layer at n = 1000."
    feats, _ = lenet5_features()
    rows = []
    sizes = (256, 1024) if quick else (256, 1024, 2048)
    for n in sizes:
        x = feats['input'][:n].reshape(n, -1)
        sigma = float(kernel_width(x, 'knn'))
        xn = x.numpy()
        t_ref, v_ref = timed(lambda: ref_entropy(xn, sigma, alpha), 1 if n >= 1024 else 3)
        t_inf, v_inf = timed(lambda: renyi_entropy(gaussian_gram(x, sigma), alpha), 5 if n <= 1024 else 3)
        rows.append(dict(suite='exact vs reference', case='Fashion-MNIST images (d=784): S(X)', n=n, method='infonb exact',
                         baseline='authors-style NumPy', t=t_inf, t_baseline=t_ref, speedup=t_ref / t_inf,
                         error=abs(float(v_inf) - v_ref), error_kind='abs', value=float(v_inf), baseline_value=float(v_ref),
                         target='>= 20x at n=1024, |diff| <= 1e-6' if n == 1024 else '|diff| <= 1e-6',
                         met=bool(abs(float(v_inf) - v_ref) <= 1e-6 and (n != 1024 or t_ref / t_inf >= 20))))
    # a 16-channel layer: LeNet-5's conv2 block, (n, 16, 5, 5); per-channel k-NN widths times sqrt(16), so the joint
    # Gram matrix is not saturated (the paper's rule without the factor gives log2 n, see SPEC section 2)
    n = 1000
    acts = feats['conv2'][:n]
    C = acts.shape[1]
    chans = acts.reshape(n, C, -1).transpose(0, 1).contiguous()  # (C, n, 25)
    sig = kernel_width(chans, 'knn') * math.sqrt(C)
    chans_np, sig_np = chans.numpy(), sig.numpy()
    t_ref, v_ref = timed(lambda: ref_joint_entropy(chans_np, sig_np, alpha), 1)
    try:
        from infonb.hooks import layer_gram
        fn, how = lambda: renyi_entropy(layer_gram(acts, mode='hadamard', width=sig)[0], alpha), 'infonb layer_gram + renyi_entropy'
    except Exception:
        fn, how = lambda: joint_entropy(*gaussian_gram(chans, sig).unbind(0), alpha=alpha), 'infonb joint_entropy'
    t_inf, v_inf = timed(fn, 3)
    t_core, v_core = timed(lambda: joint_entropy(*gaussian_gram(chans, sig).unbind(0), alpha=alpha), 3)
    for method, t, v in ((how, t_inf, v_inf), ('infonb joint_entropy of 16 Grams', t_core, v_core)):
        rows.append(dict(suite='exact vs reference', case=f'LeNet-5 conv2, {C} channels: joint S(T)', n=n, method=method,
                         baseline='authors-style NumPy', t=t, t_baseline=t_ref, speedup=t_ref / t,
                         error=abs(float(v) - v_ref), error_kind='abs', value=float(v), baseline_value=float(v_ref),
                         target='|diff| <= 1e-6', met=bool(abs(float(v) - v_ref) <= 1e-6)))
    return rows

# ---- benchmark 2: approximations against exact eigvalsh ----------------------------------------------------------------
APPROX_METHODS = ('deflated', 'lanczos', 'lowrank')

def run_approx(quick=False, alpha=1.01, layers=('conv1', 'fc1'), methods=APPROX_METHODS):
    "Rows: each approximation's time and relative error against exact_entropy on the same normalised Gram matrix."
    feats, _ = lenet5_features()
    sizes = (2048,) if quick else (2048, 4096, 8192)
    cases = [(f'LeNet-5 {l}', feats[l]) for l in layers] + [('random Gaussian (d=10)', random_features(8192))]
    rows = []
    for n in sizes:
        for case, f in cases:
            A = chunked_gaussian_gram(f[:n].reshape(n, -1), 'knn'); A /= n  # unit diagonal / n: normalised
            t_exact, S = timed(lambda: exact_entropy(A, alpha), 1 if n >= 8192 else 2)
            S = float(S)
            for m in methods:
                if quick and m == 'lowrank': continue
                with warnings.catch_warnings(record=True) as w:
                    warnings.simplefilter('always')
                    t, v = timed(lambda: ENTROPY_METHODS[m](A, alpha), 1 if m == 'lowrank' else 3)
                rel = (float(v) - S) / S
                target = '>= 50x, <= 1%' if n == 8192 and 'LeNet' in case else '<= 1%'
                rows.append(dict(suite='approx vs exact', case=case, n=n, method=m, baseline='exact eigvalsh', t=t,
                                 t_baseline=t_exact, speedup=t_exact / t, error=rel, error_kind='rel', value=float(v),
                                 baseline_value=S, target=target,
                                 met=bool(abs(rel) <= 0.01 and (target == '<= 1%' or t_exact / t >= 50)),
                                 note='; '.join(sorted({str(x.message).split(':')[0] + ' warned' for x in w})) or None))
            del A
    if not quick:  # end to end through renyi_entropy (validation, normalisation) on the raw Gram matrix
        n, (case, f) = sizes[-1], cases[0]
        K = chunked_gaussian_gram(f[:n].reshape(n, -1), 'knn')
        t_exact, S = timed(lambda: renyi_entropy(K, alpha), 1)
        t, v = timed(lambda: renyi_entropy(K, alpha, method='deflated'), 2)
        rel = (float(v) - float(S)) / float(S)
        rows.append(dict(suite='approx vs exact', case=case + ' (renyi_entropy on K)', n=n, method='deflated',
                         baseline="renyi_entropy(method='exact')", t=t, t_baseline=t_exact, speedup=t_exact / t, error=rel,
                         error_kind='rel', value=float(v), baseline_value=float(S), target='(overhead of validation)',
                         met=None))
        del K
    return rows

def run(quick=False):
    "Both entropy benchmarks."
    return run_reference(quick) + run_approx(quick)

if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).parent))
    from run import format_table
    rows = run('--quick' in sys.argv)
    print(format_table(rows))
