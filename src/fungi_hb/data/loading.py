"""Torch datasets over (image, mask) samples: augmented training images and resized validation images,
each item carrying its sample seed (see ``seeding``) so later random draws follow the image."""

import signal
from typing import Iterator, NamedTuple

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from fungi_hb.data.checks import check_sample
from fungi_hb.data.samples import Sample
from fungi_hb.data.transforms import TransformConfig, sample_train_draws, train_transform, val_transform
from fungi_hb.errors import UserError
from fungi_hb.interrupts import interrupts_held
from fungi_hb.seeding import generator_for, sample_seed


class Batch(NamedTuple):
    """What the loaders yield."""

    images: torch.Tensor  # [B, 3, S, S] float32, normalised
    masks: torch.Tensor  # [B, 1, S, S] uint8 class ids, 255 = ignore
    indices: torch.Tensor  # [B] int64 positions in the sample list
    seeds: torch.Tensor  # [B] int64 sample seeds


def to_classes(ids: torch.Tensor, lookup: torch.Tensor) -> torch.Tensor:
    """Mask values -> class ids (255 = ignore) through the dataset's [256] table; values the table does not
    allow (refused up front) become 255."""
    classes = lookup[ids.long()]  # (1, S, S)
    return torch.where(classes < 0, torch.full_like(classes, 255), classes).to(torch.uint8)


def open_sample(sample: Sample) -> tuple[Image.Image, Image.Image]:
    image = Image.open(sample.image).convert("RGB")
    mask = Image.open(sample.mask)
    if mask.mode not in ("P", "L"):
        mask = mask.convert("L")
    return image, mask


class AugmentedSegmentation(Dataset):
    """Training images with the random augmentation of method section 1, over ``epochs`` augmentation
    epochs: item ``epoch * N + i`` is image ``i`` augmented with the draws of its own generator, the same
    whatever the batch size, workers or processes."""

    def __init__(
        self,
        samples: list[Sample],
        size: int,
        transform: TransformConfig,
        seed: int,
        stage: str,
        epochs: int = 1,
        lookup: torch.Tensor | None = None,
    ) -> None:
        self.samples, self.size, self.transform = samples, size, transform
        self.seed, self.stage, self.epochs = seed, stage, epochs
        self.lookup = lookup  # [256] mask value -> class id (None: values are class ids)

    def __len__(self) -> int:
        return len(self.samples) * self.epochs

    def __getitem__(self, item: int) -> Batch:
        epoch, index = divmod(item, len(self.samples))
        seed = sample_seed(self.seed, self.stage, epoch, index)
        image, mask = open_sample(self.samples[index])
        draws = sample_train_draws(image.height, image.width, self.transform, generator_for(seed, "augment"))
        tensor, ids = train_transform(image, mask, draws, self.size, self.transform)
        return Batch(tensor, ids if self.lookup is None else to_classes(ids, self.lookup), index, seed)


class ResizedSegmentation(Dataset):
    """Validation images, resized to S x S (no randomness; the seed feeds FUNGI's negative draws)."""

    def __init__(
        self,
        samples: list[Sample],
        size: int,
        transform: TransformConfig,
        seed: int,
        lookup: torch.Tensor | None = None,
    ) -> None:
        self.samples, self.size, self.transform, self.seed = samples, size, transform, seed
        self.lookup = lookup  # [256] mask value -> class id (None: values are class ids)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Batch:
        image, mask = open_sample(self.samples[index])
        tensor, ids = val_transform(image, mask, self.size, self.transform)
        ids = ids if self.lookup is None else to_classes(ids, self.lookup)
        return Batch(tensor, ids, index, sample_seed(self.seed, "val", 0, index))


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
            problems = [p for p in dict.fromkeys(check_sample(s, _ANY_VALUE) for s in checked) if p]
            if not problems:
                raise
            raise UserError(
                f"{'; '.join(problems)}. It passed the file check before the long part, so it was damaged or "
                "changed since: replace it or remove its id from the list, then rerun the same command."
            ) from exc
        yield batch


_ANY_VALUE = np.ones(256, dtype=bool)  # mask values were checked up front: only decoding is checked again


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
