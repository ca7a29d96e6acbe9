"""Per-patch class distributions of segmentation masks (METHOD section 2)."""

import torch
import torch.nn.functional as F

IGNORE_INDEX = 255


def patch_label_distributions(masks: torch.Tensor, patch_size: int, num_classes: int) -> torch.Tensor:
    """Class histogram of each p x p patch divided by p^2.

    Args:
        masks: [B, 1, H, W] integer class ids; 255 ("ignore") counts as class 0.
        patch_size: p; H and W must be multiples of it.
        num_classes: C.
    Returns:
        [B, H/p, W/p, C] float32 distributions (each row sums to 1), patches in row-major order.
    """
    ids = masks[:, 0].long()  # (B, H, W)
    ids = torch.where(ids == IGNORE_INDEX, torch.zeros_like(ids), ids)
    one_hot = F.one_hot(ids, num_classes).permute(0, 3, 1, 2).float()  # (B, C, H, W)
    hist = F.avg_pool2d(one_hot, kernel_size=patch_size, stride=patch_size)  # (B, C, G, G)
    return hist.permute(0, 2, 3, 1).contiguous()  # (B, G, G, C)
