"""FUNGI features as a callable over batches: the projection placed once, the negative draws per image."""

import torch

from fungi_hb.fungi.config import FungiConfig
from fungi_hb.fungi.features import NeighborFn, fungi_features
from fungi_hb.fungi.model import FungiModel
from fungi_hb.precision import Placement
from fungi_hb.seeding import uniform_draws


class FungiExtractor:
    """(images [B, 3, S, S], sample seeds [B]) -> FUNGI features [B, P, 2E] on ``placement.device``.

    Args:
        model: backbone + head, already on the device.
        projection: [E, out*(in+1)] +1/-1 matrix (int8 on the CPU is fine: it is placed here once).
        neighbors: the retrieval function (raw tokens [B, T, E] -> support vectors [B, T, K, E]).
        config: FUNGI settings, ``num_negative_neighbors`` already capped at the support k.
        num_tokens: T, the tokens per image (prefix and patches).
        placement: where and in which precision the work runs.
    """

    def __init__(
        self,
        model: FungiModel,
        projection: torch.Tensor,
        neighbors: NeighborFn,
        config: FungiConfig,
        num_tokens: int,
        placement: Placement,
    ) -> None:
        self.model = model
        self.projection = projection.to(placement.device, placement.autocast_dtype or torch.float32)  # (E, W)
        self.neighbors = neighbors
        self.config = config
        self.num_tokens = num_tokens  # T
        self.placement = placement

    def negative_draws(self, seeds: torch.Tensor) -> torch.Tensor | None:
        """[B, T*n_neg] U(0, 1) draws from each image's own stream (None when every negative is kept)."""
        if self.config.negative_batch_percent >= 1.0:
            return None
        return uniform_draws(seeds, "negatives", self.num_tokens * self.config.num_negative_neighbors)

    def __call__(self, images: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
        return fungi_features(
            self.model,
            images.to(self.placement.device, non_blocking=True),
            self.projection,
            self.neighbors,
            self.config,
            self.placement.autocast_dtype,
            self.negative_draws(seeds),
        )  # (B, P, 2E)
