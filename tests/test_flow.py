"""infonb.flow (InfoFlow, layer_information, dpi_report, mi_matrix) and infonb.plots: values against infonb.renyi,
the model left exactly as it was, the JSONL file through interruptions and resumes, DPI bookkeeping, plots' contents."""
import json, random, warnings
import numpy as np
import pytest
import torch
from torch import nn
from hypothesis import given, settings, strategies as st

from infonb.flow import (InfoFlow, layer_information, probe_side, layer_entropies, dpi_report, mi_matrix, load_records,
                         check_probe, RECORD_KEYS, DPI_CHAINS)
import infonb.flow as flow_mod
from infonb.hooks import layer_gram, layer_outputs
from infonb.kernels import label_gram
from infonb.renyi import (renyi_entropy, mutual_information, conditional_mutual_information, SaturationWarning)

torch.set_num_threads(1)


def small_net(bn=True, dropout=0.5, seed=0):
    torch.manual_seed(seed)
    layers = [nn.Conv2d(1, 3, 3)] + ([nn.BatchNorm2d(3)] if bn else []) + [nn.ReLU(), nn.Dropout(dropout), nn.Flatten(),
                                                                          nn.Linear(3 * 6 * 6, 8), nn.ReLU(), nn.Linear(8, 4)]
    return nn.Sequential(*layers)


@pytest.fixture
def probe():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(48) % 4
    x = torch.randn(48, 1, 8, 8, generator=g) + y[:, None, None, None].float()
    return x, y


def layers_of(net): return [n for n, m in net.named_modules() if isinstance(m, nn.ReLU)] + [str(len(net) - 1)]


# ---- values -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('mode', ['tensor', 'hadamard', 'hadamard_sqrtC'])
@pytest.mark.parametrize('alpha', [1.01, 1.0, 2.0, 0.5])
def test_values_match_renyi(probe, mode, alpha):
    "Each record's four quantities equal infonb.renyi's general functions on the same Gram matrices."
    net = small_net()
    layers = layers_of(net)
    recs = InfoFlow(net, probe, layers=layers, alpha=alpha, mode=mode, k=5).measure(0)
    acts = layer_outputs(net, probe[0], layers)
    Kx, wx = layer_gram(probe[0], mode, 'knn', 5)
    Ky = label_gram(probe[1])
    for r in recs:
        Kt, w = layer_gram(acts[r['layer']], mode, 'knn', 5)
        assert r['width'] == pytest.approx(w.tolist(), abs=0)
        assert r['H_T'] == pytest.approx(renyi_entropy(Kt, alpha).item(), abs=1e-9)
        assert r['I_XT'] == pytest.approx(mutual_information(Kx, Kt, alpha).item(), abs=1e-9)
        assert r['I_TY'] == pytest.approx(mutual_information(Kt, Ky, alpha).item(), abs=1e-9)
        assert r['I_XT_Y'] == pytest.approx(conditional_mutual_information(Kx, Kt, Ky, alpha).item(), abs=1e-9)
        assert r['H_Y'] == pytest.approx(2.0, abs=1e-9)  # 4 balanced classes (any alpha)


def test_label_blocks_and_chunking_change_nothing(probe):
    net = small_net()
    acts = layer_outputs(net, probe[0], layers_of(net))
    a = layer_information(acts, probe, k=5)
    b = layer_information(acts, probe, k=5, label_blocks=False)
    side = probe_side(*probe, k=5)
    Ut = torch.stack([layer_gram(t, 'tensor', 'knn', 5)[0] for t in acts.values()])
    chunked = layer_entropies(Ut, side, max_bytes=1)  # one layer per chunk
    whole = layer_entropies(Ut, side)
    for q in ('H_T', 'I_XT', 'I_TY', 'I_XT_Y'):
        for l in acts: assert a[l][q] == pytest.approx(b[l][q], abs=1e-9)
    for u, v in zip(chunked, whole): torch.testing.assert_close(u, v, rtol=0, atol=1e-12)


def test_onehot_label_kernel_and_approx_method(probe):
    net = small_net()
    r1 = InfoFlow(net, probe, k=5, layers=['2'], label_kernel='onehot').measure(0)[0]
    acts = layer_outputs(net, probe[0], ['2'])
    Kt = layer_gram(acts['2'], 'tensor', 'knn', 5)[0]
    Ky = label_gram(probe[1], 'onehot')
    assert r1['I_TY'] == pytest.approx(mutual_information(Kt, Ky).item(), abs=1e-9)
    r2 = InfoFlow(net, probe, k=5, layers=['2'], method='deflated').measure(0)[0]   # imports infonb.approx on demand
    r0 = InfoFlow(net, probe, k=5, layers=['2']).measure(0)[0]
    assert r2['method'] == 'deflated' and abs(r2['H_T'] - r0['H_T']) < 0.1


def test_record_keys_and_extras(probe, tmp_path):
    net = small_net()
    f = InfoFlow(net, probe, k=5, path=tmp_path / 'r.jsonl', width='median', gamma=2.0)
    recs = f.measure(3, epoch=0.5, test_acc=torch.tensor(0.25), train_loss=float('nan'), lr=np.float32(0.5))
    assert set(recs[0]) == set(RECORD_KEYS) | {'test_acc', 'train_loss', 'lr'}
    assert [r['depth'] for r in recs] == list(range(1, len(f.layers) + 1))
    assert recs[0]['test_acc'] == 0.25 and recs[0]['train_loss'] is None and recs[0]['lr'] == 0.5
    assert recs[0]['width_rule'] == 'median(gamma=2.0)' and recs[0]['epoch'] == 0.5
    assert load_records(tmp_path / 'r.jsonl') == recs  # plain JSON, strict (no NaN)
    json.loads((tmp_path / 'r.jsonl').read_text().split('\n')[0])


# ---- the model is left exactly as it was --------------------------------------------------------------------------------
@pytest.mark.parametrize('training', [True, False])
def test_model_untouched(probe, training):
    net, twin = small_net(), small_net()
    for m in (net, twin):
        m.train()
        nn.functional.cross_entropy(m(probe[0][:16]), probe[1][:16]).backward()  # grads and BatchNorm statistics
        m.train(training)
    modes = [m.training for m in net.modules()]
    state = {k: v.clone() for k, v in net.state_dict().items()}
    grads = [p.grad.clone() for p in net.parameters()]
    random.seed(5); np.random.seed(5); torch.manual_seed(5)
    rng = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    InfoFlow(net, probe, k=5, mi_matrix_every=1).measure(0, epoch=0.0)
    assert [m.training for m in net.modules()] == modes
    for k, v in net.state_dict().items(): assert torch.equal(v, state[k]), k  # weights, running stats, num_batches_tracked
    assert all(torch.equal(p.grad, g) for p, g in zip(net.parameters(), grads))
    assert random.getstate() == rng[0] and np.array_equal(np.random.get_state()[1], rng[1]) and torch.equal(torch.get_rng_state(), rng[2])
    # the next training step is the one the unmeasured twin takes
    net.train(); twin.train()
    s = torch.get_rng_state()
    la = nn.functional.cross_entropy(net(probe[0][16:32]), probe[1][16:32]).item()
    torch.set_rng_state(s)
    lb = nn.functional.cross_entropy(twin(probe[0][16:32]), probe[1][16:32]).item()
    assert la == lb


def test_model_that_draws_random_numbers_in_eval(probe):
    "A forward pass that draws random numbers in eval mode does not move the generators."
    class Noisy(nn.Module):
        def forward(self, x): return x + 0.01 * torch.randn_like(x) + 0.01 * np.random.rand() + 0.01 * random.random()
    net = nn.Sequential(nn.Flatten(), Noisy(), nn.Linear(64, 4))
    before = torch.get_rng_state()
    InfoFlow(net, probe, layers=['1', '2'], k=5).measure(0)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_cuda_rng_and_device(probe):
    net = small_net().cuda()
    torch.cuda.manual_seed_all(3)
    before = torch.cuda.get_rng_state_all()
    recs = InfoFlow(net, probe, k=5).measure(0)
    assert all(torch.equal(a, b) for a, b in zip(torch.cuda.get_rng_state_all(), before))
    cpu = InfoFlow(small_net(), probe, k=5).measure(0)
    for a, b in zip(recs, cpu): assert a['I_XT'] == pytest.approx(b['I_XT'], abs=1e-4)


# ---- the JSONL file: interruptions and resume -------------------------------------------------------------------------
def test_interrupted_measurement_leaves_valid_file(probe, tmp_path, monkeypatch):
    net = small_net()
    f = InfoFlow(net, probe, k=5, path=tmp_path / 'r.jsonl')
    f.measure(0); f.measure(5)
    real, calls = flow_mod.layer_entropies, []
    def boom(*a, **k):
        calls.append(1)
        raise KeyboardInterrupt
    monkeypatch.setattr(flow_mod, 'layer_entropies', boom)
    with pytest.raises(KeyboardInterrupt): f.measure(10)
    monkeypatch.setattr(flow_mod, 'layer_entropies', real)
    recs = load_records(tmp_path / 'r.jsonl')
    assert sorted({r['step'] for r in recs}) == [0, 5] and len(recs) == 2 * len(f.layers)
    with open(tmp_path / 'r.jsonl', 'a') as fh: fh.write('{"step": 10, "lay')  # a line cut short by a kill
    with pytest.warns(UserWarning, match='incomplete'):
        g = InfoFlow(net, probe, k=5, path=tmp_path / 'r.jsonl', resume=True)
    assert g.steps == [0, 5]
    g.measure(5); g.measure(10)  # 5 skipped, 10 measured
    recs = load_records(tmp_path / 'r.jsonl')  # the broken line is gone: appends land on a clean file
    assert sorted({r['step'] for r in recs}) == [0, 5, 10] and len(recs) == 3 * len(f.layers)
    assert InfoFlow.load(tmp_path / 'r.jsonl') == g.records


def test_broken_line_in_the_middle_is_an_error(tmp_path):
    (tmp_path / 'r.jsonl').write_text('{"step": 0}\n{"step": 1\n{"step": 2}\n')
    with pytest.raises(ValueError, match='line 2: not valid JSON'): load_records(tmp_path / 'r.jsonl')


# ---- warnings and rejected inputs ---------------------------------------------------------------------------------------
def test_saturation_warned_once_naming_the_layer(probe):
    net = small_net()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        f = InfoFlow(net, probe, layers=['2'], width=1e-4)
        f.measure(0); f.measure(1)
    msgs = [str(x.message) for x in w if issubclass(x.category, SaturationWarning)]
    assert len(msgs) == 2 and 'probe inputs X' in msgs[0] and "layer '2' is saturated at step 0" in msgs[1]
    assert all(r['saturated'] for r in f.records)


@pytest.mark.parametrize('kwargs, match', [
    (dict(layers=['nope']), "unknown layer 'nope'"),
    (dict(alpha=0), 'alpha must be a finite number > 0'),
    (dict(alpha=-1.0), 'alpha must be a finite number > 0'),
    (dict(mode='product'), "unknown mode 'product'"),
    (dict(width='widest'), "unknown width rule 'widest'"),
    (dict(label_kernel='cos'), "unknown label_kernel 'cos'"),
    (dict(method='magic'), "unknown entropy method 'magic'"),
    (dict(mi_matrix_every=0), 'mi_matrix_every must be a positive number'),
    (dict(pid='yes'), 'pid must be False, True or a dict'),
])
def test_rejected_settings(probe, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match): InfoFlow(small_net(), probe, **kwargs)


@pytest.mark.parametrize('probe_, match', [
    ((torch.randn(10, 4), torch.arange(9)), 'x has 10 samples but y has 9'),
    ((torch.randn(1, 4), torch.arange(1)), 'n=1 samples'),
    ((torch.randn(10), torch.arange(10)), r'x must have shape \(n, ...\)'),
    ((torch.randn(10, 4), torch.rand(10)), 'y must hold integer class labels'),
    (torch.randn(10, 4), 'probe must be a pair'),
])
def test_rejected_probes(probe_, match):
    with pytest.raises((ValueError, TypeError), match=match): check_probe(probe_)


def test_rejected_measure_calls(probe):
    f = InfoFlow(small_net(), probe, k=5)
    with pytest.raises(ValueError, match='step must be an integer >= 0'): f.measure(-2)
    with pytest.raises(ValueError, match='step must be an integer >= 0'): f.measure(1.5)
    with pytest.raises(ValueError, match=r"extra values \['H_T'\] clash"): f.measure(1, H_T=3)
    with pytest.raises(TypeError, match='cannot be stored'): f.measure(1, model=nn.ReLU())


# ---- DPI report ---------------------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.floats(0, 5), st.floats(0, 5)), min_size=3, max_size=3), min_size=1, max_size=6),
       st.sampled_from([0.0, 0.1, 1.0]))
def test_dpi_report_against_brute_force(points, tol):
    recs = [dict(step=10 * s, epoch=s, layer=l, depth=i + 1, I_XT=v[0], I_TY=v[1])
            for s, values in enumerate(points) for i, (l, v) in enumerate(zip(['c', 'a', 'b'], values))]
    random.Random(0).shuffle(recs)  # order must not matter
    rep = dpi_report(recs, tol)
    for j, chain in enumerate(DPI_CHAINS):
        holds = [all(v[i + 1][j] <= v[i][j] + tol for i in range(2)) for v in points]
        assert rep.fraction[chain] == pytest.approx(np.mean(holds))
        pair = [np.mean([v[i + 1][j] <= v[i][j] + tol for v in points]) for i in range(2)]
        assert list(rep.pair_fraction[chain].values()) == pytest.approx(pair)
        viol = [v for v in rep.violations if v['chain'] == chain]
        assert len(viol) == sum(v[i + 1][j] > v[i][j] + tol for v in points for i in range(2))
        assert all(v['size'] > tol for v in viol)
    assert rep.layers == ['c', 'a', 'b'] and list(rep.pair_fraction['DPI-1']) == ['c>a', 'a>b']
    json.dumps(rep.to_dict(), allow_nan=False)


def test_dpi_report_on_a_real_run(probe):
    net = small_net()
    f = InfoFlow(net, probe, k=5)
    for s in range(3): f.measure(s)
    rep = dpi_report(f.records)
    assert rep.steps == [0, 1, 2] and len(rep.layers) == len(f.layers)
    with pytest.raises(ValueError, match='twice at step 0'): dpi_report(f.records + f.records[:1])


# ---- MI matrix ----------------------------------------------------------------------------------------------------------
def test_mi_matrix(probe, tmp_path):
    net = small_net()
    layers = layers_of(net)
    mm = mi_matrix(net, probe, layers=layers, k=5)
    assert mm.names == ['X', *layers, 'Y'] and torch.equal(mm.M, mm.M.T)
    acts = layer_outputs(net, probe[0], layers)
    K = [layer_gram(probe[0], 'tensor', 'knn', 5)[0]] + [layer_gram(a, 'tensor', 'knn', 5)[0] for a in acts.values()] + [label_gram(probe[1])]
    for i in range(len(K)):
        assert mm.M[i, i].item() == pytest.approx(renyi_entropy(K[i]).item(), abs=1e-9)
        for j in range(i + 1, len(K)): assert mm.M[i, j].item() == pytest.approx(mutual_information(K[i], K[j]).item(), abs=1e-9)
    f = InfoFlow(net, probe, layers=layers, k=5, mi_matrix_every=2, path=tmp_path / 'r.jsonl')
    for step, epoch in ((0, 0.0), (5, 0.5), (10, 1.0), (20, 2.0)): f.measure(step, epoch=epoch)
    assert [m['epoch'] for m in f.mi_matrices] == [0.0, 2.0]
    assert load_records(tmp_path / 'r.mi.jsonl') == f.mi_matrices
    np.testing.assert_allclose(np.array(f.mi_matrices[0]['M']), mm.M.numpy(), atol=1e-9)


# ---- PID wiring ---------------------------------------------------------------------------------------------------------
def test_pid_summary_in_conv_records(probe):
    from infonb.pid import layer_pid
    net = small_net()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', SaturationWarning)
        recs = {r['layer']: r for r in InfoFlow(net, probe, layers=['2', '6'], k=5, pid=True).measure(0)}
        ref = layer_pid(layer_outputs(net, probe[0], ['2'])['2'], probe[1], k=5).summary()
    assert recs['2']['RST'] == pytest.approx(ref['RST'], abs=1e-9) and recs['2']['WNI'] == pytest.approx(ref['WNI'], abs=1e-9)
    assert 'RST' not in recs['6']  # fully connected: no pairs by default


# ---- plots --------------------------------------------------------------------------------------------------------------
def test_plots_draw_one_line_per_layer(probe, tmp_path):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from infonb.plots import plot_info_plane, plot_mip, plot_dpi, plot_mi_matrix, plot_curves
    net = small_net()
    f = InfoFlow(net, probe, k=5, mi_matrix_every=1)
    for s in range(4): f.measure(s, epoch=float(s), test_acc=0.5)
    L = len(f.layers)
    for fig in (plot_info_plane(f.records), plot_mip(f.records), plot_info_plane(f.records, x='H_T', y='test_acc')):
        ax = fig.axes[0]
        assert len(ax.lines) == L and sum(len(c.get_offsets()) for c in ax.collections) == len(f.records)
    fig = plot_dpi(f.records)
    rep = dpi_report(f.records)
    for ax, chain in zip(fig.axes, DPI_CHAINS):
        assert len(ax.lines) == L and len(ax.collections[0].get_offsets()) == sum(v['chain'] == chain for v in rep.violations)
    assert [len(ax.lines) for ax in plot_curves(f.records, ('H_T', 'I_XT')).axes] == [L, L]
    fig = plot_mi_matrix(f.mi_matrices[-1])
    assert len(fig.axes[0].texts) == (L + 2) ** 2
    fig.savefig(tmp_path / 'm.png', dpi=40)
    plt.close('all')
