"""The information-plane explorer, driven headlessly as a user would: every control changes what is drawn."""
import json
import pytest
from infonb.explore import (PLANES, as_records, explore, figure_png, plane_data, plane_figure, quantities,
                            synthetic_records)

@pytest.fixture(scope='module')
def records(): return synthetic_records(steps=range(0, 201, 20))

def drawn(ex):
    "What the explorer's figure shows: label -> (x data, y data) of each trajectory line."
    ax = ex.figure.axes[0]
    return {l.get_label(): (list(l.get_xdata()), list(l.get_ydata())) for l in ax.lines if not l.get_label().startswith('_')}

def test_slider_redraws(records):
    ex = explore(records)
    png, lines = ex.image.value, drawn(ex)
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
    assert ex.step.value == 200 and len(lines['conv1'][0]) == 11
    ex.step.value = 60
    assert ex.image.value != png
    assert drawn(ex)['conv1'][0] == plane_data(records, upto_step=60)['conv1']['x']
    assert len(drawn(ex)['fc3'][0]) == 4

def test_plane_selector_redraws(records):
    ex = explore(records)
    png = ex.image.value
    ex.plane.value = 'MIP'
    assert (ex.x.value, ex.y.value) == PLANES['MIP']
    assert ex.image.value != png
    assert drawn(ex)['fc1'][0] == [r['I_XT_Y'] for r in records if r['layer'] == 'fc1']
    ex.y.value = 'test_acc'                      # any two numeric quantities
    assert ex.plane.value == 'custom' and ex.figure.axes[0].get_ylabel() == 'test accuracy'
    ex.plane.value = 'IP'
    assert (ex.x.value, ex.y.value) == PLANES['IP']

def test_layer_selector_redraws(records):
    ex = explore(records)
    png = ex.image.value
    ex.layers.value = ('conv2', 'fc2')
    assert ex.image.value != png
    assert set(drawn(ex)) == {'conv2', 'fc2'}
    ex.layers.value = ()
    assert drawn(ex) == {}

def test_pure_figure_is_deterministic(records):
    a = figure_png(plane_figure(records, 'I_XT_Y', 'I_TY', ['fc1'], 100))
    assert a == figure_png(plane_figure(records, 'I_XT_Y', 'I_TY', ['fc1'], 100))
    assert a != figure_png(plane_figure(records, 'I_XT_Y', 'I_TY', ['fc1'], 120))

def test_inputs(records, tmp_path):
    path = tmp_path/'flow.jsonl'
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))
    assert as_records(path) == records
    assert as_records(r for r in records) == records
    class Tracker: pass
    t = Tracker(); t.records = records
    assert explore(t).records == records
    assert 'I_XT' in quantities(records) and 'width' not in quantities(records)

@pytest.mark.parametrize('kw, msg', [
    (dict(x='I_YT'), "unknown quantity x 'I_YT'; available: step, epoch, depth, H_T, I_XT, I_TY, I_XT_Y, test_acc"),
    (dict(y='layer'), "unknown quantity y 'layer'"),
    (dict(layers=['conv9']), "unknown layer 'conv9'; available: conv1, conv2, fc1, fc2, fc3"),
    (dict(upto_step=-5), 'before the first measurement'),
])
def test_rejects(records, kw, msg):
    with pytest.raises(ValueError, match=msg.replace('(', r'\(').replace(')', r'\)')): plane_figure(records, **kw)
    with pytest.raises(ValueError, match="unknown plane 'IB'"): explore(records, plane='IB')
    with pytest.raises(TypeError, match=r"to_dict\('records'\)"):
        as_records(type('DataFrame', (), {'__iter__': lambda self: iter(['a'])})())


def test_explorer_reads_records_through_infonb_records(records):
    "One reader: the explorer's as_records is infonb.records'; it draws one series of one run."
    import infonb.records
    from infonb import explore as explore_module
    assert explore_module.as_records is infonb.records.as_records
    with pytest.raises(ValueError, match="layer 'conv1' appears twice at step 0"): explore(records + records[:1])
    with pytest.raises(ValueError, match='hold 2 series'):
        explore([dict(r, estimator=e) for e in ('tensor', 'hadamard') for r in records])
    one = infonb.records.select([dict(r, estimator=e) for e in ('tensor', 'hadamard') for r in records], estimator='tensor')
    assert len(explore(one).records) == len(records)
    with pytest.raises(ValueError, match='empty'): explore([])
