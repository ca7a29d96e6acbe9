"""create_memory_bank.py as a function: raw patch features -> support memory bank -> its index."""

import logging

from ..backbones import build_backbone
from ..data.layout import NUM_CLASSES
from ..data.samples import train_samples
from ..devices import autocast_dtype, resolve_device
from ..embeddings import EmbeddingExtractor
from ..index import build_index, save_index
from ..jsonable import to_jsonable
from ..memory.fill import fill_memory
from ..storage.atomic import check_writable
from ..storage.memory_files import BankMeta, new_memory_id, save_memory, write_meta
from . import preflight
from .feature_setup import SUPPORT_STAGE, memory_identity, raw_identity
from .jobs import MemoryBankJob
from .loaders import train_epochs
from .timer import StageTimer

logger = logging.getLogger(__name__)


def run_memory_bank(job: MemoryBankJob) -> dict:
    """Build and save the memory bank and its index; returns the bank's metadata."""
    timer = StageTimer()
    for path in (job.features_path, job.labels_path, job.index_dir / "fungi_index.json"):
        check_writable(path)
    device = resolve_device(job.device)
    samples = train_samples(job.data, job.seed)
    plan = preflight.memory_plan(job.memory, len(samples), job.backbone.grid**2, job.index.num_neighbors)
    with timer.stage("backbone"):
        backbone, info = build_backbone(job.backbone, job.seed)
        backbone.to(device)
    preflight.check_fits_in_ram(plan.rows, info.embed_dim, NUM_CLASSES)
    logger.info(
        "%d training images, %d augmentation epochs, %d rows expected, device %s",
        len(samples),
        plan.epochs,
        plan.rows,
        device,
    )
    extract = EmbeddingExtractor(backbone, info.num_prefix_tokens, device, autocast_dtype(device, job.use_fp16))
    epochs = train_epochs(
        samples, info.input_size, job.transform, job.data, job.seed, SUPPORT_STAGE, plan.epochs, "memory bank"
    )
    with timer.stage("features"):
        memory = fill_memory(epochs, extract, plan, info.patch_size, NUM_CLASSES, info.embed_dim)
    identity = memory_identity(raw_identity(info, job.transform.std, job.seed), job.memory, samples, SUPPORT_STAGE)
    meta = BankMeta(
        memory_id=new_memory_id(),
        identity=identity,
        rows=int(memory.features.shape[0]),
        dim=int(memory.features.shape[1]),
        num_classes=int(memory.labels.shape[1]),
        info={
            "num_images": len(samples),
            "num_train_samples": job.data.num_train_samples,
            "data_dir": str(job.data.data_dir.resolve()),
        },
    )
    with timer.stage("index"):  # before any file is written: a failure here leaves nothing behind
        index = build_index(memory.features, job.index, device)
    with timer.stage("save"):
        save_memory(memory, job.features_path, job.labels_path)
        save_index(index, job.index_dir, job.index, meta.memory_id)
        write_meta(job.features_path, meta)  # last: marks the bank and its index complete
    per_image = timer.seconds["features"] / (len(samples) * plan.epochs)
    logger.info(
        "Done: %d rows x %d dims in %.1f s (%.3f s/image) -> %s, %s, %s",
        meta.rows,
        meta.dim,
        timer.summary()["total"],
        per_image,
        job.features_path,
        job.labels_path,
        job.index_dir,
    )
    return dict(meta.to_json(), seconds=timer.summary(), settings=to_jsonable(job))
