"""Raw patch features of a frozen backbone (method section 3): the support memory's features and the
"embeddings" baseline of Table 3, either the final normalised tokens or the last block's attention keys."""

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from fungi_hb.features.models.base import Backbone
from fungi_hb.precision import Placement

SOURCES = ("tokens", "keys")


def keys_unavailable(backbone: nn.Module) -> str | None:
    """Why the last block's attention keys cannot be taken from ``backbone`` as features; None when they can
    (the output of a fused q|k|v projection is what the block attends with)."""
    blocks = getattr(backbone, "blocks", None)
    if not isinstance(blocks, (nn.ModuleList, nn.Sequential)) or not hasattr(blocks[-1], "attn"):
        return "it is not a timm ViT (no blocks[-1].attn to read the keys from)"
    attn = blocks[-1].attn
    if getattr(backbone, "rope", None) is not None:
        return (
            "it rotates its keys by their position (rotary embeddings, as DINOv3 does), so the keys it attends with "
            "mix where a patch is into what it is, and the unrotated ones are not what it attends with"
        )
    if not isinstance(getattr(attn, "qkv", None), nn.Linear):
        return "its attention has no fused q|k|v projection to read the keys from"
    if getattr(attn, "q_bias", None) is not None and not getattr(attn, "qkv_bias_separate", True):
        return "its attention adds the q|k|v biases outside the projection layer"
    if not isinstance(getattr(attn, "k_norm", nn.Identity()), nn.Identity):
        return "the last block normalises its keys, so the raw keys are not what it attends with"
    return None


@contextmanager
def last_block_keys(backbone: nn.Module) -> Iterator[dict]:
    """Within the block, a forward pass leaves the last transformer block's attention keys [B, T, E]
    (all heads side by side) in ``record["keys"]``."""
    reason = keys_unavailable(backbone)
    if reason is not None:
        raise ValueError(f"no attention keys: {reason}")
    attn = backbone.blocks[-1].attn
    record: dict = {}

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        batch, tokens, width = output.shape
        record["keys"] = output.reshape(batch, tokens, 3, width // 3)[:, :, 1]  # (B, T, E): q | k | v

    handle = attn.qkv.register_forward_hook(hook)
    try:
        yield record
    finally:
        handle.remove()


class EmbeddingExtractor:
    """(images [B, 3, S, S], sample seeds [B], unused) -> raw patch features [B, P, E], float32 on the device.

    ``source``: "tokens", the final tokens (what FUNGI concatenates; DINO's ``get_intermediate_layers``), or
    "keys", the last block's attention keys (the published HummingBird library's default for raw features;
    timm ViTs only).
    """

    def __init__(self, backbone: Backbone, placement: Placement, source: str = "tokens") -> None:
        if source not in SOURCES:
            raise ValueError(f"unknown embeddings source {source!r}")
        self.backbone = backbone
        self.placement = placement
        self.source = source

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, seeds: torch.Tensor | None = None) -> torch.Tensor:
        images = images.to(self.placement.device, non_blocking=True)
        dtype = self.placement.autocast_dtype
        with torch.autocast(self.placement.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            if self.source == "keys":
                with last_block_keys(self.backbone.module) as record:
                    self.backbone(images)
                if "keys" not in record:
                    raise RuntimeError("the last block's q|k|v projection was not called: its keys were not seen")
                tokens = record["keys"]  # (B, T, E)
            else:
                tokens = self.backbone(images)  # (B, T, E)
        return tokens[:, self.backbone.info.num_prefix_tokens :].float()  # (B, P, E)
