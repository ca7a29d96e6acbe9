"""HummingBird soft label transfer from retrieved neighbours (METHOD section 7)."""

import torch
import torch.nn.functional as F


def transfer_labels(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Softmax over cosine(query, key) / temperature, then the weighted sum of neighbour labels.

    Args:
        queries: [..., D] query features.
        keys: [..., k, D] the retrieved neighbours of each query.
        values: [..., k, C] their label distributions.
        temperature: softmax temperature (0.02 in the paper; 0.1 data-efficient).
    Returns:
        [..., C] predicted label distributions.
    """
    q = F.normalize(queries.float(), dim=-1)  # (..., D)
    kk = F.normalize(keys.float(), dim=-1)  # (..., k, D)
    cos = torch.einsum("...d,...kd->...k", q, kk)  # (..., k)
    weights = torch.softmax(cos / temperature, dim=-1)  # (..., k)
    return torch.einsum("...k,...kc->...c", weights, values.float())  # (..., C)


def upsample_predictions(patch_predictions: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear upsampling of a patch grid of class scores, then the argmax.

    Args:
        patch_predictions: [B, G, G, C] per-patch class distributions.
        size: S, output side in pixels.
    Returns:
        [B, S, S] int64 predicted class ids.
    """
    grid = patch_predictions.permute(0, 3, 1, 2)  # (B, C, G, G)
    full = F.interpolate(grid, size=(size, size), mode="bilinear", align_corners=False)  # (B, C, S, S)
    return full.argmax(dim=1)  # (B, S, S)
