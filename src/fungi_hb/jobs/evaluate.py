"""eval_gradients.py as a function: evaluation memory of FUNGI (or raw) features -> HummingBird transfer on
the validation set -> the task's figures (matched mIoU; depth errors) and a results file.

Extraction and validation run in resumable pieces shared out over torchrun processes; the first process
assembles and indexes the memory, adds up the scores and writes the results. The path end to end:

    data = prepare_data(...)                                  the dataset, its samples, every file checked
    setup = prepare_features(job, backbone, ...)              raw or FUNGI features, checked on a probe
    paths, meta = evaluation_memory(job, setup, recipe, ...)  training images -> memory (pieces, resumable)
    index = evaluation_index(paths, meta, ...)                the memory's nearest-neighbour index
    validated = validate(ValidationRun(predictor, task, ...)) validation images -> score sums (pieces)
    results = eval_results(job, EvalReport(task.metrics(validated.sums), ...))
"""

import logging
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from fungi_hb.data.loading import Augmentation, ResizedImages
from fungi_hb.errors import UserError
from fungi_hb.evaluation.hummingbird import Predictor, Transfer
from fungi_hb.evaluation.pictures import Picture
from fungi_hb.features.models.base import Backbone, load_backbone
from fungi_hb.identity import MemoryIdentity, ids_sha1
from fungi_hb.index.plan import plan_index
from fungi_hb.jobs import preflight
from fungi_hb.jobs.configs import EvalJob
from fungi_hb.jobs.data_setup import RunData, prepare_data
from fungi_hb.jobs.eval_memory import evaluation_index, evaluation_memory, index_folder, open_memory
from fungi_hb.jobs.feature_setup import EVAL_STAGE, FeatureSetup, memory_identity, prepare_features, row_rule
from fungi_hb.jobs.preflight import MemoryFiles
from fungi_hb.jobs.results import EvalReport, eval_results
from fungi_hb.jobs.timer import StageTimer
from fungi_hb.jobs.validation import Validated, ValidationRun, validate
from fungi_hb.jsonable import to_jsonable
from fungi_hb.log import start_copy
from fungi_hb.memory.build import MemoryRecipe
from fungi_hb.memory.files import BankPaths, check_bank_journal
from fungi_hb.memory.types import Memory
from fungi_hb.precision import Placement, autocast_dtype
from fungi_hb.runs import distributed, lock
from fungi_hb.runs.distributed import World
from fungi_hb.runs.runner import Loading
from fungi_hb.runs.store import PieceStore
from fungi_hb.runs.work import finish_work, remove_work, work_key
from fungi_hb.storage.atomic import remove_leftovers, save_json
from fungi_hb.tasks.base import Task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalRun:
    """An evaluation once everything is checked before the long part."""

    job: EvalJob
    world: World
    data: RunData
    task: Task
    setup: FeatureSetup  # the extractor and what identifies its features
    identity: MemoryIdentity  # of the evaluation memory
    placement: Placement
    loading: Loading
    stack: ExitStack  # locks held until the run ends


def run_eval(job: EvalJob, world: World = World(), backbone: Backbone | None = None) -> dict | None:
    """Run the evaluation; returns the results dict (also written to ``job.output``) on the first process,
    None on the others. ``backbone``: a model built by the caller (``fungi_hb.evaluate``) instead of the one
    ``job.backbone`` names."""
    if job.features not in ("fungi", "embeddings"):
        raise UserError(f"`features` must be fungi or embeddings, not {job.features!r}.")
    if job.index.sharded and job.index.backend not in ("auto", "exact"):
        raise UserError(
            f"`index.sharded` shares out an exact search, not a {job.index.backend} one: pass `index.backend` exact."
        )
    _check_paths(job)
    with ExitStack() as stack:
        timer = StageTimer()
        run = _prepare(job, world, stack, timer, backbone)
        memory_store, recipe = _memory_store(run), _recipe(run)
        planned = plan_index(job.index, recipe.plan.rows, run.setup.dim, "evaluation") if recipe else None
        with timer.stage("evaluation memory"):
            paths, meta = evaluation_memory(job, run.setup, recipe, run.identity, memory_store, run.loading, world)
        index_config = planned or plan_index(job.index, meta.rows, run.setup.dim, "evaluation")
        index_work = index_folder(job.work_folder(), meta, index_config).parent
        index_lock = None
        if world.is_main:  # other runs of this memory share the index folder: one at a time
            index_lock = stack.enter_context(lock.locked(index_work, f"the evaluation index in {index_work}"))
        with timer.stage("evaluation index"):
            device = run.placement.device
            index, index_meta = evaluation_index(paths, meta, index_config, job.work_folder(), device, world)
        predictor = _predictor(run, _placed(open_memory(paths), index), index)
        validation_store = _validation_store(run, meta.memory_id, index_meta["index_id"])
        with timer.stage("validation"):
            loading = run.loading.for_images(len(run.data.val))
            validated = validate(_validation_run(run, predictor), validation_store, loading, world)
        if validated is None:  # not the first process
            return None
        index_info = {"backend": index.name, "library_version": type(index).library_version(),
                      "config": to_jsonable(index_config), "settings": index.settings()}  # fmt: skip
        results = _report(run, validated, meta.rows, index_info, timer)
        for store in (validation_store, memory_store):
            if store is not None:
                store.remove()
        remove_work(index_work)
        index_lock.release()
        finish_work(job.work_folder())
        return results


def _prepare(job: EvalJob, world: World, stack: ExitStack, timer: StageTimer, backbone: Backbone | None) -> EvalRun:
    """Data, outputs and their locks, backbone and features: everything checked before the long part."""
    device = distributed.device_for(job.runtime.device, world)
    distributed.start(world, device, job.runtime.dist_timeout_minutes)
    data = prepare_data(job.data, job.seed, validation=True, world=world)
    if world.is_main:  # after the data checks, so that bad input leaves no folder behind
        _claim_outputs(job, stack)
    placement = Placement(device, autocast_dtype(device, job.runtime.use_fp16))
    with timer.stage("setup"):
        backbone = backbone or load_backbone(job.backbone, job.seed, device)
        setup = prepare_features(job, backbone, placement, [sample.id for sample in data.train])
    identity = memory_identity(setup.identity, data.dataset.targets.name, job.memory, data.train, EVAL_STAGE)
    loading = Loading.of(len(data.train), job.data.batch_size, job.data.num_workers, job.runtime.piece_images)
    return EvalRun(job, world, data, data.task(), setup, identity, placement, loading, stack)


def _claim_outputs(job: EvalJob, stack: ExitStack) -> None:
    """On the first process: lock the outputs, clear what killed runs left of them, refuse a foreign save
    journal in the saved-memory folder, and start the log file."""
    lock.hold(stack, {str(path): path for path in _outputs(job)})
    for path in _outputs(job):
        remove_leftovers(path)
    if job.save_eval_memory is not None:
        check_bank_journal(BankPaths.in_folder(job.save_eval_memory))
    start_copy()


def _extraction(run: EvalRun) -> dict:
    """How the pieces were made, besides what identifies their features (part of the pieces' key)."""
    return {"batch_size": run.job.data.batch_size, "precision": run.placement.name, "device": run.placement.device.type}


def _store(run: EvalRun, key: str, what: str) -> PieceStore:
    """A piece store in the work folder, locked by the first process until the job ends."""
    store = PieceStore(run.job.work_folder(), key, {"what": what, **_extraction(run)})
    if run.world.is_main:
        store.lock(run.stack)
    return store


def _memory_store(run: EvalRun) -> PieceStore | None:
    """Where the evaluation memory's pieces go (None when the memory is loaded)."""
    if run.job.load_eval_memory is not None:
        return None
    return _store(run, work_key("eval-memory", run.identity, _extraction(run)), "evaluation memory pieces")


def _recipe(run: EvalRun) -> MemoryRecipe | None:
    """How the evaluation memory is made (None when it is loaded)."""
    job, info = run.job, run.setup.info
    if job.load_eval_memory is not None:
        return None
    plan = preflight.memory_plan(job.memory, len(run.data.train), info.grid**2, job.index.num_neighbors)
    folder = Path(job.save_eval_memory) if job.save_eval_memory is not None else job.work_folder()
    task = run.task
    files = MemoryFiles(plan.rows, run.setup.dim, task.value_width, task.value_dtype.itemsize, job.work_folder(),
                        folder)  # fmt: skip
    preflight.memory_fits_on_disk(files, "evaluation memory")
    augmentation = Augmentation(info.input_size, job.transform, job.seed, EVAL_STAGE, plan.epochs)
    return MemoryRecipe(run.data.train, run.data.targets, plan, augmentation, row_rule(run.task, info.patch_size))


def _predictor(run: EvalRun, memory: Memory, index) -> Predictor:
    info = run.setup.info
    transfer = Transfer(run.task.transfer, run.task.to_pixels, run.job.temperature, info.grid, info.input_size)
    return Predictor(run.setup.extract, memory, index, transfer, run.placement.device)


def _validation_store(run: EvalRun, memory_id: str, index_id: str) -> PieceStore:
    key = work_key("validation", memory_id, index_id, run.job.temperature, run.identity.features,
                   ids_sha1([s.id for s in run.data.val]), _extraction(run), _pictured(run))  # fmt: skip
    return _store(run, key, "validation scores")


def _pictured(run: EvalRun) -> int:
    return min(run.job.num_predictions, len(run.data.val)) if run.job.save_predictions is not None else 0


def _validation_run(run: EvalRun, predictor: Predictor) -> ValidationRun:
    job, info = run.job, run.setup.info
    dataset = ResizedImages(run.data.val, info.input_size, job.transform, job.seed, run.data.targets)
    return ValidationRun(predictor, run.task, dataset, _pictured(run), job.transform)


def _placed(memory: Memory, index) -> Memory:
    """The memory with its features next to the index (no second copy), labels on the same device."""
    features = index.place(memory.features)
    return Memory(features, memory.labels.to(features.device) if features.device.type == "cuda" else memory.labels)


def _report(run: EvalRun, validated: Validated, memory_rows: int, index: dict, timer: StageTimer) -> dict:
    """The task's figures, the pictures and the results file; the figures behind the headline logged."""
    job, task, data = run.job, run.task, run.data
    metrics = task.metrics(validated.sums)
    if validated.pictures is not None:
        shown = validated.pictures
        pictures = [
            Picture(data.val[int(i)].file_stem, image.numpy(), truth.numpy(), predicted.numpy())
            for i, image, truth, predicted in zip(shown["index"], shown["image"], shown["truth"], shown["predicted"])
        ]
        task.save_pictures(Path(job.save_predictions), pictures, metrics)
    logger.info("%s", task.log_details(metrics))
    counts = {
        "num_train_images": len(data.train),
        "num_val_images": len(data.val),
        "memory_rows": memory_rows,
        "memory_dim": run.setup.dim,
        "processes": run.world.size,
    }
    report = EvalReport(task.name, metrics, data.dataset.targets.name, data.dataset.label, run.identity,
                        run.setup.info, counts, index, run.setup.support_bank, run.placement.device,
                        timer.summary(), timer.started)  # fmt: skip
    results = eval_results(job, report)
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
