"""Pascal VOC 2012 (with SBD's augmented training masks): the published ``VOCSegmentation`` folder or the
standard ``VOCdevkit/VOC2012``. Masks hold class ids 0..20 and 255 on object boundaries; in memory labels
255 counts as background (class 0), as in the published code."""

from pathlib import Path

from fungi_hb.data.datasets.base import ClassSpec, Layout, Split, bit_palette, identity_mapping

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip


class Voc:
    name = "voc"

    def detect(self, root: Path) -> Layout | None:
        if (root / "images").is_dir() and (root / "sets").is_dir():  # the published VOCSegmentation folder
            images = root / "images"
            return Layout(
                "Pascal VOC, the published VOCSegmentation folder",
                root,
                Split(images, root / "SegmentationClassAug", root / "sets" / "trainaug.txt"),
                Split(images, root / "SegmentationClass", root / "sets" / "val.txt"),
            )
        for base in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
            if (base / "JPEGImages").is_dir():
                sets = base / "ImageSets" / "Segmentation"
                train_list = next(
                    (sets / n for n in ("trainaug.txt", "train_aug.txt") if (sets / n).is_file()), sets / "trainaug.txt"
                )
                aug = base / "SegmentationClassAug"
                images = base / "JPEGImages"
                return Layout(
                    "Pascal VOC, the VOCdevkit/VOC2012 layout",
                    base,
                    Split(images, aug if aug.is_dir() else base / "SegmentationClass", train_list),
                    Split(images, base / "SegmentationClass", sets / "val.txt"),
                )
        return None

    def classes(self, layout: Layout, keep_other: bool) -> ClassSpec:
        return ClassSpec("voc", VOC_CLASSES, identity_mapping(21), ignore_as_class=0, palette=bit_palette())
