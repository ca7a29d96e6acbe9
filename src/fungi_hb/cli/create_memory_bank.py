"""create_memory_bank.py: DINO patch features of augmented training images -> memory bank -> index."""

import argparse
from pathlib import Path

from ..pipelines.jobs import MemoryBankJob
from ..pipelines.memory_bank_job import run_memory_bank
from . import flags
from .run import run_main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    flags.add_backbone_flags(parser)
    flags.add_data_flags(parser, batch_size=32, validation=False)
    flags.add_memory_flags(parser)
    flags.add_index_flags(parser, num_neighbors=5, leaves_to_search=32, reordering=120)
    out = parser.add_argument_group("outputs")
    out.add_argument(
        "--memory-bank",
        type=Path,
        default=Path("support_index/features.pth"),
        help="Where the features [M, E] go (a plain tensor).",
    )
    out.add_argument(
        "--memory-bank-labels",
        type=Path,
        default=Path("support_index/labels.pth"),
        help="Where the patch labels [M, 21] go.",
    )
    out.add_argument(
        "--scann-index", type=Path, default=Path("support_index/index"), help="Folder for the index (ScaNN or exact)."
    )
    flags.add_runtime_flags(parser)
    return parser


def job_from_args(args: argparse.Namespace) -> MemoryBankJob:
    return MemoryBankJob(
        seed=args.seed,
        backbone=flags.backbone_config(args),
        data=flags.data_config(args),
        transform=flags.transform_config(args),
        memory=flags.memory_config(args),
        index=flags.index_config(args),
        features_path=args.memory_bank,
        labels_path=args.memory_bank_labels,
        index_dir=args.scann_index,
        device=args.device,
        use_fp16=args.use_fp16,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: run_memory_bank(job_from_args(args)), args.log_level)
