"""infonb.flow (InfoFlow, layer_information, dpi_report, mi_matrix) and infonb.plots: values against infonb.renyi,
the model left exactly as it was, the JSONL file through interruptions and resumes, DPI bookkeeping, plots' contents."""
import json, random, warnings
import numpy as np
import pytest
import torch
from torch import nn
from hypothesis import given, settings, strategies as st

from infonb.flow import (InfoFlow, layer_information, measure_layers, probe_side, layer_entropies, dpi_report,
                         mi_matrix, load_records, check_probe, RECORD_KEYS, DPI_CHAINS)
import infonb.flow as flow_mod
from infonb.estimator import Estimator
from infonb.hooks import layer_gram, layer_outputs
from infonb.kernels import label_gram
from infonb.renyi import (renyi_entropy, mutual_information, conditional_mutual_information, SaturationWarning)
from tolerances import entropy_resolution, mi_resolution

KEYS = set(RECORD_KEYS) | {'estimator', 'scale'}

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
    est = Estimator(alpha=alpha, mode=mode, k=5)
    Kx, wx = layer_gram(probe[0], est)
    Ky = label_gram(probe[1])
    n = len(probe[1])
    # other eigendecompositions of the same matrices (class blocks, other batches): the eigensolver's resolution
    tol_h, tol_mi, tol_cmi = entropy_resolution(n, alpha), mi_resolution(n, alpha), mi_resolution(n, alpha, terms=4)
    for r in recs:
        Kt, w = layer_gram(acts[r['layer']], est)
        assert r['width'] == w.tolist()  # the same code path
        assert r['H_T'] == pytest.approx(renyi_entropy(Kt, alpha).item(), abs=tol_h)
        assert r['I_XT'] == pytest.approx(mutual_information(Kx, Kt, alpha).item(), abs=tol_mi)
        assert r['I_TY'] == pytest.approx(mutual_information(Kt, Ky, alpha).item(), abs=tol_mi)
        assert r['I_XT_Y'] == pytest.approx(conditional_mutual_information(Kx, Kt, Ky, alpha).item(), abs=tol_cmi)
        assert r['H_Y'] == pytest.approx(2.0, abs=tol_h)  # 4 balanced classes (any alpha)
        assert r['estimator'] == est.name and r['scale'] == 1.0


def test_label_blocks_and_chunking_change_nothing(probe):
    net = small_net()
    acts = layer_outputs(net, probe[0], layers_of(net))
    a = layer_information(acts, probe, k=5)
    b = layer_information(acts, probe, k=5, label_blocks=False)
    side = probe_side(*probe, k=5)
    assert measure_layers(acts, side) == a  # the core on the side: the same path, identical
    Ut = torch.stack([layer_gram(t, k=5)[0] for t in acts.values()])
    chunked = layer_entropies(Ut, side, max_bytes=1)  # one layer per chunk
    whole = layer_entropies(Ut, side)
    tol = mi_resolution(len(probe[1]), terms=4)  # class blocks against whole matrices: eigensolver resolution
    for q in ('H_T', 'I_XT', 'I_TY', 'I_XT_Y'):
        for l in acts: assert a[l][q] == pytest.approx(b[l][q], abs=tol)
    for u, v in zip(chunked, whole): torch.testing.assert_close(u, v, rtol=0, atol=0)  # per-matrix eigensolvers


def test_onehot_label_kernel_and_approx_method(probe):
    net = small_net()
    r1 = InfoFlow(net, probe, k=5, layers=['2'], label_kernel='onehot').measure(0)[0]
    acts = layer_outputs(net, probe[0], ['2'])
    Kt = layer_gram(acts['2'], k=5)[0]
    Ky = label_gram(probe[1], 'onehot')
    assert r1['I_TY'] == pytest.approx(mutual_information(Kt, Ky).item(), abs=mi_resolution(len(probe[1])))
    r2 = InfoFlow(net, probe, k=5, layers=['2'], method='deflated').measure(0)[0]   # imports infonb.approx on demand
    r0 = InfoFlow(net, probe, k=5, layers=['2']).measure(0)[0]
    assert r2['method'] == 'deflated' and r2['estimator'] == 'tensor/knn5/a1.01/deflated'
    assert abs(r2['H_T'] - r0['H_T']) < 0.1  # an approximation: its error at n = 48 is well below 0.1 bits


def test_record_keys_and_extras(probe, tmp_path):
    net = small_net()
    f = InfoFlow(net, probe, k=5, path=tmp_path / 'r.jsonl', width='median', gamma=2.0)
    recs = f.measure(3, epoch=0.5, test_acc=torch.tensor(0.25), train_loss=float('nan'), lr=np.float32(0.5))
    assert set(recs[0]) == KEYS | {'test_acc', 'train_loss', 'lr'}
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
    real, calls = flow_mod._group_entropies, []
    def boom(*a, **k):
        calls.append(1)
        raise KeyboardInterrupt
    monkeypatch.setattr(flow_mod, '_group_entropies', boom)
    with pytest.raises(KeyboardInterrupt): f.measure(10)
    monkeypatch.setattr(flow_mod, '_group_entropies', real)
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
    (dict(k=True), 'k must be an integer >= 1'),
    (dict(estimators='tensor'), 'estimators must be an Estimator or a non-empty list'),
    (dict(estimators=[Estimator(), Estimator()]), 'appear twice'),
    (dict(scales=(1.0,)), 'scales must be distinct finite numbers > 0 other than 1'),
    (dict(scales=(2, 2)), 'scales must be distinct'),
    (dict(resume=True, overwrite=True, path='x.jsonl'), 'contradict each other'),
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
    K = [layer_gram(probe[0], k=5)[0]] + [layer_gram(a, k=5)[0] for a in acts.values()] + [label_gram(probe[1])]
    tol_h, tol_mi = entropy_resolution(len(probe[1])), mi_resolution(len(probe[1]))  # other decompositions: rounding
    for i in range(len(K)):
        assert mm.M[i, i].item() == pytest.approx(renyi_entropy(K[i]).item(), abs=tol_h)
        for j in range(i + 1, len(K)):
            assert mm.M[i, j].item() == pytest.approx(mutual_information(K[i], K[j]).item(), abs=tol_mi)
    f = InfoFlow(net, probe, layers=layers, k=5, mi_matrix_every=2, path=tmp_path / 'r.jsonl')
    for step, epoch in ((0, 0.0), (5, 0.5), (10, 1.0), (20, 2.0)): f.measure(step, epoch=epoch)
    assert [m['epoch'] for m in f.mi_matrices] == [0.0, 2.0]
    assert load_records(tmp_path / 'r.mi.jsonl') == f.mi_matrices
    np.testing.assert_array_equal(np.array(f.mi_matrices[0]['M']), mm.M.numpy())  # the same path: identical
    assert f.mi_matrices[0]['estimator'] == 'tensor/knn5/a1.01'


# ---- PID wiring ---------------------------------------------------------------------------------------------------------
def test_pid_summary_in_conv_records(probe):
    from infonb.pid import layer_pid
    net = small_net()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', SaturationWarning)
        recs = {r['layer']: r for r in InfoFlow(net, probe, layers=['2', '6'], k=5, pid=True).measure(0)}
        ref = layer_pid(layer_outputs(net, probe[0], ['2'])['2'], probe[1], k=5).summary()
    assert recs['2']['RST'] == ref['RST'] and recs['2']['WNI'] == ref['WNI']  # the same call: identical
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


# ---- several estimators, the scale test -------------------------------------------------------------------------------
ESTIMATORS = [Estimator(k=5), Estimator(k=5, alpha=2), Estimator(k=5, alpha=0.5), Estimator.paper(k=5),
              Estimator(mode='hadamard', width='silverman', standardize=False, tag='silverman-fixed'),
              Estimator(k=5, label_kernel='onehot'), Estimator(k=5, method='deflated')]


def test_several_estimators_equal_separate_trackers(probe):
    "One capture, every estimator on the same outputs: each estimator's records are those of a tracker of its own."
    net = small_net()
    multi = InfoFlow(net, probe, estimators=ESTIMATORS, mi_matrix_every=1)
    recs = multi.measure(0, epoch=1.0)
    assert len(recs) == len(ESTIMATORS) * len(multi.layers)
    assert [m['estimator'] for m in multi.mi_matrices] == [e.name for e in ESTIMATORS]
    for e, M in zip(ESTIMATORS, multi.mi_matrices):
        alone = InfoFlow(net, probe, estimators=e, mi_matrix_every=1)
        # the same path (estimators sharing Grams share eigenvalues, computed as each would alone): identical
        assert multi.select(e) == alone.measure(0, epoch=1.0)
        assert M == alone.mi_matrices[0]
    with pytest.raises(ValueError, match='records hold 7 series'): dpi_report(multi.records)
    assert dpi_report(multi.select(ESTIMATORS[1])).steps == [0]
    assert dpi_report(multi.records, estimator=ESTIMATORS[1].name, scale=1.0).fraction == \
        dpi_report(multi.select(ESTIMATORS[1])).fraction


def test_scale_test_records(probe):
    net = small_net()
    f = InfoFlow(net, probe, estimators=ESTIMATORS[:5], scales=(0.25, 4))
    recs = f.measure(0)
    L = len(f.layers)
    assert len(recs) == 5 * 3 * L and {r['scale'] for r in recs} == {1.0, 0.25, 4.0}
    assert f.select(ESTIMATORS[0]) == InfoFlow(net, probe, estimators=ESTIMATORS[0]).measure(0)  # plain: unchanged
    acts = layer_outputs(net, probe[0], f.layers)
    for e in ESTIMATORS[:5]:
        for s in (0.25, 4.0):
            scaled = layer_information({l: s * a for l, a in acts.items()}, probe, e)  # the core on scaled outputs
            got = {r['layer']: r for r in f.select(e, s)}
            for l in f.layers:
                for q in ('H_T', 'I_XT', 'I_TY', 'I_XT_Y'): assert got[l][q] == scaled[l][q], (e.name, s, l, q)
    n = len(probe[1])
    for r in recs:  # k-NN widths scale with the layer: the same Gram matrices up to the rounding of the exponents
        base = next(p for p in recs if (p['estimator'], p['layer'], p['scale']) == (r['estimator'], r['layer'], 1.0))
        if r['estimator'] != 'silverman-fixed':
            assert abs(r['I_XT'] - base['I_XT']) <= 1e3 * mi_resolution(n, r['alpha']), r
    fixed = [abs(r['I_TY'] - p['I_TY']) for r in f.select('silverman-fixed', 0.25) for p in f.select('silverman-fixed')
             if p['layer'] == r['layer']]
    assert max(fixed) > 0.05  # a fixed width moves with the layer's scale


# ---- a run cut short and resumed --------------------------------------------------------------------------------------
def _run(net, probe, path, steps, **kw):
    f = InfoFlow(net, probe, estimators=ESTIMATORS[:2], scales=(4,), path=path, mi_matrix_every=1, **kw)
    for s in steps: f.measure(s, epoch=float(s))
    return f


def test_measurement_killed_after_k_layers_then_resumed(probe, tmp_path):
    "A forward hook raises at the k-th layer of step 2: nothing of step 2 is kept; the resumed run equals the whole one."
    whole = _run(small_net(), probe, tmp_path / 'whole.jsonl', range(4))
    net = small_net()
    cut = _run(net, probe, tmp_path / 'cut.jsonl', range(2))
    k = 2
    class Boom(Exception): pass
    def hook(module, inputs, output): raise Boom('killed')
    handle = dict(net.named_modules())[cut.layers[k]].register_forward_hook(hook)
    with pytest.raises(Boom): cut.measure(2, epoch=2.0)
    handle.remove()
    resumed = _run(net, probe, tmp_path / 'cut.jsonl', range(4), resume=True)
    assert load_records(tmp_path / 'cut.jsonl') == load_records(tmp_path / 'whole.jsonl') == resumed.records == whole.records
    assert load_records(tmp_path / 'cut.mi.jsonl') == load_records(tmp_path / 'whole.mi.jsonl')


@pytest.mark.parametrize('keep', [1, 5, 11])
def test_step_cut_short_in_the_file_is_measured_again(probe, tmp_path, keep):
    "A crash while a step is written leaves some of its lines (and a broken one): resume drops it and measures it again."
    whole = _run(small_net(), probe, tmp_path / 'whole.jsonl', range(3))
    p = tmp_path / 'cut.jsonl'
    _run(small_net(), probe, p, range(3))
    lines = p.read_text().splitlines(keepends=True)
    per_step = len(lines) // 3
    p.write_text(''.join(lines[:2 * per_step + keep]) + '{"step": 2, "lay')  # step 2 with `keep` records, then a cut
    with pytest.warns(UserWarning, match='was cut short'):
        resumed = InfoFlow(small_net(), probe, estimators=ESTIMATORS[:2], scales=(4,), path=p, mi_matrix_every=1,
                           resume=True)
    assert resumed.steps == [0, 1] and len(load_records(p)) == 2 * per_step
    resumed.measure(2, epoch=2.0)
    assert load_records(p) == whole.records
    assert load_records(tmp_path / 'cut.mi.jsonl') == load_records(tmp_path / 'whole.mi.jsonl')


def test_incomplete_step_before_the_last_is_damage(probe, tmp_path):
    p = tmp_path / 'r.jsonl'
    _run(small_net(), probe, p, range(3))
    lines = p.read_text().splitlines(keepends=True)
    p.write_text(''.join(lines[:3] + lines[4:]))  # one record of step 0 lost
    with pytest.raises(ValueError, match='step 0 holds .* and it is not the last step; the file is damaged'):
        _run(small_net(), probe, p, [], resume=True)


@pytest.mark.parametrize('change, msg', [
    (dict(estimators=[ESTIMATORS[0], ESTIMATORS[1].replace(alpha=3)]), 'estimator tensor/knn5/a3 alpha: 2.0 in the file, 3.0 now'),
    (dict(n=40), 'n: 48 in the file, 40 now'),
    (dict(probe_seed=1), 'probe: another probe batch'),
    (dict(scales=(0.5,)), r'scales: \[4.0\] in the file, \[0.5\] now'),
    (dict(layers=['2']), "layers: \\['2', '6', '7'\\] in the file, \\['2'\\] now"),
    (dict(pid=True), 'pid: False in the file, True now'),
])
def test_resume_with_other_settings_is_refused(probe, tmp_path, change, msg):
    p = tmp_path / 'r.jsonl'
    net = small_net()
    InfoFlow(net, probe, estimators=ESTIMATORS[:2], scales=(4,), path=p).measure(0)
    x, y = probe
    if 'n' in change: x, y = x[:change.pop('n')], y[:40]
    if 'probe_seed' in change: change.pop('probe_seed'); x = x + 0.01
    kw = {**dict(estimators=ESTIMATORS[:2], scales=(4,)), **change}
    with pytest.raises(ValueError, match='resume=True with other settings than those that wrote'):
        InfoFlow(net, (x, y), path=p, resume=True, **kw)
    with pytest.raises(ValueError, match=msg): InfoFlow(net, (x, y), path=p, resume=True, **kw)
    assert len(load_records(p)) == 2 * 2 * 3  # untouched


def test_resume_of_a_file_without_settings_compares_its_records(probe, tmp_path):
    "A records file written before settings files existed: its records' own settings are compared."
    p = tmp_path / 'r.jsonl'
    InfoFlow(small_net(), probe, k=5, path=p).measure(0)
    (tmp_path / 'r.settings.json').unlink()
    assert InfoFlow(small_net(), probe, k=5, path=p, resume=True).steps == [0]
    (tmp_path / 'r.settings.json').unlink()
    with pytest.raises(ValueError, match='alpha: 1.01 in the file, 2.0 now'):
        InfoFlow(small_net(), probe, k=5, alpha=2, path=p, resume=True)


def test_a_run_is_never_emptied_without_being_asked(probe, tmp_path):
    p = tmp_path / 'r.jsonl'
    InfoFlow(small_net(), probe, k=5, path=p).measure(0)
    before = p.read_text()
    with pytest.raises(FileExistsError, match='pass resume=True to continue it or overwrite=True to replace it'):
        InfoFlow(small_net(), probe, k=5, path=p)
    assert p.read_text() == before
    f = InfoFlow(small_net(), probe, k=5, path=p, overwrite=True)
    assert f.records == [] and p.read_text() == ''
    (tmp_path / 'empty.jsonl').write_text('')
    InfoFlow(small_net(), probe, k=5, path=tmp_path / 'empty.jsonl')  # an empty file holds no run: fine
    settings = json.loads((tmp_path / 'r.settings.json').read_text())
    assert settings['n'] == 48 and settings['estimators'][0]['name'] == 'tensor/knn5/a1.01'


# ---- the experiment notebooks' former trackers: InfoFlow with several estimators gives their numbers ---------------------
# Notebooks 50 and 51 saved their results (nbs/results/) with trackers of their own, RuleTracker and PlaneTracker, which
# computed each rule's estimates one layer and scale at a time with infonb.renyi's general functions. Their code is kept
# here as the reference: on a small run InfoFlow(estimators=..., scales=...) must give the same records.
from infonb.renyi import is_saturated
import math

RULES_50 = {'silverman-fixed': dict(mode='hadamard', width='silverman', standardize=False),
            'hadamard-knn10': dict(mode='hadamard', width='knn', k=10), 'tensor-knn10': dict(mode='tensor', width='knn', k=10),
            'tensor-knn50': dict(mode='tensor', width='knn', k=50), 'tensor-median': dict(mode='tensor', width='median')}


class RuleTracker:  # notebook 50's former tracker, as it was (the API calls updated)
    def __init__(self, model, probe, rules, scales=(0.25, 4.0), alpha=1.01):
        self.model, (self.x, self.y), self.rules, self.scales, self.alpha = model, probe, rules, scales, alpha
        self.Ky = label_gram(self.y)
        self.Kx = {name: layer_gram(self.x, **kw)[0] for name, kw in rules.items()}
        self.S_X = {name: float(renyi_entropy(K, alpha)) for name, K in self.Kx.items()}
        self.S_Y = float(renyi_entropy(self.Ky, alpha))
        self.records, self.matrices = [], []

    def measure(self, step, epoch=0.0, **_):
        acts = layer_outputs(self.model, self.x)
        for name, kw in self.rules.items():
            Kx, grams = self.Kx[name], {}
            for depth, (layer, t) in enumerate(acts.items(), 1):
                rec = dict(rule=name, step=step, epoch=epoch, layer=layer, depth=depth)
                for s in (1.0,) + tuple(self.scales):
                    K, w = layer_gram(t * s, **kw, name=layer)
                    if s == 1.0: grams[layer] = K
                    S_T, S_XT, S_TY = renyi_entropy(torch.stack([K, K * Kx, K * self.Ky]), self.alpha).tolist()
                    tag = '' if s == 1.0 else f'@{s:g}'
                    rec.update({f'H_T{tag}': S_T, f'I_XT{tag}': self.S_X[name] + S_T - S_XT,
                                f'I_TY{tag}': S_T + self.S_Y - S_TY})
                    if s == 1.0: rec.update(saturated=bool(is_saturated(K)) or S_T > math.log2(len(K)) - 0.1)
                self.records.append(rec)
            if epoch > 0 and float(epoch).is_integer():
                names = ['X'] + list(acts)
                Ks = torch.stack([Kx] + [grams[l] for l in acts])
                H = renyi_entropy(Ks, self.alpha)
                i, j = torch.triu_indices(len(names), len(names), 1)
                Hij = renyi_entropy(Ks[i] * Ks[j], self.alpha)
                M = torch.diag(H)
                M[i, j] = M[j, i] = H[i] + H[j] - Hij
                self.matrices.append(dict(rule=name, epoch=epoch, step=step, names=names, mi=M.tolist()))


class PlaneTracker:  # notebook 51's former tracker, as it was (the API calls updated)
    def __init__(self, model, probe, rules, alpha=1.01):
        self.model, (self.x, self.y), self.rules, self.alpha = model, probe, rules, alpha
        self.Ky = label_gram(self.y)
        self.Kx = {r: layer_gram(self.x, **kw)[0] for r, kw in rules.items()}
        self.base = {r: renyi_entropy(torch.stack([K, self.Ky, K * self.Ky]), alpha).tolist() for r, K in self.Kx.items()}
        self.records = []

    def measure(self, step, epoch=0.0, **_):
        acts = layer_outputs(self.model, self.x)
        for rule, kw in self.rules.items():
            Kx, Ky = self.Kx[rule], self.Ky
            S_X, S_Y, S_XY = self.base[rule]
            for depth, (layer, t) in enumerate(acts.items(), 1):
                K, _ = layer_gram(t, **kw, name=layer)
                S_T, S_XT, S_TY, S_XTY = renyi_entropy(torch.stack([K, K * Kx, K * Ky, K * Kx * Ky]), self.alpha).tolist()
                self.records.append(dict(rule=rule, step=step, epoch=epoch, layer=layer, depth=depth, H_T=S_T,
                                         I_XT=S_X + S_T - S_XT, I_TY=S_T + S_Y - S_TY, I_XT_Y=S_XY + S_TY - S_XTY - S_Y))


def _two_points(tracker, net, probe):
    "Measure at step 0, take one training step, measure at the end of epoch 1."
    tracker.measure(0, epoch=0.0)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    net.train()
    torch.manual_seed(1)  # the same dropout masks for every tracker's run
    nn.functional.cross_entropy(net(probe[0]), probe[1]).backward()
    opt.step(); opt.zero_grad()
    tracker.measure(1, epoch=1.0)


def test_infoflow_gives_the_rule_trackers_numbers(probe):
    n = len(probe[1])
    old_net, new_net = small_net(), small_net()
    old = RuleTracker(old_net, probe, RULES_50)
    _two_points(old, old_net, probe)
    new = InfoFlow(new_net, probe, estimators=[Estimator(**kw, tag=name) for name, kw in RULES_50.items()],
                   scales=(0.25, 4.0), mi_matrix_every=1, layers=list(layer_outputs(new_net, probe[0])))
    _two_points(new, new_net, probe)
    tol = mi_resolution(n)  # class blocks against the whole joint matrices: other eigendecompositions
    at = {(r['estimator'], r['step'], r['layer'], r['scale']): r for r in new.records}
    for r in old.records:
        for s in (1.0, 0.25, 4.0):
            got, tag = at[(r['rule'], r['step'], r['layer'], s)], '' if s == 1.0 else f'@{s:g}'
            for q in ('H_T', 'I_XT', 'I_TY'): assert got[q] == pytest.approx(r[q + tag], abs=tol), (r['rule'], q, s)
        assert at[(r['rule'], r['step'], r['layer'], 1.0)]['saturated'] == r['saturated']
    mats = {m['estimator']: m for m in new.mi_matrices if m['epoch'] == 1.0}
    assert len(old.matrices) == len(RULES_50)
    for m in old.matrices:
        M = np.array(mats[m['rule']]['M'])[:-1, :-1]  # InfoFlow's matrix has Y's row and column too
        assert mats[m['rule']]['names'][:-1] == m['names']
        np.testing.assert_allclose(M, np.array(m['mi']), rtol=0, atol=tol)


def test_infoflow_gives_the_plane_trackers_numbers(probe):
    rules = {'tensor-knn10': RULES_50['tensor-knn10'], 'hadamard-knn10': RULES_50['hadamard-knn10']}
    old_net, new_net = small_net(), small_net()
    old = PlaneTracker(old_net, probe, rules)
    _two_points(old, old_net, probe)
    new = InfoFlow(new_net, probe, estimators=[Estimator(**kw, tag=name) for name, kw in rules.items()],
                   layers=list(layer_outputs(new_net, probe[0])))
    _two_points(new, new_net, probe)
    tol = mi_resolution(len(probe[1]), terms=4)  # a conditional MI of four entropies, other eigendecompositions
    at = {(r['estimator'], r['step'], r['layer']): r for r in new.records}
    assert len(new.records) == len(old.records)
    for r in old.records:
        got = at[(r['rule'], r['step'], r['layer'])]
        for q in ('H_T', 'I_XT', 'I_TY', 'I_XT_Y'): assert got[q] == pytest.approx(r[q], abs=tol), (r['rule'], q)
