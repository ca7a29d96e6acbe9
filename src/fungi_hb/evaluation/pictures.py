"""Pictures of segmentation predictions, to see what a score means: per validation image, the image as the
backbone saw it (resized to S x S), the ground truth and the prediction after the mIoU's class matching,
side by side, in the dataset's palette; pixels the ground truth ignores (255) are drawn in the palette's
colour 255 in both. ``<image id>.png`` per image and an ``index.html`` with the run's mIoU, saved as one
commit (a rerun replaces the pictures of the same images)."""

import html
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from fungi_hb.data.datasets.base import IGNORE, ClassSpec
from fungi_hb.data.transform_config import TransformConfig
from fungi_hb.evaluation.figure import figure, image_iou
from fungi_hb.storage.transaction import write_files

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Picture:
    """What is drawn of one validation image."""

    name: str  # the file name's stem (the image id)
    image: Any  # [3, S, S] uint8, as the backbone saw it
    truth: Any  # [S, S] the target (class ids with 255, or depth in metres)
    predicted: Any  # [S, S] the prediction (predicted ids before matching, or depth in metres)


def to_uint8_image(images: torch.Tensor, transform: TransformConfig) -> torch.Tensor:
    """Undo the normalisation: [B, 3, S, S] float -> [B, 3, S, S] uint8."""
    mean = torch.tensor(transform.mean, dtype=images.dtype, device=images.device)[:, None, None]
    std = torch.tensor(transform.std, dtype=images.dtype, device=images.device)[:, None, None]
    return (images * std + mean).clamp(0, 1).mul(255).round().to(torch.uint8)


def pixel_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Share of the scored pixels (truth != 255) whose predicted class is right; nan when none is scored."""
    scored = truth != IGNORE
    return float((predicted[scored] == truth[scored]).mean()) if scored.any() else float("nan")


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def save_pictures(folder: Path, pictures: list[Picture], classes: ClassSpec, metrics: dict) -> None:
    """Write ``<name>.png`` per picture (see ``figure``) and ``index.html`` into ``folder``, all at once.

    Args:
        pictures: truth [S, S] class ids (255 ignored), predicted [S, S] predicted ids before matching.
        metrics: the run's (``matching`` maps predicted ids to classes; the mIoU figures head the page).
    """
    matching = np.asarray(metrics["matching"])
    files, rows = {}, []
    for picture in pictures:
        truth = np.asarray(picture.truth).astype(np.int64)
        matched = matching[np.asarray(picture.predicted).astype(np.int64)]  # (S, S)
        accuracy, iou = pixel_accuracy(truth, matched), image_iou(truth, matched)
        drawn = figure(np.asarray(picture.image), truth, matched, classes.palette, classes.class_names, accuracy)
        files[f"{picture.name}.png"] = png_bytes(drawn)
        rows.append((picture.name, accuracy, iou))
    files["index.html"] = _index_page(rows, metrics).encode()
    write_files(Path(folder), files)
    logger.info(
        "Wrote %d prediction pictures (image | ground truth | prediction) to %s; open %s to see them all",
        len(pictures),
        folder,
        Path(folder) / "index.html",
    )


def _index_page(rows: list[tuple[str, float, float]], metrics: dict) -> str:
    present = metrics.get("miou_present_percent")
    heading = f"mIoU {metrics['miou_percent']:.2f}% over all {metrics['num_classes']} classes" + (
        f", {present:.2f}% over the {len(metrics['present_classes'])} classes present in the validation truth"
        if present is not None and len(metrics["present_classes"]) < metrics["num_classes"]
        else ""
    )
    figures = [
        f'<figure><img src="{html.escape(name)}.png" alt="{html.escape(name)}" loading="lazy">'
        f"<figcaption>{html.escape(name)}: pixel accuracy {100 * accuracy:.1f}%, mean IoU over the classes of its "
        f"truth {100 * iou:.1f}%</figcaption></figure>"
        for name, accuracy, iou in rows
    ]
    return (
        "<!doctype html>\n<meta charset=utf-8><title>Predictions</title>\n"
        "<style>body{font-family:sans-serif} img{max-width:100%} figure{margin:0 0 24px}</style>\n"
        f"<h1>Predictions ({len(rows)} images)</h1>\n<p>The run: {html.escape(heading)}.</p>\n"
        "<p>Each picture: the image as the backbone saw it, the ground truth and the prediction (after the "
        "mIoU's matching of predicted ids to classes), with a key of the classes shown. Per image: its pixel "
        "accuracy and the mean IoU over the classes of its ground truth.</p>\n" + "\n".join(figures) + "\n"
    )
