"""infonb.estimator: every field validated once (booleans are not numbers), names, presets, the one place where
keyword arguments become an Estimator, and the JSON round trip."""
import dataclasses, json
import pytest
import torch
from hypothesis import given, settings, strategies as st

from infonb.estimator import Estimator, as_estimator, GRAM_MODES, LABEL_KERNELS


def test_default_and_paper():
    assert Estimator() == Estimator(alpha=1.01, width='knn', k=10, mode='tensor', label_kernel='delta', method='exact')
    assert Estimator.paper() == Estimator(mode='hadamard', width='knn', k=10, alpha=1.01)
    assert Estimator.paper(alpha=2).alpha == 2.0
    assert Estimator().name == 'tensor/knn10/a1.01' and Estimator.paper().name == 'hadamard/knn10/a1.01'


@pytest.mark.parametrize('kw, name', [
    (dict(), 'tensor/knn10/a1.01'),
    (dict(k=50), 'tensor/knn50/a1.01'),
    (dict(mode='hadamard_sqrtC', width='median', alpha=2, method='lanczos'), 'hadamard_sqrtC/median/a2/lanczos'),
    (dict(mode='hadamard', width='silverman', standardize=False), 'hadamard/silverman(raw)/a1.01'),
    (dict(width='scott', gamma=2.0, standardize=False), 'tensor/scott(g=2,raw)/a1.01'),
    (dict(width='median', gamma=2.0), 'tensor/median/a1.01'),  # gamma does not act on the median rule
    (dict(width=0.5, alpha=1), 'tensor/w0.5/a1'),
    (dict(label_kernel='onehot'), 'tensor/knn10/a1.01/onehot'),
    (dict(tag='paper'), 'paper'),
])
def test_names(kw, name):
    assert Estimator(**kw).name == name


@pytest.mark.parametrize('kw, err, msg', [
    (dict(alpha=0), ValueError, 'alpha must be a finite number > 0'),
    (dict(alpha=float('nan')), ValueError, 'alpha must be a finite number > 0'),
    (dict(alpha=True), ValueError, 'alpha must be a finite number > 0'),
    (dict(width=True), TypeError, 'width must be a rule name, a positive number or a callable'),
    (dict(width=False), TypeError, 'got the boolean False'),
    (dict(width='widest'), ValueError, "unknown width rule 'widest'"),
    (dict(width=-1.0), ValueError, 'must be finite and > 0'),
    (dict(width=torch.ones(3)), TypeError, 'not a tensor of widths'),
    (dict(width=[1.0]), TypeError, 'width must be a rule name'),
    (dict(k=True), ValueError, 'k must be an integer >= 1'),
    (dict(k=0), ValueError, 'k must be an integer >= 1'),
    (dict(k=3.0), ValueError, 'k must be an integer >= 1'),
    (dict(gamma=True), ValueError, 'gamma must be a finite number > 0'),
    (dict(gamma=-1), ValueError, 'gamma must be a finite number > 0'),
    (dict(standardize=1), ValueError, 'standardize must be True or False'),
    (dict(standardize='yes'), ValueError, 'standardize must be True or False'),
    (dict(mode='product'), ValueError, "unknown mode 'product'; choose one of ['tensor', 'hadamard', 'hadamard_sqrtC']"),
    (dict(mode=None), ValueError, 'unknown mode None'),
    (dict(label_kernel='cos'), ValueError, "unknown label_kernel 'cos'; choose one of ['delta', 'onehot']"),
    (dict(method='magic'), ValueError, "unknown entropy method 'magic'"),
    (dict(tag=''), ValueError, 'tag must be a non-empty string or None'),
    (dict(tag=3), ValueError, 'tag must be a non-empty string or None'),
])
def test_rejected_fields(kw, err, msg):
    with pytest.raises(err, match=msg.replace('(', r'\(').replace(')', r'\)').replace('[', r'\[').replace(']', r'\]')):
        Estimator(**kw)


def test_frozen_hashable_and_normalised():
    e = Estimator(alpha=2, width=1)
    assert e.alpha == 2.0 and isinstance(e.alpha, float) and e.width == 1.0 and isinstance(e.width, float)
    with pytest.raises(dataclasses.FrozenInstanceError): e.alpha = 3
    assert len({Estimator(), Estimator(), Estimator(alpha=2)}) == 2
    assert Estimator(width=torch.tensor(0.5)).width == 0.5
    assert e.replace(alpha=1.01) == Estimator(width=1.0)
    with pytest.raises(ValueError, match='alpha must be a finite number > 0'): e.replace(alpha=-1)
    assert e.width_options == dict(k=10, gamma=1.0, standardize=True)
    assert Estimator().gram_key == Estimator(alpha=2, method='lanczos', label_kernel='onehot').gram_key
    assert Estimator().gram_key != Estimator(mode='hadamard').gram_key
    assert repr(Estimator(k=5, mode='hadamard')) == "Estimator(k=5, mode='hadamard')"


def test_methods_of_infonb_approx_are_known():
    e = Estimator(method='lanczos')  # registered on demand by infonb.approx
    assert e.method == 'lanczos' and e.name == 'tensor/knn10/a1.01/lanczos'


def test_as_estimator():
    p = Estimator.paper()
    assert as_estimator() == Estimator()
    assert as_estimator(alpha=2, mode='hadamard') == Estimator(alpha=2, mode='hadamard')
    assert as_estimator(default=p, k=5) == Estimator(mode='hadamard', k=5)
    assert as_estimator(default=p) is p
    assert as_estimator(p) is p and as_estimator(p, mode='hadamard', alpha=1.01) is p  # agreeing keywords are fine
    with pytest.raises(ValueError, match=r"mode='tensor' \(the estimator has 'hadamard'\), k=3 \(the estimator has 10\)"):
        as_estimator(p, mode='tensor', k=3)
    with pytest.raises(ValueError, match=r'estimator.replace\(k=3\)'): as_estimator(p, k=3)
    with pytest.raises(TypeError, match="unknown estimator options \\['label_blocks', 'sigma'\\]"):
        as_estimator(sigma=1.0, label_blocks=False)
    with pytest.raises(TypeError, match='estimator must be an infonb.estimator.Estimator or None, got str'):
        as_estimator('hadamard')
    with pytest.raises(TypeError, match='got dict'): as_estimator(dict(alpha=2))
    with pytest.raises(ValueError, match='k must be an integer >= 1'): as_estimator(k=True)


@settings(max_examples=40)
@given(alpha=st.floats(0.05, 5), width=st.one_of(st.sampled_from(['knn', 'median', 'silverman', 'scott']),
                                                 st.floats(1e-3, 1e3)),
       k=st.integers(1, 100), gamma=st.floats(0.1, 10), standardize=st.booleans(), mode=st.sampled_from(GRAM_MODES),
       label_kernel=st.sampled_from(LABEL_KERNELS), tag=st.one_of(st.none(), st.text(min_size=1, max_size=8).filter(str.strip)))
def test_to_dict_round_trip(alpha, width, k, gamma, standardize, mode, label_kernel, tag):
    e = Estimator(alpha=alpha, width=width, k=k, gamma=gamma, standardize=standardize, mode=mode,
                  label_kernel=label_kernel, tag=tag)
    d = json.loads(json.dumps(e.to_dict(), allow_nan=False))  # plain JSON
    assert d['name'] == e.name
    assert Estimator.from_dict(d) == e


def test_callable_width():
    def my_rule(t): return t.std(-2).mean(-1)
    e = Estimator(width=my_rule)
    assert e.name == 'tensor/my_rule/a1.01' and e.to_dict()['width'] == 'callable:my_rule'
    with pytest.raises(ValueError, match='was a callable; pass it'): Estimator.from_dict(e.to_dict())
    assert Estimator.from_dict(e.to_dict(), width=my_rule) == e
    with pytest.raises(ValueError, match=r"unknown estimator fields \['sigma'\]"): Estimator.from_dict(dict(sigma=1))
