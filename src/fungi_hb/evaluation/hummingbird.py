"""HummingBird evaluation: retrieve, transfer labels, upsample, score (method section 7).

Streams: each batch becomes a C x C confusion matrix and nothing else is kept.
"""

import logging
from typing import Iterable

import torch

from fungi_hb.data.segmentation import Batch
from fungi_hb.evaluation.label_transfer import transfer_labels, upsample_predictions
from fungi_hb.evaluation.miou import confusion_matrix
from fungi_hb.index.base import NeighborIndex
from fungi_hb.memory.types import FeatureFn, Memory

logger = logging.getLogger(__name__)


def predict_batch(
    queries: torch.Tensor,
    neighbor_ids: torch.Tensor,
    memory: Memory,
    temperature: float,
    grid: int,
    input_size: int,
) -> torch.Tensor:
    """Predicted class ids of a batch.

    Args:
        queries: [B, P, D] patch features (P = G*G, row-major).
        neighbor_ids: [B*P, k] memory rows retrieved for each patch.
        memory: features [M, D] and labels [M, C], on the queries' device, in host RAM or mapped from files.
        temperature: label-transfer temperature.
        grid: G; input_size: S.
    Returns:
        [B, S, S] int64 class ids.
    """
    batch, _, dim = queries.shape
    ids = neighbor_ids.to(memory.features.device)  # a large memory stays in host RAM
    keys = memory.features[ids].to(queries.device, torch.float32)  # (B*P, k, D)
    values = memory.labels[ids].to(queries.device, torch.float32)  # (B*P, k, C)
    scores = transfer_labels(queries.reshape(-1, dim), keys, values, temperature)  # (B*P, C)
    return upsample_predictions(scores.reshape(batch, grid, grid, -1), input_size)  # (B, S, S)


def predict_images(
    batch: Batch,
    extract: FeatureFn,
    memory: Memory,
    index: NeighborIndex,
    temperature: float,
    grid: int,
    input_size: int,
    device: torch.device,
) -> torch.Tensor:
    """[B, S, S] predicted class ids of a batch of validation images."""
    queries = torch.nn.functional.normalize(extract(batch.images, batch.seeds).float(), dim=-1).to(device)  # (B, P, D)
    ids = index.search(queries.flatten(0, 1))  # (B*P, k)
    return predict_batch(queries, ids, memory, temperature, grid, input_size)  # (B, S, S)


def evaluate(
    batches: Iterable[Batch],
    extract: FeatureFn,
    memory: Memory,
    index: NeighborIndex,
    temperature: float,
    grid: int,
    input_size: int,
    device: torch.device,
) -> torch.Tensor:
    """Confusion matrix [C, C] (rows ground truth) over all validation pixels not marked 255."""
    num_classes = memory.labels.shape[1]
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for batch in batches:
        predicted = predict_images(batch, extract, memory, index, temperature, grid, input_size, device)
        confusion += confusion_matrix(batch.masks[:, 0].to(device), predicted, num_classes).cpu()
    return confusion
