"""create_memory_bank.py as a function: raw patch features -> support memory bank -> its index.

The features are extracted in pieces (saved as they are finished, shared out over torchrun processes);
the first process assembles them and builds the index, and the bank is committed as a unit.
"""

import logging
from contextlib import ExitStack
from dataclasses import dataclass, replace

from fungi_hb.data.loading import Augmentation
from fungi_hb.features.embeddings import EmbeddingExtractor
from fungi_hb.features.models.base import Backbone, load_backbone
from fungi_hb.identity import MemoryIdentity
from fungi_hb.index import IndexConfig, build_index_folder
from fungi_hb.index.plan import plan_index
from fungi_hb.jobs import preflight
from fungi_hb.jobs.configs import MemoryBankJob
from fungi_hb.jobs.data_setup import RunData, prepare_data
from fungi_hb.jobs.feature_setup import SUPPORT_STAGE, memory_identity, raw_identity, row_rule
from fungi_hb.jobs.preflight import MemoryFiles
from fungi_hb.jobs.timer import StageTimer
from fungi_hb.jsonable import to_jsonable
from fungi_hb.log import count, start_copy
from fungi_hb.memory.build import MemoryRecipe, assemble_memory, extract_memory_pieces
from fungi_hb.memory.files import (
    BankMeta,
    BankPaths,
    bank_transaction,
    check_bank_journal,
    new_memory_id,
    write_sidecar,
)
from fungi_hb.precision import Placement, autocast_dtype
from fungi_hb.runs import distributed, lock
from fungi_hb.runs.distributed import World
from fungi_hb.runs.runner import Loading
from fungi_hb.runs.store import PieceStore
from fungi_hb.runs.work import finish_work, work_key
from fungi_hb.system import environment, provenance

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BankRun:
    """A bank's run once everything is checked: what the pieces are made of and where they go."""

    job: MemoryBankJob
    paths: BankPaths
    data: RunData
    backbone: Backbone
    recipe: MemoryRecipe
    identity: MemoryIdentity
    index_config: IndexConfig  # nothing left on auto
    loading: Loading
    store: PieceStore
    placement: Placement


def run_memory_bank(job: MemoryBankJob, world: World = World(), backbone: Backbone | None = None) -> dict | None:
    """Build and save the memory bank and its index; returns the bank's metadata (None on processes
    other than the first, which only extract their share). ``backbone``: a model built by the caller
    (``fungi_hb.evaluate``) instead of the one ``job.backbone`` names."""
    paths = BankPaths(job.features_path, job.labels_path, job.index_dir)
    preflight.outputs(
        files={"features_path": paths.features, "labels_path": paths.labels},
        folders={"index_dir": paths.index},
        inputs={},
        work_folder=job.work_folder(),
    )
    with ExitStack() as stack:
        timer = StageTimer()
        run = _prepare(BankStart(job, paths, world, stack, timer), backbone)
        with timer.stage("features"):
            extract = EmbeddingExtractor(run.backbone, run.placement)
            extract_memory_pieces(run.recipe, extract, run.store, run.loading, world, "memory bank")
        distributed.barrier(world)
        return _commit(run, timer) if world.is_main else None


@dataclass(frozen=True)
class BankStart:
    """What a bank's run starts from."""

    job: MemoryBankJob
    paths: BankPaths
    world: World
    stack: ExitStack  # the locks taken are held until it closes
    timer: StageTimer


def _prepare(start: BankStart, backbone: Backbone | None) -> BankRun:
    """Everything checked before the long part: data, outputs and their locks, backbone, plans, pieces."""
    job, paths, world, stack, timer = start.job, start.paths, start.world, start.stack, start.timer
    device = distributed.device_for(job.runtime.device, world)
    distributed.start(world, device, job.runtime.dist_timeout_minutes)
    data = prepare_data(job.data, job.seed, validation=False, world=world)
    if world.is_main:  # after the data checks, so that bad input leaves no folder behind
        lock.hold(stack, {f"the memory bank {path}": path for path in paths.parts().values()})
        check_bank_journal(paths)
        start_copy()
    with timer.stage("backbone"):
        backbone = backbone or load_backbone(job.backbone, job.seed, device)
    info = backbone.info
    plan = preflight.memory_plan(job.memory, len(data.train), info.grid**2, job.index.num_neighbors)
    task = data.task()
    files = MemoryFiles(plan.rows, info.embed_dim, task.value_width, task.value_dtype.itemsize, job.work_folder(),
                        paths.features.parent)  # fmt: skip
    preflight.memory_fits_on_disk(files, "support memory")
    index_config = plan_index(job.index, plan.rows, info.embed_dim, "support")
    placement = Placement(device, autocast_dtype(device, job.runtime.use_fp16))
    identity = memory_identity(
        raw_identity(info, job.transform.std, job.seed),
        data.dataset.targets.name,
        job.memory,
        data.train,
        SUPPORT_STAGE,
    )
    augmentation = Augmentation(info.input_size, job.transform, job.seed, SUPPORT_STAGE, plan.epochs)
    recipe = MemoryRecipe(data.train, data.targets, plan, augmentation, row_rule(task, info.patch_size))
    loading = Loading.of(len(data.train), job.data.batch_size, job.data.num_workers, job.runtime.piece_images)
    extraction = {"batch_size": job.data.batch_size, "precision": placement.name, "device": device.type}
    store = PieceStore(
        job.work_folder(),
        work_key("support", identity, extraction),
        {"what": f"support bank pieces for {job.features_path}", "identity": to_jsonable(identity), **extraction},
    )
    if world.is_main:
        store.lock(stack)
    logger.info(
        "%s x %s, %d rows expected, %d images per piece, device %s",
        count(len(data.train), "training image"),
        count(plan.epochs, "augmentation epoch"),
        plan.rows,
        loading.images_per_piece,
        device,
    )
    return BankRun(job, paths, data, backbone, recipe, identity, index_config, loading, store, placement)


def _commit(run: BankRun, timer: StageTimer) -> dict:
    """On the first process: the pieces assembled into the bank's files, the index built, all committed."""
    job, info, plan = run.job, run.backbone.info, run.recipe.plan
    meta = BankMeta(
        memory_id=new_memory_id(),
        identity=run.identity,
        rows=plan.rows,
        dim=info.embed_dim,
        label_width=run.recipe.rule.width,
        info={
            "num_images": len(run.data.train),
            "num_train_samples": job.data.num_train_samples,
            "data_dir": str(job.data.data_dir.resolve()),
            "index": to_jsonable(run.index_config),
            "environment": environment(run.placement.device),
        },
    )
    with bank_transaction(run.paths) as staged:
        with timer.stage("assemble"):
            assemble_memory(run.recipe, run.store, run.loading.images_per_piece, staged, info.embed_dim)
        with timer.stage("index"):
            build_index_folder(
                staged["features"], staged["index"], run.index_config, meta.memory_id, run.placement.device
            )
        meta = write_sidecar(
            run.paths, staged, replace(meta, info={**meta.info, "provenance": provenance(timer.started)})
        )
    run.store.remove()
    finish_work(run.store.folder.parent)
    logger.info(
        "Done: %d rows x %d dims in %.1f s (%.3f s/image) -> %s, %s, %s",
        meta.rows,
        meta.dim,
        timer.summary()["total"],
        timer.seconds["features"] / (len(run.data.train) * plan.epochs),
        job.features_path,
        job.labels_path,
        job.index_dir,
    )
    return dict(meta.to_json(), seconds=timer.summary(), settings=to_jsonable(job))
