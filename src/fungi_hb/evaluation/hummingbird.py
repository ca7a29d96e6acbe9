"""HummingBird prediction: retrieve, transfer labels, upsample (method section 7); scoring is in ``miou``."""

import logging
from dataclasses import dataclass

import torch

from fungi_hb.data.segmentation import Batch
from fungi_hb.evaluation.label_transfer import transfer_labels, upsample_predictions
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


@dataclass(frozen=True)
class Predictor:
    """HummingBird on validation images: their patch features, the memory rows they retrieve, the labels
    transferred from those rows, upsampled to pixels."""

    extract: FeatureFn  # images [B, 3, S, S], seeds -> patch features [B, P, D]
    memory: Memory  # features [M, D] (next to the index) and labels [M, C]
    index: NeighborIndex  # over memory.features, returning k neighbours
    temperature: float  # label-transfer temperature
    grid: int  # G
    input_size: int  # S
    device: torch.device

    def __call__(self, batch: Batch) -> torch.Tensor:
        """[B, S, S] predicted class ids of a batch of validation images."""
        features = self.extract(batch.images, batch.seeds).float()  # (B, P, D)
        queries = torch.nn.functional.normalize(features, dim=-1).to(self.device)  # (B, P, D)
        ids = self.index.search(queries.flatten(0, 1))  # (B*P, k)
        return predict_batch(queries, ids, self.memory, self.temperature, self.grid, self.input_size)  # (B, S, S)
