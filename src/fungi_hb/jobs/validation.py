"""HummingBird scoring of the validation images in resumable pieces (sharded over processes): each piece
saves its confusion matrix; the first process adds them up."""

import logging

import torch

from fungi_hb.data.samples import Sample
from fungi_hb.data.segmentation import Batch, ResizedSegmentation
from fungi_hb.evaluation.hummingbird import predict_images
from fungi_hb.evaluation.miou import confusion_matrix
from fungi_hb.evaluation.pictures import to_uint8_image
from fungi_hb.features.setup import FeatureSetup
from fungi_hb.index import NeighborIndex
from fungi_hb.jobs.configs import EvalJob
from fungi_hb.memory.types import Memory
from fungi_hb.runs import distributed
from fungi_hb.runs.distributed import World
from fungi_hb.runs.pieces import plan_pieces
from fungi_hb.runs.runner import run_pieces
from fungi_hb.runs.store import PieceStore

logger = logging.getLogger(__name__)
PICTURE_KEYS = ("picture_index", "picture_image", "picture_truth", "picture_predicted")


def _combine(outputs: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """A piece: the sum of its confusion matrices, and its pictured images one after the other."""
    combined = {"confusion": sum(out["confusion"] for out in outputs)}
    for key in PICTURE_KEYS:
        if key in outputs[0]:
            combined[key] = torch.cat([out[key] for out in outputs])
    return combined


def validate(
    job: EvalJob,
    validation: list[Sample],
    setup: FeatureSetup,
    memory: Memory,
    index: NeighborIndex,
    store: PieceStore,
    lookup: torch.Tensor,
    images_per_piece: int,
    device: torch.device,
    world: World,
    num_pictures: int = 0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]] | None:
    """The confusion matrix [C, C] over every validation pixel not marked 255, and the images, masks and
    predictions of the first ``num_pictures`` validation images (on the first process; None on the others)."""
    info, num_classes = setup.info, memory.labels.shape[1]
    pieces = plan_pieces(len(validation), 1, images_per_piece)

    def work(batch: Batch) -> dict[str, torch.Tensor]:
        predicted = predict_images(
            batch, setup.extract, memory, index, job.temperature, info.grid, info.input_size, device
        )  # (B, S, S)
        out = {"confusion": confusion_matrix(batch.masks[:, 0].to(device), predicted, num_classes).cpu()}
        if num_pictures:
            shown = batch.indices < num_pictures  # (B,)
            out |= {
                "picture_index": batch.indices[shown],
                "picture_image": to_uint8_image(batch.images[shown], job.transform),  # (b, 3, S, S)
                "picture_truth": batch.masks[shown, 0],  # (b, S, S)
                "picture_predicted": predicted[shown.to(predicted.device)].to(torch.uint8).cpu(),  # (b, S, S)
            }
        return out

    store.create()
    dataset = ResizedSegmentation(validation, info.input_size, job.transform, job.seed, lookup)
    run_pieces(
        pieces, store, world, dataset, len(validation), job.data.batch_size, job.data.num_workers, work, _combine,
        "validation",
    )  # fmt: skip
    distributed.barrier(world)
    if not world.is_main:
        return None
    saved = [store.load(piece) for piece in pieces]
    confusion = sum(piece["confusion"] for piece in saved)
    pictures = {key: torch.cat([piece[key] for piece in saved]) for key in PICTURE_KEYS if num_pictures}
    return confusion, pictures
