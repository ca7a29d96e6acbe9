"""Paired image/mask transforms of METHOD section 1, driven by an explicit random generator so that
every sample's augmentation depends only on (seed, epoch, index), whatever the worker count."""

import math
from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

IMAGENET_MEAN = (0.485, 0.456, 0.406)
PUBLISHED_STD = (0.229, 0.224, 0.255)  # the published code's typo for 0.225, kept for parity


@dataclass(frozen=True)
class TransformConfig:
    """Normalisation and augmentation settings (the output size S comes with the backbone)."""

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = PUBLISHED_STD
    crop_scale: tuple[float, float] = (0.5, 2.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    jitter: float = 0.1  # brightness, contrast, saturation and hue strength
    jitter_probability: float = 0.5  # each jitter applied independently with this probability


def _uniform(low: float, high: float, generator: torch.Generator) -> float:
    return float(torch.empty(1).uniform_(low, high, generator=generator).item())


def sample_crop(
    height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float], generator: torch.Generator
) -> tuple[int, int, int, int]:
    """(top, left, h, w) with torchvision's ``RandomResizedCrop.get_params`` semantics."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * _uniform(scale[0], scale[1], generator)
        aspect = math.exp(_uniform(log_ratio[0], log_ratio[1], generator))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator).item())
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator).item())
            return top, left, h, w
    in_ratio = width / height  # fallback: a centre crop
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def color_jitter(image: Image.Image, config: TransformConfig, generator: torch.Generator) -> Image.Image:
    """Brightness, contrast, saturation, hue: each applied with probability p, in that order."""
    s = config.jitter
    adjust = (
        (TF.adjust_brightness, (1 - s, 1 + s)),
        (TF.adjust_contrast, (1 - s, 1 + s)),
        (TF.adjust_saturation, (1 - s, 1 + s)),
        (TF.adjust_hue, (-s, s)),
    )
    for fn, (low, high) in adjust:
        if float(torch.rand(1, generator=generator)) < config.jitter_probability:
            image = fn(image, _uniform(low, high, generator))
    return image


def to_tensors(image: Image.Image, mask: Image.Image, config: TransformConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """[3, S, S] normalised float image and [1, S, S] uint8 mask."""
    tensor = TF.normalize(TF.to_tensor(image), config.mean, config.std)  # (3, S, S)
    ids = torch.from_numpy(np.array(mask, dtype=np.uint8))[None]  # (1, S, S)
    return tensor, ids


def train_transform(
    image: Image.Image, mask: Image.Image, size: int, config: TransformConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paired random resized crop to ``size`` x ``size`` (bilinear / nearest), colour jitter, normalise."""
    size = [size, size]
    top, left, h, w = sample_crop(image.height, image.width, config.crop_scale, config.crop_ratio, generator)
    image = TF.resized_crop(image, top, left, h, w, size, InterpolationMode.BILINEAR)
    mask = TF.resized_crop(mask, top, left, h, w, size, InterpolationMode.NEAREST)
    image = color_jitter(image, config, generator)
    return to_tensors(image, mask, config)


def val_transform(
    image: Image.Image, mask: Image.Image, size: int, config: TransformConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize to ``size`` x ``size`` (bilinear image, nearest mask), normalise. No flips."""
    size = [size, size]
    image = TF.resize(image, size, InterpolationMode.BILINEAR)
    mask = TF.resize(mask, size, InterpolationMode.NEAREST)
    return to_tensors(image, mask, config)
