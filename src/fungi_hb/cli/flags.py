"""Flag groups shared by both scripts, declared once. Published flags keep their names and defaults."""

import argparse
import difflib
from pathlib import Path
from typing import Callable, TypeVar

from fungi_hb.data.datasets.registry import DATASETS
from fungi_hb.data.samples import DataConfig
from fungi_hb.data.transform_config import PUBLISHED_STD, TransformConfig
from fungi_hb.errors import UserError
from fungi_hb.features.config import BackboneConfig
from fungi_hb.features.families import known_models, patch_size_of
from fungi_hb.index.config import BACKEND_NAMES, BUILDS, PRECISIONS, IndexConfig
from fungi_hb.jobs.configs import Runtime
from fungi_hb.memory.config import MemoryConfig

T = TypeVar("T")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every default; keeps the description's line breaks."""

    def _fill_text(self, text, width, indent):
        return "".join(indent + line for line in text.splitlines(keepends=True))


def parser_for(description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=description, formatter_class=HelpFormatter, allow_abbrev=False)


def parse_job(
    parser: argparse.ArgumentParser, argv: list[str] | None, job_from_args: Callable[[argparse.Namespace], T]
) -> tuple[argparse.Namespace, T]:
    """(the parsed flags, the job they make); flags that contradict each other end like argparse's own
    errors: one line and exit status 2."""
    args = parser.parse_args(argv)
    try:
        return args, job_from_args(args)
    except UserError as exc:
        parser.error(str(exc))


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
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def seed(text: str) -> int:
    """argparse type: a whole number in [0, 2**63)."""
    value = non_negative_int(text)
    if value >= 2**63:
        raise argparse.ArgumentTypeError(f"must be below 2**63, got {value}")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number greater than 0, got {value}")
    return value


def probability(text: str) -> float:
    """argparse type: a number in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be at most 1 (1 keeps all), got {value}")
    return value


def add_backbone_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("backbone")
    group.add_argument(
        "--model",
        default="dino_vits16",
        help="A hub name (dino_vits16 ... dino_vitb8, dinov2_vits14[_reg] ... dinov2_vitg14[_reg], dinov3_vits16 ... "
        "dinov3_vit7b16; see the README's backbone table) or a timm ViT name.",
    )
    group.add_argument(
        "--weights",
        default=None,
        help="Checkpoint file (the family's official .pth, a state dict, a timm or Hugging Face .pth/.safetensors), "
        "or 'random'. Default (None): the torch hub cache, then the official download or timm's copy.",
    )
    group.add_argument(
        "--input-size", type=positive_int, default=512, help="Square input side in pixels (512 in the paper)."
    )
    group.add_argument(
        "--patch-size", type=positive_int, default=None, help="Must equal the model's patch size (default: the model's)"
    )


def add_data_flags(parser: argparse.ArgumentParser, batch_size: int, validation: bool) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data-dir",
        type=Path,
        default=Path("./VOCSegmentation"),
        help="Dataset root: Pascal VOC (the published VOCSegmentation folder or VOCdevkit/VOC2012), ADE20K "
        "(ADEChallengeData2016), or your own (images/, masks/, classes.txt; see README).",
    )
    group.add_argument(
        "--dataset",
        choices=("auto", *DATASETS),
        default=DataConfig.dataset,
        help="Which dataset --data-dir holds; auto: detected from its folders.",
    )
    group.add_argument(
        "--keep-other",
        action="store_true",
        help="ADE20K: score label 0 ('other') as a 151st class instead of ignoring it (the usual 150-class "
        "benchmark ignores it).",
    )
    group.add_argument(
        "--num-train-samples",
        type=positive_int,
        default=None,
        help="Random subset of N training images, drawn from --seed alone (83 for the data-efficient runs); None: all.",
    )
    group.add_argument("--train-list", type=Path, default=None, help="File of training ids (one per line).")
    if validation:
        group.add_argument("--val-list", type=Path, default=None, help="File of validation ids (one per line).")
    group.add_argument("--batch-size", type=positive_int, default=batch_size, help="Images per batch.")
    group.add_argument(
        "--num-workers", type=non_negative_int, default=DataConfig.num_workers, help="Data loader worker processes."
    )
    group.add_argument(
        "--augmentation-epochs",
        type=positive_int,
        default=MemoryConfig.augmentation_epochs,
        help="Augmented passes over the training images (8 for the data-efficient runs).",
    )
    group.add_argument("--seed", type=seed, default=42, help="Seeds subsets, augmentations, head, projection.")
    group.add_argument(
        "--image-std",
        type=positive_float,
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
        help="Patches kept (102400, 1024000, 10240000 in Table 3); None keeps every patch.",
    )


def add_index_flags(
    parser: argparse.ArgumentParser, num_neighbors: int, neighbors_help: str
) -> argparse._ArgumentGroup:
    """The index flags of both scripts; returns their group, for a script's own ones."""
    group = parser.add_argument_group("nearest-neighbour index (ScaNN flags as published)")
    group.add_argument(
        "--index-backend",
        choices=("auto", *BACKEND_NAMES),
        default=IndexConfig.backend,
        help="scann (the paper), exact (brute force: deterministic, on the GPU if there), faiss (pip install "
        "'.[faiss]': inverted lists, on the GPU with faiss-gpu), or auto: scann where installed (Linux x86-64), "
        "else exact.",
    )
    group.add_argument("--num-neighbors", type=positive_int, default=num_neighbors, help=neighbors_help)
    group.add_argument(
        "--num-leaves",
        type=positive_int,
        default=IndexConfig.num_leaves,
        help="ScaNN tree leaves / faiss lists (clamped to the memory size).",
    )
    group.add_argument(
        "--num-leaves-to-search",
        type=positive_int,
        default=IndexConfig.num_leaves_to_search,
        help="ScaNN leaves / faiss lists searched per query.",
    )
    group.add_argument(
        "--num-reordering-candidates",
        type=positive_int,
        default=IndexConfig.num_reordering_candidates,
        help="ScaNN (and faiss int8) candidates re-ranked exactly.",
    )
    group.add_argument(
        "--anisotropic-quantization-threshold",
        type=finite_float,
        default=IndexConfig.anisotropic_quantization_threshold,
        help="ScaNN anisotropic quantisation threshold.",
    )
    group.add_argument(
        "--dimensions-per-block",
        type=positive_int,
        default=IndexConfig.dimensions_per_block,
        help="ScaNN AH dimensions per block.",
    )
    group.add_argument(
        "--index-build",
        choices=BUILDS,
        default=IndexConfig.build,
        help="in-memory: from every row at once (published); streamed: trained on a sample, filled from disk in "
        "chunks (exact: searched in chunks); auto: in-memory when it fits in RAM.",
    )
    group.add_argument(
        "--reorder-precision",
        choices=PRECISIONS,
        default=IndexConfig.reorder_precision,
        help="ScaNN re-ranking data: float32 (published), bfloat16 or int8 (faiss: float32 or int8 codes); auto: "
        "float32 when it fits in RAM, else the most precise that fits (with a warning).",
    )
    group.add_argument(
        "--index-training-sample",
        type=positive_int,
        default=IndexConfig.training_sample,
        help="Streamed ScaNN builds: rows the tree and quantiser are trained on.",
    )
    add_streaming_flags(group)
    return group


def add_streaming_flags(group) -> None:
    group.add_argument(
        "--index-chunk-rows",
        type=positive_int,
        default=IndexConfig.chunk_rows,
        help="Rows per chunk when an index is built or searched from disk (memory against speed).",
    )


def add_runtime_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("runtime (does not change the features beyond float rounding)")
    group.add_argument(
        "--device", default=Runtime.device, help="auto (this process's GPU when there is one), cpu or cuda."
    )
    group.add_argument(
        "--use-fp16",
        action="store_true",
        help="bfloat16 autocast on CUDA (backbone and projection); ignored on the CPU.",
    )
    group.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="Where finished pieces wait until the outputs are committed, so that a rerun of a killed job "
        "resumes. None: .fungi-work beside the main output.",
    )
    group.add_argument(
        "--piece-images",
        type=positive_int,
        default=None,
        help="Images per saved piece (rounded up to a multiple of --batch-size). None: about 64.",
    )
    group.add_argument(
        "--dist-timeout-minutes",
        type=positive_float,
        default=Runtime.dist_timeout_minutes,
        help="Under torchrun: how long a process waits for the others at a step before the job fails.",
    )
    group.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="How much to log on stderr: DEBUG adds tracebacks of handled errors and ScaNN's own lines.",
    )


SUPPORT_DEFAULT = Path("support_index")  # where the published commands keep the support bank


def add_output_dir_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help=f"One folder for everything this run writes, under standard names ({what}); flags that name a "
        "path themselves still win.",
    )


def support_paths(args: argparse.Namespace) -> tuple[Path, Path, Path]:
    """(features, labels, index) of the support bank: as given, else under ``--output-dir``'s ``support/``,
    else the published ``support_index/`` folder."""
    folder = args.output_dir / "support" if args.output_dir is not None else SUPPORT_DEFAULT
    return (
        args.memory_bank or folder / "features.pth",
        getattr(args, "memory_bank_labels", None) or folder / "labels.pth",
        args.scann_index or folder / "index",
    )


def log_file(args: argparse.Namespace, main_output: Path | None, name: str) -> Path | None:
    """Where the run's log is copied: ``--output-dir/<name>.log``, else beside the main output."""
    if args.output_dir is not None:
        return args.output_dir / f"{name}.log"
    return Path(main_output).with_suffix(".log") if main_output is not None else None


def backbone_config(args: argparse.Namespace) -> BackboneConfig:
    patch_size = args.patch_size if args.patch_size is not None else patch_size_of(args.model)
    if patch_size is None:
        close = difflib.get_close_matches(args.model, known_models(), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UserError(
            f"--model {args.model} is not a hub name{hint}, and it does not say its patch size as timm's ViT names "
            "do (vit_..._patch16_...): check the name, or pass --patch-size for a timm ViT named otherwise."
        )
    return BackboneConfig(model=args.model, weights=args.weights, input_size=args.input_size, patch_size=patch_size)


def data_config(args: argparse.Namespace) -> DataConfig:
    return DataConfig(
        data_dir=args.data_dir,
        dataset=args.dataset,
        keep_other=args.keep_other,
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
        build=args.index_build,
        reorder_precision=args.reorder_precision,
        training_sample=args.index_training_sample,
        chunk_rows=args.index_chunk_rows,
    )


def runtime(args: argparse.Namespace) -> Runtime:
    return Runtime(
        device=args.device,
        use_fp16=args.use_fp16,
        work_dir=args.work_dir,
        piece_images=args.piece_images,
        dist_timeout_minutes=args.dist_timeout_minutes,
    )
