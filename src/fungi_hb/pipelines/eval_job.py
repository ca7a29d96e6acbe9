"""eval_gradients.py as a function: evaluation memory of FUNGI (or raw) features -> HummingBird
label transfer on the validation set -> matched mIoU and a results file."""

import logging
from pathlib import Path

from ..data.layout import NUM_CLASSES, VOC_CLASSES
from ..data.samples import train_samples, val_samples
from ..devices import autocast_dtype, resolve_device
from ..errors import UserError
from ..hummingbird import evaluate
from ..index import build_index
from ..memory.types import Memory
from ..miou import matched_miou
from ..storage.atomic import check_writable, save_json
from . import preflight
from .eval_memory import evaluation_memory
from .feature_setup import EVAL_STAGE, memory_identity, prepare_features
from .jobs import EvalJob
from .loaders import validation_batches
from .results import eval_results
from .timer import StageTimer

logger = logging.getLogger(__name__)


def run_eval(job: EvalJob) -> dict:
    """Run the evaluation; returns the results dict (also written to ``job.output``)."""
    timer = StageTimer()
    if job.features not in ("fungi", "embeddings"):
        raise UserError(f"--features must be fungi or embeddings, not {job.features!r}.")
    for path in (job.output, job.save_projection_matrix):
        if path is not None:
            check_writable(path)
    if job.save_eval_memory is not None:
        check_writable(Path(job.save_eval_memory) / "features.pth")
    device = resolve_device(job.device)
    samples, validation = train_samples(job.data, job.seed), val_samples(job.data)
    plan = None
    if job.load_eval_memory is None:
        plan = preflight.memory_plan(job.memory, len(samples), job.backbone.grid**2, job.index.num_neighbors)

    with timer.stage("setup"):
        setup = prepare_features(job, device, autocast_dtype(device, job.use_fp16))
    if plan is not None:
        preflight.check_fits_in_ram(plan.rows, setup.dim, NUM_CLASSES)
    identity = memory_identity(setup.identity, job.memory, samples, EVAL_STAGE)
    with timer.stage("evaluation memory"):
        memory = evaluation_memory(job, setup, samples, plan, identity)
    with timer.stage("evaluation index"):
        index = build_index(memory.features, job.index, device)
        features = index.place(memory.features)  # next to the index: no second copy
        memory = Memory(features, memory.labels.to(features.device))
    with timer.stage("validation"):
        batches = validation_batches(validation, setup.info.input_size, job.transform, job.data, job.seed)
        info = setup.info
        confusion = evaluate(batches, setup.extract, memory, index, job.temperature, info.grid, info.input_size, device)
    result = matched_miou(confusion.numpy())
    logger.info("Per-class IoU: %s", ", ".join(f"{name} {100 * v:.1f}" for name, v in zip(VOC_CLASSES, result.iou)))
    counts = {
        "num_train_images": len(samples),
        "num_val_images": len(validation),
        "memory_rows": int(memory.features.shape[0]),
        "memory_dim": int(memory.features.shape[1]),
    }
    results = eval_results(job, result, confusion, identity, setup.info, counts, index.name, device, timer.summary())
    if job.output is not None:
        save_json(results, Path(job.output))
        logger.info("Results written to %s", job.output)
    return results
