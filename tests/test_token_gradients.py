"""Per-token gradients from hooks versus autograd on a network whose layer has one weight copy per token."""

import pytest
import torch
from torch import nn

from conftest import GOLDENS
from fungi_hb.fungi.loss import patch_info_nce
from fungi_hb.fungi.model import FungiModel
from fungi_hb.fungi.projection import project_token_gradients
from fungi_hb.fungi.token_gradients import record_layer, resolve_linear


def tiny_model() -> FungiModel:
    import timm

    vit = timm.models.vision_transformer.VisionTransformer(
        img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=0
    )
    vit.load_state_dict(torch.load(GOLDENS / "fungi_vit.pth"))
    return FungiModel(vit, 32, 8, seed=0)


class PerTokenLinear(nn.Module):
    """y[b, t] = x[b, t] W[b, t]^T + c[b, t]: one weight copy per (image, token)."""

    def __init__(self, linear: nn.Linear, batch: int, tokens: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(linear.weight.detach().expand(batch, tokens, -1, -1).clone())
        self.bias = nn.Parameter(linear.bias.detach().expand(batch, tokens, -1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bti,btoi->bto", x, self.weight) + self.bias


def loss_of(model: FungiModel, images: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    latents = model.fc(model.tokens(images))
    return patch_info_nce(latents, model.fc(negatives), None, 0.07)


@pytest.mark.parametrize(
    "path",
    [
        "backbone.blocks.1.attn.proj",
        "backbone.blocks.1.mlp.fc2",
        "backbone.blocks.0.attn.qkv",
        "backbone.blocks.0.mlp.fc1",
    ],
)
def test_hooked_gradients_equal_per_token_autograd(path):
    torch.manual_seed(0)
    model = tiny_model()
    images, negatives = torch.randn(2, 3, 32, 32), torch.randn(2, 10, 32)
    layer = resolve_linear(model, path)
    with record_layer(layer) as record:
        loss = loss_of(model, images, negatives)
        (d,) = torch.autograd.grad(loss, record.outputs)  # (B, T, out)
    x = record.inputs  # (B, T, in)
    hooked = torch.cat([d[..., :, None] * x[..., None, :], d[..., :, None]], dim=-1)  # (B, T, out, in+1)

    parent_path, name = path.rsplit(".", 1)
    parent = model.get_submodule(parent_path)
    expanded = PerTokenLinear(layer, 2, 17)
    setattr(parent, name, expanded)
    try:
        reference_loss = loss_of(model, images, negatives)
        dw, db = torch.autograd.grad(reference_loss, [expanded.weight, expanded.bias])
    finally:
        setattr(parent, name, layer)
    reference = torch.cat([dw, db[..., None]], dim=-1)  # (B, T, out, in+1)
    torch.testing.assert_close(hooked, reference, rtol=1e-4, atol=1e-7)
    # per-token gradients sum to the layer's full gradient
    torch.testing.assert_close(hooked.sum((0, 1)), reference.sum((0, 1)), rtol=1e-4, atol=1e-7)


def test_backward_stops_at_the_layer_and_hook_is_removed():
    model = tiny_model()
    layer = resolve_linear(model, "backbone.blocks.1.attn.proj")
    with record_layer(layer) as record:
        loss = loss_of(model, torch.randn(1, 3, 32, 32), torch.randn(1, 4, 32))
        torch.autograd.grad(loss, record.outputs)
    assert record.inputs.grad_fn is None and not record.inputs.requires_grad
    assert not layer._forward_hooks
    assert all(p.grad is None for p in model.parameters())


def test_wrong_path_names_close_layers():
    model = tiny_model()
    with pytest.raises(LookupError, match="backbone.blocks.1.attn.proj"):
        resolve_linear(model, "backbone.blocks.11.attn.proj")
    with pytest.raises(LookupError, match="not a Linear"):
        resolve_linear(model, "backbone.blocks.1.attn")


def test_projection_of_hooked_gradients_equals_dense_matrix_product():
    torch.manual_seed(1)
    x, d = torch.randn(7, 5, dtype=torch.float64), torch.randn(7, 3, dtype=torch.float64)
    r = (torch.randint(0, 2, (4, 3 * 6)) * 2 - 1).double()
    full = torch.cat([d[:, :, None] * x[:, None, :], d[:, :, None]], dim=-1).reshape(7, -1)  # (7, 18)
    torch.testing.assert_close(project_token_gradients(x, d, r), full @ r.T / 2.0)
