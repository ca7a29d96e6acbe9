"""Which training and validation samples (image and mask files) a run uses."""

import logging
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fungi_hb.data.datasets.base import Split
from fungi_hb.data.datasets.registry import Dataset
from fungi_hb.errors import UserError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataConfig:
    """Which images, how they are loaded."""

    data_dir: Path  # dataset root (see data/datasets)
    dataset: str = "auto"  # "auto" (detected from the layout) or a name of data.datasets.registry.DATASETS
    keep_other: bool = False  # ADE20K: score 0 ("other") as a class instead of ignoring it
    num_train_samples: int | None = None  # random subset of the training ids, from the seed alone
    train_list: Path | None = None  # explicit training ids (overrides the dataset's training list)
    val_list: Path | None = None  # explicit validation ids
    batch_size: int = 4  # images per batch
    num_workers: int = 2  # data loader processes


@dataclass(frozen=True)
class Sample:
    image: Path
    mask: Path

    @property
    def id(self) -> str:
        return self.image.stem


def read_ids(path: Path, what: str) -> list[str]:
    """Ids of a list file (first word of each non-empty line); duplicates are kept, with a warning."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"The {what} split file {path} is missing. Add it, or pass --{what}-list FILE.")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # -sig: drops a byte-order mark
    except UnicodeDecodeError as exc:
        raise UserError(f"The {what} split file {path} is not UTF-8 text ({exc.reason}). Save it as UTF-8.") from exc
    ids = [line.strip().split()[0] for line in lines if line.strip()]
    if not ids:
        raise UserError(f"The {what} split file {path} lists no images.")
    twice = [i for i, n in Counter(ids).items() if n > 1]
    if twice:
        logger.warning(
            "The %s split file %s lists %d ids more than once (e.g. %s); each copy is used.",
            what,
            path,
            len(twice),
            twice[0],
        )
    return ids


def split_ids(split: Split, list_file: Path | None, what: str) -> list[str]:
    """The ids of a split: from ``list_file`` (a flag), the split's own list, or every image in its folder."""
    if list_file is not None or split.ids_file is not None:
        return read_ids(list_file or split.ids_file, what)
    if not split.images.is_dir():
        raise UserError(f"The {what} image folder {split.images} is missing.")
    ids = sorted(p.stem for p in split.images.iterdir() if p.is_file() and not p.name.startswith("."))
    if not ids:
        raise UserError(f"The {what} image folder {split.images} holds no images.")
    return ids


def subset_ids(ids: list[str], num_samples: int | None, seed: int) -> list[str]:
    """A random subset of ``num_samples`` ids that depends on the seed alone (quirk 4)."""
    if num_samples is None or num_samples >= len(ids):
        if num_samples is not None:
            logger.warning("`data.num_train_samples` %d >= %d available: using all.", num_samples, len(ids))
        return list(ids)
    return sorted(random.Random(seed).sample(sorted(ids), num_samples))


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def resolve_samples(ids: list[str], split: Split, suffixes: tuple[str, ...], what: str) -> list[Sample]:
    """Each id's image and mask; every id must name files inside the split's folders."""
    outside = [i for i in ids if Path(i).is_absolute() or not _inside(split.images / i, split.images)]
    if outside:
        raise UserError(
            f"{len(outside)} {what} ids point outside the dataset folders, e.g. {outside[0]!r}. Ids are file "
            "names without extension inside `data.data_dir`; fix the list."
        )
    samples, missing = [], []
    for image_id in ids:
        image = next(
            (split.images / f"{image_id}{s}" for s in suffixes if (split.images / f"{image_id}{s}").is_file()), None
        )
        mask = split.masks / f"{image_id}.png"
        if image is None or not mask.is_file():
            missing.append((image_id, image, mask))
        else:
            samples.append(Sample(image, mask))
    if missing:
        image_id, image, mask = missing[0]
        lacking = f"image {split.images / image_id}{suffixes[0]}" if image is None else f"mask {mask}"
        raise UserError(
            f"{len(missing)} listed {what} ids lack an image or a mask, e.g. the {lacking}. Fix the dataset or "
            "the split file."
        )
    return samples


def train_samples(dataset: Dataset, config: DataConfig, seed: int) -> list[Sample]:
    """The (subset of) training samples, checked to exist."""
    layout = dataset.layout
    ids = subset_ids(split_ids(layout.train, config.train_list, "train"), config.num_train_samples, seed)
    return resolve_samples(ids, layout.train, layout.image_suffixes, "train")


def val_samples(dataset: Dataset, config: DataConfig) -> list[Sample]:
    layout = dataset.layout
    return resolve_samples(split_ids(layout.val, config.val_list, "val"), layout.val, layout.image_suffixes, "val")
