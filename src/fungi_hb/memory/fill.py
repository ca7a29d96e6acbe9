"""Filling a memory bank from batches of augmented training images (method section 4): patch features,
L2-normalised, and patch labels, bounded with the rare-class-first rule or unbounded."""

import logging
from typing import Iterable

import torch
import torch.nn.functional as F

from ..data.segmentation import Batch
from ..patch_labels import patch_label_distributions
from ..sampling import select_patches
from ..seeding import uniform_draws
from .plan import MemoryPlan
from .types import FeatureFn, Memory

logger = logging.getLogger(__name__)


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


def batch_rows(
    batch: Batch, extract: FeatureFn, plan: MemoryPlan, patch_size: int, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The memory rows of one batch: features [B*s, D] (unit norm, CPU) and labels [B*s, C]."""
    feats = F.normalize(extract(batch.images, batch.seeds).float(), dim=-1).cpu()  # (B, P, D)
    labels = patch_label_distributions(batch.masks, patch_size, num_classes).flatten(1, 2)  # (B, P, C)
    keep = None
    if plan.keep_per_image is not None:
        noise = uniform_draws(batch.seeds, "patches", labels.shape[1])  # (B, P)
        keep = select_patches(labels, plan.keep_per_image, noise)  # (B, s)
    return gather_rows(feats, labels, keep)


def fill_memory(
    epochs: Iterable[Iterable[Batch]],
    extract: FeatureFn,
    plan: MemoryPlan,
    patch_size: int,
    num_classes: int,
    dim: int,
) -> Memory:
    """Run ``extract`` over the batches of each augmentation epoch and keep the planned rows.

    Args:
        epochs: one iterable of batches per augmentation epoch (the caller's loaders).
        extract: (images, sample seeds) -> patch features [B, P, D].
        plan: rows per image and in all.
        patch_size: p; num_classes: C; dim: D.
    Returns:
        the memory, rows in (epoch, image, patch) order.
    """
    features = torch.empty(plan.rows, dim, dtype=torch.float32)  # (M', D)
    labels = torch.empty(plan.rows, num_classes, dtype=torch.float32)  # (M', C)
    filled = 0
    for batches in epochs:
        for batch in batches:
            f_rows, l_rows = batch_rows(batch, extract, plan, patch_size, num_classes)
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
