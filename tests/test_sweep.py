"""Tests of infonb.sweep: `recommend_filters` on synthetic curves and bad input, summaries and result files, and a tiny
end-to-end sweep (one layer, two counts, one seed) through `main`."""
import json, math
import numpy as np
import pytest
from infonb.sweep import (recommend_filters, summarize, curve, recommend_from_sweep, save_sweep, load_sweep,
                          FilterRecommendation)

COUNTS = [1, 2, 4, 6, 8, 16, 32, 64]
C = np.array(COUNTS, dtype=float)

def saturating(c, top=3.0, scale=3.0): return top * (1 - np.exp(-c / scale))

# --- synthetic curves ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('scale', [1.0, 3.0, 8.0])
@pytest.mark.parametrize('tol', [0.02, 0.05, 0.1, 0.2])
def test_saturating_curve_gives_smallest_count_within_tol(scale, tol):
    mi = saturating(C, scale=scale)
    r = recommend_filters(COUNTS, mi, tol=tol)
    # the exact answer: the smallest count whose value is within tol of the largest value, all later ones too
    ok = mi >= mi.max() * (1 - tol) - 1e-12
    first = next(i for i in range(len(ok)) if ok[i:].all())
    assert r.count == COUNTS[first]
    assert r.saturated == (first < len(COUNTS) - 1)
    assert isinstance(r, FilterRecommendation) and r.counts == tuple(COUNTS)

def test_recommendation_shrinks_as_tolerance_grows():
    mi = saturating(C)
    picks = [recommend_filters(COUNTS, mi, tol=t).count for t in (0.0, 0.01, 0.05, 0.1, 0.3, 0.6)]
    assert picks == sorted(picks, reverse=True), picks
    assert picks[0] == 64 and picks[-1] <= 2

def test_linear_curve_is_not_saturated():
    for slope in (0.01, 0.05, 1.0):
        r = recommend_filters(COUNTS, slope * C)
        assert r.count == 64 and not r.saturated

def test_scale_invariance_of_the_rule():
    "Multiplying the curve by a constant (bits -> nats, say) changes nothing with scale='plateau' or 'range'."
    mi = saturating(C)
    for scale in ('plateau', 'range'):
        a = recommend_filters(COUNTS, mi, scale=scale)
        b = recommend_filters(COUNTS, mi * math.log(2), scale=scale)
        assert a.count == b.count

def test_range_scale_ignores_an_offset():
    mi = saturating(C, top=2.0)
    a = recommend_filters(COUNTS, mi, scale='range')
    b = recommend_filters(COUNTS, mi + 100.0, scale='range')
    assert a.count == b.count == 16
    assert recommend_filters(COUNTS, mi + 100.0).count == 1  # 5% of 102 bits swallows the 2-bit rise

def test_noisy_curves_stay_close_to_the_noise_free_answer():
    rng = np.random.default_rng(1)
    clean = recommend_filters(COUNTS, saturating(C), tol=0.05).count
    picks = []
    for _ in range(50):
        noisy = saturating(C)[:, None] + rng.normal(0, 0.1, (len(C), 3))
        r = recommend_filters(COUNTS, noisy, tol=0.05)
        assert r.saturated
        picks.append(r.count)
    # noise can make the rule stop a step or two earlier (the band widens), never at the bottom of the curve
    assert min(picks) >= 4 and max(picks) <= 64
    assert np.median(picks) <= clean

def test_more_noise_widens_the_band():
    mi = np.repeat(saturating(C)[:, None], 4, 1)
    jitter = np.array([-1.0, 1.0, -1.0, 1.0])
    picks = [recommend_filters(COUNTS, mi + s * jitter, tol=0.01).count for s in (0.0, 0.05, 0.2, 0.5)]
    assert picks == sorted(picks, reverse=True), picks
    assert recommend_filters(COUNTS, mi + 0.5 * jitter, tol=0.01, z=0).count == picks[0]

def test_seeds_as_columns_equal_a_single_curve_without_noise():
    mi = saturating(C)
    a = recommend_filters(COUNTS, mi)
    b = recommend_filters(COUNTS, np.repeat(mi[:, None], 5, 1))
    assert a.count == b.count and a.sem == (0.0,) * len(COUNTS) and max(b.sem) < 1e-12

def test_unsorted_counts_are_sorted_with_their_rows():
    mi = saturating(C)[:, None] + np.random.default_rng(0).normal(0, 0.05, (len(C), 3))
    perm = np.random.default_rng(2).permutation(len(C))
    assert recommend_filters(np.array(COUNTS)[perm], mi[perm]) == recommend_filters(COUNTS, mi)
    assert recommend_filters([64, 1, 8], [3.0, 1.0, 2.9]).counts == (1, 8, 64)

# --- bad input -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('counts, mi, match', [
    ([1, 2, 2, 4], [1, 2, 2, 3], r'duplicates \[2\]'),
    ([4, 4], [1, 1], r'duplicates \[4\]'),
    ([1, 2, 4], [1, 2], r'shape \(3,\) or \(3, seeds\)'),
    ([1, 2], [[1, 2, 3]], r'got shape \(1, 3\)'),
    ([1, 2, 4], [1, float('nan'), 3], r'at count 2'),
    ([1, 2], [[1, 1], [float('nan'), 2]], r'at count 2 \(seed column 0\)'),
    ([1, 2], [1, float('-inf')], r'non-finite'),
    ([1], [1.0], r'at least 2'),
    ([], [], r'at least 2'),
    ([[1, 2], [3, 4]], [1, 2], r'1-D'),
    ([0, 1], [1, 2], r'positive integers'),
    ([-2, 1], [1, 2], r'positive integers'),
    ([1.0, 2.0], [1, 2], r'positive integers'),
    (['1', '2'], [1, 2], r'positive integers'),
])
def test_bad_input_is_rejected(counts, mi, match):
    with pytest.raises(ValueError, match=match): recommend_filters(counts, mi)

@pytest.mark.parametrize('kw, match', [(dict(tol=-0.1), 'tol'), (dict(tol=1.0), 'tol'), (dict(tol=float('nan')), 'tol'),
                                       (dict(z=-1), 'z must'), (dict(plateau='median'), 'plateau'), (dict(scale='x'), 'scale')])
def test_bad_options_are_rejected(kw, match):
    with pytest.raises(ValueError, match=match): recommend_filters([1, 2], [1, 2], **kw)

# --- records, summaries and files ------------------------------------------------------------------------------------

def fake_records(counts=(1, 2, 4, 8), seeds=(0, 1, 2), layer='conv1', dataset='fashion-mnist'):
    rng = np.random.default_rng(3)
    recs = []
    for c in counts:
        for s in seeds:
            recs.append(dict(dataset=dataset, layer=layer, count=c, seed=s, label_mi=float(saturating(c, scale=1.5) + rng.normal(0, .02)),
                             rst=float('nan') if c == 1 else -0.5 + 0.01 * c, wni=float('nan') if c == 1 else 0.2,
                             test_acc=0.7 + 0.01 * min(c, 4) + rng.normal(0, 0.005)))
    return recs

def test_summarize_and_curve():
    recs = fake_records()
    rows = summarize(recs, ('label_mi', 'rst', 'test_acc'))
    assert [r['count'] for r in rows] == [1, 2, 4, 8] and all(r['seeds'] == 3 for r in rows)
    assert rows[0]['n_rst'] == 0 and math.isnan(rows[0]['mean_rst']) and rows[1]['n_rst'] == 3
    vals = [r['label_mi'] for r in recs if r['count'] == 4]
    assert math.isclose(rows[2]['mean_label_mi'], np.mean(vals), abs_tol=1e-12)
    assert math.isclose(rows[2]['sd_label_mi'], np.std(vals, ddof=1), abs_tol=1e-12)
    counts, table = curve(recs, 'fashion-mnist', 'conv1')
    assert counts.tolist() == [1, 2, 4, 8] and table.shape == (4, 3)
    with pytest.raises(ValueError, match='no records'): curve(recs, 'mnist', 'conv1')
    with pytest.raises(ValueError, match='empty'): summarize([])

def test_recommend_from_sweep_reports_the_accuracy_cost():
    recs = fake_records()
    r = recommend_from_sweep(recs, 'fashion-mnist', 'conv1', tol=0.05)
    assert r['count'] in (4, 8) and r['best_acc_count'] in (4, 8)
    assert r['acc_loss'] >= 0 and math.isclose(r['best_acc'] - r['acc_at_count'], r['acc_loss'])

def test_save_and_load_round_trip(tmp_path):
    recs = fake_records()
    path = save_sweep(recs, tmp_path, config=dict(counts=[1, 2, 4, 8]))
    assert json.loads(path.read_text())['records'][0]['rst'] is None  # NaN stored as null: valid JSON
    back, cfg = load_sweep(path)
    assert cfg == dict(counts=[1, 2, 4, 8]) and len(back) == len(recs)
    assert math.isnan(back[0]['rst']) and back[5]['label_mi'] == recs[5]['label_mi']
    assert (tmp_path/'sweep.csv').read_text().count('\n') == len(recs) + 1
    assert (tmp_path/'sweep_summary.csv').exists()
    (tmp_path/'bad.json').write_text('[1, 2]')
    with pytest.raises(ValueError, match='not a sweep file'): load_sweep(tmp_path/'bad.json')

# --- end to end ------------------------------------------------------------------------------------------------------

def test_main_writes_its_files_and_resumes(tmp_path, capsys):
    from infonb.sweep import main
    args = ['--dataset', 'fashion-mnist', '--counts', '1', '2', '--n-train', '300', '--n-test', '100', '--probe-size', '30',
            '--out', str(tmp_path), '--quiet', '--threads', '1']
    assert main(args) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ['recommendation.json', 'sweep.csv', 'sweep.json', 'sweep.png', 'sweep_summary.csv']
    recs, cfg = load_sweep(tmp_path/'sweep.json')
    assert [(r['layer'], r['count'], r['seed']) for r in recs] == [('conv1', 1, 0), ('conv1', 2, 0)]
    assert math.isnan(recs[0]['rst']) and -1 <= recs[1]['rst'] <= 1 and 0 <= recs[1]['wni'] <= 1
    assert cfg['counts'] == [1, 2] and cfg['dataset'] == 'fashion-mnist'
    rec = json.loads((tmp_path/'recommendation.json').read_text())
    assert rec[0]['layer'] == 'conv1' and rec[0]['count'] in (1, 2)
    out = capsys.readouterr().out
    assert 'recommend' in out and 'wrote' in out
    # --resume with one more count trains only the new one
    assert main(args[:3] + ['2', '4'] + args[5:] + ['--resume']) == 0
    recs, _ = load_sweep(tmp_path/'sweep.json')
    assert [r['count'] for r in recs] == [1, 2, 4]

def _no_cuda():
    import torch
    return ['--device', 'cuda'] if not torch.cuda.is_available() else ['--device', f'cuda:{torch.cuda.device_count()}']

@pytest.mark.parametrize('bad, name', [(['--counts', '0'], '--counts'), (['--counts', '2', '2'], '--counts'),
                                        (['--counts', '5000'], '--counts'), (['--seeds', '-1'], '--seeds'),
                                        (['--seeds', '1', '1'], '--seeds'), (['--seeds', '1e23'], '--seeds'),
                                        (['--probe-size', '55'], '--probe-size'), (['--probe-size', '1'], '--probe-size'),
                                        (['--layers', 'fc1'], '--layers'), (['--tol', '1.5'], '--tol'),
                                        (['--tol', 'nan'], '--tol'), (['--epochs', 'x'], '--epochs'),
                                        (['--epochs', '0'], '--epochs'), (['--alpha', '-1'], '--alpha'),
                                        (['--alpha', 'nan'], '--alpha'), (['--alpha', 'inf'], '--alpha'),
                                        (['--lr', 'inf'], '--lr'), (['--k', '0'], '--k'), (['--n-train', '0'], '--n-train'),
                                        (['--n-train', '70000'], '--n-train'), (['--n-test', '20000'], '--n-test'),
                                        (['--batch-size', '0'], '--batch-size'), (['--threads', '0'], '--threads'),
                                        (['--dataset', 'imagenet'], '--dataset'), (_no_cuda(), '--device'),
                                        (['--device', 'tpu'], '--device'), (['--resume', '--overwrite'], '--overwrite')])
def test_main_rejects_bad_options(bad, name, capsys, monkeypatch, tmp_path):
    "Each bad option: exit status 2, one line naming it, before any data is loaded."
    import infonb.sweep
    monkeypatch.setattr(infonb.sweep, 'sweep_data', lambda *a, **k: pytest.fail('data loaded before the options were checked'))
    from infonb.sweep import main
    with pytest.raises(SystemExit) as e: main([*bad, '--out', str(tmp_path/'out')])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(f'infonb sweep: error: argument {name}') and err.count('\n') == 1, err
    assert not (tmp_path/'out').exists()

def test_main_rejects_bad_folders(tmp_path, capsys):
    from infonb.sweep import main
    (tmp_path/'f').write_text('')
    for bad, name in ((['--out', str(tmp_path/'f')], '--out'), (['--out', str(tmp_path/'f'/'x')], '--out'),
                      (['--root', str(tmp_path/'f')], '--root')):
        with pytest.raises(SystemExit) as e: main(bad)
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.startswith(f'infonb sweep: error: argument {name}: ') and 'is a file' in err

def test_help_prints_each_default_once(capsys):
    from infonb.sweep import main
    with pytest.raises(SystemExit): main(['--help'])
    blocks = capsys.readouterr().out.split('\n  --')[1:]
    assert len(blocks) > 15
    for b in blocks: assert ' '.join(b.split()).count('(default') <= 1 and 'default: None' not in b, b

def test_a_sweep_folder_is_kept_and_locked(tmp_path, capsys):
    from infonb.sweep import main
    from infonb.records import RunLock
    (tmp_path/'sweep.json').write_text(json.dumps({'config': {}, 'records': []}))
    with pytest.raises(SystemExit) as e: main(['--out', str(tmp_path), '--quiet'])
    err = capsys.readouterr().err
    assert e.value.code == 2 and f'argument --out: {tmp_path} holds a sweep (sweep.json); continue it with --resume' in err
    with RunLock(tmp_path, 'infonb sweep'):
        with pytest.raises(SystemExit) as e: main(['--out', str(tmp_path), '--resume', '--quiet'])
    assert e.value.code == 2 and 'is in use by another infonb sweep' in capsys.readouterr().err
    (tmp_path/'sweep.json').write_bytes(b'\x00\xff')
    with pytest.raises(SystemExit) as e: main(['--out', str(tmp_path), '--resume', '--quiet'])
    assert e.value.code == 2 and 'argument --resume: ' in capsys.readouterr().err and not (tmp_path/'run.lock').exists()

def test_main_reports_a_missing_dataset(tmp_path, capsys):
    from infonb.sweep import main
    assert main(['--dataset', 'cifar10', '--root', str(tmp_path), '--out', str(tmp_path/'out'), '--quiet']) == 1
    assert 'cifar10' in capsys.readouterr().err
