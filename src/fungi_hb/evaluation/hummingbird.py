"""HummingBird prediction: retrieve, transfer the neighbours' values, turn them into pixels (method section
7). The task gives the two rules (``tasks``); scoring is the task's too."""

import logging
from dataclasses import dataclass
from typing import Callable

import torch

from fungi_hb.data.loading import Batch
from fungi_hb.index.base import NeighborIndex
from fungi_hb.memory.types import FeatureFn, Memory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transfer:
    """How retrieved memory rows become a prediction of every pixel."""

    combine: Callable[..., torch.Tensor]  # (queries [N, D], keys [N, k, D], values [N, k, W], temperature) -> [N, W]
    to_pixels: Callable[[torch.Tensor, int], torch.Tensor]  # ([B, G, G, W], S) -> [B, S, S]
    temperature: float  # softmax temperature of the transfer
    grid: int  # G
    size: int  # S


def predict_batch(
    queries: torch.Tensor, neighbor_ids: torch.Tensor, memory: Memory, transfer: Transfer
) -> torch.Tensor:
    """The prediction of a batch.

    Args:
        queries: [B, P, D] patch features (P = G*G, row-major).
        neighbor_ids: [B*P, k] memory rows retrieved for each patch.
        memory: features [M, D] and values [M, W], on the queries' device, in host RAM or mapped from files.
    Returns:
        [B, S, S] per-pixel predictions (class ids, or depth).
    """
    batch, _, dim = queries.shape
    ids = neighbor_ids.to(memory.features.device)  # a large memory stays in host RAM
    keys = memory.features[ids].to(queries.device, torch.float32)  # (B*P, k, D)
    values = memory.labels[ids].to(queries.device, torch.float32)  # (B*P, k, W)
    scores = transfer.combine(queries.reshape(-1, dim), keys, values, transfer.temperature)  # (B*P, W)
    return transfer.to_pixels(scores.reshape(batch, transfer.grid, transfer.grid, -1), transfer.size)  # (B, S, S)


@dataclass(frozen=True)
class Predictor:
    """HummingBird on validation images: their patch features, the memory rows they retrieve, the values
    transferred from those rows, turned into pixels."""

    extract: FeatureFn  # images [B, 3, S, S], seeds -> patch features [B, P, D]
    memory: Memory  # features [M, D] (next to the index) and values [M, W]
    index: NeighborIndex  # over memory.features, returning k neighbours
    transfer: Transfer
    device: torch.device

    def __call__(self, batch: Batch) -> torch.Tensor:
        """[B, S, S] predictions of a batch of validation images."""
        features = self.extract(batch.images, batch.seeds).float()  # (B, P, D)
        queries = torch.nn.functional.normalize(features, dim=-1).to(self.device)  # (B, P, D)
        ids = self.index.search(queries.flatten(0, 1))  # (B*P, k)
        return predict_batch(queries, ids, self.memory, self.transfer)  # (B, S, S)
