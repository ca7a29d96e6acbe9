"""NYU Depth v2 (the labeled release, official 795 / 654 split): images and 16-bit depth PNGs.

Reads ``nyu_depth_v2_labeled.mat`` (HDF5, MATLAB v7.3) image by image and ``splits.mat`` (MATLAB v5), and
writes::

    OUT/images/<id>.png    RGB, 480 x 640
    OUT/depth/<id>.png     16-bit single-channel PNG of millimetres (0: no measurement)
    OUT/train.txt          the ids of trainNdxs (795)
    OUT/val.txt            the ids of testNdxs (654)
    OUT/nyuv2.json         written last, once everything else is complete

An id is the 1-based index of the image in the labeled file, as 4 digits (``0001``).
"""

import argparse
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np
from PIL import Image
from scipy.io import loadmat

from fungi_hb.data.datasets.nyuv2 import MARKER as NYUV2_MARKER
from fungi_hb.data.prepare._common import add_output, log_progress, output_folder, require_file, save_png, write_lines
from fungi_hb.errors import UserError
from fungi_hb.log import count
from fungi_hb.storage.atomic import save_json

logger = logging.getLogger(__name__)

LABELED, SPLITS = "nyu_depth_v2_labeled.mat", "splits.mat"
TRAIN_IMAGES, VAL_IMAGES = 795, 654  # the official split
MARKER = NYUV2_MARKER  # what tells the reader this folder is NYUv2 (data/datasets/nyuv2.py)

WHERE_TO_GET = f"""Where to download (nothing is downloaded here; neither file has a published checksum):
  --labeled  {LABELED} (2.8 GiB), from
             http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/{LABELED}
             (page: https://cs.nyu.edu/~fergus/datasets/nyu_depth_v2.html)
  --splits   {SPLITS}, the official train / test split, from
             http://horatio.cs.nyu.edu/mit/silberman/indoor_seg_sup/{SPLITS}
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``prepare_data.py nyuv2``."""
    parser.add_argument("--labeled", type=Path, required=True, help=f"the labeled release, {LABELED}")
    parser.add_argument("--splits", type=Path, required=True, help=f"the official split, {SPLITS}")
    add_output(parser)


def prepare(args: argparse.Namespace) -> Path:
    """Convert the labeled release into ``args.out``; return it."""
    labeled = require_file(args.labeled, "--labeled", LABELED, "nyuv2")
    splits = require_file(args.splits, "--splits", SPLITS, "nyuv2")
    out = output_folder(args.out)
    with open_labeled(labeled) as (images, depths):
        total = check_labeled(images, depths, labeled)
        train, val = read_splits(splits, total)
        indices = sorted(set(train) | set(val))
        todo = [i for i in indices if not all(path.exists() for path in sample_paths(out, i))]
        logger.info("Writing %s of %s (%d already there)", count(len(todo), "image"), labeled.name,
                    len(indices) - len(todo))  # fmt: skip
        for done, index in enumerate(todo, 1):
            write_sample(images, depths, index, out)
            log_progress(done, len(todo), "images and depth maps")
    write_lines([image_id(i) for i in train], out / "train.txt")
    write_lines([image_id(i) for i in val], out / "val.txt")
    if not (out / MARKER).exists():
        save_json({"dataset": "nyuv2", "source": labeled.name, "train": len(train), "val": len(val)}, out / MARKER)
    logger.info("NYUv2 is complete in %s: %s, %s", out, count(len(train), "training image"),
                count(len(val), "validation image"))  # fmt: skip
    return out


def image_id(index: int) -> str:
    """The id of the image of 1-based ``index``."""
    return f"{index:04d}"


def sample_paths(out: Path, index: int) -> tuple[Path, Path]:
    """The image and the depth map of 1-based ``index``."""
    return out / "images" / f"{image_id(index)}.png", out / "depth" / f"{image_id(index)}.png"


@contextmanager
def open_labeled(path: Path) -> Iterator[tuple[h5py.Dataset, h5py.Dataset]]:
    """The ``images`` and ``depths`` datasets of the labeled file (read lazily), or a UserError."""
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise UserError(
            f"{path} is not an HDF5 file (MATLAB v7.3): it is not the labeled release {LABELED}; download that "
            "(see prepare_data.py nyuv2 --help)."
        ) from exc
    with handle:
        missing = [name for name in ("images", "depths") if not isinstance(handle.get(name), h5py.Dataset)]
        if missing:
            raise UserError(
                f"{path} has no {' or '.join(missing)} dataset: it is probably not the labeled release {LABELED} "
                "(e.g. a file of the raw dataset); download that (see prepare_data.py nyuv2 --help)."
            )
        yield handle["images"], handle["depths"]


def check_labeled(images: h5py.Dataset, depths: h5py.Dataset, path: Path) -> int:
    """The number of images N, after checking images (N, 3, W, H) uint8 and depths (N, W, H) float."""
    shapes = f"images {images.shape} {images.dtype}, depths {depths.shape} {depths.dtype}"
    good = (
        images.ndim == 4
        and images.shape[1] == 3
        and images.dtype == np.uint8
        and depths.ndim == 3
        and depths.shape == (images.shape[0], images.shape[2], images.shape[3])
        and np.issubdtype(depths.dtype, np.floating)
        and images.shape[0] > 0
    )
    if not good:
        raise UserError(
            f"{path} holds {shapes}, not images (N, 3, 640, 480) uint8 and depths (N, 640, 480) float: it is not "
            f"the labeled release {LABELED}; download that (see prepare_data.py nyuv2 --help)."
        )
    if images.shape[2:] != (640, 480):
        logger.warning("%s: images are %dx%d, not 640x480 as in the labeled release", path, *images.shape[2:])
    return images.shape[0]


def read_splits(path: Path, total: int) -> tuple[list[int], list[int]]:
    """The 1-based indices of trainNdxs and testNdxs, checked against the ``total`` images."""
    try:
        content = loadmat(path)
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise UserError(f"{path} is not a MATLAB file ({exc}): download the official {SPLITS} (see --help).") from exc
    splits = []
    for name, expected in (("trainNdxs", TRAIN_IMAGES), ("testNdxs", VAL_IMAGES)):
        if name not in content:
            raise UserError(f"{path} has no {name}: it is not the official {SPLITS}; download that (see --help).")
        indices = np.asarray(content[name], dtype=np.float64).ravel()  # [n], 1-based
        bad = indices[(indices != np.round(indices)) | (indices < 1) | (indices > total)]
        if bad.size:
            raise UserError(
                f"{path}: {name} holds {count(bad.size, 'index', 'indices')} outside 1..{total} (e.g. {bad[0]:g}), the "
                f"images of the labeled file: the split is not for this file; use the official {SPLITS}."
            )
        if indices.size != expected:
            logger.warning("%s: %s has %d indices, not the official %d", path, name, indices.size, expected)
        splits.append([int(i) for i in indices])
    return splits[0], splits[1]


def write_sample(images: h5py.Dataset, depths: h5py.Dataset, index: int, out: Path) -> None:
    """The image and the depth map of 1-based ``index``, each written unless already there."""
    image_path, depth_path = sample_paths(out, index)
    if not image_path.exists():
        # stored column-major: [3, W, H] -> [H, W, 3]
        image = np.ascontiguousarray(np.transpose(images[index - 1], (2, 1, 0)))
        save_png(Image.fromarray(image), image_path)
    if not depth_path.exists():
        depth_m = np.asarray(depths[index - 1], dtype=np.float64).T  # [W, H] -> [H, W] metres
        millimetres = np.clip(np.round(np.nan_to_num(depth_m, nan=0.0) * 1000), 0, 65535).astype(np.uint16)
        save_png(Image.fromarray(np.ascontiguousarray(millimetres)), depth_path)  # [H, W] uint16: mode I;16
