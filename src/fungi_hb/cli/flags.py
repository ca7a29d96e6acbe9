"""Flag groups shared by both scripts. Published flags keep their names and defaults."""

import argparse
from pathlib import Path

from ..backbones import BackboneConfig
from ..data.samples import DataConfig
from ..data.transforms import PUBLISHED_STD, TransformConfig
from ..index.base import IndexConfig
from ..memory.types import MemoryConfig


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: a whole number >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return value


def add_backbone_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("backbone")
    group.add_argument(
        "--model", default="dino_vits16", help="dino_vits16, dino_vits8, dino_vitb16, dino_vitb8, or a timm ViT name."
    )
    group.add_argument(
        "--weights",
        default=None,
        help="Checkpoint file (official DINO .pth, state dict or timm checkpoint), or 'random'. "
        "Default: the torch hub cache, then a download.",
    )
    group.add_argument(
        "--input-size", type=positive_int, default=512, help="Square input side in pixels (512 in the paper)."
    )
    group.add_argument("--patch-size", type=positive_int, default=16, help="Must equal the model's patch size.")
    group.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda.")
    group.add_argument(
        "--use-fp16",
        action="store_true",
        help="bfloat16 autocast on CUDA (backbone and projection); ignored on the CPU.",
    )


def add_data_flags(parser: argparse.ArgumentParser, batch_size: int, validation: bool) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data-dir",
        type=Path,
        default=Path("./VOCSegmentation"),
        help="Pascal VOC: the published VOCSegmentation folder or VOCdevkit/VOC2012.",
    )
    group.add_argument(
        "--num-train-samples",
        type=positive_int,
        default=None,
        help="Random subset of N training images, drawn from --seed alone (83 for the data-efficient runs).",
    )
    group.add_argument("--train-list", type=Path, default=None, help="File of training ids (one per line).")
    if validation:
        group.add_argument("--val-list", type=Path, default=None, help="File of validation ids (one per line).")
    group.add_argument("--batch-size", type=positive_int, default=batch_size, help="Images per batch.")
    group.add_argument("--num-workers", type=non_negative_int, default=2, help="Data loader worker processes.")
    group.add_argument(
        "--augmentation-epochs",
        type=positive_int,
        default=1,
        help="Augmented passes over the training images (8 for the data-efficient runs).",
    )
    group.add_argument("--seed", type=int, default=42, help="Seeds subsets, augmentations, head, projection.")
    group.add_argument(
        "--image-std",
        type=float,
        nargs=3,
        default=list(PUBLISHED_STD),
        help="Normalisation std. The published 0.255 is a typo for 0.225, kept for parity.",
    )


def add_memory_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("memory bank")
    group.add_argument(
        "--memory-size",
        type=positive_int,
        default=None,
        help="Patches kept (102400, 1024000, 10240000 in Table 3); omit to keep all.",
    )


def add_index_flags(
    parser: argparse.ArgumentParser, num_neighbors: int, leaves_to_search: int, reordering: int
) -> None:
    group = parser.add_argument_group("nearest-neighbour index (ScaNN flags as published)")
    group.add_argument(
        "--index-backend",
        choices=("auto", "scann", "exact"),
        default="auto",
        help="scann (the paper), exact (brute force: deterministic, on the GPU if there), or auto: scann where "
        "installed (Linux x86-64), else exact.",
    )
    group.add_argument("--num-neighbors", type=positive_int, default=num_neighbors, help="Neighbours per query (k).")
    group.add_argument(
        "--num-leaves", type=positive_int, default=512, help="ScaNN tree leaves (clamped to the memory size)."
    )
    group.add_argument(
        "--num-leaves-to-search", type=positive_int, default=leaves_to_search, help="ScaNN leaves searched."
    )
    group.add_argument(
        "--num-reordering-candidates", type=positive_int, default=reordering, help="ScaNN exact re-ranking."
    )
    group.add_argument("--anisotropic-quantization-threshold", type=float, default=0.2, help="ScaNN AH threshold.")
    group.add_argument("--dimensions-per-block", type=positive_int, default=4, help="ScaNN AH dimensions per block.")


def add_runtime_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))


def backbone_config(args: argparse.Namespace) -> BackboneConfig:
    return BackboneConfig(
        model=args.model, weights=args.weights, input_size=args.input_size, patch_size=args.patch_size
    )


def data_config(args: argparse.Namespace) -> DataConfig:
    return DataConfig(
        data_dir=args.data_dir,
        num_train_samples=args.num_train_samples,
        train_list=args.train_list,
        val_list=getattr(args, "val_list", None),
        batch_size=args.batch_size,
        num_workers=args.num_workers,
    )


def transform_config(args: argparse.Namespace) -> TransformConfig:
    return TransformConfig(std=tuple(args.image_std))


def memory_config(args: argparse.Namespace) -> MemoryConfig:
    return MemoryConfig(memory_size=args.memory_size, augmentation_epochs=args.augmentation_epochs)


def index_config(args: argparse.Namespace) -> IndexConfig:
    return IndexConfig(
        backend=args.index_backend,
        num_neighbors=args.num_neighbors,
        num_leaves=args.num_leaves,
        num_leaves_to_search=args.num_leaves_to_search,
        num_reordering_candidates=args.num_reordering_candidates,
        anisotropic_quantization_threshold=args.anisotropic_quantization_threshold,
        dimensions_per_block=args.dimensions_per_block,
    )
