"""eval_gradients.py as a function: evaluation memory of FUNGI (or raw) features -> HummingBird
label transfer on the validation set -> matched mIoU and a results file.

Extraction and validation run in resumable pieces shared out over torchrun processes; the first process
assembles and indexes the memory, adds up the confusion matrices and writes the results.
"""

import logging
import shutil
from pathlib import Path

import torch

from fungi_hb.errors import UserError
from fungi_hb.evaluation.miou import matched_miou
from fungi_hb.evaluation.pictures import save_pictures
from fungi_hb.features.setup import EVAL_STAGE, memory_identity, prepare_features
from fungi_hb.identity import ids_sha1
from fungi_hb.index import plan as resources
from fungi_hb.jobs import preflight
from fungi_hb.jobs.configs import EvalJob
from fungi_hb.jobs.data_setup import prepare_data
from fungi_hb.jobs.eval_memory import evaluation_index, evaluation_memory, open_memory
from fungi_hb.jobs.results import eval_results
from fungi_hb.jobs.timer import StageTimer
from fungi_hb.jobs.validation import validate
from fungi_hb.jsonable import to_jsonable
from fungi_hb.memory.files import BankPaths
from fungi_hb.memory.types import Memory
from fungi_hb.precision import autocast_dtype, precision_name
from fungi_hb.runs import distributed
from fungi_hb.runs.distributed import World
from fungi_hb.runs.pieces import piece_images
from fungi_hb.runs.store import PieceStore
from fungi_hb.runs.work import finish_work, work_key, work_root
from fungi_hb.storage.atomic import save_json

logger = logging.getLogger(__name__)


def run_eval(job: EvalJob, world: World = World()) -> dict | None:
    """Run the evaluation; returns the results dict (also written to ``job.output``) on the first process,
    None on the others."""
    timer = StageTimer()
    if job.features not in ("fungi", "embeddings"):
        raise UserError(f"--features must be fungi or embeddings, not {job.features!r}.")
    _check_paths(job)
    device = distributed.device_for(job.runtime.device, world)
    distributed.start(world, device, job.runtime.dist_timeout_minutes)
    data = prepare_data(job.data, job.seed, validation=True, world=world)
    samples, validation, classes = data.train, data.val, data.classes
    plan = None
    if job.load_eval_memory is None:
        plan = preflight.memory_plan(job.memory, len(samples), job.backbone.grid**2, job.index.num_neighbors)

    dtype = autocast_dtype(device, job.runtime.use_fp16)
    with timer.stage("setup"):
        setup = prepare_features(job, device, dtype, [sample.id for sample in samples])
    identity = memory_identity(setup.identity, classes.name, job.memory, samples, EVAL_STAGE)
    rows = plan.rows if plan is not None else None
    root = work_root(job.runtime.work_dir, job.output or job.save_eval_memory)
    per_piece = piece_images(job.data.batch_size, job.runtime.piece_images)
    extraction = {"batch_size": job.data.batch_size, "precision": precision_name(dtype), "device": device.type}
    memory_store = None
    if plan is not None:
        index_config = resources.plan_index(job.index, rows, setup.dim, "evaluation")
        memory_store = PieceStore(
            root, work_key("eval-memory", identity, extraction), {"what": "evaluation memory pieces", **extraction}
        )
    with timer.stage("evaluation memory"):
        paths, meta = evaluation_memory(job, setup, samples, classes, plan, identity, memory_store, per_piece, world)
    if plan is None:
        index_config = resources.plan_index(job.index, meta.rows, setup.dim, "evaluation")
    with timer.stage("evaluation index"):
        index, index_meta = evaluation_index(paths, meta, index_config, root, device, world)
        memory = open_memory(paths)
        features = index.place(memory.features)  # next to the index: no second copy
        memory = Memory(
            features, memory.labels.to(features.device) if features.device.type == "cuda" else memory.labels
        )
    num_pictures = min(job.num_predictions, len(validation)) if job.save_predictions is not None else 0
    validation_store = PieceStore(
        root,
        work_key("validation", meta.memory_id, index_meta["index_id"], job.temperature, identity.features,
                 ids_sha1([s.id for s in validation]), extraction, num_pictures),
        {"what": "validation confusion matrices", **extraction},
    )  # fmt: skip
    with timer.stage("validation"):
        scored = validate(
            job, validation, setup, memory, index, validation_store, data.lookup(), per_piece, device, world,
            num_pictures,
        )  # fmt: skip
    if scored is None:  # not the first process
        return None

    confusion, pictures = scored
    result = matched_miou(confusion.numpy())
    if num_pictures:
        order = torch.argsort(pictures["picture_index"])
        save_pictures(
            job.save_predictions,
            [validation[i].id for i in pictures["picture_index"][order].tolist()],
            pictures["picture_image"][order],
            pictures["picture_truth"][order],
            pictures["picture_predicted"][order],
            result.matching,
            classes.palette,
        )
    per_class = ", ".join(f"{name} {100 * v:.1f}" for name, v in zip(classes.class_names, result.iou))
    logger.info("Per-class IoU (%s, %d classes): %s", classes.name, classes.num_classes, per_class)
    counts = {
        "num_train_images": len(samples),
        "num_val_images": len(validation),
        "memory_rows": meta.rows,
        "memory_dim": meta.dim,
        "processes": world.size,
    }
    index_info = {"backend": index.name, "config": to_jsonable(index_config), "settings": index.settings()}
    results = eval_results(
        job, result, confusion, classes, identity, setup.info, counts, index_info, setup.support_bank, device,
        timer.summary(),
    )  # fmt: skip
    if job.output is not None:
        save_json(results, Path(job.output))
        logger.info("Results written to %s", job.output)
    for store in (validation_store, memory_store):
        if store is not None:
            store.remove()
    shutil.rmtree(root / work_key("eval-index", meta.memory_id, index_config), ignore_errors=True)
    finish_work(root)
    return results


def _check_paths(job: EvalJob) -> None:
    """Before anything runs: every output can be written, and none would overwrite an input or another
    output (an evaluation memory saved where it is loaded from is fine)."""
    preflight.output_file(job.output, "--output")
    preflight.output_file(job.save_projection_matrix, "--save-projection-matrix")
    preflight.output_folder(job.save_eval_memory, "--save-eval-memory")
    preflight.output_folder(job.save_predictions, "--save-predictions")
    fungi = job.features == "fungi"
    support_meta = BankPaths(Path(job.support_features), None, None).meta if job.support_features else None
    reused = job.load_eval_memory if job.load_eval_memory != job.save_eval_memory else None  # saved in place: fine
    preflight.separate_paths(
        {
            "--output": job.output,
            "--save-projection-matrix": job.save_projection_matrix,
            "--save-eval-memory": job.save_eval_memory,
            "--save-predictions": job.save_predictions,
        },
        {
            "--memory-bank": job.support_features if fungi else None,
            "the support bank's metadata": support_meta if fungi else None,
            "--scann-index": job.support_index if fungi else None,
            "--projection-matrix": job.projection_matrix,
            "--load-eval-memory": reused,
        },
    )
    preflight.work_folder(work_root(job.runtime.work_dir, job.output or job.save_eval_memory))
