"""Resampling of ViT position embeddings to another input size, as DINO does it."""

import math

import torch
import torch.nn.functional as F


def interpolate_pos_embed(pos_embed: torch.Tensor, grid: int, num_prefix_tokens: int) -> torch.Tensor:
    """Bicubic resampling of the patch position embeddings to a ``grid x grid`` patch grid.

    Reproduces DINO's ``interpolate_pos_encoding`` (scale factor (grid + 0.1) / N0, bicubic), which the
    published code used at 512 px; the prefix (CLS) embeddings are kept as they are.

    Args:
        pos_embed: [1, prefix + N0*N0, E].
        grid: G, patches per side of the new input.
        num_prefix_tokens: tokens before the patches (1 for CLS).
    Returns:
        [1, prefix + G*G, E].
    """
    prefix = pos_embed[:, :num_prefix_tokens]  # (1, prefix, E)
    patches = pos_embed[:, num_prefix_tokens:]  # (1, N0*N0, E)
    old = int(math.sqrt(patches.shape[1]))
    if old * old != patches.shape[1]:
        raise ValueError(f"position embedding of {patches.shape[1]} patches is not a square grid")
    if old == grid:
        return pos_embed
    embed = patches.shape[-1]
    patches = patches.reshape(1, old, old, embed).permute(0, 3, 1, 2)  # (1, E, N0, N0)
    scale = (grid + 0.1) / old
    resized = F.interpolate(patches.float(), scale_factor=(scale, scale), mode="bicubic")  # (1, E, G, G)
    resized = resized.permute(0, 2, 3, 1).reshape(1, grid * grid, embed).to(pos_embed.dtype)  # (1, G*G, E)
    return torch.cat([prefix, resized], dim=1)
