"""Pascal VOC 2012 (with SBD's augmented training masks): the published ``VOCSegmentation`` folder or the
standard ``VOCdevkit/VOC2012``. Masks hold class ids 0..20 and 255 on object boundaries; in memory labels
255 counts as background (class 0), as in the published code."""

from pathlib import Path

import numpy as np

from fungi_hb.data.datasets.base import (
    ClassOptions,
    ClassSpec,
    DatasetKind,
    Layout,
    Split,
    bit_palette,
    identity_mapping,
    register,
)
from fungi_hb.data.files import FileTree
from fungi_hb.data.synthetic_images import MaskStyle, SplitFiles, SyntheticSpec, numbered, write_split

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip


@register
class Voc(DatasetKind):
    name = "voc"
    expected = "Pascal VOC (images/ and sets/, or VOCdevkit/VOC2012 with JPEGImages/)"
    detect_order = 10

    def detect(self, tree: FileTree) -> Layout | None:
        if tree.is_dir("images") and tree.is_dir("sets"):  # the published VOCSegmentation folder
            return Layout(
                "Pascal VOC, the published VOCSegmentation folder",
                tree,
                Split("images", "SegmentationClassAug", "sets/trainaug.txt"),
                Split("images", "SegmentationClass", "sets/val.txt"),
            )
        for base in ("", "VOC2012", "VOCdevkit/VOC2012"):
            if tree.is_dir(f"{base}/JPEGImages".lstrip("/")):
                root = tree.sub(base) if base else tree
                sets = "ImageSets/Segmentation"
                train_list = next(
                    (f"{sets}/{n}" for n in ("trainaug.txt", "train_aug.txt") if root.is_file(f"{sets}/{n}")),
                    f"{sets}/trainaug.txt",
                )
                masks = "SegmentationClassAug" if root.is_dir("SegmentationClassAug") else "SegmentationClass"
                return Layout(
                    "Pascal VOC, the VOCdevkit/VOC2012 layout",
                    root,
                    Split("JPEGImages", masks, train_list),
                    Split("JPEGImages", "SegmentationClass", f"{sets}/val.txt"),
                )
        return None

    def targets(self, layout: Layout, options: ClassOptions) -> ClassSpec:
        return ClassSpec("voc", VOC_CLASSES, identity_mapping(21), ignore_as_class=0, palette=bit_palette())

    def synthetic(self) -> dict:
        return {"seed": write_published_folder, "vocdevkit": write_vocdevkit}


STYLE = MaskStyle(classes=(1, 2, 3, 4, 5), palette=True)  # 5 of the 20 foreground classes


def _write(images: Path, masks: tuple[Path, Path], lists: tuple[Path, Path], spec: SyntheticSpec) -> None:
    rng = np.random.default_rng(spec.seed)
    for split, (pattern, count) in enumerate((("2007_{:06d}", spec.num_train), ("2008_{:06d}", spec.num_val))):
        files = SplitFiles(
            numbered(pattern, count),
            lambda i: images / f"{i}.jpg",
            lambda i, m=masks[split]: m / f"{i}.png",
            lists[split],
        )
        write_split(files, spec, STYLE, rng)


def write_published_folder(root: Path, spec: SyntheticSpec) -> Path:
    """The published VOCSegmentation folder."""
    masks = (root / "SegmentationClassAug", root / "SegmentationClass")
    _write(root / "images", masks, (root / "sets" / "trainaug.txt", root / "sets" / "val.txt"), spec)
    return root


def write_vocdevkit(root: Path, spec: SyntheticSpec) -> Path:
    """VOCdevkit/VOC2012 with SBD's SegmentationClassAug."""
    base = root / "VOCdevkit" / "VOC2012"
    sets = base / "ImageSets" / "Segmentation"
    masks = (base / "SegmentationClassAug", base / "SegmentationClass")
    _write(base / "JPEGImages", masks, (sets / "trainaug.txt", sets / "val.txt"), spec)
    return base
