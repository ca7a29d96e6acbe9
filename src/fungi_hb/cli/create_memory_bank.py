"""create_memory_bank.py: patch features of augmented training images -> support memory bank -> its index.

Runs sharded under torchrun (torchrun --nproc_per_node=N create_memory_bank.py ...). Finished pieces are
saved as they go: rerunning a killed command resumes it."""

import argparse
from pathlib import Path

from fungi_hb.cli import flags
from fungi_hb.jobs.configs import MemoryBankJob


def build_parser() -> argparse.ArgumentParser:
    parser = flags.parser_for(__doc__)
    flags.add_backbone_flags(parser)
    flags.add_data_flags(parser, batch_size=32, validation=False)
    flags.add_memory_flags(parser)
    support_k = (
        "k of the support index: neighbours returned per query (5 as published; eval_gradients.py takes its "
        "negatives from the first of them)."
    )
    flags.add_index_flags(parser, num_neighbors=5, neighbors_help=support_k)
    out = parser.add_argument_group("outputs (committed together: a later run sees all of them new, or all old)")
    out.add_argument(
        "--memory-bank",
        type=Path,
        default=None,
        help="Features [M, E] (a plain tensor). Default: support_index/features.pth.",
    )
    out.add_argument(
        "--memory-bank-labels",
        type=Path,
        default=None,
        help="Patch labels [M, C], C the number of classes of the dataset (21 for Pascal VOC; a plain tensor). "
        "Default: support_index/labels.pth.",
    )
    out.add_argument("--scann-index", type=Path, default=None, help="Index folder. Default: support_index/index.")
    flags.add_output_dir_flag(out, "support/features.pth, support/labels.pth, support/index, create_memory_bank.log")
    flags.add_runtime_flags(parser)
    return parser


def job_from_args(args: argparse.Namespace) -> MemoryBankJob:
    features, labels, index = flags.support_paths(args)
    return MemoryBankJob(
        seed=args.seed,
        backbone=flags.backbone_config(args),
        data=flags.data_config(args),
        transform=flags.transform_config(args),
        memory=flags.memory_config(args),
        index=flags.index_config(args),
        features_path=features,
        labels_path=labels,
        index_dir=index,
        runtime=flags.runtime(args),
    )


def main(argv: list[str] | None = None) -> int:
    args, job = flags.parse_job(build_parser(), argv, job_from_args)
    from fungi_hb.cli.run import run_main  # the libraries load once the flags are known (fast --help)
    from fungi_hb.jobs.memory_bank import run_memory_bank

    log = flags.log_file(args, job.features_path, "create_memory_bank")
    return run_main(lambda world: run_memory_bank(job, world), args.log_level, job.work_folder(), log)
