"""eval_gradients.py: dense FUNGI (or raw) features -> evaluation memory -> HummingBird label transfer -> mIoU.

Runs sharded under torchrun (torchrun --nproc_per_node=N eval_gradients.py ...). Finished pieces are
saved as they go: rerunning a killed command resumes it."""

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

from fungi_hb.cli import flags
from fungi_hb.errors import UserError
from fungi_hb.fungi.config import FungiConfig, NeighborLayout
from fungi_hb.jobs.configs import EvalJob

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = flags.parser_for(__doc__)
    flags.add_backbone_flags(parser)
    flags.add_data_flags(parser, batch_size=4, validation=True)
    flags.add_memory_flags(parser)
    evaluation_k = (
        "k of the evaluation index: memory neighbours whose labels each validation patch takes (30; 90 for the "
        "data-efficient runs)."
    )
    index = flags.add_index_flags(parser, num_neighbors=30, neighbors_help=evaluation_k)
    index.add_argument(
        "--shard-exact-search",
        action="store_true",
        help="With --index-backend exact under torchrun: each process holds 1/N of the evaluation memory's rows "
        "(on its GPU where they fit) and searches every process's queries; the neighbours are the same bits as "
        "one process's. For memories larger than one GPU (or host) holds.",
    )
    support = parser.add_argument_group("support index (from create_memory_bank.py)")
    support.add_argument(
        "--memory-bank",
        type=Path,
        default=None,
        help="Support memory features; negatives are looked up here. Default: support_index/features.pth, or "
        "support/features.pth under --output-dir.",
    )
    support.add_argument(
        "--scann-index",
        type=Path,
        default=None,
        help="Support index folder. Default: support_index/index, or support/index under --output-dir.",
    )
    fungi = parser.add_argument_group("FUNGI features")
    fungi.add_argument(
        "--features",
        choices=("fungi", "embeddings"),
        default=EvalJob.features,
        help="fungi (gradients + features, the paper) or embeddings (raw features baseline).",
    )
    fungi.add_argument(
        "--embeddings-source",
        choices=("tokens", "keys"),
        default=EvalJob.embeddings_source,
        help="With --features embeddings: tokens (the final normalised tokens, which FUNGI also uses) or keys "
        "(the last block's attention keys, the published HummingBird library's default).",
    )
    fungi.add_argument(
        "--gradients-layer",
        default=FungiConfig.gradients_layer,
        help="Dotted path of the Linear layer whose per-patch gradients are used.",
    )
    fungi.add_argument(
        "--latent-dim", type=flags.positive_int, default=FungiConfig.latent_dim, help="Output size of the random head."
    )
    fungi.add_argument(
        "--num-negative-neighbors",
        "--n-neighbors",
        dest="num_negative_neighbors",
        type=flags.positive_int,
        default=FungiConfig.num_negative_neighbors,
        help="Negatives per token from the support index (2 in the paper); --n-neighbors is the "
        "published README's alias. Capped at the index's k, with a warning.",
    )
    fungi.add_argument(
        "--negative-batch-percent",
        type=flags.probability,
        default=FungiConfig.negative_batch_percent,
        help="Probability of keeping each pooled negative (1 keeps all).",
    )
    fungi.add_argument(
        "--simclr-temperature",
        type=flags.positive_float,
        default=FungiConfig.simclr_temperature,
        help="Temperature of the SimCLR loss.",
    )
    fungi.add_argument(
        "--negatives-layout",
        choices=[m.value for m in NeighborLayout],
        default=FungiConfig.negatives_layout.value,
        help="published: the published code's scrambled neighbour layout (reproduces the paper); "
        "true: the retrieved neighbours themselves.",
    )
    fungi.add_argument("--projection-matrix", type=Path, default=None, help="Load the +1/-1 projection from here.")
    fungi.add_argument("--save-projection-matrix", type=Path, default=None, help="Save the projection here.")
    fungi.add_argument(
        "--projection-chunk", type=flags.positive_int, default=None, help="Tokens per projection chunk (auto)."
    )
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument(
        "--temperature",
        type=flags.positive_float,
        default=EvalJob.temperature,
        help="Label-transfer softmax temperature (0.02; 0.1 for the data-efficient runs).",
    )
    evaluation.add_argument(
        "--output", type=Path, default=None, help="Write a JSON results file here (and the log beside it, .log)."
    )
    flags.add_output_dir_flag(
        evaluation,
        "results_<features>.json, pictures_<features>/, eval_<features>.log; the support bank from support/",
    )
    evaluation.add_argument(
        "--save-eval-memory", type=Path, default=None, help="Keep the evaluation memory in this folder for reruns."
    )
    evaluation.add_argument(
        "--load-eval-memory",
        type=Path,
        default=None,
        help="Reuse an evaluation memory saved with --save-eval-memory (settings must match).",
    )
    evaluation.add_argument(
        "--save-predictions",
        type=Path,
        default=None,
        help="Write pictures (image | ground truth | prediction, pixel accuracy in the name) of the first "
        "--num-predictions validation images into this folder.",
    )
    evaluation.add_argument(
        "--num-predictions",
        type=flags.positive_int,
        default=EvalJob.num_predictions,
        help="Validation images pictured.",
    )
    flags.add_runtime_flags(parser)
    return parser


def job_from_args(args: argparse.Namespace) -> EvalJob:
    if args.shard_exact_search and args.index_backend not in ("auto", "exact"):
        raise UserError(
            f"--shard-exact-search shares out an exact search, not a {args.index_backend} one: pass --index-backend "
            "exact."
        )
    features, _, index = flags.support_paths(args)
    fungi = FungiConfig(
        gradients_layer=args.gradients_layer,
        latent_dim=args.latent_dim,
        num_negative_neighbors=args.num_negative_neighbors,
        negative_batch_percent=args.negative_batch_percent,
        simclr_temperature=args.simclr_temperature,
        negatives_layout=NeighborLayout(args.negatives_layout),
        projection_chunk=args.projection_chunk,
    )
    return EvalJob(
        seed=args.seed,
        backbone=flags.backbone_config(args),
        data=flags.data_config(args),
        transform=flags.transform_config(args),
        memory=flags.memory_config(args),
        index=replace(flags.index_config(args), sharded=args.shard_exact_search),
        features=args.features,
        embeddings_source=args.embeddings_source,
        fungi=fungi,
        projection_matrix=args.projection_matrix,
        save_projection_matrix=args.save_projection_matrix,
        support_features=features,
        support_index=index,
        temperature=args.temperature,
        output=args.output or (args.output_dir / f"results_{args.features}.json" if args.output_dir else None),
        save_eval_memory=args.save_eval_memory,
        load_eval_memory=args.load_eval_memory,
        save_predictions=args.save_predictions
        or (args.output_dir / f"pictures_{args.features}" if args.output_dir else None),
        num_predictions=args.num_predictions,
        runtime=flags.runtime(args),
    )


def summary(results: dict, job: EvalJob) -> str:
    """The closing lines on stdout (the log goes to stderr), so that ``> file`` keeps the score."""
    present = len(results["present_classes"])
    lines = [
        f"mIoU {results['miou_percent']:.2f}% ({results['features']} features, {results['dataset_label']}, "
        f"{results['num_val_images']} validation images, memory {results['memory_rows']} x {results['memory_dim']})",
    ]
    if 0 < present < results["num_classes"]:
        lines.append(
            f"mIoU over the {present} classes present in the validation truth: {results['miou_present_percent']:.2f}% "
            f"(the figure above counts the {results['num_classes'] - present} absent classes as 0, as published)"
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
            logger.info("mIoU: %.2f%%", results["miou_percent"])
            sys.stdout.write(summary(results, job) + "\n")

    log = flags.log_file(args, job.output, f"eval_{job.features}")
    return run_main(run, args.log_level, job.work_folder(), log)
