"""The paired image/mask transforms of the published code (method section 1).

Training: colour jitter of the whole image (brightness, contrast, saturation, hue, each applied with
probability 1/2, in that order), to tensor, normalise, then a random resized crop of the *normalised
tensor* (bilinear, antialiased) and of the mask (as id / 255 floats, torch's legacy nearest, back to ids).
Validation: the image resized by PIL (bilinear), the mask by torch's legacy nearest.

The random draws are sampled separately (``sample_train_draws``) from a per-sample generator, so the
transform itself is a pure function of (image, mask, draws, size, settings).
"""

import math
from dataclasses import dataclass

import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

from fungi_hb.data.transform_config import AUGMENTATION, IMAGENET_MEAN, JITTERS, PUBLISHED_STD, TransformConfig

__all__ = ["AUGMENTATION", "IMAGENET_MEAN", "JITTERS", "PUBLISHED_STD", "TransformConfig"]


@dataclass(frozen=True)
class TrainDraws:
    """The random choices of one training transform."""

    jitter_applied: tuple[bool, bool, bool, bool]  # brightness, contrast, saturation, hue
    jitter_factors: tuple[float, float, float, float]  # the factor of each (1, or 0 for hue, when not applied)
    crop: tuple[int, int, int, int]  # top, left, height, width in the original image


def _uniform(low: float, high: float, generator: torch.Generator) -> float:
    return float(torch.empty(1).uniform_(low, high, generator=generator).item())


def sample_crop(
    height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float], generator: torch.Generator
) -> tuple[int, int, int, int]:
    """(top, left, h, w) with torchvision's ``RandomResizedCrop.get_params`` semantics (10 tries, then
    a centre crop)."""
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
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def sample_train_draws(height: int, width: int, config: TransformConfig, generator: torch.Generator) -> TrainDraws:
    """The jitters first (whether each applies, then its factor), then the crop: the published order."""
    applied, factors = [], []
    for name in JITTERS:
        low, high = (-config.jitter, config.jitter) if name == "hue" else (1 - config.jitter, 1 + config.jitter)
        on = float(torch.rand(1, generator=generator)) < config.jitter_probability
        applied.append(on)
        factors.append(_uniform(low, high, generator) if on else (0.0 if name == "hue" else 1.0))
    crop = sample_crop(height, width, config.crop_scale, config.crop_ratio, generator)
    return TrainDraws(tuple(applied), tuple(factors), crop)


def color_jitter(image: Image.Image, draws: TrainDraws) -> Image.Image:
    """The drawn jitters on the whole PIL image, in the fixed order."""
    adjust = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for fn, on, factor in zip(adjust, draws.jitter_applied, draws.jitter_factors):
        if on:
            image = fn(image, factor)
    return image


def mask_to_ids(mask: torch.Tensor) -> torch.Tensor:
    """A mask tensor of id / 255 floats [1, H, W] (what ``to_tensor`` makes of an 8-bit mask) back to
    uint8 ids [1, H, W]; (id / 255) * 255 is exact in float32 for every id."""
    return (mask * 255).round().to(torch.uint8)


def resample_train(
    image: Image.Image, target: torch.Tensor, draws: TrainDraws, size: int, config: TransformConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised image [3, S, S] float32 and the target [1, H, W] float (a mask as id / 255, or depth)
    cropped with torch's legacy nearest [1, S, S], for the given draws."""
    tensor = TF.normalize(TF.to_tensor(color_jitter(image.convert("RGB"), draws)), config.mean, config.std)  # (3,H,W)
    top, left, h, w = draws.crop
    tensor = TF.resized_crop(tensor, top, left, h, w, [size, size], InterpolationMode.BILINEAR, antialias=True)
    target = TF.resized_crop(target, top, left, h, w, [size, size], InterpolationMode.NEAREST)  # (1, S, S)
    return tensor, target


def resample_val(
    image: Image.Image, target: torch.Tensor, size: int, config: TransformConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Image resized by PIL (bilinear), normalised [3, S, S]; the target [1, H, W] by legacy nearest [1, S, S]."""
    resized = TF.resize(image.convert("RGB"), [size, size], InterpolationMode.BILINEAR)
    tensor = TF.normalize(TF.to_tensor(resized), config.mean, config.std)  # (3, S, S)
    return tensor, TF.resize(target, [size, size], InterpolationMode.NEAREST)  # (1, S, S)


def train_transform(
    image: Image.Image, mask: Image.Image, draws: TrainDraws, size: int, config: TransformConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised image [3, S, S] float32 and mask [1, S, S] uint8 ids for the given draws (the published
    transform: the mask resampled as id / 255 floats)."""
    tensor, ids = resample_train(image, TF.to_tensor(mask), draws, size, config)
    return tensor, mask_to_ids(ids)


def val_transform(
    image: Image.Image, mask: Image.Image, size: int, config: TransformConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Image resized by PIL (bilinear), normalised [3, S, S]; mask [1, S, S] uint8 by legacy nearest."""
    tensor, ids = resample_val(image, TF.to_tensor(mask), size, config)
    return tensor, mask_to_ids(ids)
