"""Which training and validation samples (image and target files) a run uses."""

import logging
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fungi_hb.data.config import DataConfig
from fungi_hb.data.datasets.base import Split
from fungi_hb.data.datasets.registry import Dataset
from fungi_hb.data.files import DataFile, FileTree, FolderTree
from fungi_hb.errors import UserError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    id: str  # the name lists use (``2007_000032``; ``aachen/aachen_000000_000019`` for nested layouts)
    image: DataFile
    mask: DataFile  # the target: a mask of class ids, or a depth map

    @property
    def file_stem(self) -> str:
        """The id as one file name (pictures): folders joined by ``__``."""
        return self.id.replace("/", "__")


def read_ids(tree: FileTree, name: str, what: str) -> list[str]:
    """Ids of a list file (first word of each non-empty line); duplicates are kept, with a warning."""
    shown = tree.show(name)
    if not tree.is_file(name):
        raise UserError(f"The {what} split file {shown} is missing. Add it, or pass `data.{what}_list` FILE.")
    try:
        lines = tree.read_text(name).splitlines()
    except UnicodeDecodeError as exc:
        raise UserError(f"The {what} split file {shown} is not UTF-8 text ({exc.reason}). Save it as UTF-8.") from exc
    ids = [line.strip().split()[0] for line in lines if line.strip()]
    if not ids:
        raise UserError(f"The {what} split file {shown} lists no images.")
    twice = [i for i, n in Counter(ids).items() if n > 1]
    if twice:
        logger.warning(
            "The %s split file %s lists %d ids more than once (e.g. %s); each copy is used.",
            what,
            shown,
            len(twice),
            twice[0],
        )
    return ids


def split_ids(tree: FileTree, split: Split, list_file: Path | None, what: str) -> list[str]:
    """The ids of a split: from ``list_file`` (a setting), the split's own list, or every image in its folder."""
    if list_file is not None:
        return read_ids(FolderTree(Path(list_file).parent), Path(list_file).name, what)
    if split.ids_file is not None:
        return read_ids(tree, split.ids_file, what)
    if not tree.is_dir(split.images):
        raise UserError(f"The {what} image folder {tree.show(split.images)} is missing.")
    suffix = split.image_suffix()
    ids = sorted(
        name[: -len(ext)].removesuffix(suffix) if suffix else name[: -len(ext)]
        for name in tree.files_under(split.images, split.depth)
        for ext in split.extensions
        if name.endswith(suffix + ext)
    )
    if not ids:
        raise UserError(f"The {what} image folder {tree.show(split.images)} holds no images.")
    return ids


def subset_ids(ids: list[str], num_samples: int | None, seed: int) -> list[str]:
    """A random subset of ``num_samples`` ids that depends on the seed alone (quirk 4)."""
    if num_samples is None or num_samples >= len(ids):
        if num_samples is not None:
            logger.warning("`data.num_train_samples` %d >= %d available: using all.", num_samples, len(ids))
        return list(ids)
    return sorted(random.Random(seed).sample(sorted(ids), num_samples))


def _safe(image_id: str) -> bool:
    """An id names files inside the dataset: no absolute path, no way up."""
    parts = image_id.replace("\\", "/").split("/")
    return not image_id.startswith("/") and ".." not in parts and "" not in parts


def resolve_samples(ids: list[str], tree: FileTree, split: Split, what: str) -> list[Sample]:
    """Each id's image and target; every id must name files inside the split's folders."""
    outside = [i for i in ids if not _safe(i)]
    if outside:
        raise UserError(
            f"{len(outside)} {what} ids point outside the dataset folders, e.g. {outside[0]!r}. Ids are file "
            "names without extension inside `data.data_dir`; fix the list."
        )
    samples, missing = [], []
    for image_id in ids:
        names = [f"{split.images}/{split.image_name.format(id=image_id, ext=ext)}" for ext in split.extensions]
        image = next((name for name in names if tree.is_file(name)), None)
        target = f"{split.targets}/{split.target_name.format(id=image_id)}"
        if image is None or not tree.is_file(target):
            missing.append((names[0], image, target))
        else:
            samples.append(Sample(image_id, DataFile(tree, image), DataFile(tree, target)))
    if missing:
        first_name, image, target = missing[0]
        lacking = f"image {tree.show(first_name)}" if image is None else f"{split.target_noun} {tree.show(target)}"
        lacks_all_targets = len(missing) == len(ids) and all(found is not None for _, found, _ in missing)
        hint = (
            f" None of the {len(ids)} images has one: is {tree.show(split.targets)} the right folder?"
            if lacks_all_targets
            else ""
        )
        raise UserError(
            f"{len(missing)} listed {what} ids lack an image or a {split.target_noun}, e.g. the {lacking}.{hint} "
            "Fix the dataset or the split file."
        )
    return samples


def train_samples(dataset: Dataset, config: DataConfig, seed: int) -> list[Sample]:
    """The (subset of) training samples, checked to exist."""
    layout = dataset.layout
    ids = subset_ids(split_ids(layout.tree, layout.train, config.train_list, "train"), config.num_train_samples, seed)
    return resolve_samples(ids, layout.tree, layout.train, "train")


def val_samples(dataset: Dataset, config: DataConfig) -> list[Sample]:
    layout = dataset.layout
    return resolve_samples(split_ids(layout.tree, layout.val, config.val_list, "val"), layout.tree, layout.val, "val")
