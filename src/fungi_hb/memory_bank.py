"""Filling a memory bank: patch features and patch labels of augmented training images
(METHOD section 4), bounded with the rare-class-first rule or unbounded."""

import logging
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .data.layout import NUM_CLASSES, Sample
from .data.transforms import TransformConfig
from .data.voc import AugmentedSegmentation, DataConfig, make_loader
from .errors import UserError
from .patch_labels import patch_label_distributions
from .sampling import patches_per_image, select_patches

logger = logging.getLogger(__name__)

# images [B, 3, S, S] (on the CPU) -> patch features [B, P, D]
FeatureFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class MemoryConfig:
    """How many patches of which augmented images enter the memory."""

    memory_size: int | None = None  # M; None keeps every patch
    augmentation_epochs: int = 1  # A, passes over the training images with fresh augmentations
    num_classes: int = NUM_CLASSES  # C


@dataclass
class Memory:
    features: torch.Tensor  # [M', D] float32, unit-norm rows
    labels: torch.Tensor  # [M', C] float32, rows sum to 1


def memory_rows(config: MemoryConfig, num_images: int, patches: int) -> tuple[int | None, int]:
    """(patches kept per image or None for all, total rows); raises UserError for impossible sizes."""
    if config.memory_size is None:
        return None, num_images * config.augmentation_epochs * patches
    keep = patches_per_image(config.memory_size, num_images, config.augmentation_epochs, patches)
    return keep, num_images * config.augmentation_epochs * keep


def planned_rows(config: MemoryConfig, num_images: int, patches: int, num_neighbors: int) -> int:
    """Rows the memory will hold, checked (before any work) against the size rule and k."""
    _, rows = memory_rows(config, num_images, patches)
    if num_neighbors > rows:
        raise UserError(
            f"--num-neighbors {num_neighbors} exceeds the {rows} rows the memory will hold. "
            "Lower --num-neighbors or raise --memory-size."
        )
    return rows


def available_ram_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else None."""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_fits_in_ram(rows: int, dim: int, num_classes: int = NUM_CLASSES) -> None:
    """Refuse, before the long part, a memory whose tensors alone exceed the available RAM; warn when
    the index build (which copies the features) may not fit."""
    need = rows * (dim + num_classes) * 4
    available = available_ram_bytes()
    gib = 2**30
    if available is None:
        return
    if need > available:
        raise UserError(
            f"The memory bank needs {need / gib:.1f} GiB ({rows} rows x {dim} dims, float32) but only "
            f"{available / gib:.1f} GiB of RAM is available. Lower --memory-size or use a larger machine."
        )
    if 2 * need > available:
        logger.warning(
            "The memory bank takes %.1f GiB of the %.1f GiB available; building its index copies it "
            "and may run out of memory.",
            need / gib,
            available / gib,
        )


def gather_rows(
    features: torch.Tensor, labels: torch.Tensor, keep: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of the memory from one batch.

    Args:
        features: [B, P, D]; labels: [B, P, C]; keep: [B, s] patch indices or None for all.
    Returns:
        features [B*s, D] and labels [B*s, C].
    """
    if keep is not None:
        features = torch.gather(features, 1, keep[..., None].expand(-1, -1, features.shape[-1]))  # (B, s, D)
        labels = torch.gather(labels, 1, keep[..., None].expand(-1, -1, labels.shape[-1]))  # (B, s, C)
    return features.flatten(0, 1), labels.flatten(0, 1)


def fill_memory(
    samples: list[Sample],
    data: DataConfig,
    transform: TransformConfig,
    config: MemoryConfig,
    feature_fn: FeatureFn,
    patch_size: int,
    dim: int,
    desc: str = "memory bank",
) -> Memory:
    """Run ``feature_fn`` over ``augmentation_epochs`` augmented passes and keep the chosen rows."""
    grid = transform.input_size // patch_size
    keep_per_image, rows = memory_rows(config, len(samples), grid * grid)
    features = torch.empty(rows, dim, dtype=torch.float32)  # (M', D)
    labels = torch.empty(rows, config.num_classes, dtype=torch.float32)  # (M', C)
    generator = torch.Generator().manual_seed(data.seed)
    filled = 0
    for epoch in range(config.augmentation_epochs):
        loader = make_loader(AugmentedSegmentation(samples, transform, data.seed, epoch), data)
        for images, masks, _ in tqdm(loader, desc=f"{desc} (epoch {epoch + 1}/{config.augmentation_epochs})"):
            feats = F.normalize(feature_fn(images).float(), dim=-1).cpu()  # (B, P, D)
            labs = patch_label_distributions(masks, patch_size, config.num_classes).flatten(1, 2)  # (B, P, C)
            keep = None if keep_per_image is None else select_patches(labs, keep_per_image, generator)
            f_rows, l_rows = gather_rows(feats, labs, keep)
            features[filled : filled + len(f_rows)] = f_rows
            labels[filled : filled + len(l_rows)] = l_rows
            filled += len(f_rows)
    if filled != rows:  # cannot happen with fixed-size images; keep only filled rows all the same
        logger.warning("Filled %d of %d memory rows; keeping the filled rows only.", filled, rows)
    logger.info(
        "Memory bank: %d rows of dimension %d (%s).",
        filled,
        dim,
        "all patches" if keep_per_image is None else f"{keep_per_image} patches per image",
    )
    return Memory(features[:filled], labels[:filled])
