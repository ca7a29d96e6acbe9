"""HummingBird scoring of the validation images in resumable pieces (sharded over processes): each piece
saves its confusion matrix (and the pictures of its pictured images); the first process adds them up."""

import logging

import torch

from fungi_hb.data.segmentation import Batch
from fungi_hb.data.transforms import TransformConfig
from fungi_hb.evaluation.hummingbird import Predictor
from fungi_hb.evaluation.miou import confusion_matrix
from fungi_hb.evaluation.pictures import Pictures, to_uint8_image
from fungi_hb.runs import distributed
from fungi_hb.runs.distributed import World
from fungi_hb.runs.pieces import plan_pieces
from fungi_hb.runs.runner import Loading, combine, read_pieces, run_pieces
from fungi_hb.runs.store import PieceStore

logger = logging.getLogger(__name__)


def validate(
    predict: Predictor,
    dataset: torch.utils.data.Dataset,
    store: PieceStore,
    loading: Loading,
    world: World,
    pictured: tuple[int, TransformConfig],
) -> tuple[torch.Tensor, Pictures | None] | None:
    """The confusion matrix [C, C] over every validation pixel not marked 255, and the pictures of the
    first ``pictured[0]`` validation images (on the first process; None on the others).

    Args:
        dataset: the validation images, resized (item i is image i).
        pictured: how many images to picture, and the normalisation to undo for their pictures.
    """
    num_pictures, transform = pictured
    num_classes = predict.memory.labels.shape[1]

    def work(batch: Batch) -> dict[str, torch.Tensor]:
        predicted = predict(batch)  # (B, S, S)
        out = {"confusion": confusion_matrix(batch.masks[:, 0].to(predict.device), predicted, num_classes).cpu()}
        if num_pictures:
            shown = batch.indices < num_pictures  # (B,)
            out |= Pictures(
                index=batch.indices[shown],
                image=to_uint8_image(batch.images[shown], transform),  # (b, 3, S, S)
                truth=batch.masks[shown, 0],  # (b, S, S)
                predicted=predicted[shown.to(predicted.device)].to(torch.uint8).cpu(),  # (b, S, S)
            ).as_tensors()
        return out

    pieces = plan_pieces(loading.num_images, 1, loading.images_per_piece)
    store.create()
    run_pieces(pieces, store, world, dataset, work, loading, summed={"confusion"}, desc="validation")
    predict.index.finish()  # a sharded search serves the other processes' queries until all are done
    distributed.barrier(world)
    if not world.is_main:
        return None
    total = combine(list(read_pieces(store, pieces)), summed={"confusion"})
    pictures = Pictures.from_tensors(total)
    return total["confusion"], pictures.in_order() if pictures is not None else None
