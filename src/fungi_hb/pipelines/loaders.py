"""Data loaders of the jobs, with their progress bars: the functions that consume batches get them."""

from typing import Iterable, Iterator

from tqdm import tqdm

from ..data.layout import Sample
from ..data.samples import DataConfig
from ..data.segmentation import AugmentedSegmentation, Batch, ResizedSegmentation, make_loader
from ..data.transforms import TransformConfig


def train_epochs(
    samples: list[Sample],
    size: int,
    transform: TransformConfig,
    data: DataConfig,
    seed: int,
    stage: str,
    epochs: int,
    desc: str,
) -> Iterator[Iterable[Batch]]:
    """One progress-barred loader of augmented training batches per augmentation epoch of ``stage``."""
    for epoch in range(epochs):
        dataset = AugmentedSegmentation(samples, size, transform, seed, stage, epoch)
        yield tqdm(make_loader(dataset, data.batch_size, data.num_workers), desc=f"{desc} (epoch {epoch + 1}/{epochs})")


def validation_batches(
    samples: list[Sample], size: int, transform: TransformConfig, data: DataConfig, seed: int
) -> Iterable[Batch]:
    dataset = ResizedSegmentation(samples, size, transform, seed)
    return tqdm(make_loader(dataset, data.batch_size, data.num_workers), desc="validation")
