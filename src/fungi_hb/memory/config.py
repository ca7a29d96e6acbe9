"""How large a memory is, on its own (no torch) so that the flags can name it without loading torch."""

from dataclasses import dataclass

from fungi_hb.settings import Flag, positive_int, setting


@dataclass(frozen=True)
class MemoryConfig:
    """How many patches of how many augmented passes enter the memory (METHOD section 4)."""

    memory_size: int | None = setting(
        None,
        Flag(
            "--memory-size",
            "memory bank",
            "Patches kept (102400, 1024000, 10240000 in Table 3).",
            parse=positive_int,
            shown_default="every patch",
        ),
    )
    augmentation_epochs: int = setting(
        1,
        Flag(
            "--augmentation-epochs",
            "data",
            "Augmented passes over the training images (8 for the data-efficient runs).",
            parse=positive_int,
        ),
    )
