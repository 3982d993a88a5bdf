"""The information-bottleneck objective: exact gradients, the loss for `fit`, hooks removed on every exit."""
import pytest
import torch
import torch.nn.functional as F
from infonb.models import LeNet5
from infonb.objective import InformationBottleneck, batch_mutual_information, information_bottleneck_loss

def _batch(seed=0, n=24):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 4, 4, generator=g, dtype=torch.float64)
    w = torch.randn(16, 3, generator=g, dtype=torch.float64)
    return x, w

@pytest.mark.parametrize('alpha', [0.5, 1.0, 1.01, 2.0, 3.0])
def test_gradient_exact_fixed_width(alpha):
    x, w = _batch()
    f = lambda w: batch_mutual_information(x, torch.tanh(x.flatten(1) @ w), alpha=alpha, width=1.5)
    assert torch.autograd.gradcheck(f, (w.requires_grad_(),))

def test_gradient_exact_knn_width():
    "The k-NN width is re-chosen on the batch and differentiable: the penalty is a function of t alone."
    x, w = _batch(1)
    f = lambda w: batch_mutual_information(x, torch.tanh(x.flatten(1) @ w), width='knn', k=5)
    assert torch.autograd.gradcheck(f, (w.requires_grad_(),))

def test_scale_invariant_with_knn():
    x, w = _batch(2)
    t = torch.tanh(x.flatten(1) @ w)
    a, b = batch_mutual_information(x, t), batch_mutual_information(x, 7 * t)
    assert abs(a.item() - b.item()) < 1e-9  # the same Gram matrix up to the rounding of 7 t (about 1e-15 relative)

def test_loss_for_fit_removes_hooks_on_error():
    net = LeNet5()
    with pytest.raises(ZeroDivisionError):
        with InformationBottleneck(net, 'fc1', 0.1) as loss:
            loss(net(torch.randn(8, 1, 28, 28)), torch.arange(8) % 10)
            1 / 0
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())

def test_beta_zero_is_cross_entropy():
    logits, y = torch.randn(6, 3), torch.arange(6) % 3
    assert torch.equal(information_bottleneck_loss(logits, y, None, None, 0.0), F.cross_entropy(logits, y))
    with pytest.raises(ValueError, match='beta must be a number >= 0'):
        information_bottleneck_loss(logits, y, None, None, float('nan'))
