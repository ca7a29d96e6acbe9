"""How one prediction picture is drawn: the image, the ground truth and the prediction side by side,
enlarged to a readable size, each with a title, and a colour key naming every class shown."""

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fungi_hb.data.datasets.base import IGNORE

MIN_SIDE = 256  # panels smaller than this are enlarged (whole pixels, nearest neighbour)
GAP = 4  # white pixels between the three panels
TITLE = 22  # pixels above the panels
SWATCH = 14  # side of a colour square in the key
FONT_SIZE = 13


def font() -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=FONT_SIZE)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def panels(image: np.ndarray, truth: np.ndarray, predicted: np.ndarray, palette: tuple[int, ...]) -> np.ndarray:
    """image [3, S, S] uint8, truth and predicted [S, S] class ids -> [S, 3S + 2 GAP, 3] uint8; pixels the
    truth ignores (255) are drawn in the palette's colour 255 in both maps."""
    colours = np.asarray(palette, dtype=np.uint8).reshape(256, 3)
    shown = np.where(truth == IGNORE, IGNORE, predicted)  # (S, S)
    gap = np.full((truth.shape[0], GAP, 3), 255, dtype=np.uint8)
    return np.concatenate([image.transpose(1, 2, 0), gap, colours[truth], gap, colours[shown]], axis=1)


def image_iou(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Mean IoU over the classes present in this image's truth (255 not scored); nan when none is."""
    scored = truth != IGNORE
    ious = []
    for cls in np.unique(truth[scored]):
        t, p = truth[scored] == cls, predicted[scored] == cls
        ious.append((t & p).sum() / (t | p).sum())
    return float(np.mean(ious)) if ious else float("nan")


def figure(
    image: np.ndarray,
    truth: np.ndarray,
    predicted: np.ndarray,
    palette: tuple[int, ...],
    class_names: tuple[str, ...],
    accuracy: float,
) -> np.ndarray:
    """The whole picture [H, W, 3] uint8: titles, the three panels (enlarged to at least MIN_SIDE), a key.

    Args:
        image: [3, S, S] uint8; truth: [S, S] class ids with 255; predicted: [S, S] class ids after matching.
        class_names: C names, for the key; accuracy: this image's pixel accuracy.
    """
    side = truth.shape[0]
    scale = max(1, math.ceil(MIN_SIDE / side))
    big = [np.repeat(np.repeat(a, scale, axis=-1), scale, axis=-2) for a in (image, truth, predicted)]
    body = panels(big[0], big[1], big[2], palette)  # (S', 3S' + 2 GAP, 3)
    width, panel = body.shape[1], side * scale
    text_font = font()
    key = _key(truth, predicted, palette, class_names, width, text_font)
    canvas = Image.new("RGB", (width, TITLE + body.shape[0] + key.height), "white")
    canvas.paste(Image.fromarray(body), (0, TITLE))
    canvas.paste(key, (0, TITLE + body.shape[0]))
    draw = ImageDraw.Draw(canvas)
    iou = image_iou(truth, predicted)
    count = len(set(np.unique(truth[truth != IGNORE]).tolist()))
    titles = [
        "image",
        "ground truth",
        f"prediction: accuracy {100 * accuracy:.1f}%, IoU over its {count} classes {100 * iou:.1f}%",
    ]
    for i, title in enumerate(titles):
        draw.text((i * (panel + GAP) + 4, 4), title, fill="black", font=text_font)
    return np.asarray(canvas)


def _key(
    truth: np.ndarray, predicted: np.ndarray, palette: tuple[int, ...], names: tuple[str, ...], width: int, font
) -> Image.Image:
    """The colour key of the classes in the truth or the prediction (and of ignored pixels), in rows."""
    colours = np.asarray(palette, dtype=np.uint8).reshape(256, 3)
    shown = sorted(set(np.unique(truth).tolist()) | set(np.unique(predicted[truth != IGNORE]).tolist()))
    entries = [(c, names[c] if c < len(names) else f"class {c}") for c in shown if c != IGNORE]
    if IGNORE in shown:
        entries.append((IGNORE, "not scored"))
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    row_height, x, rows = SWATCH + 8, 4, 1
    placed = []
    for cls, name in entries:
        entry_width = SWATCH + 6 + int(measure.textlength(name, font=font)) + 14
        if x + entry_width > width and x > 4:
            x, rows = 4, rows + 1
        placed.append((x, (rows - 1) * row_height + 4, cls, name))
        x += entry_width
    key = Image.new("RGB", (width, rows * row_height + 4), "white")
    draw = ImageDraw.Draw(key)
    for x, y, cls, name in placed:
        draw.rectangle(
            [x, y, x + SWATCH - 1, y + SWATCH - 1], fill=tuple(int(v) for v in colours[cls]), outline="black"
        )
        draw.text((x + SWATCH + 6, y), name, fill="black", font=font)
    return key
