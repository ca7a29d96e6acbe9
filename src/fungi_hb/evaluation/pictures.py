"""Pictures of predictions, to see what a score means: per validation image, the image as the backbone saw it
(resized to S x S), the ground truth and the prediction after the mIoU's class matching, side by side, in the
dataset's palette; pixels the ground truth ignores (255) are drawn in the palette's colour 255 in both."""

import html
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fungi_hb.data.datasets.base import IGNORE
from fungi_hb.data.transforms import TransformConfig
from fungi_hb.evaluation.figure import figure
from fungi_hb.storage.atomic import atomic_path

logger = logging.getLogger(__name__)


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


def save_pictures(
    folder: Path,
    names: list[str],
    images: torch.Tensor,
    truths: torch.Tensor,
    predicted: torch.Tensor,
    matching: np.ndarray,
    palette: tuple[int, ...],
    class_names: tuple[str, ...] = (),
) -> list[Path]:
    """Write ``<name>_acc<pixel accuracy>.png`` per image into ``folder`` (see ``figure``), replacing the
    picture an earlier run made of the same image (its accuracy, so its file name, may differ), and an
    ``index.html`` that shows every picture of the folder; other files are left alone.

    Args:
        images: [N, 3, S, S] uint8; truths: [N, S, S] uint8 class ids (255 ignore); predicted: [N, S, S]
        predicted ids; matching: [C] class of each predicted id (from the mIoU); class_names: for the key.
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
            drawn = figure(image, truth.astype(np.int64), matched, palette, class_names, accuracy)
            Image.fromarray(drawn).save(tmp, format="PNG")
        written.append(path)
        for old in earlier.get(name, []):
            if old != path:
                old.unlink(missing_ok=True)
                replaced.append(old)
    _write_index(folder)
    logger.info(
        "Wrote %d prediction pictures (image | ground truth | prediction) to %s; open %s to see them all",
        len(written),
        folder,
        folder / "index.html",
    )
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


def _write_index(folder: Path) -> None:
    """``index.html``: every picture of the folder, by image name, with its pixel accuracy."""
    rows = []
    for name, paths in sorted(_pictures_by_image(folder).items()):
        for path in paths:
            accuracy = path.stem.rsplit("_acc", 1)[1]
            rows.append(
                f'<figure><img src="{html.escape(path.name)}" alt="{html.escape(name)}" loading="lazy">'
                f"<figcaption>{html.escape(name)}: pixel accuracy {html.escape(accuracy)}%</figcaption></figure>"
            )
    page = (
        "<!doctype html>\n<meta charset=utf-8><title>Predictions</title>\n"
        "<style>body{font-family:sans-serif} img{max-width:100%} figure{margin:0 0 24px}</style>\n"
        f"<h1>Predictions ({len(rows)} images)</h1>\n"
        "<p>Each picture: the image as the backbone saw it, the ground truth and the prediction (after the "
        "mIoU's matching of predicted ids to classes), with a key of the classes shown.</p>\n" + "\n".join(rows) + "\n"
    )
    with atomic_path(folder / "index.html") as tmp:
        tmp.write_text(page, encoding="utf-8")
