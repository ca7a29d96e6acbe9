"""create_memory_bank.py: patch features of augmented training images -> support memory bank -> its index.

Runs sharded under torchrun (torchrun --nproc_per_node=N create_memory_bank.py ...). Finished pieces are
saved as they go: rerunning a killed command resumes it."""

import argparse
from dataclasses import replace

from fungi_hb.cli import flags
from fungi_hb.jobs.configs import MemoryBankJob


def build_parser() -> argparse.ArgumentParser:
    parser = flags.build_parser(MemoryBankJob, __doc__)
    flags.add_script_options(parser, "support/features.pth, support/labels.pth, support/index, create_memory_bank.log")
    return parser


def job_from_args(args: argparse.Namespace) -> MemoryBankJob:
    job = flags.job_of(MemoryBankJob, args)
    if args.output_dir is None:
        return job
    given, folder = flags.given(args), args.output_dir / "support"
    defaults = {"features_path": "features.pth", "labels_path": "labels.pth", "index_dir": "index"}
    return replace(job, **{field: folder / name for field, name in defaults.items() if field not in given})


def main(argv: list[str] | None = None) -> int:
    args, job = flags.parse_job(build_parser(), argv, job_from_args)
    from fungi_hb.cli.run import run_main  # the libraries load once the flags are known (fast --help)
    from fungi_hb.jobs.memory_bank import run_memory_bank

    log = flags.log_file(args.output_dir, job.features_path, "create_memory_bank")
    return run_main(lambda world: run_memory_bank(job, world), args.log_level, job.work_folder(), log)
