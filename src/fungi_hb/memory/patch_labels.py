"""Per-patch class distributions of segmentation masks (method section 2)."""

import torch
import torch.nn.functional as F

IGNORE_INDEX = 255


def patch_label_distributions(
    masks: torch.Tensor, patch_size: int, num_classes: int, ignore_as_class: int | None = 0
) -> torch.Tensor:
    """Class histogram of each p x p patch divided by p^2.

    Args:
        masks: [B, 1, H, W] integer class ids; 255 marks ignored pixels.
        patch_size: p; H and W must be multiples of it.
        num_classes: C.
        ignore_as_class: the class ignored pixels count as (0 in the published VOC code), or None to leave
            them out (the row then sums to the labelled share of the patch).
    Returns:
        [B, H/p, W/p, C] float32 distributions, patches in row-major order; multiples of 1/p^2.
    """
    ids = masks[:, 0].long()  # (B, H, W)
    fill = num_classes if ignore_as_class is None else ignore_as_class  # an extra column, dropped below
    ids = torch.where(ids == IGNORE_INDEX, torch.full_like(ids, fill), ids)
    one_hot = F.one_hot(ids, num_classes + 1).permute(0, 3, 1, 2).float()  # (B, C+1, H, W)
    hist = F.avg_pool2d(one_hot, kernel_size=patch_size, stride=patch_size)  # (B, C+1, G, G)
    return hist[:, :num_classes].permute(0, 2, 3, 1).contiguous()  # (B, G, G, C)
