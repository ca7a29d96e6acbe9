"""Learned ViT position embeddings resampled to another input size, by each family's own rule
(``features.families`` says which family follows which rule)."""

import math

import torch
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed


def prefix_positions(count: int, candidates: tuple[int, ...]) -> int:
    """How many of ``count`` position embeddings belong to prefix tokens: the first of ``candidates`` that
    leaves a square grid (official DINO/DINOv2 files hold one for CLS; timm's register models none)."""
    for prefix in candidates:
        side = math.isqrt(max(count - prefix, 0))
        if side > 0 and side * side == count - prefix:
            return prefix
    tried = " or ".join(map(str, candidates))
    raise ValueError(f"{count} position embeddings are not a square grid after {tried} prefix ones")


def interpolate_pos_embed(
    pos_embed: torch.Tensor, grid: int, num_prefix_tokens: int, rule: str = "dino"
) -> torch.Tensor:
    """The patch position embeddings resampled to a ``grid x grid`` patch grid; prefix ones kept as they are.

    Rules:
        dino: bicubic, scale factor (G + 0.1) / N0, no antialiasing (DINO's ``interpolate_pos_encoding``,
            which the published code used at 512 px; DINOv2 without registers does the same).
        dinov2-reg: bicubic to G x G with antialiasing (DINOv2 with registers).
        timm: timm's ``resample_abs_pos_embed`` (bicubic to G x G, antialiased).
    Each computes in float32 and returns the input's dtype.

    Args:
        pos_embed: [1, prefix + N0*N0, E].
        grid: G, patches per side of the new input.
        num_prefix_tokens: embeddings before the patches (1 for CLS in DINO's layout).
    Returns:
        [1, prefix + G*G, E].
    """
    prefix = pos_embed[:, :num_prefix_tokens]  # (1, prefix, E)
    patches = pos_embed[:, num_prefix_tokens:]  # (1, N0*N0, E)
    old = math.isqrt(patches.shape[1])
    if old * old != patches.shape[1]:
        raise ValueError(f"position embedding of {patches.shape[1]} patches is not a square grid")
    if old == grid:
        return pos_embed
    embed = patches.shape[-1]
    if rule == "timm":
        resized = resample_abs_pos_embed(patches.float(), (grid, grid), (old, old), num_prefix_tokens=0)  # (1,G*G,E)
        return torch.cat([prefix, resized.to(pos_embed.dtype)], dim=1)
    square = patches.reshape(1, old, old, embed).permute(0, 3, 1, 2).float()  # (1, E, N0, N0)
    if rule == "dino":
        scale = (grid + 0.1) / old
        resized = F.interpolate(square, scale_factor=(scale, scale), mode="bicubic")  # (1, E, G, G)
    elif rule == "dinov2-reg":
        resized = F.interpolate(square, size=(grid, grid), mode="bicubic", antialias=True)  # (1, E, G, G)
    else:
        raise ValueError(f"no position embeddings to resample under rule {rule!r}")
    resized = resized.permute(0, 2, 3, 1).reshape(1, grid * grid, embed).to(pos_embed.dtype)  # (1, G*G, E)
    return torch.cat([prefix, resized], dim=1)
