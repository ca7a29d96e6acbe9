"""HummingBird on the validation images in resumable pieces (sharded over processes): each piece saves the
task's score sums (and what is pictured of its pictured images); the first process adds them up."""

import logging
from dataclasses import dataclass

import torch

from fungi_hb.data.loading import Batch
from fungi_hb.data.transforms import TransformConfig
from fungi_hb.evaluation.hummingbird import Predictor
from fungi_hb.evaluation.pictures import to_uint8_image
from fungi_hb.runs import distributed
from fungi_hb.runs.distributed import World
from fungi_hb.runs.pieces import plan_pieces
from fungi_hb.runs.runner import Loading, PieceWork, combine, read_pieces, run_pieces
from fungi_hb.runs.store import PieceStore
from fungi_hb.tasks.base import Task

logger = logging.getLogger(__name__)
PICTURED = ("index", "image", "truth", "predicted")  # what a piece keeps of each pictured image


@dataclass(frozen=True)
class ValidationRun:
    """What validating needs besides where the pieces go."""

    predict: Predictor
    task: Task  # scores the predictions and says how pictures keep them
    dataset: torch.utils.data.Dataset  # the validation images, resized (item i is image i)
    pictured: int  # the first this many images are pictured
    transform: TransformConfig  # the normalisation to undo for the pictures


@dataclass(frozen=True)
class Validated:
    """The summed scores, and the pictured images in order (index [n], image, truth, predicted)."""

    sums: dict[str, torch.Tensor]
    pictures: dict[str, torch.Tensor] | None


def validate(run: ValidationRun, store: PieceStore, loading: Loading, world: World) -> Validated | None:
    """The task's score sums over every validation image, and what is pictured (on the first process;
    None on the others)."""
    task = run.task

    def work(batch: Batch) -> dict[str, torch.Tensor]:
        predicted = run.predict(batch)  # (B, S, S)
        out = task.score(batch.targets, predicted)
        if run.pictured:  # every batch keeps the same keys (none of its images may be pictured)
            shown = batch.indices < run.pictured  # (B,)
            truth, kept = task.picture_tensors(batch.targets[shown], predicted[shown.to(predicted.device)].cpu())
            image = to_uint8_image(batch.images[shown], run.transform)  # (b, 3, S, S)
            out |= {f"picture_{k}": v for k, v in zip(PICTURED, (batch.indices[shown], image, truth, kept))}
        return out

    pieces = plan_pieces(loading.num_images, 1, loading.images_per_piece)
    store.create()
    summed = set(task.sums)
    run_pieces(pieces, store, world, loading, PieceWork(run.dataset, work, task.sums, "validation"))
    run.predict.index.finish()  # a sharded search serves the other processes' queries until all are done
    distributed.barrier(world)
    if not world.is_main:
        return None
    total = combine(list(read_pieces(store, pieces)), summed=summed)
    if not run.pictured:
        return Validated({k: total[k] for k in summed}, None)
    order = torch.argsort(total["picture_index"])
    return Validated({k: total[k] for k in summed}, {k: total[f"picture_{k}"][order] for k in PICTURED})
