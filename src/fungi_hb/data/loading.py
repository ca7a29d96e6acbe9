"""Torch datasets over samples: augmented training images and resized validation images with their targets
(masks or depth maps, ``data.targets``), each item carrying its sample seed (see ``seeding``) so later
random draws follow the image; and the loader that yields exactly the batches it is given."""

import signal
from dataclasses import dataclass
from typing import Iterator, NamedTuple

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from fungi_hb.data.checks import check_sample
from fungi_hb.data.samples import Sample
from fungi_hb.data.targets import TargetReader
from fungi_hb.data.transforms import TransformConfig, resample_train, resample_val, sample_train_draws
from fungi_hb.errors import UserError
from fungi_hb.interrupts import interrupts_held
from fungi_hb.seeding import generator_for, sample_seed


class Batch(NamedTuple):
    """What the loaders yield."""

    images: torch.Tensor  # [B, 3, S, S] float32, normalised
    targets: torch.Tensor  # [B, 1, S, S] uint8 class ids (255 = ignore), or float32 depth in metres (0 = none)
    indices: torch.Tensor  # [B] int64 positions in the sample list
    seeds: torch.Tensor  # [B] int64 sample seeds


def open_image(sample: Sample) -> Image.Image:
    with sample.image.open() as handle:
        return Image.open(handle).convert("RGB")


@dataclass(frozen=True)
class Augmentation:
    """How a memory's training images are drawn (method section 1)."""

    size: int  # S
    transform: TransformConfig
    seed: int
    stage: str  # which memory: keys its own draws (seeding.STAGES)
    epochs: int = 1  # augmented passes


class AugmentedImages(Dataset):
    """Training images with the random augmentation of method section 1, over ``augmentation.epochs``
    epochs: item ``epoch * N + i`` is image ``i`` augmented with the draws of its own generator, the same
    whatever the batch size, workers or processes."""

    def __init__(self, samples: list[Sample], augmentation: Augmentation, targets: TargetReader) -> None:
        self.samples, self.augmentation, self.targets = samples, augmentation, targets

    def __len__(self) -> int:
        return len(self.samples) * self.augmentation.epochs

    def __getitem__(self, item: int) -> Batch:
        epoch, index = divmod(item, len(self.samples))
        how = self.augmentation
        seed = sample_seed(how.seed, how.stage, epoch, index)
        image, target = open_image(self.samples[index]), self.targets.load(self.samples[index].mask)
        draws = sample_train_draws(image.height, image.width, how.transform, generator_for(seed, "augment"))
        tensor, resampled = resample_train(image, target, draws, how.size, how.transform)
        return Batch(tensor, self.targets.finish(resampled), index, seed)


class ResizedImages(Dataset):
    """Validation images, resized to S x S (no randomness; the seed feeds FUNGI's negative draws)."""

    def __init__(
        self, samples: list[Sample], size: int, transform: TransformConfig, seed: int, targets: TargetReader
    ) -> None:
        self.samples, self.size, self.transform, self.seed, self.targets = samples, size, transform, seed, targets

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Batch:
        image, target = open_image(self.samples[index]), self.targets.load(self.samples[index].mask)
        tensor, resampled = resample_val(image, target, self.size, self.transform)
        return Batch(tensor, self.targets.finish(resampled), index, sample_seed(self.seed, "val", 0, index))


def _ignore_interrupts(worker_id: int) -> None:
    """Ctrl-C is for the main process, which stops the workers; they must not print tracebacks of their own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _naming_damaged_files(stream: Iterator[Batch], dataset: Dataset, batches: list[list[int]]) -> Iterator[Batch]:
    """The loader's batches; a batch that cannot be read is blamed, by name, on the file of its samples that
    no longer passes the file check. (An exception from a worker process arrives as torch re-raises it: its
    type only, with the worker's traceback for a message; and a damaged image is PIL's OSError, which alone
    reads as a failing disk.)"""
    samples = getattr(dataset, "samples", None)
    for items in batches:
        try:
            batch = next(stream)
        except StopIteration:
            return
        except Exception as exc:
            if not samples:
                raise
            checked = [samples[item % len(samples)] for item in items]  # item epoch * N + i is image i
            reader = dataset.targets
            problems = [p for p in dict.fromkeys(check_sample(s, reader, decode_only=True) for s in checked) if p]
            if not problems:
                raise
            raise UserError(
                f"{'; '.join(problems)}. It passed the file check before the long part, so it was damaged or "
                "changed since: replace it or remove its id from the list, then rerun the same command."
            ) from exc
        yield batch


class _Loader(DataLoader):
    def __iter__(self) -> Iterator[Batch]:
        with interrupts_held():  # the workers are forked here: a Ctrl-C meanwhile must not be lost
            stream = super().__iter__()
        return _naming_damaged_files(stream, self.dataset, self.batch_sampler)


def make_loader(dataset: Dataset, batches: list[list[int]], num_workers: int) -> DataLoader:
    """A loader that yields exactly ``batches`` (lists of item indices), in order."""
    return _Loader(
        dataset,
        batch_sampler=batches,
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
        worker_init_fn=_ignore_interrupts if num_workers > 0 else None,
    )
