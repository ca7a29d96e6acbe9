"""eval_gradients.py as a function: evaluation memory of FUNGI (or raw) features -> HummingBird
label transfer on the validation set -> matched mIoU and a results file.

Extraction and validation run in resumable pieces shared out over torchrun processes; the first process
assembles and indexes the memory, adds up the confusion matrices and writes the results.
"""

import logging
import shutil
from contextlib import ExitStack
from pathlib import Path

import torch

from fungi_hb.data.segmentation import ResizedSegmentation
from fungi_hb.errors import UserError
from fungi_hb.evaluation.hummingbird import Predictor
from fungi_hb.evaluation.miou import matched_miou
from fungi_hb.evaluation.pictures import Pictures, save_pictures
from fungi_hb.features.setup import EVAL_STAGE, FeatureSetup, memory_identity, prepare_features
from fungi_hb.identity import ids_sha1
from fungi_hb.index.plan import plan_index
from fungi_hb.jobs import preflight
from fungi_hb.jobs.configs import EvalJob
from fungi_hb.jobs.data_setup import RunData, prepare_data
from fungi_hb.jobs.eval_memory import evaluation_index, evaluation_memory, index_folder, open_memory
from fungi_hb.jobs.results import eval_results
from fungi_hb.jobs.timer import StageTimer
from fungi_hb.jobs.validation import validate
from fungi_hb.jsonable import to_jsonable
from fungi_hb.log import start_copy
from fungi_hb.memory.build import MemoryRecipe
from fungi_hb.memory.files import BankPaths, check_bank_journal
from fungi_hb.memory.types import Memory
from fungi_hb.precision import autocast_dtype, precision_name
from fungi_hb.runs import distributed, lock
from fungi_hb.runs.distributed import World
from fungi_hb.runs.runner import Loading
from fungi_hb.runs.store import PieceStore
from fungi_hb.runs.work import finish_work, work_key
from fungi_hb.storage.atomic import remove_leftovers, save_json

logger = logging.getLogger(__name__)


def run_eval(job: EvalJob, world: World = World()) -> dict | None:
    """Run the evaluation; returns the results dict (also written to ``job.output``) on the first process,
    None on the others."""
    if job.features not in ("fungi", "embeddings"):
        raise UserError(f"`features` must be fungi or embeddings, not {job.features!r}.")
    _check_paths(job)
    with ExitStack() as stack:
        return _evaluate(job, world, stack)


def _evaluate(job: EvalJob, world: World, stack: ExitStack) -> dict | None:
    timer = StageTimer()
    device = distributed.device_for(job.runtime.device, world)
    distributed.start(world, device, job.runtime.dist_timeout_minutes)
    data = prepare_data(job.data, job.seed, validation=True, world=world)
    if world.is_main:  # after the data checks, so that bad input leaves no folder behind
        _claim_outputs(job, stack)
    loading = Loading.of(len(data.train), job.data.batch_size, job.data.num_workers, job.runtime.piece_images)
    dtype = autocast_dtype(device, job.runtime.use_fp16)
    extraction = {"batch_size": job.data.batch_size, "precision": precision_name(dtype), "device": device.type}
    recipe = _recipe(job, data)
    with timer.stage("setup"):
        setup = prepare_features(job, device, dtype, [sample.id for sample in data.train])
    identity = memory_identity(setup.identity, data.classes.name, job.memory, data.train, EVAL_STAGE)
    memory_store = None
    if recipe is not None:
        index_config = plan_index(job.index, recipe.plan.rows, setup.dim, "evaluation")
        key = work_key("eval-memory", identity, extraction)
        memory_store = _store(job, key, "evaluation memory pieces", extraction, world, stack)
    with timer.stage("evaluation memory"):
        paths, meta = evaluation_memory(job, setup, recipe, identity, memory_store, loading, world)
    if recipe is None:
        index_config = plan_index(job.index, meta.rows, setup.dim, "evaluation")
    index_work = index_folder(job.work_folder(), meta, index_config).parent
    if world.is_main:  # other runs of this memory share the index folder: one at a time
        index_lock = stack.enter_context(lock.locked(index_work, f"the evaluation index in {index_work}"))
    with timer.stage("evaluation index"):
        index, index_meta = evaluation_index(paths, meta, index_config, job.work_folder(), device, world)
        predict = Predictor(setup.extract, _placed(open_memory(paths), index), index, job.temperature,
                            setup.info.grid, setup.info.input_size, device)  # fmt: skip
    num_pictures = min(job.num_predictions, len(data.val)) if job.save_predictions is not None else 0
    val_ids = ids_sha1([s.id for s in data.val])
    validation_key = work_key("validation", meta.memory_id, index_meta["index_id"], job.temperature,
                              identity.features, val_ids, extraction, num_pictures)  # fmt: skip
    validation_store = _store(job, validation_key, "validation confusion matrices", extraction, world, stack)
    dataset = ResizedSegmentation(data.val, setup.info.input_size, job.transform, job.seed, data.lookup())
    with timer.stage("validation"):
        scored = validate(predict, dataset, validation_store, loading.for_images(len(data.val)), world,
                          (num_pictures, job.transform))  # fmt: skip
    if scored is None:  # not the first process
        return None
    results = _report(job, data, setup, scored, identity=identity, meta=meta, index=index, index_config=index_config,
                      device=device, world=world, timer=timer)  # fmt: skip
    for store in (validation_store, memory_store):
        if store is not None:
            store.remove()
    shutil.rmtree(index_work, ignore_errors=True)
    index_lock.release()
    finish_work(job.work_folder())
    return results


def _claim_outputs(job: EvalJob, stack: ExitStack) -> None:
    """On the first process: lock the outputs, clear what killed runs left of them, refuse a foreign save
    journal in the saved-memory folder, and start the log file."""
    lock.hold(stack, {str(path): path for path in _outputs(job)})
    for path in _outputs(job):
        remove_leftovers(path)
    if job.save_eval_memory is not None:
        check_bank_journal(BankPaths.in_folder(job.save_eval_memory))
    start_copy()


def _recipe(job: EvalJob, data: RunData) -> MemoryRecipe | None:
    """How the evaluation memory is made (None when it is loaded)."""
    if job.load_eval_memory is not None:
        return None
    plan = preflight.memory_plan(job.memory, len(data.train), job.backbone.grid**2, job.index.num_neighbors)
    return MemoryRecipe(
        data.train, data.classes, plan, job.transform, job.backbone.input_size, job.backbone.patch_size, job.seed,
        EVAL_STAGE,
    )  # fmt: skip


def _store(job: EvalJob, key: str, what: str, extraction: dict, world: World, stack: ExitStack) -> PieceStore:
    """A piece store in the work folder, locked by the first process until the job ends."""
    store = PieceStore(job.work_folder(), key, {"what": what, **extraction})
    if world.is_main:
        store.lock(stack)
    return store


def _placed(memory: Memory, index) -> Memory:
    """The memory with its features next to the index (no second copy), labels on the same device."""
    features = index.place(memory.features)
    return Memory(features, memory.labels.to(features.device) if features.device.type == "cuda" else memory.labels)


def _report(
    job: EvalJob, data: RunData, setup: FeatureSetup, scored: tuple[torch.Tensor, Pictures | None], **facts
) -> dict:
    """Score the confusion matrix, save the pictures and the results file, log the per-class IoU."""
    confusion, pictures = scored
    classes, meta, index, timer = data.classes, facts["meta"], facts["index"], facts["timer"]
    result = matched_miou(confusion.numpy())
    if pictures is not None:
        names = [data.val[i].id for i in pictures.index.tolist()]
        save_pictures(job.save_predictions, names, pictures.image, pictures.truth, pictures.predicted,
                      result.matching, classes.palette, classes.class_names)  # fmt: skip
    shown = [(name, v) for name, v, here in zip(classes.class_names, result.iou, result.present) if here]
    absent = classes.num_classes - len(shown)
    logger.info(
        "Per-class IoU of the %d classes present in the validation truth%s: %s",
        len(shown),
        f" ({absent} absent classes count as 0 in the mIoU)" if absent else "",
        ", ".join(f"{name} {100 * v:.1f}" for name, v in shown),
    )
    counts = {
        "num_train_images": len(data.train),
        "num_val_images": len(data.val),
        "memory_rows": meta.rows,
        "memory_dim": meta.dim,
        "processes": facts["world"].size,
    }
    index_info = {"backend": index.name, "config": to_jsonable(facts["index_config"]), "settings": index.settings()}
    results = eval_results(
        job, result, confusion=confusion, classes=classes, dataset_label=data.dataset.label,
        identity=facts["identity"], info=setup.info, counts=counts, index=index_info,
        support_bank=setup.support_bank, device=facts["device"], seconds=timer.summary(), started=timer.started,
    )  # fmt: skip
    if job.output is not None:
        save_json(results, Path(job.output))
        logger.info("Results written to %s", job.output)
    return results


def _outputs(job: EvalJob) -> list[Path]:
    given = (job.output, job.save_projection_matrix, job.save_eval_memory, job.save_predictions)
    return [Path(p) for p in given if p is not None]


def _check_paths(job: EvalJob) -> None:
    """Before anything runs: every output can be written, and none would overwrite an input or another
    output (an evaluation memory saved where it is loaded from is fine)."""
    fungi = job.features == "fungi"
    support_meta = BankPaths(Path(job.support_features), None, None).meta if job.support_features else None
    reused = job.load_eval_memory if job.load_eval_memory != job.save_eval_memory else None  # saved in place: fine
    preflight.outputs(
        files={"output": job.output, "save_projection_matrix": job.save_projection_matrix},
        folders={"save_eval_memory": job.save_eval_memory, "save_predictions": job.save_predictions},
        inputs={
            "support_features": job.support_features if fungi else None,
            "the support bank's metadata": support_meta if fungi else None,
            "support_index": job.support_index if fungi else None,
            "projection_matrix": job.projection_matrix,
            "load_eval_memory": reused,
        },
        work_folder=job.work_folder(),
    )
