"""What a sample's target is and how it is read: a mask of class ids (segmentation) or a depth map (depth).

A reader checks a target file before the long part, and turns it into a float tensor [1, H, W] that the
transforms resample with nearest neighbours (``load``), then into the batch's targets (``finish``): class
ids as uint8 (255 ignored), or depth in metres as float32 (0 where nothing was measured).
"""

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from fungi_hb.data.datasets.base import IGNORE, ClassSpec, DepthSpec, TargetSpec
from fungi_hb.data.files import DataFile
from fungi_hb.data.transforms import mask_to_ids


class TargetReader(Protocol):
    """How one kind of target file is checked and read."""

    noun: str  # "mask", "depth map": for messages

    def check(self, file: DataFile, image_size: tuple[int, int]) -> str | None:
        """None if the file is a good target for an image of ``image_size`` (W, H), else what is wrong."""
        ...

    def load(self, file: DataFile) -> torch.Tensor:
        """[1, H, W] float32, for the transforms."""
        ...

    def finish(self, resampled: torch.Tensor) -> torch.Tensor:
        """[1, S, S] resampled -> the batch's targets [1, S, S]."""
        ...


def to_classes(ids: torch.Tensor, lookup: torch.Tensor) -> torch.Tensor:
    """Mask values -> class ids (255 = ignore) through the dataset's [256] table; values the table does not
    allow (refused up front) become 255."""
    classes = lookup[ids.long()]  # (1, S, S)
    return torch.where(classes < 0, torch.full_like(classes, IGNORE), classes).to(torch.uint8)


def open_mask(file: DataFile) -> Image.Image:
    """An 8-bit single-channel mask, decoded."""
    with file.open() as handle:
        mask = Image.open(handle)
        mask.load()
    return mask if mask.mode in ("P", "L") else mask.convert("L")


@dataclass(frozen=True)
class MaskReader:
    """8-bit single-channel masks whose values the dataset maps to classes (``classes.value_to_class``)."""

    classes: ClassSpec
    noun: str = "mask"

    def check(self, file: DataFile, image_size: tuple[int, int]) -> str | None:
        with file.open() as handle, Image.open(handle) as mask:
            mask.load()
            if mask.mode not in ("L", "P"):
                return f"{file}: the mask is a {mask.mode} image, not single-channel 8-bit class ids"
            if mask.size != image_size:
                width, height = image_size
                return f"{file}: the mask is {mask.size[0]}x{mask.size[1]} but its image is {width}x{height}"
            values = np.unique(np.asarray(mask))
        bad = values[self.classes.lookup()[values] == -1]
        return f"{file}: mask values {bad[:8].tolist()} are not allowed" if len(bad) else None

    def load(self, file: DataFile) -> torch.Tensor:
        return TF.to_tensor(open_mask(file))  # (1, H, W) id / 255, as the published transform resamples it

    def finish(self, resampled: torch.Tensor) -> torch.Tensor:
        return to_classes(mask_to_ids(resampled), torch.from_numpy(self.classes.lookup()).long())  # (1, S, S) uint8


@dataclass(frozen=True)
class DepthReader:
    """16-bit single-channel PNGs of depth in millimetres (0: no measurement), read as metres."""

    noun: str = "depth map"
    millimetres_per_unit: float = 1000.0

    def check(self, file: DataFile, image_size: tuple[int, int]) -> str | None:
        with file.open() as handle, Image.open(handle) as depth:
            depth.load()
            if depth.mode not in ("I;16", "I;16B", "I"):
                kind = "an 8-bit" if depth.mode in ("L", "P") else f"a {depth.mode}"
                return (
                    f"{file}: the depth map is {kind} image, not a 16-bit single-channel PNG of millimetres (write "
                    "np.uint16 millimetres, e.g. PIL.Image.fromarray(depth_mm.astype(np.uint16)))"
                )
            if depth.size != image_size:
                return (
                    f"{file}: the depth map is {depth.size[0]}x{depth.size[1]} but its image is "
                    f"{image_size[0]}x{image_size[1]}"
                )
            if not np.asarray(depth).any():
                return (
                    f"{file}: the depth map is all zero (no measurement anywhere), almost always a conversion error "
                    "(metres written as whole numbers, or the wrong channel); remove its id if it is really empty"
                )
        return None

    def load(self, file: DataFile) -> torch.Tensor:
        with file.open() as handle:
            depth = Image.open(handle)
            depth.load()
        millimetres = np.asarray(depth, dtype=np.float32)  # (H, W)
        return torch.from_numpy(millimetres / self.millimetres_per_unit)[None]  # (1, H, W) metres, 0 = none

    def finish(self, resampled: torch.Tensor) -> torch.Tensor:
        return resampled.float()  # (1, S, S) metres


def reader_for(spec: TargetSpec) -> TargetReader:
    """The reader of a dataset's target files."""
    return DepthReader() if isinstance(spec, DepthSpec) else MaskReader(spec)
