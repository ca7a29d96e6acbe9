"""The rows a batch of augmented training images adds to a memory bank (method section 4): patch features,
L2-normalised, and what the task keeps of each patch (class shares, or depth), bounded by the task's rule
(rare classes first for segmentation) or unbounded."""

import logging

import torch
import torch.nn.functional as F

from fungi_hb.data.loading import Batch
from fungi_hb.memory.plan import MemoryPlan
from fungi_hb.memory.types import FeatureFn, RowRule
from fungi_hb.seeding import uniform_draws

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


def batch_rows(batch: Batch, extract: FeatureFn, plan: MemoryPlan, rule: RowRule) -> tuple[torch.Tensor, torch.Tensor]:
    """The memory rows of one batch: features [B*s, D] (unit norm, CPU) and values [B*s, W] (``rule``)."""
    feats = F.normalize(extract(batch.images, batch.seeds).float(), dim=-1).cpu()  # (B, P, D)
    values = rule.values(batch.targets, rule.patch_size).flatten(1, 2)  # (B, P, W)
    keep = None
    if plan.keep_per_image is not None:
        noise = uniform_draws(batch.seeds, "patches", values.shape[1])  # (B, P)
        keep = rule.select(values, plan.keep_per_image, noise)  # (B, s)
    return gather_rows(feats, values, keep)
