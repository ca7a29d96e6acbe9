"""Small synthetic datasets in the real layouts of every dataset (``DatasetKind.synthetic``), for tests,
demos, smoke runs and your own trials: ``make_synthetic_dataset(root, layout=...)`` or
``scripts/make_synthetic_data.py``."""

import logging
from pathlib import Path
from typing import Callable

from fungi_hb.data.datasets.registry import datasets
from fungi_hb.data.synthetic_images import SyntheticSpec

logger = logging.getLogger(__name__)

Writer = Callable[[Path, SyntheticSpec], Path]  # (root, spec) -> the folder to pass as `data.data_dir`


def layouts() -> dict[str, Writer]:
    """Every layout a dataset can write, by name (``seed`` and ``vocdevkit`` for Pascal VOC, ...)."""
    return {name: writer for kind in datasets().values() for name, writer in kind.synthetic().items()}


def make_synthetic_dataset(
    root: Path,
    num_train: int = 24,
    num_val: int = 8,
    layout: str = "seed",
    size: tuple[int, int] = (96, 128),
    num_classes: int = 7,
    seed: int = 0,
) -> Path:
    """Write a synthetic dataset in ``layout`` (see ``layouts``) and return the folder to pass as
    ``data.data_dir``. ``size``: (height, width) of every image; ``num_classes``: for layouts whose classes
    are free (your own data)."""
    writers = layouts()
    if layout not in writers:
        raise ValueError(f"unknown layout {layout!r}; use one of {', '.join(writers)}")
    spec = SyntheticSpec(num_train, num_val, size, num_classes, seed)
    folder = writers[layout](Path(root), spec)
    logger.info("Wrote a synthetic %s-layout dataset (%d train, %d val) to %s", layout, num_train, num_val, folder)
    return folder
