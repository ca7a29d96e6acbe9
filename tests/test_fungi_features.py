"""FUNGI features of the tiny goldens ViT against the published code's outputs."""

import numpy as np
import pytest
import torch
from test_token_gradients import tiny_model

from conftest import golden
from fungi_hb.fungi import FungiModel, fungi_features
from fungi_hb.fungi.negatives import NeighborLayout, pool_negatives, select_negatives


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

    out = fungi_features(
        model,
        torch.from_numpy(g["images"]),
        "backbone.blocks.1.attn.proj",
        torch.from_numpy(g["projection"]),
        neighbors,
        num_negatives=2,
        layout=layout,
        negative_keep_probability=1.0,
        simclr_temperature=0.07,
        chunk_tokens=chunk,
    )
    expected = torch.from_numpy(g["expected_features"])
    assert out.features.shape == (3, 16, 64)
    assert ((out.features - expected).norm() / expected.norm()).item() < 2e-3
    np.testing.assert_allclose(out.features.norm(dim=-1).numpy(), 1.0, atol=1e-5)


def test_published_layout_is_the_documented_scramble():
    k, e = 3, 4
    w = torch.arange(k * e, dtype=torch.float32)  # concatenation of the K retrieved vectors
    neighbors = w.reshape(1, 1, k, e)
    scrambled = select_negatives(neighbors, 2, NeighborLayout.PUBLISHED)[0, 0]  # (2, E)
    for kk in range(2):
        assert scrambled[kk].tolist() == [w[ee * k + kk].item() for ee in range(e)]
    assert torch.equal(select_negatives(neighbors, 2, NeighborLayout.TRUE)[0, 0], neighbors[0, 0, :2])


def test_pooling_keeps_each_negative_with_probability_q():
    negatives = torch.randn(2, 50, 2, 8)
    pooled, keep = pool_negatives(negatives, 0.5, torch.Generator().manual_seed(0))
    assert pooled.shape == (2, 100, 8) and keep.shape == (2, 100)
    assert 0.35 < keep.float().mean().item() < 0.65
    _, keep_all = pool_negatives(negatives, 1.0)
    assert keep_all.all()


def test_bfloat16_autocast_matches_float32():
    """The mixed-precision path (bf16 backbone and projection, as on CUDA with --use-fp16), run on the CPU:
    per-patch cosine with the float32 features above 0.99."""
    model = tiny_model()
    torch.manual_seed(0)
    images, support = torch.randn(2, 3, 32, 32), torch.nn.functional.normalize(torch.randn(60, 32), dim=1)
    projection = torch.from_numpy(golden("fungi_features_reference.npz")["projection"])

    def neighbors(tokens):
        return support[torch.topk(tokens @ support.T, 4, dim=-1).indices]

    args = (model, images, "backbone.blocks.1.attn.proj", projection, neighbors, 2)
    full = fungi_features(*args).features
    mixed = fungi_features(*args, autocast_dtype=torch.bfloat16).features
    assert not torch.equal(full, mixed)  # bf16 really ran
    assert (full * mixed).sum(-1).min().item() > 0.99


def test_gradients_of_the_head_itself():
    """--gradients-layer fc: the head is also used, without gradient, for the negatives; only the positives'
    pass may be recorded."""
    model = tiny_model()
    torch.manual_seed(0)
    support = torch.nn.functional.normalize(torch.randn(40, 32), dim=1)
    projection = torch.randint(0, 2, (32, 8 * 33), dtype=torch.int8) * 2 - 1
    out = fungi_features(
        model,
        torch.randn(2, 3, 32, 32),
        "fc",
        projection,
        lambda t: support[torch.topk(t @ support.T, 3, dim=-1).indices],
        2,
    )
    assert out.features.shape == (2, 16, 64) and torch.isfinite(out.features).all()
