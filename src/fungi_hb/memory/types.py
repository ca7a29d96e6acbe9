"""The memory bank's data types, on their own so that every layer can name them."""

from dataclasses import dataclass
from typing import Callable

import torch

# (images [B, 3, S, S] on the CPU, sample seeds [B] int64) -> patch features [B, P, D]. The seeds
# (see ``seeding``) feed any random draws of the extractor, so they follow the image, not the batch.
FeatureFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class MemoryConfig:
    """How many patches of how many augmented passes enter the memory (METHOD section 4)."""

    memory_size: int | None = None  # M; None keeps every patch
    augmentation_epochs: int = 1  # A, passes over the training images with fresh augmentations


@dataclass
class Memory:
    """A memory bank: one row per kept patch."""

    features: torch.Tensor  # [M', D] float32, unit-norm rows
    labels: torch.Tensor  # [M', C] float32 patch class distributions
