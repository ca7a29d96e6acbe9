"""Datasets and loaders over a VOC-style layout."""

from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from .layout import Sample, detect_layout, read_ids, resolve_samples, subset_ids
from .transforms import TransformConfig, train_transform, val_transform


@dataclass(frozen=True)
class DataConfig:
    """Which images, how they are loaded."""

    data_dir: Path  # dataset root (seed layout or VOCdevkit)
    num_train_samples: int | None = None  # random subset of the training ids, from the seed alone
    train_list: Path | None = None  # explicit training ids (overrides the layout's trainaug list)
    val_list: Path | None = None  # explicit validation ids
    batch_size: int = 4  # images per batch
    num_workers: int = 2  # data loader processes


def _open(sample: Sample) -> tuple[Image.Image, Image.Image]:
    image = Image.open(sample.image).convert("RGB")
    mask = Image.open(sample.mask)
    if mask.mode not in ("P", "L"):
        mask = mask.convert("L")
    return image, mask


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A distinct, reproducible seed for each (run seed, epoch, sample)."""
    return ((seed * 1_000_003 + epoch) * 1_000_003 + index) % (2**63)


class AugmentedSegmentation(Dataset):
    """Training images with the random augmentation of METHOD section 1.

    Sample ``i`` of epoch ``e`` is augmented with a generator seeded by (seed, e, i), so results do
    not depend on batch size or worker count.
    """

    def __init__(self, samples: list[Sample], size: int, transform: TransformConfig, seed: int, epoch: int = 0) -> None:
        self.samples = samples
        self.size = size  # S
        self.transform = transform
        self.seed = seed
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        generator = torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, index))
        image, mask = _open(self.samples[index])
        tensor, ids = train_transform(image, mask, self.size, self.transform, generator)
        return tensor, ids, index


class ResizedSegmentation(Dataset):
    """Validation images, resized to S x S."""

    def __init__(self, samples: list[Sample], size: int, transform: TransformConfig) -> None:
        self.samples = samples
        self.size = size  # S
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        image, mask = _open(self.samples[index])
        tensor, ids = val_transform(image, mask, self.size, self.transform)
        return tensor, ids, index


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


def make_loader(dataset: Dataset, config: DataConfig) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=False,
        num_workers=config.num_workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=False,
    )
