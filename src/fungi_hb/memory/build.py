"""A memory bank from augmented training images, in resumable pieces: the pieces are extracted (sharded
over processes), then assembled, on the first process, into the bank's two tensor files, chunk by chunk."""

import logging
from pathlib import Path

import torch

from fungi_hb.data.datasets.base import ClassSpec
from fungi_hb.data.samples import DataConfig, Sample
from fungi_hb.data.segmentation import AugmentedSegmentation, Batch
from fungi_hb.data.transforms import TransformConfig
from fungi_hb.errors import UserError
from fungi_hb.memory.fill import batch_rows
from fungi_hb.memory.plan import MemoryPlan
from fungi_hb.memory.types import FeatureFn
from fungi_hb.runs.distributed import World
from fungi_hb.runs.pieces import Piece, plan_pieces
from fungi_hb.runs.runner import concatenate, run_pieces
from fungi_hb.runs.store import PieceStore
from fungi_hb.storage.matrix_file import write_matrix

logger = logging.getLogger(__name__)


def extract_memory_pieces(
    samples: list[Sample],
    size: int,
    transform: TransformConfig,
    data: DataConfig,
    seed: int,
    stage: str,
    plan: MemoryPlan,
    extract: FeatureFn,
    patch_size: int,
    classes: ClassSpec,
    images_per_piece: int,
    store: PieceStore,
    world: World,
    desc: str,
) -> list[Piece]:
    """Extract (this process's share of) the memory's pieces; returns every piece, in assembly order."""
    pieces = plan_pieces(len(samples), plan.epochs, images_per_piece)

    def work(batch: Batch) -> dict[str, torch.Tensor]:
        features, labels = batch_rows(batch, extract, plan, patch_size, classes.num_classes, classes.ignore_as_class)
        if not torch.isfinite(features).all():
            bad = [str(samples[int(i)].image) for i in batch.indices]
            raise UserError(
                f"The backbone gave non-finite features for the batch of {', '.join(bad[:3])}. Check --weights "
                "(a checkpoint with NaN or Inf values) and --image-std."
            )
        return {"features": features, "labels": labels.half()}  # labels are multiples of 1/p^2: exact in float16

    store.create()
    lookup = torch.from_numpy(classes.lookup()).long()
    dataset = AugmentedSegmentation(samples, size, transform, seed, stage, plan.epochs, lookup)
    run_pieces(pieces, store, world, dataset, len(samples), data.batch_size, data.num_workers, work, concatenate, desc)
    return pieces


def assemble_memory(
    pieces: list[Piece], store: PieceStore, features: Path, labels: Path, rows: int, dim: int, num_classes: int
) -> None:
    """Write the pieces' rows, in order, to ``features`` [rows, dim] and ``labels`` [rows, C] (float32)."""
    for name, path, width in (("features", features, dim), ("labels", labels, num_classes)):
        chunks = (store.load(piece)[name] for piece in pieces)
        try:
            write_matrix(path, rows, width, torch.float32, chunks)
        except ValueError as exc:
            raise UserError(
                f"The finished pieces in {store.folder} do not make a whole memory ({exc}). Delete "
                "that folder and rerun."
            ) from exc
    logger.info("Assembled %d rows from %d pieces into %s and %s", rows, len(pieces), features, labels)
