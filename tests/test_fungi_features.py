"""FUNGI features of the tiny goldens ViT against the published code's outputs, and against a slow
reference that takes every token's gradient with autograd on its own copy of the layer's weights."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_token_gradients import PerTokenLinear, tiny_model

from conftest import golden
from fungi_hb.fungi import FungiConfig, FungiExtractor, FungiModel, NeighborLayout, fungi_features
from fungi_hb.fungi.loss import patch_info_nce
from fungi_hb.fungi.negatives import pool_negatives, select_negatives
from fungi_hb.fungi.token_gradients import resolve_linear
from fungi_hb.precision import Placement
from fungi_hb.seeding import uniform_draws

LAYER = "backbone.blocks.1.attn.proj"


@pytest.mark.parametrize(
    "name, layout",
    [("fungi_features_reference.npz", NeighborLayout.PUBLISHED), ("fungi_features_neighbors.npz", NeighborLayout.TRUE)],
)
@pytest.mark.parametrize("chunk", [None, 5])
def test_golden(name, layout, chunk):
    g = golden(name)
    model: FungiModel = tiny_model()
    model.fc.weight.data = torch.from_numpy(g["fc_weight"])
    model.fc.bias.data = torch.from_numpy(g["fc_bias"])
    memory = torch.from_numpy(g["memory"])
    ids = torch.from_numpy(g["neighbor_indices"]).long()  # (3*17, 4), image-major, CLS first

    def neighbors(tokens: torch.Tensor) -> torch.Tensor:
        assert tokens.shape == (3, 17, 32)
        return memory[ids].reshape(3, 17, 4, 32)

    config = FungiConfig(LAYER, 8, 2, 1.0, 0.07, layout, chunk)
    out = fungi_features(
        model,
        torch.from_numpy(g["images"]),
        torch.from_numpy(g["projection"]),
        neighbors,
        config,
    )
    expected = torch.from_numpy(g["expected_features"])
    assert out.shape == (3, 16, 64)
    assert ((out - expected).norm() / expected.norm()).item() < 2e-3
    np.testing.assert_allclose(out.norm(dim=-1).numpy(), 1.0, atol=1e-5)


def slow_fungi_features(model, path, images, projection, neighbors, config) -> torch.Tensor:
    """METHOD section 6 with per-token weight copies: the layer is replaced, for the positives' pass only, by
    one copy of its weights per (image, token), and autograd gives each copy's gradient [dW | db]."""
    layer = resolve_linear(model, path)
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    with torch.no_grad():
        tokens = model.tokens(images)  # (B, T, E)
    batch, num_tokens, embed = tokens.shape
    expanded = PerTokenLinear(layer, batch, num_tokens)
    setattr(parent, name, expanded)
    try:
        latents = model.fc(model.tokens(images))  # (B, T, L), through the per-token copies
    finally:
        setattr(parent, name, layer)
    with torch.no_grad():
        chosen = select_negatives(neighbors(tokens), config.num_negative_neighbors, config.negatives_layout)
        pooled, keep = pool_negatives(chosen, config.negative_batch_percent)
        negative_latents = F.linear(pooled, model.fc.weight, model.fc.bias)  # the real head, no gradient
    loss = patch_info_nce(latents, negative_latents, keep, config.simclr_temperature)
    dw, db = torch.autograd.grad(loss, [expanded.weight, expanded.bias])  # (B, T, out, in), (B, T, out)
    grads = torch.cat([dw, db[..., None]], dim=-1).flatten(2)  # (B, T, out*(in+1))
    projected = grads @ projection.float().T / math.sqrt(embed)  # (B, T, E)
    patch = torch.cat([F.normalize(tokens[:, 1:], dim=-1), F.normalize(projected[:, 1:], dim=-1)], dim=-1)
    return F.normalize(patch, dim=-1)  # (B, P, 2E)


@pytest.mark.parametrize("path", ["fc", LAYER, "backbone.blocks.0.mlp.fc1"])
@pytest.mark.parametrize("layout", list(NeighborLayout))
def test_equals_per_token_autograd_reference(path, layout):
    """Including the head itself as the gradient layer: the head is also used, without gradient, for the
    negatives, and only the positives' pass may count."""
    model = tiny_model()
    torch.manual_seed(0)
    images = torch.randn(2, 3, 32, 32)
    support = F.normalize(torch.randn(40, 32), dim=1)
    layer = resolve_linear(model, path)
    width = layer.out_features * (layer.in_features + 1)
    projection = torch.randint(0, 2, (32, width), dtype=torch.int8) * 2 - 1

    def neighbors(tokens):
        return support[torch.topk(tokens @ support.T, 3, dim=-1).indices]  # (B, T, 3, E)

    config = FungiConfig(path, 8, 2, 1.0, 0.07, layout)
    fast = fungi_features(model, images, projection, neighbors, config)
    slow = slow_fungi_features(model, path, images, projection, neighbors, config)
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-5)


def test_published_layout_is_the_documented_scramble():
    k, e = 3, 4
    w = torch.arange(k * e, dtype=torch.float32)  # concatenation of the K retrieved vectors
    neighbors = w.reshape(1, 1, k, e)
    scrambled = select_negatives(neighbors, 2, NeighborLayout.PUBLISHED)[0, 0]  # (2, E)
    for kk in range(2):
        assert scrambled[kk].tolist() == [w[ee * k + kk].item() for ee in range(e)]
    assert torch.equal(select_negatives(neighbors, 2, NeighborLayout.TRUE)[0, 0], neighbors[0, 0, :2])


def test_pooling_keeps_the_negatives_whose_draw_is_below_q():
    negatives = torch.randn(2, 50, 2, 8)
    draws = torch.rand(2, 100, generator=torch.Generator().manual_seed(0))
    pooled, keep = pool_negatives(negatives, 0.5, draws)
    assert pooled.shape == (2, 100, 8) and keep.shape == (2, 100)
    assert torch.equal(keep, draws < 0.5)
    torch.testing.assert_close(pooled[1, 7], negatives[1, 3, 1])  # token 3, negative 1 -> slot 3*2+1
    _, keep_all = pool_negatives(negatives, 1.0)
    assert keep_all.all()


def test_bfloat16_autocast_matches_float32():
    """The mixed-precision path (bf16 backbone and projection, as on CUDA with --use-fp16), run on the CPU:
    per-patch cosine with the float32 features above 0.99."""
    model = tiny_model()
    torch.manual_seed(0)
    images, support = torch.randn(2, 3, 32, 32), F.normalize(torch.randn(60, 32), dim=1)
    projection = torch.from_numpy(golden("fungi_features_reference.npz")["projection"])

    def neighbors(tokens):
        return support[torch.topk(tokens @ support.T, 4, dim=-1).indices]

    config = FungiConfig(LAYER, 8, 2, 1.0)
    full = fungi_features(model, images, projection, neighbors, config)
    mixed = fungi_features(model, images, projection, neighbors, config, autocast_dtype=torch.bfloat16)
    assert not torch.equal(full, mixed)  # bf16 really ran
    assert (full * mixed).sum(-1).min().item() > 0.99


def test_extractor_draws_each_images_negatives_from_its_own_stream():
    """Negatives kept with q = 0.5 follow the image's sample seed, so an image gets the same features alone
    or in a batch (up to float rounding), and the extractor equals the function with those draws."""
    model = tiny_model()
    torch.manual_seed(0)
    images, support = torch.randn(3, 3, 32, 32), F.normalize(torch.randn(60, 32), dim=1)
    projection = torch.randint(0, 2, (32, 32 * 33), dtype=torch.int8) * 2 - 1

    def neighbors(tokens):
        return support[torch.topk(tokens @ support.T, 4, dim=-1).indices]

    config = FungiConfig(LAYER, 8, 2, 0.5)
    extractor = FungiExtractor(model, projection, neighbors, config, 17, Placement(torch.device("cpu")))
    seeds = torch.tensor([11, 12, 13])
    batch = extractor(images, seeds)
    draws = uniform_draws(seeds, "negatives", 17 * 2)
    expected = fungi_features(model, images, projection, neighbors, config, negative_draws=draws)
    torch.testing.assert_close(batch, expected)
    torch.testing.assert_close(extractor(images[1:2], seeds[1:2]), batch[1:2], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(extractor(images[1:2], seeds[:1]), batch[1:2], rtol=1e-4, atol=1e-5)


def test_an_unused_layer_is_refused():
    model = tiny_model()
    model.backbone.extra = torch.nn.Linear(32, 32)  # a Linear layer the forward pass never calls
    config = FungiConfig("backbone.extra", 8, 2, 1.0)
    projection = torch.ones(32, 32 * 33, dtype=torch.int8)
    with pytest.raises(ValueError, match="not called as a module"):
        fungi_features(model, torch.randn(1, 3, 32, 32), projection, lambda t: t[:, :, None], config)
