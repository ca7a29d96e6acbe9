"""The settings of the published transforms, on their own (no torch) so that the flags can name their
defaults without loading the libraries."""

from dataclasses import dataclass

from fungi_hb.settings import Flag, positive_float, setting

IMAGENET_MEAN = (0.485, 0.456, 0.406)
PUBLISHED_STD = (0.229, 0.224, 0.255)  # the published code's typo for 0.225, kept for parity
JITTERS = ("brightness", "contrast", "saturation", "hue")  # applied in this order
# Names the transform below in artifact identities; change it whenever the transform changes.
AUGMENTATION = "published order: jitter whole image, normalise, crop tensor; masks by legacy nearest"


@dataclass(frozen=True)
class TransformConfig:
    """Normalisation and augmentation settings (the output size S comes with the backbone)."""

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = setting(
        PUBLISHED_STD,
        Flag(
            "--image-std",
            "data",
            "Normalisation std. The published 0.255 is a typo for 0.225, kept for parity.",
            parse=positive_float,
            nargs=3,
        ),
    )
    crop_scale: tuple[float, float] = (0.5, 2.0)  # of the image area, as torchvision's RandomResizedCrop
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # aspect ratios of the crop
    jitter: float = 0.1  # factors in [1 - j, 1 + j] (hue: [-j, j])
    jitter_probability: float = 0.5  # each jitter applied independently with this probability
