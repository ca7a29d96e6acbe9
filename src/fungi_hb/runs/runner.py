"""Running the pieces of a job: this process's share, skipping pieces already on disk, saving each one
as it is finished, with a progress bar that says what was reused and what is left."""

import logging
from typing import Callable

import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from fungi_hb.data.segmentation import Batch, make_loader
from fungi_hb.runs.distributed import World
from fungi_hb.runs.pieces import Piece, batches_of, pieces_of_rank
from fungi_hb.runs.store import PieceStore

logger = logging.getLogger(__name__)

# what one batch contributes to its piece, and how a piece's contributions combine
BatchWork = Callable[[Batch], dict[str, torch.Tensor]]
Combine = Callable[[list[dict[str, torch.Tensor]]], dict[str, torch.Tensor]]


def concatenate(outputs: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: torch.cat([out[key] for out in outputs]) for key in outputs[0]}


def add_up(outputs: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: sum(out[key] for out in outputs) for key in outputs[0]}


def run_pieces(
    pieces: list[Piece],
    store: PieceStore,
    world: World,
    dataset: Dataset,
    num_images: int,
    batch_size: int,
    num_workers: int,
    work: BatchWork,
    combine: Combine,
    desc: str,
) -> None:
    """Compute and save this process's unfinished pieces of ``pieces``.

    Args:
        pieces: every piece of the job, in order (the share is taken here).
        dataset: items ``epoch * num_images + image``.
        work: one batch -> tensors; combine: a piece's batch outputs -> what is saved for the piece.
    """
    mine = pieces_of_rank(pieces, world.rank, world.size)
    todo = [piece for piece in mine if not store.done(piece)]
    reused = [piece for piece in mine if store.done(piece)]
    if reused:
        logger.info("%s: reusing %d finished pieces of %d from %s", desc, len(reused), len(mine), store.folder)
    bar = tqdm(
        total=sum(p.num_images for p in mine),
        initial=sum(p.num_images for p in reused),
        desc=desc,
        unit="img",
        disable=not world.is_main,
    )
    bar.set_postfix_str(f"{len(reused)} pieces reused")
    batches = {piece: batches_of(piece, batch_size, num_images) for piece in todo}
    loader = make_loader(dataset, [b for piece in todo for b in batches[piece]], num_workers)
    stream = iter(loader)
    for piece in todo:
        outputs = []
        for _ in batches[piece]:
            batch = next(stream)
            outputs.append(work(batch))
            bar.update(len(batch.indices))
        store.save(piece, combine(outputs))
        if world.distributed:
            bar.set_postfix_str(f"{len(reused)} reused, {store.finished()}/{len(pieces)} pieces done (all processes)")
    del stream
    bar.close()
