"""What a dataset declares, and where its files are."""

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

IGNORE = 255  # the ignore value of masks after mapping, for every dataset


@dataclass(frozen=True)
class ClassSpec:
    """The classes of a dataset as this tool scores them."""

    name: str  # dataset name as recorded in identities and results ("voc", "ade20k-150", ...)
    class_names: tuple[str, ...]  # C names, in class-id order
    value_to_class: tuple[int, ...]  # 256 entries: mask value -> class id, IGNORE, or -1 (not allowed)
    ignore_as_class: int | None  # class that ignored pixels count as in memory labels (VOC: 0), or None
    palette: tuple[int, ...]  # 768 RGB values for class ids 0..255 (prediction pictures)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def lookup(self) -> np.ndarray:
        """[256] int16 table of ``value_to_class``."""
        return np.asarray(self.value_to_class, dtype=np.int16)

    def allowed_values(self) -> str:
        """The mask values this dataset allows, for messages."""
        values = [v for v, c in enumerate(self.value_to_class) if c != -1]
        runs, start = [], values[0]
        for previous, value in zip(values, values[1:] + [None]):
            if value != previous + 1:
                runs.append(f"{start}" if start == previous else f"{start}..{previous}")
                start = value
        return ", ".join(runs)


@dataclass(frozen=True)
class Split:
    """One split on disk."""

    images: Path  # folder of images
    masks: Path  # folder of <id>.png masks
    ids_file: Path | None  # one id per line; None: every image in ``images``, sorted by name


@dataclass(frozen=True)
class Layout:
    """Where a dataset found in a folder keeps its splits."""

    kind: str  # what and which layout, for messages ("Pascal VOC, the VOCdevkit/VOC2012 layout", ...)
    root: Path
    train: Split
    val: Split
    image_suffixes: tuple[str, ...] = (".jpg",)  # tried in this order for <id><suffix>


class DatasetKind(Protocol):
    """One dataset: how to find it, and its classes."""

    name: str

    def detect(self, root: Path) -> Layout | None:
        """The layout in ``root`` if this dataset is there, else None."""
        ...

    def classes(self, layout: Layout, keep_other: bool) -> ClassSpec:
        """The classes (``keep_other``: ADE20K's 0 as a class of its own)."""
        ...


def bit_palette() -> tuple[int, ...]:
    """The Pascal VOC colour map (bits of the class id spread over R, G, B): 256 distinct colours, used for
    every dataset's pictures."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return tuple(palette)


def identity_mapping(num_classes: int) -> tuple[int, ...]:
    """Mask values 0..C-1 are the classes, 255 is ignored, anything else is not allowed."""
    return tuple(v if v < num_classes else (IGNORE if v == IGNORE else -1) for v in range(256))
