"""HummingBird scoring of the validation images in resumable pieces (sharded over processes): each piece
saves its confusion matrix; the first process adds them up."""

import logging

import torch

from .. import distributed
from ..data.layout import Sample
from ..data.segmentation import Batch, ResizedSegmentation
from ..distributed import World
from ..hummingbird import predict_images
from ..index import NeighborIndex
from ..memory.pieces import plan_pieces
from ..memory.types import Memory
from ..miou import confusion_matrix
from ..storage.pieces import PieceStore
from .feature_setup import FeatureSetup
from .jobs import EvalJob
from .pieces import add_up, run_pieces

logger = logging.getLogger(__name__)


def validate(
    job: EvalJob,
    validation: list[Sample],
    setup: FeatureSetup,
    memory: Memory,
    index: NeighborIndex,
    store: PieceStore,
    images_per_piece: int,
    device: torch.device,
    world: World,
) -> torch.Tensor | None:
    """The confusion matrix [C, C] over every validation pixel not marked 255 (on the first process; None
    on the others)."""
    info, num_classes = setup.info, memory.labels.shape[1]
    pieces = plan_pieces(len(validation), 1, images_per_piece)

    def work(batch: Batch) -> dict[str, torch.Tensor]:
        predicted = predict_images(
            batch, setup.extract, memory, index, job.temperature, info.grid, info.input_size, device
        )  # (B, S, S)
        return {"confusion": confusion_matrix(batch.masks[:, 0].to(device), predicted, num_classes).cpu()}

    store.create()
    dataset = ResizedSegmentation(validation, info.input_size, job.transform, job.seed)
    run_pieces(
        pieces, store, world, dataset, len(validation), job.data.batch_size, job.data.num_workers, work, add_up,
        "validation",
    )  # fmt: skip
    distributed.barrier(world)
    if not world.is_main:
        return None
    return sum(store.load(piece)["confusion"] for piece in pieces)
