"""Flow benchmarks (issue 4): one full measurement of all LeNet-5 layers by `infonb.flow.InfoFlow` against the authors' way
of computing the same numbers, and the cost of tracking as a share of a Fashion-MNIST training epoch.

    python benchmarks/bench_flow.py [--quick] [--threads N]      # prints its rows; benchmarks/run.py runs the whole suite

`run_reference`: LeNet-5 briefly trained on Fashion-MNIST, a class-balanced probe of n = 1000 test images, and for every
layer H(T), I(X;T), I(T;Y), I(X;T|Y), computed twice:
  - infonb: `InfoFlow(model, probe, mode=...)` built and `measure`d once (probe side included): batched torch `eigvalsh`,
    class blocks for the joints with the label;
  - a reference pipeline written the way the authors' code (Wickstrom/InfExperiment, VGG16.py) computes it: a Gram matrix
    per channel from scipy's `pdist`/`squareform` in NumPy, explicit element-wise products across channels with a division
    by the trace after each (`joint_renyi_conv`), `np.linalg.eig` (a general eigensolver) and the sum of |lambda|^alpha;
    every mutual information is S(A) + S(B) - S(A,B) with each entropy recomputed from the features, as their
    `mutual_information` does, and I(X;T|Y) = S(X,Y) + S(T,Y) - S(X,T,Y) - S(Y) likewise.
Both sides get the same kernel widths (infonb's, recorded with each measurement), so the values must agree (<= 1e-6 bits);
both are timed from layer outputs (infonb: from the model) to bits. Modes: 'hadamard_sqrtC' (per-channel kernels, the
authors' structure) and 'tensor' (infonb's default; the reference then has one Gram matrix per layer).

`run_tracking`: the time of one measurement (n = 1000, all five layers, exact and with infonb.approx's 'deflated') as a
share of one training epoch on the 60,000 Fashion-MNIST images (batch 128, Adam) without tracking: the cost of measuring
once per epoch. Target <= 10%.
"""
import argparse, sys, time, warnings
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.distance import pdist, squareform

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
if str(ROOT / 'benchmarks') not in sys.path: sys.path.insert(0, str(ROOT / 'benchmarks'))
from timing import timed
from infonb.data import load_dataset, probe_batch
from infonb.models import LeNet5
from infonb.train import fit, evaluate
from infonb.hooks import layer_outputs
from infonb.flow import InfoFlow
from infonb.estimator import Estimator
from infonb.renyi import SaturationWarning

ALPHA = 1.01
QUANTITIES = ('H_T', 'I_XT', 'I_TY', 'I_XT_Y')




_CACHE = {}
def trained_lenet(steps_images=10000, seed=0):
    "LeNet-5 after one epoch on 10,000 Fashion-MNIST training images (Adam), the splits, and a note."
    if 'model' not in _CACHE:
        train, test = load_dataset('fashion-mnist', 'train', download=False), load_dataset('fashion-mnist', 'test', download=False)
        torch.manual_seed(seed)
        model = LeNet5()
        fit(model, (train.x[:steps_images], train.y[:steps_images]), epochs=1, progress=False, device='cpu', seed=seed)
        acc = evaluate(model, (test.x, test.y))
        _CACHE.update(model=model.eval(), train=train, test=test,
                      note=f"LeNet-5 trained 1 epoch on {steps_images} Fashion-MNIST images (Adam, batch 128); test accuracy {acc:.3f}")
    return _CACHE['model'], _CACHE['train'], _CACHE['test'], _CACHE['note']


# ---- the reference pipeline, the authors' way --------------------------------------------------------------------------
def ref_gram(x, sigma):
    "Gaussian Gram matrix from scipy's pdist/squareform (infonb's exp(-d^2 / 2 sigma^2) convention)."
    d = squareform(pdist(x, 'euclidean'))
    return np.exp(-d ** 2 / (2 * sigma ** 2))

def ref_joint_gram(variables):
    "Product of the variables' Gram matrices, each (channels, widths) a product of per-channel Gram matrices, divided by the trace after each product."
    k = None
    for channels, sigmas in variables:
        for c in range(len(channels)):
            g = ref_gram(channels[c], sigmas[c])
            k = g if k is None else np.multiply(k, g)
            k = k / np.trace(k)
    return k

def ref_entropy(*variables):
    "Joint entropy: Gram matrices recomputed from the features, trace-normalised, np.linalg.eig, sum of |lambda|^alpha."
    k = ref_joint_gram(variables)
    k = k / np.trace(k)
    l, v = np.linalg.eig(k)
    lam = np.abs(l)
    return (1 / (1 - ALPHA)) * np.log2(np.sum(lam ** ALPHA))

def ref_label_entropy(y, *variables):
    "Entropy of the joint of features and the label (delta kernel), the same way."
    ky = (y[:, None] == y[None, :]).astype(np.float64)
    k = ky / np.trace(ky) if not variables else np.multiply(ref_joint_gram(variables), ky)
    k = k / np.trace(k)
    l, v = np.linalg.eig(k)
    return (1 / (1 - ALPHA)) * np.log2(np.sum(np.abs(l) ** ALPHA))

def ref_variable(acts, widths, mode):
    "A layer as (channels (C, n, d_c), widths (C,)) for per-channel kernels, or one flattened variable in tensor mode."
    a = acts.reshape(len(acts), -1) if (mode == 'tensor' or acts.ndim == 2) else acts.reshape(acts.shape[0], acts.shape[1], -1)
    if a.ndim == 2: return [a], [widths[0]]
    return [a[:, c] for c in range(a.shape[1])], list(widths)

def ref_measure(x, y, acts, widths_x, widths, mode):
    "The four quantities of every layer, each mutual information from entropies recomputed from the features."
    X = ref_variable(x, widths_x, mode)
    out = {}
    for name, a in acts.items():
        T = ref_variable(a, widths[name], mode)
        i_xt = ref_entropy(X) + ref_entropy(T) - ref_entropy(X, T)                          # mutual_information(x, t)
        i_ty = ref_entropy(T) + ref_label_entropy(y) - ref_label_entropy(y, T)            # mutual_information(t, y)
        i_xt_y = ref_label_entropy(y, X) + ref_label_entropy(y, T) - ref_label_entropy(y, X, T) - ref_label_entropy(y)
        out[name] = dict(H_T=ref_entropy(T), I_XT=i_xt, I_TY=i_ty, I_XT_Y=i_xt_y)
    return out


def run_reference(quick=False, modes=('hadamard_sqrtC', 'tensor')):
    "Rows: infonb's full measurement against the authors'-style pipeline, per mode."
    model, train, test, note = trained_lenet()
    n = 500 if quick else 1000
    xp, yp = probe_batch(test, n, seed=0)
    rows = []
    for mode in modes:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', SaturationWarning)
            t_inf, recs = timed(lambda: InfoFlow(model, (xp, yp), alpha=ALPHA, mode=mode).measure(0), 3)
            flow = InfoFlow(model, (xp, yp), alpha=ALPHA, mode=mode)
            t_warm, _ = timed(lambda: flow.measure(len(flow.records) + 1), 3)  # the probe side cached, as during training
        acts = {k: v.double().numpy() for k, v in layer_outputs(model, xp).items()}
        widths = {r['layer']: r['width'] for r in recs}
        t_ref, ref = timed(lambda: ref_measure(xp.double().numpy(), yp.numpy(), acts, flow.side.widths_x, widths, mode), 1)
        err = max(abs(r[q] - ref[r['layer']][q]) for r in recs for q in QUANTITIES)
        rows.append(dict(suite='flow', case=f'LeNet-5, all 5 layers: H(T), I(X;T), I(T;Y), I(X;T|Y) ({mode} mode)', n=n,
                         method='infonb InfoFlow (new tracker + measure)', baseline="authors'-style NumPy (pdist, products, eig)",
                         t=t_inf, t_baseline=t_ref, speedup=t_ref / t_inf, error=err, error_kind='abs',
                         target='>= 30x, |diff| <= 1e-6 bits', met=bool(t_ref / t_inf >= 30 and err <= 1e-6),
                         t_measure_cached=round(t_warm, 4), speedup_cached=round(t_ref / t_warm, 1),
                         threads=torch.get_num_threads(), note=note))
    return rows


def run_tracking(quick=False, methods=('exact', 'deflated')):
    "Rows: one measurement at n = 1000 as a share of a 60,000-image Fashion-MNIST training epoch."
    model, train, test, _ = trained_lenet()
    images = 10000 if quick else len(train)
    torch.manual_seed(1)
    m = LeNet5()
    t_epoch, _ = timed(lambda: fit(m, (train.x[:images], train.y[:images]), epochs=1, progress=False, device='cpu', seed=1))
    t_epoch *= len(train) / images  # quick: scaled to the full epoch
    xp, yp = probe_batch(test, 1000, seed=0)
    rows = []
    for method in methods:
        if method != 'exact': import infonb.approx  # registers the approximations
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', SaturationWarning)
            flow = InfoFlow(m, (xp, yp), alpha=ALPHA, method=method)
            t_meas, _ = timed(lambda: flow.measure(len(flow.records) + 1), 3)
        share = t_meas / t_epoch
        rows.append(dict(suite='flow', case='tracking cost: one measurement per Fashion-MNIST epoch (60,000 images)', n=1000,
                         method=f'InfoFlow.measure ({method})', baseline='training epoch without tracking', t=t_meas,
                         t_baseline=t_epoch, speedup=None, share=round(share, 4), target='<= 10% of an epoch',
                         met=bool(share <= 0.10), threads=torch.get_num_threads(),
                         note=('epoch time scaled from 10,000 images' if quick else None)))
    return rows


def run_estimators(quick=False):
    "Rows: several estimators (and the scale test) in one tracker against one tracker per estimator."
    model, train, test, note = trained_lenet()
    n = 500 if quick else 1000
    xp, yp = probe_batch(test, n, seed=0)
    ests = [Estimator(alpha=a) for a in (1.01, 2.0, 0.5)] + [Estimator(mode='hadamard_sqrtC')]  # three share Grams
    rows = []
    for scales in ((), (0.25, 4.0)):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', SaturationWarning)
            multi = InfoFlow(model, (xp, yp), estimators=ests, scales=scales)
            alone = [InfoFlow(model, (xp, yp), estimators=e, scales=scales) for e in ests]
            t_multi, recs = timed(lambda: multi.measure(len(multi.records) + 1), 3)
            t_alone, _ = timed(lambda: [f.measure(len(f.records) + 1) for f in alone], 3)
        values = lambda rs: [{q: r[q] for q in QUANTITIES} for r in rs[-5:]]  # the last step's (step numbers differ)
        same = all(values(multi.select(e, 1.0)) == values(f.select(e, 1.0)) for e, f in zip(ests, alone))
        rows.append(dict(suite='flow', case=f'{len(ests)} estimators x {1 + len(scales)} scales in one InfoFlow '
                         '(three differ only in alpha)', n=n, method='InfoFlow(estimators=[...]).measure',
                         baseline='one InfoFlow per estimator', t=t_multi, t_baseline=t_alone,
                         speedup=t_alone / t_multi, error=0.0 if same else float('nan'), error_kind='identical records',
                         target='faster, identical records', met=bool(same and t_multi < t_alone),
                         threads=torch.get_num_threads(), note=note))
    return rows


def run(quick=False, threads=None):
    "All rows of this benchmark (for benchmarks/run.py); `threads`: torch and BLAS threads for both sides (None: as set)."
    limits = None
    if threads:
        torch.set_num_threads(threads)
        try:
            from threadpoolctl import threadpool_limits
            limits = threadpool_limits(threads)  # NumPy's BLAS too, so that both sides use the same number of threads
        except ImportError: pass
    try: return run_reference(quick) + run_tracking(quick) + run_estimators(quick)
    finally:
        if limits is not None: limits.unregister()


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='n = 500 for the comparison, a 10,000-image epoch scaled up')
    p.add_argument('--threads', type=int, default=None, help='torch and BLAS threads for both sides (default: as set)')
    a = p.parse_args()
    rows = run(a.quick, a.threads)
    for r in rows:
        extra = {k: v for k, v in r.items() if k not in ('suite', 'case', 'note')}
        print(f"{r['case']}\n  " + ', '.join(f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}' for k, v in extra.items()))
