"""Which training and validation samples a run uses."""

from dataclasses import dataclass
from pathlib import Path

from .layout import Sample, detect_layout, read_ids, resolve_samples, subset_ids


@dataclass(frozen=True)
class DataConfig:
    """Which images, how they are loaded."""

    data_dir: Path  # dataset root (seed layout or VOCdevkit)
    num_train_samples: int | None = None  # random subset of the training ids, from the seed alone
    train_list: Path | None = None  # explicit training ids (overrides the layout's trainaug list)
    val_list: Path | None = None  # explicit validation ids
    batch_size: int = 4  # images per batch
    num_workers: int = 2  # data loader processes


def train_samples(config: DataConfig, seed: int) -> list[Sample]:
    """The (subset of) training samples, checked to exist and to be readable."""
    layout = detect_layout(config.data_dir)
    ids = read_ids(config.train_list or layout.train_list, "train")
    ids = subset_ids(ids, config.num_train_samples, seed)
    return resolve_samples(ids, layout.images, layout.train_masks)


def val_samples(config: DataConfig) -> list[Sample]:
    layout = detect_layout(config.data_dir)
    ids = read_ids(config.val_list or layout.val_list, "val")  # refuses an empty split
    return resolve_samples(ids, layout.images, layout.val_masks)
