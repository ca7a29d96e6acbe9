"""Small synthetic datasets in the real VOC layouts, for tests, demos and smoke runs.

Each image is a textured background (class 0) with a few textured shapes of other classes; every
class has its own colour and stripe frequency, so even a random backbone separates them somewhat.
Masks are palette PNGs with 255 on a 1-pixel band along region boundaries, as in VOC.
"""

import logging
from pathlib import Path

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)


def voc_palette() -> list[int]:
    """The standard VOC colour map (256 RGB triples, flattened)."""
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
    return palette


def _class_style(cls: int) -> tuple[np.ndarray, float, float]:
    rng = np.random.default_rng(1000 + cls)
    colour = rng.uniform(30, 225, size=3)
    return colour, rng.uniform(0.15, 0.9), rng.uniform(0, np.pi)


def render_image(
    height: int, width: int, classes: list[int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One image [H, W, 3] uint8 and its mask [H, W] uint8 (class ids, 255 on boundaries)."""
    mask = np.zeros((height, width), dtype=np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    for cls in rng.choice(classes, size=rng.integers(1, 4), replace=False):
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
    mask[edges] = 255
    return np.clip(image, 0, 255).astype(np.uint8), mask


def make_synthetic_voc(
    root: Path,
    num_train: int = 24,
    num_val: int = 8,
    layout: str = "seed",
    size: tuple[int, int] = (96, 128),
    classes: tuple[int, ...] = (1, 2, 3, 4, 5),
    seed: int = 0,
) -> Path:
    """Write a synthetic dataset and return the folder to pass as ``--data-dir``.

    Args:
        root: output folder.
        layout: "seed" (images/, SegmentationClassAug/, SegmentationClass/, sets/) or "vocdevkit"
            (VOCdevkit/VOC2012/JPEGImages, ..., ImageSets/Segmentation).
        size: (height, width) of every image.
        classes: foreground class ids used (1..20).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    if layout == "seed":
        base, images, train_masks, val_masks, sets = (
            root,
            root / "images",
            root / "SegmentationClassAug",
            root / "SegmentationClass",
            root / "sets",
        )
    elif layout == "vocdevkit":
        base = root / "VOCdevkit" / "VOC2012"
        images, train_masks, val_masks = base / "JPEGImages", base / "SegmentationClassAug", base / "SegmentationClass"
        sets = base / "ImageSets" / "Segmentation"
    else:
        raise ValueError(f"unknown layout {layout!r}")
    for folder in (images, train_masks, val_masks, sets):
        folder.mkdir(parents=True, exist_ok=True)
    palette = voc_palette()
    splits = {"trainaug": [f"2007_{i:06d}" for i in range(num_train)], "val": [f"2008_{i:06d}" for i in range(num_val)]}
    for split, ids in splits.items():
        for image_id in ids:
            image, mask = render_image(size[0], size[1], list(classes), rng)
            Image.fromarray(image).save(images / f"{image_id}.jpg", quality=95)
            png = Image.fromarray(mask, mode="P")
            png.putpalette(palette)
            png.save((train_masks if split == "trainaug" else val_masks) / f"{image_id}.png")
        (sets / f"{split}.txt").write_text("\n".join(ids) + "\n")
    logger.info("Wrote a synthetic %s-layout dataset (%d train, %d val) to %s", layout, num_train, num_val, root)
    return root if layout == "seed" else root / "VOCdevkit" / "VOC2012"
