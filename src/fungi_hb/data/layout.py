"""Where the images, masks and split files of a VOC-style dataset are (METHOD section 1)."""

import logging
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from ..errors import UserError

logger = logging.getLogger(__name__)

NUM_CLASSES = 21
VOC_CLASSES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)


@dataclass(frozen=True)
class VocLayout:
    """Folders and split files of one dataset."""

    name: str  # "seed" (images/, sets/) or "vocdevkit" (JPEGImages/, ImageSets/Segmentation/)
    images: Path  # <id>.jpg
    train_masks: Path  # <id>.png for training ids (SegmentationClassAug)
    val_masks: Path  # <id>.png for validation ids (SegmentationClass)
    train_list: Path  # one id per line
    val_list: Path


@dataclass(frozen=True)
class Sample:
    image: Path
    mask: Path


def detect_layout(root: Path) -> VocLayout:
    """Recognise the seed's ``VOCSegmentation`` layout or ``VOCdevkit/VOC2012`` (also given directly)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(
            f"--data-dir {root} does not exist. Point it at the unpacked Pascal VOC folder "
            "(the published VOCSegmentation folder, or VOCdevkit/VOC2012), or make a synthetic one "
            "with scripts/make_synthetic_voc.py."
        )
    if (root / "images").is_dir() and (root / "sets").is_dir():
        return VocLayout(
            "seed",
            root / "images",
            root / "SegmentationClassAug",
            root / "SegmentationClass",
            root / "sets" / "trainaug.txt",
            root / "sets" / "val.txt",
        )
    for base in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
        if (base / "JPEGImages").is_dir():
            sets = base / "ImageSets" / "Segmentation"
            train_list = next(
                (sets / n for n in ("trainaug.txt", "train_aug.txt") if (sets / n).is_file()), sets / "trainaug.txt"
            )
            aug = base / "SegmentationClassAug"
            return VocLayout(
                "vocdevkit",
                base / "JPEGImages",
                aug if aug.is_dir() else base / "SegmentationClass",
                base / "SegmentationClass",
                train_list,
                sets / "val.txt",
            )
    raise UserError(
        f"{root} is neither the seed layout (images/, SegmentationClassAug/, SegmentationClass/, sets/) "
        "nor VOCdevkit/VOC2012 (JPEGImages/, SegmentationClass[Aug]/, ImageSets/Segmentation/). "
        "Check --data-dir."
    )


def read_ids(path: Path, what: str) -> list[str]:
    if not Path(path).is_file():
        raise UserError(f"The {what} split file {path} is missing. Add it, or pass --{what}-list FILE.")
    ids = [line.strip().split()[0] for line in Path(path).read_text().splitlines() if line.strip()]
    if not ids:
        raise UserError(f"The {what} split file {path} lists no images.")
    return ids


def subset_ids(ids: list[str], num_samples: int | None, seed: int) -> list[str]:
    """A random subset of ``num_samples`` ids that depends on the seed alone (quirk 4)."""
    if num_samples is None or num_samples >= len(ids):
        if num_samples is not None:
            logger.warning("--num-train-samples %d >= %d available: using all.", num_samples, len(ids))
        return list(ids)
    if num_samples < 1:
        raise UserError(f"--num-train-samples must be at least 1, got {num_samples}.")
    return sorted(random.Random(seed).sample(sorted(ids), num_samples))


def resolve_samples(ids: list[str], images: Path, masks: Path, check_readable: bool = True) -> list[Sample]:
    """Paths of each id's image and mask; every id must have both, readable."""
    samples = [Sample(images / f"{i}.jpg", masks / f"{i}.png") for i in ids]
    missing = [s for s in samples if not s.image.is_file() or not s.mask.is_file()]
    if missing:
        first = missing[0]
        raise UserError(
            f"{len(missing)} listed ids lack an image or a mask, e.g. {first.image} / {first.mask}. "
            "Fix the dataset or the split file."
        )
    if check_readable:
        for sample in tqdm(samples, desc="checking files", leave=False, disable=len(samples) < 500):
            for path in (sample.image, sample.mask):
                try:
                    with Image.open(path) as img:
                        img.verify()
                except Exception as exc:
                    raise UserError(f"Cannot read {path} ({exc}). Replace the file or drop its id.") from exc
    return samples
