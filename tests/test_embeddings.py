"""Raw features: the final tokens, or the last block's attention keys computed another way."""

import pytest
import timm
import torch
import torch.nn.functional as F

from conftest import timm_backbone
from fungi_hb.features.embeddings import EmbeddingExtractor
from fungi_hb.precision import Placement

CPU = Placement(torch.device("cpu"))


@pytest.fixture(scope="module")
def vit():
    torch.manual_seed(0)
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, img_size=64).eval()


def test_tokens_are_the_final_normalised_patch_tokens(vit):
    images = torch.randn(2, 3, 64, 64)
    out = EmbeddingExtractor(timm_backbone(vit), CPU, "tokens")(images)
    torch.testing.assert_close(out, vit.forward_features(images)[:, 1:])


def test_keys_are_the_last_blocks_attention_keys(vit):
    images = torch.randn(2, 3, 64, 64)
    seen = {}
    block = vit.blocks[-1]
    handle = block.norm1.register_forward_hook(lambda m, i, o: seen.setdefault("x", o))
    with torch.no_grad():
        vit.forward_features(images)
    handle.remove()
    width = vit.embed_dim
    weight, bias = block.attn.qkv.weight[width : 2 * width], block.attn.qkv.bias[width : 2 * width]
    expected = F.linear(seen["x"], weight, bias)[:, 1:]  # (B, P, E): k = W_k norm1(x) + b_k
    out = EmbeddingExtractor(timm_backbone(vit), CPU, "keys")(images)
    torch.testing.assert_close(out, expected)
    assert not vit.blocks[-1].attn.qkv._forward_hooks  # the hook is gone


def test_unknown_source_is_refused(vit):
    with pytest.raises(ValueError, match="unknown embeddings source"):
        EmbeddingExtractor(timm_backbone(vit), CPU, "values")
