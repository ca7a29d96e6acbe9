"""The memory bank's data types, on their own so that every layer can name them."""

from dataclasses import dataclass
from typing import Callable

import torch

from fungi_hb.memory.config import MemoryConfig

__all__ = ["FeatureFn", "Memory", "MemoryConfig"]

# (images [B, 3, S, S] on the CPU, sample seeds [B] int64) -> patch features [B, P, D]. The seeds
# (see ``seeding``) feed any random draws of the extractor, so they follow the image, not the batch.
FeatureFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class Memory:
    """A memory bank: one row per kept patch."""

    features: torch.Tensor  # [M', D] float32, unit-norm rows
    labels: torch.Tensor  # [M', C] float32 patch class distributions
