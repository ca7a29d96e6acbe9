"""create_memory_bank.py as a function: raw patch features -> support memory bank -> its index.

The features are extracted in pieces (saved as they are finished, shared out over torchrun processes);
the first process assembles them and builds the index, and the bank is committed as a unit.
"""

import logging
from contextlib import ExitStack
from dataclasses import replace

from fungi_hb.features.backbones import build_backbone
from fungi_hb.features.embeddings import EmbeddingExtractor
from fungi_hb.features.setup import SUPPORT_STAGE, memory_identity, raw_identity
from fungi_hb.index import build_index_folder
from fungi_hb.index.plan import plan_index
from fungi_hb.jobs import preflight
from fungi_hb.jobs.configs import MemoryBankJob
from fungi_hb.jobs.data_setup import prepare_data
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
from fungi_hb.precision import autocast_dtype, precision_name
from fungi_hb.runs import distributed, lock
from fungi_hb.runs.distributed import World
from fungi_hb.runs.runner import Loading
from fungi_hb.runs.store import PieceStore
from fungi_hb.runs.work import finish_work, work_key
from fungi_hb.system import environment, provenance

logger = logging.getLogger(__name__)


def run_memory_bank(job: MemoryBankJob, world: World = World()) -> dict | None:
    """Build and save the memory bank and its index; returns the bank's metadata (None on processes
    other than the first, which only extract their share)."""
    paths = BankPaths(job.features_path, job.labels_path, job.index_dir)
    preflight.outputs(
        files={"features_path": paths.features, "labels_path": paths.labels},
        folders={"index_dir": paths.index},
        inputs={},
        work_folder=job.work_folder(),
    )
    with ExitStack() as stack:
        return _build(job, paths, world, stack)


def _build(job: MemoryBankJob, paths: BankPaths, world: World, stack: ExitStack) -> dict | None:
    timer = StageTimer()
    device = distributed.device_for(job.runtime.device, world)
    distributed.start(world, device, job.runtime.dist_timeout_minutes)
    data = prepare_data(job.data, job.seed, validation=False, world=world)
    if world.is_main:  # after the data checks, so that bad input leaves no folder behind
        lock.hold(stack, {f"the memory bank {path}": path for path in paths.parts().values()})
        check_bank_journal(paths)
        start_copy()
    samples, classes = data.train, data.classes
    plan = preflight.memory_plan(job.memory, len(samples), job.backbone.grid**2, job.index.num_neighbors)
    with timer.stage("backbone"):
        backbone, info = build_backbone(job.backbone, job.seed)
        backbone.to(device)
    index_config = plan_index(job.index, plan.rows, info.embed_dim, "support")
    dtype = autocast_dtype(device, job.runtime.use_fp16)
    identity = memory_identity(
        raw_identity(info, job.transform.std, job.seed), classes.name, job.memory, samples, SUPPORT_STAGE
    )
    recipe = MemoryRecipe(
        samples, classes, plan, job.transform, info.input_size, info.patch_size, job.seed, SUPPORT_STAGE
    )
    loading = Loading.of(len(samples), job.data.batch_size, job.data.num_workers, job.runtime.piece_images)
    extraction = {"batch_size": job.data.batch_size, "precision": precision_name(dtype), "device": device.type}
    store = PieceStore(
        job.work_folder(),
        work_key("support", identity, extraction),
        {"what": f"support bank pieces for {job.features_path}", "identity": to_jsonable(identity), **extraction},
    )
    if world.is_main:
        store.lock(stack)
    logger.info(
        "%s x %s, %d rows expected, %d images per piece, device %s",
        count(len(samples), "training image"),
        count(plan.epochs, "augmentation epoch"),
        plan.rows,
        loading.images_per_piece,
        device,
    )
    extract = EmbeddingExtractor(backbone, info.num_prefix_tokens, device, dtype)
    with timer.stage("features"):
        extract_memory_pieces(recipe, extract, store, loading, world, "memory bank")
    distributed.barrier(world)
    if not world.is_main:
        return None

    meta = BankMeta(
        memory_id=new_memory_id(),
        identity=identity,
        rows=plan.rows,
        dim=info.embed_dim,
        num_classes=classes.num_classes,
        info={
            "num_images": len(samples),
            "num_train_samples": job.data.num_train_samples,
            "data_dir": str(job.data.data_dir.resolve()),
            "index": to_jsonable(index_config),
            "environment": environment(device),
        },
    )
    with bank_transaction(paths) as staged:
        with timer.stage("assemble"):
            assemble_memory(recipe, store, loading.images_per_piece, staged, info.embed_dim)
        with timer.stage("index"):
            build_index_folder(staged["features"], staged["index"], index_config, meta.memory_id, device)
        meta = write_sidecar(paths, staged, replace(meta, info={**meta.info, "provenance": provenance(timer.started)}))
    store.remove()
    finish_work(store.folder.parent)
    logger.info(
        "Done: %d rows x %d dims in %.1f s (%.3f s/image) -> %s, %s, %s",
        meta.rows,
        meta.dim,
        timer.summary()["total"],
        timer.seconds["features"] / (len(samples) * plan.epochs),
        job.features_path,
        job.labels_path,
        job.index_dir,
    )
    return dict(meta.to_json(), seconds=timer.summary(), settings=to_jsonable(job))
