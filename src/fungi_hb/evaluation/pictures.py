"""Pictures of predictions, to see what a score means: per validation image, the image as the backbone saw it
(resized to S x S), the ground truth and the prediction after the mIoU's class matching, side by side, in the
dataset's palette; pixels the ground truth ignores (255) are drawn in the palette's colour 255 in both."""

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fungi_hb.data.datasets.base import IGNORE
from fungi_hb.data.transforms import TransformConfig
from fungi_hb.storage.atomic import atomic_path

logger = logging.getLogger(__name__)
GAP = 4  # white pixels between the three panels


@dataclass(frozen=True)
class Pictures:
    """What is pictured of some validation images, in the order of ``index``."""

    index: torch.Tensor  # [n] positions in the validation list
    image: torch.Tensor  # [n, 3, S, S] uint8, as the backbone saw it
    truth: torch.Tensor  # [n, S, S] class ids (255 ignored)
    predicted: torch.Tensor  # [n, S, S] uint8 predicted ids, before matching

    def as_tensors(self) -> dict[str, torch.Tensor]:
        return {f"picture_{name}": getattr(self, name) for name in ("index", "image", "truth", "predicted")}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> "Pictures | None":
        """The pictures saved in a piece's tensors (None when it holds none)."""
        if "picture_index" not in tensors:
            return None
        return cls(*(tensors[f"picture_{name}"] for name in ("index", "image", "truth", "predicted")))

    def in_order(self) -> "Pictures":
        order = torch.argsort(self.index)
        return Pictures(self.index[order], self.image[order], self.truth[order], self.predicted[order])


def to_uint8_image(images: torch.Tensor, transform: TransformConfig) -> torch.Tensor:
    """Undo the normalisation: [B, 3, S, S] float -> [B, 3, S, S] uint8."""
    mean = torch.tensor(transform.mean, dtype=images.dtype, device=images.device)[:, None, None]
    std = torch.tensor(transform.std, dtype=images.dtype, device=images.device)[:, None, None]
    return (images * std + mean).clamp(0, 1).mul(255).round().to(torch.uint8)


def pixel_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Share of the scored pixels (truth != 255) whose predicted class is right; nan when none is scored."""
    scored = truth != IGNORE
    return float((predicted[scored] == truth[scored]).mean()) if scored.any() else float("nan")


def panel(image: np.ndarray, truth: np.ndarray, predicted: np.ndarray, palette: tuple[int, ...]) -> np.ndarray:
    """image [3, S, S] uint8, truth and predicted [S, S] class ids -> [S, 3S + 2 GAP, 3] uint8."""
    colours = np.asarray(palette, dtype=np.uint8).reshape(256, 3)
    shown = np.where(truth == IGNORE, IGNORE, predicted)  # (S, S): ignored pixels marked in both
    size = truth.shape[0]
    gap = np.full((size, GAP, 3), 255, dtype=np.uint8)
    return np.concatenate([image.transpose(1, 2, 0), gap, colours[truth], gap, colours[shown]], axis=1)


def save_pictures(
    folder: Path,
    names: list[str],
    images: torch.Tensor,
    truths: torch.Tensor,
    predicted: torch.Tensor,
    matching: np.ndarray,
    palette: tuple[int, ...],
) -> list[Path]:
    """Write ``<name>_acc<pixel accuracy>.png`` per image into ``folder``, replacing the picture an earlier run
    made of the same image (its accuracy, so its file name, may differ); other files are left alone.

    Args:
        images: [N, 3, S, S] uint8; truths: [N, S, S] uint8 class ids (255 ignore); predicted: [N, S, S]
        predicted ids; matching: [C] class of each predicted id (from the mIoU).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    earlier = _pictures_by_image(folder)  # listed once, before any is written
    written, replaced = [], []
    for name, image, truth, pred in zip(names, images.numpy(), truths.numpy(), predicted.numpy()):
        matched = matching[pred.astype(np.int64)]  # (S, S)
        accuracy = pixel_accuracy(truth, matched)
        path = folder / f"{name}_acc{100 * accuracy:.1f}.png"
        with atomic_path(path) as tmp:
            Image.fromarray(panel(image, truth.astype(np.int64), matched, palette)).save(tmp, format="PNG")
        written.append(path)
        for old in earlier.get(name, []):
            if old != path:
                old.unlink(missing_ok=True)
                replaced.append(old)
    logger.info("Wrote %d prediction pictures (image | ground truth | prediction) to %s", len(written), folder)
    if replaced:
        logger.info("Replaced %d pictures of the same images from an earlier run.", len(replaced))
    return written


def _pictures_by_image(folder: Path) -> dict[str, list[Path]]:
    """The pictures in ``folder`` (``<name>_acc<number or nan>.png``) by image name."""
    pattern = re.compile(r"(.+)_acc(\d+\.\d|nan)\.png")
    found: dict[str, list[Path]] = {}
    for path in folder.iterdir():
        match = pattern.fullmatch(path.name)
        if match:
            found.setdefault(match.group(1), []).append(path)
    return found
