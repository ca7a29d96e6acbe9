"""Small synthetic datasets in the real layouts (Pascal VOC, ADE20K, the generic one), for tests, demos and
smoke runs.

Each image is a textured background with a few textured shapes of other classes; every class has its own
colour and stripe frequency, so even a random backbone separates them somewhat. Masks mark a 1-pixel band
along region boundaries with the dataset's unlabelled value (VOC and generic: 255; ADE20K: 0, "other").
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fungi_hb.data.datasets.base import bit_palette

logger = logging.getLogger(__name__)

LAYOUTS = ("seed", "vocdevkit", "ade20k", "generic")


def _class_style(cls: int) -> tuple[np.ndarray, float, float]:
    rng = np.random.default_rng(1000 + cls)
    colour = rng.uniform(30, 225, size=3)
    return colour, rng.uniform(0.15, 0.9), rng.uniform(0, np.pi)


def render_image(
    height: int, width: int, classes: list[int], rng: np.random.Generator, background: int = 0, boundary: int = 255
) -> tuple[np.ndarray, np.ndarray]:
    """One image [H, W, 3] uint8 and its mask [H, W] uint8 (class ids, ``boundary`` on region edges)."""
    mask = np.full((height, width), background, dtype=np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    for cls in rng.choice(classes, size=rng.integers(1, min(4, len(classes) + 1)), replace=False):
        cy, cx = rng.uniform(0.2, 0.8) * height, rng.uniform(0.2, 0.8) * width
        ry, rx = rng.uniform(0.15, 0.4) * height, rng.uniform(0.15, 0.4) * width
        if rng.random() < 0.5:
            inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        else:
            inside = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
        mask[inside] = cls
    image = np.zeros((height, width, 3), dtype=np.float64)
    for cls in np.unique(mask):
        colour, freq, angle = _class_style(int(cls))
        stripes = np.sin(freq * (xx * np.cos(angle) + yy * np.sin(angle)))  # (H, W)
        region = mask == cls
        image[region] = colour + 25 * stripes[region, None]
    image += rng.normal(0, 8, size=image.shape)
    edges = np.zeros_like(mask, dtype=bool)
    edges[:-1] |= mask[:-1] != mask[1:]
    edges[:, :-1] |= mask[:, :-1] != mask[:, 1:]
    mask[edges] = boundary
    return np.clip(image, 0, 255).astype(np.uint8), mask


@dataclass(frozen=True)
class _Plan:
    """Where one layout puts things, and how its masks look."""

    root: Path  # what to pass as `data.data_dir`
    images: tuple[Path, Path]  # train, val image folders
    masks: tuple[Path, Path]  # train, val mask folders
    lists: tuple[Path | None, Path | None]  # train, val list files (None: the folder is the list)
    ids: tuple[str, str]  # id patterns
    background: int
    boundary: int
    palette: bool  # palette PNGs (VOC) or plain 8-bit ones


def _plan(root: Path, layout: str) -> _Plan:
    if layout == "seed":
        return _Plan(root, (root / "images",) * 2, (root / "SegmentationClassAug", root / "SegmentationClass"),
                     (root / "sets" / "trainaug.txt", root / "sets" / "val.txt"), ("2007_{:06d}", "2008_{:06d}"),
                     0, 255, True)  # fmt: skip
    if layout == "vocdevkit":
        base = root / "VOCdevkit" / "VOC2012"
        sets = base / "ImageSets" / "Segmentation"
        masks = (base / "SegmentationClassAug", base / "SegmentationClass")
        return _Plan(base, (base / "JPEGImages",) * 2, masks, (sets / "trainaug.txt", sets / "val.txt"),
                     ("2007_{:06d}", "2008_{:06d}"), 0, 255, True)  # fmt: skip
    if layout == "ade20k":
        base = root / "ADEChallengeData2016"
        return _Plan(base, (base / "images" / "training", base / "images" / "validation"),
                     (base / "annotations" / "training", base / "annotations" / "validation"), (None, None),
                     ("ADE_train_{:08d}", "ADE_val_{:08d}"), 1, 0, False)  # fmt: skip
    if layout == "generic":
        return _Plan(root, (root / "images",) * 2, (root / "masks",) * 2, (root / "train.txt", root / "val.txt"),
                     ("train_{:05d}", "val_{:05d}"), 0, 255, False)  # fmt: skip
    raise ValueError(f"unknown layout {layout!r}; use one of {LAYOUTS}")


def default_classes(layout: str, num_classes: int) -> tuple[int, ...]:
    """Foreground class ids the shapes use: VOC 1..5; ADE20K six of 1..150 (the background is 1, "wall");
    generic 1..C-1."""
    if layout == "ade20k":
        return (3, 5, 13, 21, 88, 150)
    if layout == "generic":
        return tuple(range(1, num_classes))
    return (1, 2, 3, 4, 5)


def make_synthetic_dataset(
    root: Path,
    num_train: int = 24,
    num_val: int = 8,
    layout: str = "seed",
    size: tuple[int, int] = (96, 128),
    classes: tuple[int, ...] | None = None,
    num_classes: int = 7,
    seed: int = 0,
) -> Path:
    """Write a synthetic dataset and return the folder to pass as ``data.data_dir``.

    Args:
        root: output folder.
        layout: "seed" (the published VOCSegmentation folder), "vocdevkit", "ade20k" or "generic".
        size: (height, width) of every image.
        classes: foreground class ids (default: ``default_classes``).
        num_classes: classes of the generic layout (written to classes.txt).
    """
    plan = _plan(Path(root), layout)
    classes = classes or default_classes(layout, num_classes)
    rng = np.random.default_rng(seed)
    palette = list(bit_palette())
    for folder in {*plan.images, *plan.masks}:
        folder.mkdir(parents=True, exist_ok=True)
    for split, count in enumerate((num_train, num_val)):
        ids = [plan.ids[split].format(i) for i in range(count)]
        for image_id in ids:
            image, mask = render_image(size[0], size[1], list(classes), rng, plan.background, plan.boundary)
            Image.fromarray(image).save(plan.images[split] / f"{image_id}.jpg", quality=95)
            png = Image.fromarray(mask, mode="L")
            if plan.palette:
                png = png.convert("P")
                png.putpalette(palette)
            png.save(plan.masks[split] / f"{image_id}.png")
        if plan.lists[split] is not None:
            plan.lists[split].parent.mkdir(parents=True, exist_ok=True)
            plan.lists[split].write_text("\n".join(ids) + "\n")
    if layout == "generic":
        (plan.root / "classes.txt").write_text("".join(f"class{c}\n" for c in range(num_classes)))
    logger.info("Wrote a synthetic %s-layout dataset (%d train, %d val) to %s", layout, num_train, num_val, plan.root)
    return plan.root
