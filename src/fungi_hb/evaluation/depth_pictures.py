"""Pictures of depth predictions: per validation image, the image as the backbone saw it, the measured depth and
the predicted depth side by side on one colour scale (near: dark blue, far: yellow; not measured: black),
with a colour bar in metres under them. ``<image id>.png`` per image and an ``index.html`` with the run's
figures, saved as one commit."""

import html
import logging
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fungi_hb.evaluation.figure import GAP, MIN_SIDE, TITLE, font
from fungi_hb.evaluation.pictures import Picture, png_bytes
from fungi_hb.storage.transaction import write_files

logger = logging.getLogger(__name__)
BAR = 34  # pixels of the colour bar and its labels under the panels
# a dark-blue -> green -> yellow scale (anchors of a perceptually even map), 256 steps
_ANCHORS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64)


def colour_scale() -> np.ndarray:
    """[256, 3] uint8 colours from near (0) to far (255)."""
    positions = np.linspace(0, len(_ANCHORS) - 1, 256)
    low = np.floor(positions).astype(int).clip(max=len(_ANCHORS) - 2)
    frac = (positions - low)[:, None]
    return np.round(_ANCHORS[low] * (1 - frac) + _ANCHORS[low + 1] * frac).astype(np.uint8)


def coloured(depth: np.ndarray, top: float) -> np.ndarray:
    """[S, S] metres -> [S, S, 3] colours on the scale 0..``top``; unmeasured (0) black."""
    index = np.clip(np.round(depth / max(top, 1e-6) * 255), 0, 255).astype(np.int64)
    out = colour_scale()[index]
    out[depth <= 0] = 0
    return out


def depth_figure(picture: Picture, top: float, rmse: float) -> np.ndarray:
    """[H, W, 3] uint8: titles, image | measured | predicted (enlarged to at least MIN_SIDE), a colour bar."""
    side = np.asarray(picture.truth).shape[0]
    scale = max(1, math.ceil(MIN_SIDE / side))

    def big(array: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(array, scale, axis=0), scale, axis=1)

    image = big(np.asarray(picture.image).transpose(1, 2, 0))
    panels = [image, big(coloured(np.asarray(picture.truth), top)), big(coloured(np.asarray(picture.predicted), top))]
    gap = np.full((image.shape[0], GAP, 3), 255, dtype=np.uint8)
    body = np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1)
    canvas = Image.new("RGB", (body.shape[1], TITLE + body.shape[0] + BAR), "white")
    canvas.paste(Image.fromarray(body), (0, TITLE))
    draw = ImageDraw.Draw(canvas)
    titles = ["image", "measured depth (black: none)", f"predicted depth: RMSE {rmse:.3f} m"]
    for i, title in enumerate(titles):
        draw.text((i * (image.shape[1] + GAP) + 4, 4), title, fill="black", font=font())
    bar_y, width = TITLE + body.shape[0] + 6, body.shape[1] - 120
    strip = colour_scale()[np.linspace(0, 255, width).astype(int)][None].repeat(12, axis=0)  # (12, width, 3)
    canvas.paste(Image.fromarray(strip), (60, bar_y))
    draw.text((4, bar_y), "0 m", fill="black", font=font())
    draw.text((64 + width, bar_y), f"{top:.1f} m", fill="black", font=font())
    return np.asarray(canvas)


def image_rmse(truth: np.ndarray, predicted: np.ndarray) -> float:
    """RMSE in metres over the measured pixels of one image (nan when none is)."""
    measured = truth > 0
    return float(np.sqrt(np.mean((predicted[measured] - truth[measured]) ** 2))) if measured.any() else float("nan")


def save_depth_pictures(folder: Path, pictures: list[Picture], metrics: dict) -> None:
    """``<name>.png`` per picture and ``index.html``, on the colour scale of the deepest pictured depth."""
    top = max([float(np.max(np.asarray(p.truth))) for p in pictures] + [1e-3])
    files, rows = {}, []
    for picture in pictures:
        rmse = image_rmse(np.asarray(picture.truth), np.asarray(picture.predicted))
        files[f"{picture.name}.png"] = png_bytes(depth_figure(picture, top, rmse))
        rows.append(
            f'<figure><img src="{html.escape(picture.name)}.png" alt="{html.escape(picture.name)}" loading="lazy">'
            f"<figcaption>{html.escape(picture.name)}: RMSE {rmse:.3f} m over its measured pixels</figcaption></figure>"
        )
    rmse = metrics.get("rmse")
    heading = f"RMSE {rmse:.3f} m, AbsRel {metrics['abs_rel']:.3f}, delta1 {metrics['delta1']:.3f}" if rmse else "-"
    page = (
        "<!doctype html>\n<meta charset=utf-8><title>Depth predictions</title>\n"
        "<style>body{font-family:sans-serif} img{max-width:100%} figure{margin:0 0 24px}</style>\n"
        f"<h1>Depth predictions ({len(rows)} images)</h1>\n<p>The run: {html.escape(heading)}.</p>\n"
        f"<p>Each picture: the image, the measured and the predicted depth on one scale, 0 to {top:.1f} m.</p>\n"
        + "\n".join(rows)
        + "\n"
    )
    write_files(Path(folder), {**files, "index.html": page.encode()})
    logger.info("Wrote %d depth pictures to %s; open %s", len(pictures), folder, Path(folder) / "index.html")
