"""eval_gradients.py: dense FUNGI (or raw) features -> evaluation memory -> HummingBird label transfer -> mIoU.

Runs sharded under torchrun (torchrun --nproc_per_node=N eval_gradients.py ...). Finished pieces are
saved as they go: rerunning a killed command resumes it."""

import argparse
import logging
import sys
from dataclasses import replace

from fungi_hb.cli import flags
from fungi_hb.jobs.configs import EvalJob

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = flags.build_parser(EvalJob, __doc__)
    flags.add_script_options(
        parser, "results_<features>.json, pictures_<features>/, eval_<features>.log; the support bank from support/"
    )
    return parser


def job_from_args(args: argparse.Namespace) -> EvalJob:
    job = flags.job_of(EvalJob, args)
    if args.output_dir is None:
        return job
    given, out = flags.given(args), args.output_dir
    defaults = {
        "support_features": out / "support" / "features.pth",
        "support_index": out / "support" / "index",
        "output": out / f"results_{job.features}.json",
        "save_predictions": out / f"pictures_{job.features}",
    }
    return replace(job, **{field: path for field, path in defaults.items() if field not in given})


def summary(results: dict, job: EvalJob) -> str:
    """The closing lines on stdout (the log goes to stderr), so that ``> file`` keeps the score."""
    from fungi_hb.tasks.base import tasks

    lines = tasks()[results["task"]].summary(results)
    lines[0] += (
        f" ({results['features']} features, {results['dataset_label']}, {results['num_val_images']} validation "
        f"images, memory {results['memory_rows']} x {results['memory_dim']})"
    )
    if job.output is not None:
        lines.append(f"results: {job.output}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args, job = flags.parse_job(build_parser(), argv, job_from_args)

    from fungi_hb.cli.run import run_main  # the libraries load once the flags are known (fast --help)
    from fungi_hb.jobs.evaluate import run_eval

    def run(world) -> None:
        results = run_eval(job, world)
        if results is not None:
            from fungi_hb.tasks.base import tasks

            logger.info("%s", tasks()[results["task"]].headline_text(results))
            sys.stdout.write(summary(results, job) + "\n")

    log = flags.log_file(args.output_dir, job.output, f"eval_{job.features}")
    return run_main(run, args.log_level, job.work_folder(), log)
