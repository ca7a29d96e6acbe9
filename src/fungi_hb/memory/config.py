"""How large a memory is, on its own (no torch) so that the flags can name it without loading torch."""

from dataclasses import dataclass


@dataclass(frozen=True)
class MemoryConfig:
    """How many patches of how many augmented passes enter the memory (METHOD section 4)."""

    memory_size: int | None = None  # M; None keeps every patch
    augmentation_epochs: int = 1  # A, passes over the training images with fresh augmentations
