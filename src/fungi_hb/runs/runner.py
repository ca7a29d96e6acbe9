"""Running the pieces of a job: this process's share, skipping pieces already on disk (each checked
against its checksum first), saving each one as it is finished, with a progress bar that says what was
reused and what is left; and reading them all back, in order, on the first process."""

import logging
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from fungi_hb.data.loading import Batch, make_loader
from fungi_hb.errors import UserError
from fungi_hb.runs.distributed import World
from fungi_hb.runs.pieces import Piece, batches_of, piece_images, pieces_of_rank
from fungi_hb.runs.store import DamagedPiece, PieceStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loading:
    """How a job's items are read."""

    num_images: int  # images per epoch: item epoch * num_images + i is image i of that epoch
    batch_size: int
    num_workers: int  # data loader worker processes
    images_per_piece: int  # a multiple of batch_size (runs.pieces.piece_images)

    @classmethod
    def of(cls, num_images: int, batch_size: int, num_workers: int, requested_piece: int | None) -> "Loading":
        return cls(num_images, batch_size, num_workers, piece_images(batch_size, requested_piece))

    def for_images(self, num_images: int) -> "Loading":
        """The same loading over another list of images."""
        return Loading(num_images, self.batch_size, self.num_workers, self.images_per_piece)


BatchWork = Callable[[Batch], dict[str, torch.Tensor]]  # what one batch contributes to its piece


def combine(outputs: list[dict[str, torch.Tensor]], summed: Iterable[str] = ()) -> dict[str, torch.Tensor]:
    """Tensors of several batches (or pieces) as one: the ``summed`` keys added up, every other key
    concatenated along its first dimension, in order."""
    summed = set(summed)
    return {
        key: sum(out[key] for out in outputs) if key in summed else torch.cat([out[key] for out in outputs])
        for key in outputs[0]
    }


@dataclass(frozen=True)
class PieceWork:
    """What the pieces of a job compute."""

    dataset: Dataset  # items ``epoch * loading.num_images + image``
    work: BatchWork  # what one batch contributes to its piece
    summed: tuple[str, ...] = ()  # the outputs added up over a piece's batches (the others are concatenated)
    desc: str = "pieces"  # the progress bar's label


def run_pieces(pieces: list[Piece], store: PieceStore, world: World, loading: Loading, job: PieceWork) -> None:
    """Compute and save this process's unfinished pieces of ``pieces`` (every piece of the job, in order;
    the share is taken here)."""
    dataset, work, summed, desc = job.dataset, job.work, job.summed, job.desc
    mine = pieces_of_rank(pieces, world.rank, world.size)
    reused = [piece for piece in mine if store.reusable(piece)]
    todo = [piece for piece in mine if piece not in reused]
    if reused:
        logger.info(
            "%s: reusing %d finished %s of %d from %s",
            desc,
            len(reused),
            "piece" if len(reused) == 1 else "pieces",
            len(mine),
            store.folder,
        )
    bar = tqdm(
        total=sum(p.num_images for p in mine),
        initial=sum(p.num_images for p in reused),
        desc=desc,
        unit="img",
        disable=not world.is_main,
    )
    try:
        bar.set_postfix_str(f"{len(reused)} pieces reused")
        batches = {piece: batches_of(piece, loading.batch_size, loading.num_images) for piece in todo}
        stream = iter(make_loader(dataset, [b for piece in todo for b in batches[piece]], loading.num_workers))
        for piece in todo:
            outputs = []
            for _ in batches[piece]:
                batch = next(stream)
                outputs.append(work(batch))
                bar.update(len(batch.indices))
            store.save(piece, combine(outputs, summed))
            if world.distributed:
                bar.set_postfix_str(
                    f"{len(reused)} reused, {store.finished()}/{len(pieces)} pieces done (all processes)"
                )
        del stream
    finally:
        bar.close()  # before any error is logged, so that the message is not glued to the bar


def read_pieces(store: PieceStore, pieces: list[Piece]) -> Iterator[dict[str, torch.Tensor]]:
    """The saved pieces, in order (every process's, once all are done)."""
    for piece in pieces:
        try:
            yield store.load(piece)
        except DamagedPiece as exc:
            raise UserError(
                f"A finished piece went bad: {exc}. Rerun the same command: it redoes that piece."
            ) from None
