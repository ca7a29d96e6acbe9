"""create_memory_bank.py as a function: raw patch features -> support memory bank -> its index.

The features are extracted in pieces (saved as they are finished, shared out over torchrun processes);
the first process assembles them and builds the index, and the bank is committed as a unit.
"""

import logging

from fungi_hb.features.backbones import build_backbone
from fungi_hb.features.embeddings import EmbeddingExtractor
from fungi_hb.features.setup import SUPPORT_STAGE, memory_identity, raw_identity
from fungi_hb.index import FileSource, build_index, save_index
from fungi_hb.index import plan as resources
from fungi_hb.jobs import preflight
from fungi_hb.jobs.configs import MemoryBankJob
from fungi_hb.jobs.data_setup import prepare_data
from fungi_hb.jobs.timer import StageTimer
from fungi_hb.jsonable import to_jsonable
from fungi_hb.memory.build import assemble_memory, extract_memory_pieces
from fungi_hb.memory.files import BankMeta, BankPaths, commit_bank, new_memory_id, prepare_outputs
from fungi_hb.precision import autocast_dtype, precision_name
from fungi_hb.runs import distributed
from fungi_hb.runs.distributed import World
from fungi_hb.runs.pieces import piece_images
from fungi_hb.runs.store import PieceStore
from fungi_hb.runs.work import finish_work, work_key, work_root
from fungi_hb.storage import commit

logger = logging.getLogger(__name__)


def run_memory_bank(job: MemoryBankJob, world: World = World()) -> dict | None:
    """Build and save the memory bank and its index; returns the bank's metadata (None on processes
    other than the first, which only extract their share)."""
    timer = StageTimer()
    paths = BankPaths(job.features_path, job.labels_path, job.index_dir)
    preflight.output_file(paths.features, "--memory-bank")
    preflight.output_file(paths.labels, "--memory-bank-labels")
    preflight.output_folder(paths.index, "--scann-index")
    preflight.separate_paths(
        {"--memory-bank": paths.features, "--memory-bank-labels": paths.labels, "--scann-index": paths.index},
        {},
    )
    preflight.work_folder(work_root(job.runtime.work_dir, paths.features))
    device = distributed.device_for(job.runtime.device, world)
    distributed.start(world, device, job.runtime.dist_timeout_minutes)
    data = prepare_data(job.data, job.seed, validation=False, world=world)
    samples, classes = data.train, data.classes
    plan = preflight.memory_plan(job.memory, len(samples), job.backbone.grid**2, job.index.num_neighbors)
    with timer.stage("backbone"):
        backbone, info = build_backbone(job.backbone, job.seed)
        backbone.to(device)
    index_config = resources.plan_index(job.index, plan.rows, info.embed_dim, "support")
    dtype = autocast_dtype(device, job.runtime.use_fp16)
    raw = raw_identity(info, job.transform.std, job.seed)
    identity = memory_identity(raw, classes.name, job.memory, samples, SUPPORT_STAGE)
    per_piece = piece_images(job.data.batch_size, job.runtime.piece_images)
    extraction = {"batch_size": job.data.batch_size, "precision": precision_name(dtype), "device": device.type}
    store = PieceStore(
        work_root(job.runtime.work_dir, job.features_path),
        work_key("support", identity, extraction),
        {"what": f"support bank pieces for {job.features_path}", "identity": to_jsonable(identity), **extraction},
    )
    logger.info(
        "%d training images x %d augmentation epochs, %d rows expected, %d images per piece, device %s",
        len(samples),
        plan.epochs,
        plan.rows,
        per_piece,
        device,
    )
    extract = EmbeddingExtractor(backbone, info.num_prefix_tokens, device, dtype)
    with timer.stage("features"):
        pieces = extract_memory_pieces(
            samples, info.input_size, job.transform, job.data, job.seed, SUPPORT_STAGE, plan, extract,
            info.patch_size, classes, per_piece, store, world, "memory bank",
        )  # fmt: skip
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
        },
    )
    prepare_outputs(paths)
    token = commit.new_token()
    staged = {role: commit.staged_path(path, token) for role, path in paths.parts().items()}
    try:
        with timer.stage("assemble"):
            assemble_memory(
                pieces, store, staged["features"], staged["labels"], plan.rows, info.embed_dim, classes.num_classes
            )
        with timer.stage("index"):
            index = build_index(FileSource(staged["features"]), index_config, device)
            save_index(index, staged["index"], index_config, meta.memory_id)
        meta = commit_bank(paths, staged, meta)
    finally:
        for path in staged.values():  # after a commit they are gone; after a failure they must go
            commit.discard(path)
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
