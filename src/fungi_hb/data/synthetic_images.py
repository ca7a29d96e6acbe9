"""The pieces synthetic datasets are made of (each dataset module writes its own layout from them): images
of textured shapes whose masks are exact, and writers of images, masks, depth maps and lists.

Each image is a textured background with a few textured shapes of other classes; every class has its own
colour and stripe frequency, so even a random backbone separates them somewhat. Masks mark a 1-pixel band
along region boundaries with the dataset's unlabelled value.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from fungi_hb.data.datasets.base import bit_palette


@dataclass(frozen=True)
class SyntheticSpec:
    """How large a synthetic dataset is."""

    num_train: int = 24
    num_val: int = 8
    size: tuple[int, int] = (96, 128)  # (height, width) of every image
    num_classes: int = 7  # layouts whose classes are free (your own): how many
    seed: int = 0


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


def save_image(image: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".png":
        Image.fromarray(image).save(path)
    else:
        Image.fromarray(image).save(path, quality=95)


def save_mask(mask: np.ndarray, path: Path, palette: bool = False) -> None:
    """An 8-bit mask (a palette PNG, as VOC's, when ``palette``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    png = Image.fromarray(mask, mode="L")
    if palette:
        png = png.convert("P")
        png.putpalette(list(bit_palette()))
    png.save(path)


def save_list(ids: list[str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(ids) + "\n")


def depth_of(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A depth map in millimetres [H, W] uint16 that follows the shapes of ``mask``: each region at its own
    distance with a gentle slope, a few pixels without measurement (0)."""
    height, width = mask.shape
    yy = np.mgrid[0:height, 0:width][0] / max(height - 1, 1)
    depth = 2000 + 3000 * yy  # the background recedes with the rows
    for value in np.unique(mask):
        region = mask == value
        depth[region] = 800 + 40 * (int(value) % 97) + 500 * yy[region] if value else depth[region]
    depth += rng.normal(0, 15, size=depth.shape)
    depth[rng.random(depth.shape) < 0.02] = 0  # missing measurements
    return np.clip(depth, 0, 65535).astype(np.uint16)


def save_depth(depth: np.ndarray, path: Path) -> None:
    """A 16-bit single-channel PNG of millimetres."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(depth).save(path)


@dataclass(frozen=True)
class MaskStyle:
    """How a dataset's masks look."""

    classes: tuple[int, ...]  # the foreground classes the shapes use
    background: int = 0  # the class of everything else
    boundary: int = 255  # the value of the 1-pixel band along region edges
    palette: bool = False  # palette PNGs (VOC) or plain 8-bit ones


@dataclass(frozen=True)
class SplitFiles:
    """Where one split's files go, by id."""

    ids: list[str]
    image: Callable[[str], Path]
    mask: Callable[[str], Path]
    list_file: Path | None = None  # one id per line (None: the folder is the list)


def write_split(files: SplitFiles, spec: SyntheticSpec, style: MaskStyle, rng: np.random.Generator) -> None:
    """Images and masks of a split, and its list."""
    height, width = spec.size
    for image_id in files.ids:
        image, mask = render_image(height, width, list(style.classes), rng, style.background, style.boundary)
        save_image(image, files.image(image_id))
        save_mask(mask, files.mask(image_id), style.palette)
    if files.list_file is not None:
        save_list(files.ids, files.list_file)


def numbered(pattern: str, count: int) -> list[str]:
    return [pattern.format(i) for i in range(count)]
