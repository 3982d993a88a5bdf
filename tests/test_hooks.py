"""infonb.hooks: hooks always removed, captured outputs detached and exact, torchvision presets, and `layer_gram`
against an independent NumPy/SciPy reference (explicit per-channel Grams and their product)."""
import math
import numpy as np
import pytest
import torch
import torchvision
from hypothesis import given, settings, strategies as st, HealthCheck
from scipy.spatial.distance import cdist
from torch import nn

from infonb.hooks import (GRAM_MODES, LAYER_PRESETS, block_outputs, capture, layer_gram, layer_outputs,
                          resolve_layers)
from infonb.kernels import gaussian_gram
from infonb.hooks import channel_log_grams
from infonb.estimator import Estimator


def lenet_like():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(3, 4, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 5 * 5, 12), nn.ReLU(), nn.Linear(12, 10))


def no_hooks(model): return all(len(m._forward_hooks) == 0 for m in model.modules())


# ---- capture ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('exc', [RuntimeError, KeyboardInterrupt, ValueError])
def test_hooks_removed_on_exception(exc):
    net = lenet_like()
    with pytest.raises(exc):
        with capture(net, [nn.Conv2d, nn.Linear, nn.ReLU]) as acts:
            net(torch.randn(2, 1, 28, 28))
            assert not no_hooks(net)
            raise exc('inside the block')
    assert no_hooks(net)
    assert set(acts) == {'0', '3', '7', '9', '1', '4', '8'}  # recorded up to the exception


def test_hooks_removed_when_forward_fails():
    net = lenet_like()
    with pytest.raises(RuntimeError):
        with capture(net):
            net(torch.randn(2, 3, 28, 28))  # wrong channel count: the forward itself raises
    assert no_hooks(net)


def test_hooks_removed_when_a_layer_name_is_bad():
    net = lenet_like()
    with pytest.raises(ValueError, match=r"unknown layer 'conv9'.*available layers: \['0', '1'"):
        with capture(net, ['0', 'conv9']): pass
    assert no_hooks(net)


def test_captured_outputs_detached_and_exact():
    net = lenet_like()
    x = torch.randn(5, 1, 28, 28, requires_grad=True)
    with capture(net, ['2', '5', '8', '9']) as acts:
        out = net(x)
    out.sum().backward()  # the graph is intact, the records are not part of it
    assert all(not v.requires_grad and v.grad_fn is None for v in acts.values())
    with torch.no_grad():
        torch.testing.assert_close(acts['2'], net[:3](x), rtol=0, atol=0)
        torch.testing.assert_close(acts['5'], net[:6](x), rtol=0, atol=0)
        torch.testing.assert_close(acts['8'], net[:9](x), rtol=0, atol=0)
        torch.testing.assert_close(acts['9'], out, rtol=0, atol=0)


def test_capture_concatenates_and_copies():
    net = lenet_like()
    x = torch.randn(7, 1, 28, 28)
    with torch.no_grad(), capture(net, '5') as acts:
        for xb in x.split(3):
            net(xb)
            assert acts['5'].shape[0] == len(xb)  # inside the block: the latest output
    # batches of 3 vs all 7 at once: the convolutions may block differently, so float32 rounding
    # (assert_close's float32 defaults: rtol 1.3e-6, atol 1e-5)
    with torch.no_grad(): torch.testing.assert_close(acts['5'], net[:6](x))
    inplace = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True))
    with capture(inplace, '0') as acts: inplace(torch.randn(3, 1, 6, 6))
    assert (acts['0'] < 0).any()  # not overwritten by the in-place ReLU


def test_capture_device_and_tuple_outputs():
    class Pair(nn.Module):
        def forward(self, x): return x * 2, x
    net = nn.Sequential(nn.Sequential(nn.Linear(3, 3), Pair()))
    with capture(net, '0.1', device='cpu') as acts: net[0][1](torch.ones(2, 3))
    torch.testing.assert_close(acts['0.1'], 2 * torch.ones(2, 3), rtol=0, atol=0)  # x * 2: exact


def test_layer_outputs_restores_modes_and_chunks():
    net = lenet_like()
    net.add_module('drop', nn.Dropout(0.9))  # active only in training mode
    net.train()
    net[3].eval()
    x = torch.randn(9, 1, 28, 28)
    full = layer_outputs(net, x, ['5', 'drop'])
    chunked = layer_outputs(net, x, ['5', 'drop'], batch_size=4)
    # batches of 4 vs all 9: float32 rounding of blocked convolutions (assert_close's float32 defaults)
    torch.testing.assert_close(full['drop'], chunked['drop'])
    torch.testing.assert_close(full['5'], chunked['5'])
    assert [m.training for m in net] == [True, True, True, False] + [True] * 7
    assert no_hooks(net) and torch.is_grad_enabled()


def test_resolve_layers():
    net = lenet_like()
    assert block_outputs(net) == ['2', '5', '8', '9']
    assert resolve_layers(net) == ['2', '5', '8', '9']
    assert resolve_layers(net, [nn.MaxPool2d, '9', '2']) == ['2', '5', '9']
    net.info_layers = ['5', '9']
    assert resolve_layers(net) == ['5', '9']
    for bad, msg in [('nope', "unknown layer 'nope'"), ([nn.GRU], 'no module of type GRU'), ('', 'whole model'),
                     ('vgg16', "preset 'vgg16' needs")]:
        with pytest.raises(ValueError, match=msg): resolve_layers(net, bad)
    with pytest.raises(TypeError, match='a layer must be a name'): resolve_layers(net, [1.5])


# ---- torchvision presets ------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def tv_vgg16():
    torch.manual_seed(0)
    return torchvision.models.vgg16(weights=None, num_classes=10).eval()


def test_vgg16_presets_on_torchvision(tv_vgg16):
    x = torch.randn(2, 3, 32, 32)
    outs = layer_outputs(tv_vgg16, x)  # default for a torchvision VGG: the 'vgg16' preset
    assert list(outs) == ['features.4', 'features.9', 'features.16', 'features.23', 'features.30',
                          'classifier.1', 'classifier.4', 'classifier.6']
    assert [tuple(v.shape) for v in outs.values()] == [(2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4), (2, 512, 2, 2),
                                                      (2, 512, 1, 1), (2, 4096), (2, 4096), (2, 10)]
    # the same forward pass on the same batch: the same numbers
    with torch.no_grad(): torch.testing.assert_close(outs['classifier.6'], tv_vgg16(x), rtol=0, atol=0)
    conv = layer_outputs(tv_vgg16, x, 'vgg16-conv')
    assert len(conv) == 16 and all(isinstance(tv_vgg16.get_submodule(n), nn.ReLU) for n in list(conv)[:13])
    assert all((v >= 0).all() for v in list(conv.values())[:13])
    assert no_hooks(tv_vgg16)


def test_resnet18_preset_on_torchvision():
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    outs = layer_outputs(net, torch.randn(2, 3, 32, 32), 'resnet18')
    assert [(k, tuple(v.shape)) for k, v in outs.items()] == [
        ('layer1', (2, 64, 8, 8)), ('layer2', (2, 128, 4, 4)), ('layer3', (2, 256, 2, 2)), ('layer4', (2, 512, 1, 1)),
        ('fc', (2, 10))]
    assert list(layer_outputs(net, torch.randn(2, 3, 32, 32))) == list(outs)  # the default for a ResNet
    assert set(LAYER_PRESETS) == {'vgg16', 'vgg16-conv', 'resnet18'}


# ---- layer_gram against an independent reference --------------------------------------------------------------
def ref_knn_width(z, k):
    "Mean distance to the k nearest neighbours (self excluded), the straightforward way."
    D = cdist(z, z)
    return np.sort(D, 1)[:, 1:k + 1].mean()


def ref_layer_gram(a, mode, k):
    n, C = a.shape[:2]
    if mode == 'tensor' or a.ndim == 2:
        z = a.reshape(n, -1); s = ref_knn_width(z, min(k, n - 1))
        return np.exp(-cdist(z, z, 'sqeuclidean') / (2 * s * s)), np.array([s])
    K, widths = np.ones((n, n)), []
    for c in range(C):
        z = a[:, c].reshape(n, -1)
        s = ref_knn_width(z, min(k, n - 1)) * (math.sqrt(C) if mode == 'hadamard_sqrtC' else 1)
        K = K * np.exp(-cdist(z, z, 'sqeuclidean') / (2 * s * s)); widths.append(s)
    return K, np.array(widths)


@pytest.mark.parametrize('mode', GRAM_MODES)
@pytest.mark.parametrize('shape', [(9, 3, 2, 2), (9, 4, 3), (9, 5), (12, 2, 3, 3)])
def test_layer_gram_matches_reference(mode, shape):
    a = np.random.default_rng(len(shape)).standard_normal(shape)
    K, w = layer_gram(torch.tensor(a), mode=mode, k=3)
    K_ref, w_ref = ref_layer_gram(a, mode, 3)
    # k-NN widths from our distance expansion vs cdist's differences: ~1e-14 relative, with room
    np.testing.assert_allclose(w.numpy(), w_ref, rtol=1e-12)
    # a product of up to 5 channel kernels of such distances, each exp(-d2 / 2s^2) <= 1: the
    # exponents' rounding (~1e-14 of exponents up to ~30) carried through exp, with room
    np.testing.assert_allclose(K.numpy(), K_ref, rtol=0, atol=1e-10)
    assert K.dtype == torch.float64 and (K.diagonal() == 1).all()


def test_hadamard_is_product_of_channel_grams_and_tensor_is_one_gaussian():
    torch.manual_seed(3)
    a = torch.randn(10, 4, 3, 3, dtype=torch.float64)
    t = a.reshape(10, 4, 9).transpose(0, 1)
    for rule in ['knn', 'median', 'silverman', 0.7]:
        K, w = layer_gram(a, mode='hadamard', width=rule, k=4)
        # one summed exponent vs a product of 4 kernels: each rounds by a few ulps of its exponent
        torch.testing.assert_close(K, gaussian_gram(t, w).prod(0), rtol=0, atol=1e-10)
        Kt, wt = layer_gram(a, width=rule, k=4)
        # the same distances and width by another call: rounding of entries <= 1
        torch.testing.assert_close(Kt, gaussian_gram(a.reshape(10, -1), rule, k=4), rtol=0, atol=1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(3, 12), C=st.integers(1, 5), hw=st.integers(1, 6), seed=st.integers(0, 10_000),
       scale=st.floats(1e-3, 1e3))
def test_knn_grams_invariant_to_scale(n, C, hw, seed, scale):
    """k-NN widths follow the data's scale, so the Gram does not change when a layer (or, in Hadamard mode, each
    channel separately) is multiplied by a positive constant: an invertible map that cannot change information."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, C, hw, generator=g, dtype=torch.float64)
    per_channel = torch.rand(C, generator=g, dtype=torch.float64)[None, :, None] * scale + 1e-3
    for mode, b in [('tensor', a * scale), ('hadamard', a * per_channel), ('hadamard_sqrtC', a * per_channel)]:
        K1, _ = layer_gram(a, Estimator(mode=mode, k=3))
        K2, _ = layer_gram(b, Estimator(mode=mode, k=3))
        # scaled data: distances and widths both scale, their ratio rounds (~1e-15 relative); the
        # exponents reach ~700 before exp underflows, so ~1e-12 absolute in the entries, with room
        torch.testing.assert_close(K1, K2, rtol=0, atol=1e-9)


def test_hadamard_handles_many_channels_without_forming_factors():
    torch.manual_seed(0)
    a = torch.randn(16, 512, 1, 1, dtype=torch.float64)
    K, w = layer_gram(a, mode='hadamard', chunk_bytes=8 * 16 * 16 * 7)  # widths and exponents in chunks of 7
    assert w.shape == (512,) and torch.isfinite(K).all() and (K.diagonal() == 1).all()
    K_all, w_all = layer_gram(a, mode='hadamard')
    torch.testing.assert_close(w, w_all, rtol=1e-12, atol=0)  # batched BLAS may round differently
    # the exponent summed over 74 chunks instead of one: a few ulps of an exponent of order C = 512
    torch.testing.assert_close(K, K_all, rtol=1e-12, atol=1e-300)
    Ks, ws = layer_gram(a, mode='hadamard_sqrtC')
    torch.testing.assert_close(ws, w_all * math.sqrt(512), rtol=1e-15, atol=0)  # one multiplication
    assert K.fill_diagonal_(0).max() < Ks.fill_diagonal_(0).max()  # sqrt(C) keeps the joint away from I


@pytest.mark.parametrize('bad, kw, err, msg', [
    (torch.ones(4), {}, ValueError, 'conv1 must have shape'),
    (torch.ones(1, 2, 3), {}, ValueError, 'conv1 has n=1 samples'),
    (torch.tensor([[0., 1.], [float('inf'), 2.]]), {}, ValueError, 'conv1 contains 1 NaN or Inf'),
    (torch.ones(3, 2, dtype=torch.int32), {}, TypeError, 'conv1 has dtype torch.int32'),
    (torch.randn(3, 2, 2), {'mode': 'joint'}, ValueError, "unknown mode 'joint'"),
    (torch.randn(3, 2, 2), {'mode': 'hadamard', 'width': lambda t: torch.tensor([1.0, 0.0])}, ValueError, 'finite and > 0'),
    (torch.randn(3, 2, 2), {'mode': 'hadamard', 'width': torch.tensor([1.0, 2.0])}, TypeError, 'not a tensor of widths'),
    (torch.randn(3, 2, 2), {'width': True}, TypeError, 'got the boolean True'),
    (torch.randn(3, 2, 2), {'k': True}, ValueError, 'k must be an integer >= 1'),
])
def test_layer_gram_rejects(bad, kw, err, msg):
    with pytest.raises(err, match=msg.replace('(', r'\(')): layer_gram(bad, name='conv1', **kw)


@pytest.mark.parametrize('shape', [(9, 3, 2, 2), (9, 5), (12, 4, 3)])
def test_channel_log_grams_are_the_channel_kernels(shape):
    "One code for per-channel kernels: exp(-D_c) is each channel's Gram, their sum the Hadamard mode's exponent."
    a = torch.tensor(np.random.default_rng(len(shape)).standard_normal(shape))
    D, w = channel_log_grams(a, k=3)
    C = shape[1]
    t = a.reshape(shape[0], C, -1).transpose(0, 1)
    assert D.shape == (C, shape[0], shape[0]) and torch.equal(D, D.transpose(-1, -2))
    torch.testing.assert_close(torch.exp(-D), gaussian_gram(t, w), rtol=0, atol=1e-12)  # the same exponents: rounding
    S, ws = channel_log_grams(a, k=3, summed=True)
    # concatenated distances vs a sum of per-channel ones: rounding, a few ulps of exponents ~ 10
    torch.testing.assert_close(S, D.sum(0), rtol=1e-12, atol=1e-12)
    if len(shape) > 2:
        assert torch.equal(torch.exp(-S), layer_gram(a, mode='hadamard', k=3)[0])  # the same path: identical
        Ss, wss = channel_log_grams(a, k=3, summed=True, factor=math.sqrt(C))
        assert torch.equal(torch.exp(-Ss), layer_gram(a, mode='hadamard_sqrtC', k=3)[0])
        torch.testing.assert_close(wss, w * math.sqrt(C), rtol=1e-15, atol=0)
