"""The values infonb 0.1 computed on fixed seeds, recorded before the 0.2 redesign, and how to compute them now.

`compute()` follows the current API (update its calls when an API changes, never the JSON);
tests/test_reference.py compares its values with v0_1.json. `python tests/reference/make_reference.py` rewrote the
JSON once, with infonb 0.1: do not run it again unless a value is meant to change, and say so in the commit.
"""
import json, warnings
from pathlib import Path
import torch
warnings.simplefilter('ignore')
from infonb.kernels import gaussian_gram, kernel_width, label_gram
from infonb.renyi import renyi_entropy, joint_entropy, mutual_information, conditional_mutual_information
from infonb.models import LeNet5
from infonb.hooks import layer_outputs, layer_gram
from infonb.flow import layer_information, mi_matrix
from infonb.pid import layer_pid

def data(seed=0, n=60):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 6
    x = torch.randn(n, 1, 28, 28, generator=g) + 0.5 * y[:, None, None, None].float()
    return x, y

def model(seed=0):
    torch.manual_seed(seed)
    return LeNet5()

def knn_v0_1(x, k=10):
    """v0.1's 'knn' width, kept here to reproduce its values where they were meant to change.

    v0.1 counted repeated samples as neighbours at (rounding-noise) distance 0. Since 0.2 (issue 13) the 'knn'
    width is that of the distinct samples, which changes the per-channel widths of conv2 here: channels 0, 8
    and 9 are exactly 0 on some samples (ReLU), with everything computed from them ('hadamard' and
    'hadamard_sqrtC' below). For the other entries both rules agree, and they use the current default.
    """
    x = x.to(torch.float64)
    x = x - x.mean(-2, keepdim=True)
    sq = (x * x).sum(-1)
    n = x.shape[-2]
    d2 = (sq[..., :, None] + sq[..., None, :] - 2 * (x @ x.mT)).clamp_min(0)
    d2[..., torch.arange(n), torch.arange(n)] = 0
    kk = min(k, n - 1)
    w = d2.topk(kk + 1, dim=-1, largest=False).values.sqrt().sum((-2, -1)) / (n * kk)
    mean_d = d2.sqrt().sum((-2, -1)) / (n * (n - 1))  # v0.1's fallbacks: mean distance, then 1
    w = torch.where(w > 0, w, mean_d)
    return torch.where(w > 0, w, torch.ones_like(w))

ESTIMATORS = {
    'default': {},
    'hadamard': dict(mode='hadamard', width=knn_v0_1),
    'hadamard_sqrtC': dict(mode='hadamard_sqrtC', width=knn_v0_1),
    'median': dict(width='median'),
    'silverman': dict(width='silverman', mode='hadamard', standardize=False),
    'alpha2': dict(alpha=2.0),
    'alpha1': dict(alpha=1.0, k=5),
    'onehot': dict(label_kernel='onehot'),
}

def compute()->dict:
    out = {}
    g = torch.Generator().manual_seed(1)
    f = torch.randn(3, 50, 4, generator=g, dtype=torch.float64)
    Ks = gaussian_gram(f, 'knn')
    for a in (0.5, 1.0, 1.01, 2.0, 3.0):
        out[f'entropy/a{a}'] = renyi_entropy(Ks, a).tolist()
        out[f'joint/a{a}'] = float(joint_entropy(Ks[0], Ks[1], alpha=a))
        out[f'mi/a{a}'] = float(mutual_information(Ks[0], Ks[1], a))
        out[f'cmi/a{a}'] = float(conditional_mutual_information(Ks[0], Ks[1], Ks[2], a))
    for rule in ('knn', 'median', 'silverman', 'scott'):
        out[f'width/{rule}'] = kernel_width(f, rule).tolist()
    x, y = data()
    net = model()
    acts = layer_outputs(net, x)
    for mode in ('tensor', 'hadamard', 'hadamard_sqrtC'):
        K, w = layer_gram(acts['conv2'], mode=mode, width='knn' if mode == 'tensor' else knn_v0_1)
        out[f'layer_gram/{mode}/widths'] = w.tolist()
        out[f'layer_gram/{mode}/entropy'] = float(renyi_entropy(K))
    for name, kw in ESTIMATORS.items():
        info = layer_information(acts, (x, y), **kw)
        out[f'info/{name}'] = {l: {q: v[q] for q in ('H_T', 'I_XT', 'I_TY', 'I_XT_Y')} for l, v in info.items()}
    M = mi_matrix(acts, (x, y))
    out['mi_matrix'] = M.M.tolist()
    for corr in (False, True):
        res = layer_pid(acts['conv1'], y, mode='hadamard_sqrtC' if corr else 'hadamard')
        s = res.summary()
        out[f'pid/conv1/{corr}'] = {q: s[q] for q in ('I_TY_layer', 'RST', 'WNI', 'RST_self', 'WNI_self', 'redundancy',
                                                     'synergy', 'self_synergy')}
    return out

def main():
    out = compute()
    Path(__file__).with_name('v0_1.json').write_text(json.dumps(out, indent=1))
    print(f'{len(out)} entries written')

if __name__ == '__main__': main()
