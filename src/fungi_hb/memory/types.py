"""The memory bank's data types, on their own so that every layer can name them."""

from dataclasses import dataclass
from typing import Callable

import torch

from fungi_hb.memory.config import MemoryConfig

__all__ = ["FeatureFn", "Memory", "MemoryConfig", "RowRule"]

# (images [B, 3, S, S] on the CPU, sample seeds [B] int64) -> patch features [B, P, D]. The seeds
# (see ``seeding``) feed any random draws of the extractor, so they follow the image, not the batch.
FeatureFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class RowRule:
    """What a memory row carries besides its feature: the task's rules (``tasks.base.Task``)."""

    values: Callable[[torch.Tensor, int], torch.Tensor]  # (targets [B, 1, S, S], p) -> [B, G, G, W]
    select: Callable[[torch.Tensor, int, torch.Tensor], torch.Tensor]  # (values [B,P,W], s, noise [B,P]) -> [B, s]
    width: int  # W
    dtype: torch.dtype  # how pieces keep the values (exact)
    patch_size: int  # p


@dataclass
class Memory:
    """A memory bank: one row per kept patch."""

    features: torch.Tensor  # [M', D] float32, unit-norm rows
    labels: torch.Tensor  # [M', W] float32: what the task keeps of each patch (class shares, or depth)
