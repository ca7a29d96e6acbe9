"""Filling a memory bank from batches of augmented training images (METHOD section 4): patch features,
L2-normalised, and patch labels, bounded with the rare-class-first rule or unbounded."""

import logging
from typing import Iterable

import torch
import torch.nn.functional as F

from ..patch_labels import patch_label_distributions
from ..sampling import select_patches
from .plan import MemoryPlan
from .types import FeatureFn, Memory

logger = logging.getLogger(__name__)

# (images [B, 3, S, S], masks [B, 1, S, S] class ids with 255, sample indices [B])
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def gather_rows(
    features: torch.Tensor, labels: torch.Tensor, keep: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of the memory from one batch.

    Args:
        features: [B, P, D]; labels: [B, P, C]; keep: [B, s] patch indices or None for all.
    Returns:
        features [B*s, D] and labels [B*s, C].
    """
    if keep is not None:
        features = torch.gather(features, 1, keep[..., None].expand(-1, -1, features.shape[-1]))  # (B, s, D)
        labels = torch.gather(labels, 1, keep[..., None].expand(-1, -1, labels.shape[-1]))  # (B, s, C)
    return features.flatten(0, 1), labels.flatten(0, 1)


def fill_memory(
    epochs: Iterable[Iterable[Batch]],
    extract: FeatureFn,
    plan: MemoryPlan,
    patch_size: int,
    num_classes: int,
    dim: int,
    generator: torch.Generator,
) -> Memory:
    """Run ``extract`` over the batches of each augmentation epoch and keep the planned rows.

    Args:
        epochs: one iterable of batches per augmentation epoch (the caller's loaders).
        extract: images -> patch features [B, P, D].
        plan: rows per image and in all.
        patch_size: p; num_classes: C; dim: D.
        generator: source of the rare-class sampling draws.
    Returns:
        the memory, rows in (epoch, image, patch) order.
    """
    features = torch.empty(plan.rows, dim, dtype=torch.float32)  # (M', D)
    labels = torch.empty(plan.rows, num_classes, dtype=torch.float32)  # (M', C)
    filled = 0
    for batches in epochs:
        for images, masks, _ in batches:
            feats = F.normalize(extract(images).float(), dim=-1).cpu()  # (B, P, D)
            labs = patch_label_distributions(masks, patch_size, num_classes).flatten(1, 2)  # (B, P, C)
            keep = None if plan.keep_per_image is None else select_patches(labs, plan.keep_per_image, generator)
            f_rows, l_rows = gather_rows(feats, labs, keep)
            features[filled : filled + len(f_rows)] = f_rows
            labels[filled : filled + len(l_rows)] = l_rows
            filled += len(f_rows)
    if filled != plan.rows:  # cannot happen with fixed-size images; keep only filled rows all the same
        logger.warning("Filled %d of %d memory rows; keeping the filled rows only.", filled, plan.rows)
    logger.info(
        "Memory bank: %d rows of dimension %d (%s).",
        filled,
        dim,
        "all patches" if plan.keep_per_image is None else f"{plan.keep_per_image} patches per image",
    )
    return Memory(features[:filled], labels[:filled])
