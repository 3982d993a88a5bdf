"""infonb.models (shapes, info_layers, argument checks) and infonb.train (when the tracker is called, history,
seeding, data forms, learning)."""
import math
import pytest
import torch
from torch import nn

from infonb.hooks import layer_outputs
from infonb.models import MODELS, ConvNet, LeNet5, SmallCNN, WideCNN, get_model, resnet18, vgg16
from infonb.train import evaluate, fit, measure_points, seed_everything


# ---- models ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name, kw, x_shape, layer_shapes', [
    ('lenet5', {}, (2, 1, 28, 28), [(6, 14, 14), (16, 5, 5), (120,), (84,), (10,)]),
    ('lenet5', {'in_channels': 3, 'input_size': 32, 'num_classes': 4}, (2, 3, 32, 32), [(6, 16, 16), (16, 6, 6), (120,), (84,), (4,)]),
    ('small', {}, (2, 1, 28, 28), [(8, 14, 14), (64,), (10,)]),
    ('wide', {}, (2, 1, 28, 28), [(32, 14, 14), (64, 5, 5), (256,), (128,), (10,)]),
    ('vgg16', {}, (2, 3, 32, 32), [(64, 16, 16), (128, 8, 8), (256, 4, 4), (512, 2, 2), (512, 1, 1), (512,), (512,), (10,)]),
    ('resnet18', {'in_channels': 1}, (2, 1, 32, 32), [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4), (10,)]),
])
def test_model_shapes_and_info_layers(name, kw, x_shape, layer_shapes):
    torch.manual_seed(0)
    model = get_model(name, **kw).eval()
    x = torch.randn(x_shape)
    outs = layer_outputs(model, x)
    assert list(outs) == model.info_layers
    assert [tuple(v.shape[1:]) for v in outs.values()] == layer_shapes
    with torch.no_grad(): torch.testing.assert_close(list(outs.values())[-1], model(x))  # last layer = logits


def test_lenet5_is_the_classic():
    m = LeNet5()
    assert sum(p.numel() for p in m.parameters()) == 61706
    assert [type(m.conv1.act), type(LeNet5(activation='tanh').conv2.act), type(LeNet5(activation='sigmoid').fc1.act)] \
        == [nn.ReLU, nn.Tanh, nn.Sigmoid]
    assert LeNet5(filters=(3, 9)).conv2.conv.weight.shape == (9, 3, 5, 5)
    assert isinstance(SmallCNN(), ConvNet) and isinstance(WideCNN(), ConvNet)


@pytest.mark.parametrize('kw, msg', [
    ({'filters': (6, 0)}, r'filters\[1\] must be a positive integer, got 0'),
    ({'filters': (-1, 16)}, r'filters\[0\] must be a positive integer, got -1'),
    ({'filters': (6.0, 16)}, r'filters\[0\] must be a positive integer, got 6.0'),
    ({'filters': (6,)}, 'LeNet5 has 2 conv layers'),
    ({'hidden': (120, True)}, r'hidden\[1\] must be a positive integer, got True'),
    ({'num_classes': 0}, 'num_classes must be a positive integer'),
    ({'activation': 'relu6'}, "unknown activation 'relu6'"),
    ({'input_size': 10}, 'input_size=10 is too small'),
])
def test_lenet5_rejects(kw, msg):
    with pytest.raises(ValueError, match=msg): LeNet5(**kw)


def test_get_model_and_presets():
    assert set(MODELS) == {'lenet5', 'small', 'wide', 'vgg16', 'resnet18', 'vit'}
    with pytest.raises(ValueError, match=r"unknown model 'lenet'; choose one of \['lenet5'"): get_model('lenet')
    with pytest.raises(ValueError, match='num_classes must be a positive integer'): vgg16(num_classes=0)
    with pytest.raises(ValueError, match='in_channels must be a positive integer'): resnet18(in_channels=0)
    assert vgg16(batch_norm=False).info_layers[:5] == ['features.4', 'features.9', 'features.16', 'features.23', 'features.30']


# ---- train ----------------------------------------------------------------------------------------------------
class Recorder:
    def __init__(self, model=None): self.calls, self.model = [], model
    def measure(self, step, **extra):
        self.calls.append(dict(step=step, training=None if self.model is None else self.model.training, **extra))
        if self.model is not None: self.model.eval()  # a careless tracker: fit must put the model back in training


def toy_data(n=600, seed=0):
    "Linearly separable 10-class data on 4x4 'images'."
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    centres = torch.randn(10, 16, generator=g) * 3
    return (centres[y] + torch.randn(n, 16, generator=g)).reshape(n, 1, 4, 4), y


def toy_model(seed=0):
    seed_everything(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 10))


@pytest.mark.parametrize('every, epochs, expected', [
    (None, 2, [0, 6, 12]),
    (4, 2, [0, 4, 6, 8, 12]),
    (1, 1, [0, 1, 2, 3, 4, 5, 6]),
    (0.5, 2, [0, 3, 6, 9, 12]),
    (0.25, 1, [0, 2, 3, 5, 6]),   # 6 steps per epoch: round(1.5)=2, 3, round(4.5)=5, then the end
    (7, 2, [0, 6, 7, 12]),
])
def test_fit_calls_tracker_at_the_right_steps(every, epochs, expected):
    x, y = toy_data()
    model = toy_model()
    rec = Recorder(model)
    hist = fit(model, (x, y), (x[:100], y[:100]), epochs=epochs, batch_size=100, tracker=rec, measure_every=every,
               progress=False, device='cpu')
    assert [c['step'] for c in rec.calls] == expected
    assert [c['epoch'] for c in rec.calls] == pytest.approx([s / 6 for s in expected])
    assert all(c['training'] for c in rec.calls[1:])  # put back in training mode after each measurement
    assert rec.calls[0]['epoch'] == 0 and math.isnan(rec.calls[0]['train_loss'])
    assert all(math.isfinite(c['train_loss']) for c in rec.calls[1:])
    ends = [c for c in rec.calls if c['step'] % 6 == 0 and c['step'] > 0]
    assert [c['test_acc'] for c in ends] == [h['test_acc'] for h in hist]
    assert [h['step'] for h in hist] == [6 * e for e in range(1, epochs + 1)]
    assert set(hist[0]) == {'epoch', 'step', 'train_loss', 'test_acc', 'seconds', 'measure_seconds'}


def test_fit_learns_and_is_reproducible():
    x, y = toy_data()
    runs = []
    for _ in range(2):
        model = toy_model()
        hist = fit(model, (x, y), (x, y), epochs=3, batch_size=50, lr=3e-3, progress=False, device='cpu', seed=5)
        runs.append((hist, model[1].weight.detach().clone()))
    (h1, w1), (h2, w2) = runs
    assert torch.equal(w1, w2) and [h['train_loss'] for h in h1] == [h['train_loss'] for h in h2]
    assert h1[-1]['test_acc'] > 0.9 and h1[-1]['train_loss'] < h1[0]['train_loss']
    model = toy_model()
    fit(model, (x, y), epochs=1, batch_size=50, progress=False, device='cpu', seed=6)
    assert not torch.equal(model[1].weight, w1)


def test_fit_sgd_dataset_and_progress(capsys):
    x, y = toy_data()
    model = toy_model()
    hist = fit(model, torch.utils.data.TensorDataset(x, y), torch.utils.data.TensorDataset(x, y), epochs=2,
               batch_size=64, optimizer='sgd', lr=0.05, device='cpu', progress=True)
    assert len(hist) == 2 and hist[-1]['test_acc'] > 0.8 and hist[0]['step'] == 10
    assert 'fit' in capsys.readouterr().err  # the tqdm bar


def test_fit_rejects():
    x, y = toy_data(50)
    model = toy_model()
    for kw, err, msg in [({'epochs': 0}, ValueError, 'epochs must be a positive integer'),
                         ({'batch_size': -1}, ValueError, 'batch_size must be a positive integer'),
                         ({'tracker': 3}, TypeError, 'tracker must have a measure'),
                         ({'measure_every': 1.5}, ValueError, 'measure_every must be'),
                         ({'optimizer': 'rmsprop'}, ValueError, "unknown optimizer 'rmsprop'"),
                         ({'lr': 0}, ValueError, 'lr must be a positive number'),
                         ({'test_data': (x, y.float())}, TypeError, 'test_data: y must hold integer class labels')]:
        with pytest.raises(err, match=msg): fit(model, (x, y), progress=False, device='cpu', **kw)
    with pytest.raises(TypeError, match='train_data must be an'): fit(model, x, progress=False)
    with pytest.raises(FloatingPointError, match='training loss is nan at epoch 1'):
        fit(model, (x * float('nan'), y), progress=False, device='cpu')


def test_evaluate_restores_mode():
    x, y = toy_data(100)
    model = toy_model().train()
    acc = evaluate(model, (x, y), batch_size=7)
    assert model.training and 0 <= acc <= 1
    with torch.no_grad(): assert acc == (model.eval()(x).argmax(-1) == y).sum().item() / 100


def test_measure_points_property():
    for B in range(1, 40):
        for f in [0.1, 0.25, 1 / 3, 0.5, 1.0, 0.3]:
            pts = measure_points(f, B)
            assert pts[-1] == B and pts == sorted(set(pts)) and all(1 <= p <= B for p in pts)
            assert len(pts) <= math.ceil(1 / f)
            # one point per fraction when the steps allow (the last fraction may round onto the epoch's end)
            if B * f >= 1: assert len(pts) >= math.ceil(1 / f) - 1


def test_every_model_runs_on_every_dataset_shape():
    "28x28 grey and 32x32 colour images: each model, given the input size it needs (VGG-16: 32), gives logits."
    from infonb.models import input_size_for, model_for
    torch.manual_seed(0)
    for name in MODELS:
        for channels, side in ((1, 28), (3, 32)):
            s = input_size_for(name, side)
            assert s == (32 if name == 'vgg16' else side)
            assert model_for(name, channels, 10, s).eval()(torch.randn(2, channels, s, s)).shape == (2, 10)
    with pytest.raises(ValueError, match='vgg16 needs images of at least 32 pixels a side, got 28'): model_for('vgg16', 1, 10, 28)
    with pytest.raises(ValueError, match="unknown model 'alexnet'"): input_size_for('alexnet', 28)


def test_models_import_torchvision_only_when_used():
    import subprocess, sys
    from pathlib import Path
    code = ("import sys, infonb.models as m; a = 'torchvision' in sys.modules; m.LeNet5(); b = 'torchvision' in sys.modules; "
            "m.resnet18(); print(a, b, 'torchvision' in sys.modules)")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       env={**__import__('os').environ, 'PYTHONPATH': str(Path(__file__).resolve().parents[1])})
    assert r.stdout.strip() == 'False False True', r.stderr
