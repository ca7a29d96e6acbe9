"""What a dataset declares, where its files are, and the registry datasets put themselves in.

A dataset is one module in ``data/datasets/`` with a ``DatasetKind`` subclass decorated with ``@register``:
how its layout is recognised in a folder (or archive), its two splits (where images and targets are, how
an id names them), and its classes (or, for depth, its depth maps' units). Nothing else lists it.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from fungi_hb.data.files import FileTree

IGNORE = 255  # the ignore value of masks after mapping, for every dataset: the one definition
_REGISTERED: dict[str, "DatasetKind"] = {}


@dataclass(frozen=True)
class ClassSpec:
    """The classes of a dataset as this tool scores them."""

    name: str  # dataset name as recorded in identities and results ("voc", "ade20k-150", ...)
    class_names: tuple[str, ...]  # C names, in class-id order
    value_to_class: tuple[int, ...]  # 256 entries: mask value -> class id, IGNORE, or -1 (not allowed)
    ignore_as_class: int | None  # class that ignored pixels count as in memory labels (VOC: 0), or None
    palette: tuple[int, ...]  # 768 RGB values for class ids 0..255 (prediction pictures)
    # a hint for masks holding values the table refuses: what the likely mix-up is (e.g. trainIds for labelIds)
    mix_up: str | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def lookup(self) -> np.ndarray:
        """[256] int16 table of ``value_to_class``."""
        return np.asarray(self.value_to_class, dtype=np.int16)

    def rule(self) -> str:
        """What its masks may hold, for messages."""
        return f"{self.name} masks may hold {self.allowed_values()}"

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
class DepthSpec:
    """How a depth dataset's maps are read and scored."""

    name: str  # as recorded in identities and results ("nyuv2", "depth-<folder>")
    max_depth: float | None = None  # metres: deeper ground truth is not scored, predictions are capped (NYUv2: 10)
    min_depth: float = 1e-3  # metres: shallower ground truth (0 = no measurement) is not scored
    # the evaluation crop as shares of the height and width (top, bottom, left, right); None: every pixel
    crop: tuple[float, float, float, float] | None = None
    mix_up: str | None = None

    def rule(self) -> str:
        return f"the depth maps of {self.name} are 16-bit single-channel PNGs of millimetres, 0 where not measured"


TargetSpec = ClassSpec | DepthSpec  # what a dataset's targets are


@dataclass(frozen=True)
class Split:
    """One split: where its images and targets (masks, depth maps) are, and how an id names them."""

    images: str  # folder of images, relative to the dataset root
    targets: str  # folder of masks or depth maps
    ids_file: str | None  # one id per line; None: every image in ``images`` (see ``depth``), sorted
    image_name: str = "{id}{ext}"  # an image's path in ``images``: {id} and one of ``extensions`` as {ext}
    target_name: str = "{id}.png"  # a target's path in ``targets``
    extensions: tuple[str, ...] = (".jpg",)  # tried in this order
    depth: int = 0  # ids without a list: image files this many folders down (Cityscapes' cities: 1)
    target_noun: str = "mask"  # what a target is, for messages ("depth map")

    def image_suffix(self) -> str:
        """What follows the id in an image's name (before the extension): '' for ``{id}{ext}``."""
        return self.image_name.split("{id}", 1)[1].replace("{ext}", "")


@dataclass(frozen=True)
class Layout:
    """Where a dataset found in a folder (or archive) keeps its splits."""

    kind: str  # what and which layout, for messages ("Pascal VOC, the VOCdevkit/VOC2012 layout", ...)
    tree: FileTree  # the files, rooted at the dataset's root
    train: Split
    val: Split
    extra: dict = field(default_factory=dict)  # what the dataset's own code needs later (e.g. a class file)


@dataclass(frozen=True)
class ClassOptions:
    """How the user asked for the classes to be scored (`data.keep_other`, `data.classes`)."""

    keep_other: bool = False
    classes: str = "default"


class DatasetKind:
    """One dataset: how to find it, and its classes."""

    name: ClassVar[str]
    task: ClassVar[str] = "segmentation"  # or "depth"
    expected: ClassVar[str]  # what its layout looks like, for the message when no dataset is found
    detect_order: ClassVar[int] = 50  # auto-detection tries lower numbers first (specific layouts before generic)
    class_choices: ClassVar[tuple[str, ...]] = ("default",)  # what `data.classes` may be for it

    def detect(self, tree: FileTree) -> Layout | None:
        """The layout in ``tree`` if this dataset is there, else None."""
        raise NotImplementedError

    def targets(self, layout: Layout, options: ClassOptions) -> TargetSpec:
        """The classes as scored (or, for depth, how the maps are read and scored)."""
        raise NotImplementedError

    def synthetic(self) -> dict[str, Callable[[Path, Any], Path]]:
        """Writers of small synthetic datasets in its layouts, by layout name: (root, ``SyntheticSpec``) ->
        the folder to pass as `data.data_dir` (``data.synthetic``)."""
        return {}


def register(cls: type[DatasetKind]) -> type[DatasetKind]:
    """Class decorator: make ``cls`` a dataset, under its ``name``."""
    _REGISTERED[cls.name] = cls()
    return cls


def registered() -> dict[str, DatasetKind]:
    return dict(_REGISTERED)


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
