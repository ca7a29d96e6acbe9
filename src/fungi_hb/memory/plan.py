"""How many rows a memory bank will hold, known before any image is read (METHOD section 4)."""

from dataclasses import dataclass

from fungi_hb.memory.sampling import patches_per_image
from fungi_hb.memory.types import MemoryConfig


@dataclass(frozen=True)
class MemoryPlan:
    """Rows of a memory: ``keep_per_image`` patches of each of ``num_images`` images per epoch."""

    num_images: int  # N training images
    epochs: int  # A augmentation epochs
    patches: int  # P patches per image
    keep_per_image: int | None  # s, or None for every patch

    @property
    def rows_per_image(self) -> int:
        return self.patches if self.keep_per_image is None else self.keep_per_image

    @property
    def rows(self) -> int:
        return self.num_images * self.epochs * self.rows_per_image


def plan_memory(config: MemoryConfig, num_images: int, patches: int) -> MemoryPlan:
    """The plan of a memory; raises ``ValueError`` when the size rule leaves 0 or more than P patches."""
    keep = None
    if config.memory_size is not None:
        keep = patches_per_image(config.memory_size, num_images, config.augmentation_epochs, patches)
    return MemoryPlan(num_images, config.augmentation_epochs, patches, keep)
