import math

import numpy as np
import pytest
import torch

from conftest import golden
from fungi_hb.fungi.loss import patch_info_nce


def slow_loss(z: torch.Tensor, n: torch.Tensor, tau: float) -> torch.Tensor:
    """METHOD section 6 step 3 for one image, term by term."""
    z = torch.nn.functional.normalize(z, dim=-1)
    n = torch.nn.functional.normalize(n, dim=-1)
    t = z.shape[0]
    total = 0.0
    for a in range(t):
        others = [b for b in range(t) if b != a]
        attract = -sum(torch.dot(z[a], z[b]) for b in others) / (t - 1) / tau
        denom = sum(torch.exp(torch.dot(z[a], m)) for m in n) + sum(torch.exp(torch.dot(z[a], z[b])) for b in others)
        total = total + attract + torch.log(denom)
    return total / t


def test_golden_value_and_published_gradient():
    g = golden("info_nce.npz")
    positives = torch.from_numpy(g["positives"]).requires_grad_(True)
    loss = patch_info_nce(positives[None], torch.from_numpy(g["negatives"])[None], None, float(g["temperature"]))
    assert loss.item() == pytest.approx(float(g["expected_loss"]), abs=1e-6)
    (grad,) = torch.autograd.grad(loss, positives)
    expected = torch.from_numpy(g["expected_grad"])
    # the published gradient was computed in float16: relative error < 2e-3
    assert ((grad - expected).norm() / expected.norm()).item() < 2e-3


def test_batched_masked_loss_equals_per_image_loop():
    torch.manual_seed(0)
    z, n = torch.randn(3, 9, 6, dtype=torch.float64), torch.randn(3, 12, 6, dtype=torch.float64)
    mask = torch.rand(3, 12) < 0.5
    batched = patch_info_nce(z, n, mask, 0.07).double()
    loop = sum(slow_loss(z[i].float(), n[i][mask[i]].float(), 0.07) for i in range(3)) / 3
    assert batched.item() == pytest.approx(loop.item(), rel=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_finite_in_low_precision(dtype):
    g = golden("info_nce.npz")
    positives = torch.from_numpy(g["positives"]).to(dtype).requires_grad_(True)
    loss = patch_info_nce(positives[None], torch.from_numpy(g["negatives"]).to(dtype)[None], None, 0.07)
    assert math.isfinite(loss.item())
    (grad,) = torch.autograd.grad(loss, positives)
    assert torch.isfinite(grad).all()
    assert loss.item() == pytest.approx(float(g["expected_loss"]), rel=2e-2)


def test_all_negatives_dropped_still_finite():
    z, n = torch.randn(2, 5, 4), torch.randn(2, 6, 4)
    loss = patch_info_nce(z, n, torch.zeros(2, 6, dtype=torch.bool), 0.07)
    assert np.isfinite(loss.item())
