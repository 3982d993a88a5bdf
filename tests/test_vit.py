"""The small vision transformer: shapes, measured layers, one training step, and its outputs measured."""
import torch
import pytest
from infonb.vit import ViT
from infonb.hooks import layer_outputs

@pytest.mark.parametrize('channels, size', [(1, 28), (3, 32)])
def test_shapes_and_layers(channels, size):
    torch.manual_seed(0)
    vit = ViT(channels, image_size=size, dim=16, depth=2, heads=2, mlp=32)
    acts = layer_outputs(vit, torch.randn(5, channels, size, size))
    tokens = (size // 4) ** 2 + 1
    assert list(acts) == ['embed', 'blocks.0', 'blocks.1', 'head']
    assert acts['blocks.1'].shape == (5, tokens, 16) and acts['head'].shape == (5, 10)

def test_trains():
    torch.manual_seed(0)
    vit = ViT(dim=16, depth=1, heads=2, mlp=32)
    opt = torch.optim.Adam(vit.parameters(), 1e-2)
    x, y = torch.randn(32, 1, 28, 28), torch.arange(32) % 10
    losses = []
    for _ in range(20):
        opt.zero_grad(); loss = torch.nn.functional.cross_entropy(vit(x), y); loss.backward(); opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]  # memorises 32 random images
