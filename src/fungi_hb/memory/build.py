"""A memory bank from augmented training images, in resumable pieces: the pieces are extracted (sharded
over processes), then assembled, on the first process, into the bank's two tensor files, chunk by chunk."""

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from fungi_hb.data.loading import Augmentation, AugmentedImages, Batch
from fungi_hb.data.samples import Sample
from fungi_hb.data.targets import TargetReader
from fungi_hb.errors import UserError
from fungi_hb.log import count
from fungi_hb.memory.fill import batch_rows
from fungi_hb.memory.plan import MemoryPlan
from fungi_hb.memory.types import FeatureFn, RowRule
from fungi_hb.runs.distributed import World
from fungi_hb.runs.pieces import Piece, plan_pieces
from fungi_hb.runs.runner import Loading, PieceWork, read_pieces, run_pieces
from fungi_hb.runs.store import PieceStore
from fungi_hb.storage.matrix_file import write_matrix

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemoryRecipe:
    """What a memory's rows are made from, besides the feature function."""

    samples: list[Sample]  # training images, in order
    targets: TargetReader  # how their masks or depth maps are read
    plan: MemoryPlan  # rows, epochs, patches kept per image
    augmentation: Augmentation  # S, transform, seed, stage (the memory's own draws), epochs
    rule: RowRule  # what a row carries besides its feature

    def pieces(self, images_per_piece: int) -> list[Piece]:
        """Every piece of the memory, in assembly order."""
        return plan_pieces(len(self.samples), self.plan.epochs, images_per_piece)


def extract_memory_pieces(
    recipe: MemoryRecipe, extract: FeatureFn, store: PieceStore, loading: Loading, world: World, desc: str
) -> None:
    """Extract this process's share of the memory's pieces into ``store``."""
    samples = recipe.samples

    def work(batch: Batch) -> dict[str, torch.Tensor]:
        features, values = batch_rows(batch, extract, recipe.plan, recipe.rule)  # (n, D), (n, W)
        if not torch.isfinite(features).all():
            bad = [str(samples[int(i)].image) for i in batch.indices]
            raise UserError(
                f"The backbone gave non-finite features for the batch of {', '.join(bad[:3])}. Check "
                "`backbone.weights` (a checkpoint with NaN or Inf values) and `transform.std`."
            )
        return {"features": features, "labels": values.to(recipe.rule.dtype)}

    store.create()
    dataset = AugmentedImages(samples, recipe.augmentation, recipe.targets)
    run_pieces(recipe.pieces(loading.images_per_piece), store, world, loading, PieceWork(dataset, work, desc=desc))


def assemble_memory(
    recipe: MemoryRecipe, store: PieceStore, images_per_piece: int, staged: dict[str, Path], dim: int
) -> None:
    """Write the pieces' rows, in order, to ``staged["features"]`` [rows, dim] and ``staged["labels"]``
    [rows, C] (float32)."""
    pieces, rows = recipe.pieces(images_per_piece), recipe.plan.rows
    for name, width in (("features", dim), ("labels", recipe.rule.width)):
        chunks = (piece[name] for piece in read_pieces(store, pieces))
        try:
            write_matrix(staged[name], rows, width, torch.float32, chunks)
        except ValueError as exc:
            raise UserError(
                f"The finished pieces in {store.folder} do not make a whole memory ({exc}). Delete that folder "
                "and rerun."
            ) from exc
    logger.info("Assembled %d rows from %s", rows, count(len(pieces), "piece"))
