"""Data loaders of the jobs, with their progress bars: the functions that consume batches get them."""

from typing import Iterator

from torch.utils.data import DataLoader
from tqdm import tqdm

from ..data.layout import Sample
from ..data.transforms import TransformConfig
from ..data.voc import AugmentedSegmentation, DataConfig, ResizedSegmentation, make_loader


def train_epochs(
    samples: list[Sample], size: int, transform: TransformConfig, data: DataConfig, seed: int, epochs: int, desc: str
) -> Iterator[tqdm]:
    """One progress-barred loader of augmented training batches per augmentation epoch."""
    for epoch in range(epochs):
        loader = make_loader(AugmentedSegmentation(samples, size, transform, seed, epoch), data)
        yield tqdm(loader, desc=f"{desc} (epoch {epoch + 1}/{epochs})")


def validation_batches(samples: list[Sample], size: int, transform: TransformConfig, data: DataConfig) -> DataLoader:
    return tqdm(make_loader(ResizedSegmentation(samples, size, transform), data), desc="validation")
