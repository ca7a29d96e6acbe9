"""create_memory_bank.py as a function: raw DINO patch features -> memory bank -> support index."""

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic import check_writable
from ..backbones import BackboneConfig, build_backbone
from ..data.transforms import TransformConfig
from ..data.voc import DataConfig, train_samples
from ..devices import autocast_dtype, resolve_device
from ..memory_bank import MemoryConfig, check_fits_in_ram, fill_memory, planned_rows
from ..memory_io import new_memory_id, save_memory, write_meta
from ..search import IndexConfig, build_index, save_index
from .common import StageTimer, embedding_fn

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemoryBankJob:
    """Everything one run of create_memory_bank.py needs."""

    backbone: BackboneConfig
    data: DataConfig
    transform: TransformConfig
    memory: MemoryConfig
    index: IndexConfig
    features_path: Path  # --memory-bank, features [M, E]
    labels_path: Path  # --memory-bank-labels, labels [M, C]
    index_dir: Path  # --scann-index folder
    device: str = "auto"
    use_fp16: bool = False


def run_memory_bank(job: MemoryBankJob) -> dict:
    """Build and save the memory bank and its index; returns the bank's metadata."""
    start = time.perf_counter()
    timer = StageTimer()
    for path in (job.features_path, job.labels_path, job.index_dir / "fungi_index.json"):
        check_writable(path)
    device = resolve_device(job.device)
    samples = train_samples(job.data)
    grid = job.backbone.input_size // job.backbone.patch_size
    rows = planned_rows(job.memory, len(samples), grid * grid, job.index.num_neighbors)
    with timer.stage("backbone"):
        backbone, info = build_backbone(job.backbone)
        backbone.to(device)
    check_fits_in_ram(rows, info.embed_dim)
    logger.info(
        "%d training images, %d augmentation epochs, %d rows expected, device %s",
        len(samples),
        job.memory.augmentation_epochs,
        rows,
        device,
    )
    extract = embedding_fn(backbone, info.num_prefix_tokens, device, autocast_dtype(device, job.use_fp16))
    with timer.stage("features"):
        memory = fill_memory(samples, job.data, job.transform, job.memory, extract, info.patch_size, info.embed_dim)
    memory_id = new_memory_id()
    meta = {
        "memory_id": memory_id,
        "kind": "embeddings",
        "model": info.model,
        "weights": info.weights_source,
        "input_size": info.input_size,
        "patch_size": info.patch_size,
        "seed": job.data.seed,
        "memory_size": job.memory.memory_size,
        "augmentation_epochs": job.memory.augmentation_epochs,
        "num_train_samples": job.data.num_train_samples,
        "num_images": len(samples),
        "data_dir": str(Path(job.data.data_dir).resolve()),
        "image_std": list(job.transform.std),
    }
    with timer.stage("index"):  # before any file is written: a failure here leaves nothing behind
        index = build_index(memory.features.numpy(), job.index, device)
    with timer.stage("save"):
        save_memory(memory, job.features_path, job.labels_path)
        save_index(index, job.index_dir, job.index, memory_id)
    meta = write_meta(memory, job.features_path, meta)  # last: marks the bank and its index complete
    per_image = timer.seconds["features"] / (len(samples) * job.memory.augmentation_epochs)
    logger.info(
        "Done: %d rows x %d dims in %.1f s (%.3f s/image) -> %s, %s, %s",
        meta["rows"],
        meta["dim"],
        time.perf_counter() - start,
        per_image,
        job.features_path,
        job.labels_path,
        job.index_dir,
    )
    return dict(meta, seconds=timer.seconds, settings=_settings(job))


def _settings(job: MemoryBankJob) -> dict:
    out = asdict(job)
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in out.items()}
