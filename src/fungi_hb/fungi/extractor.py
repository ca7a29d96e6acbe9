"""FUNGI features as a callable over batches: the layer resolved and the projection placed once."""

import torch

from fungi_hb.fungi.config import FungiConfig
from fungi_hb.fungi.features import NeighborFn, fungi_features
from fungi_hb.fungi.model import FungiModel
from fungi_hb.fungi.token_gradients import resolve_linear
from fungi_hb.seeding import uniform_draws


class FungiExtractor:
    """(images [B, 3, S, S], sample seeds [B]) -> FUNGI features [B, P, 2E] on ``device``.

    Args:
        model: backbone + head, already on ``device``.
        projection: [E, out*(in+1)] +1/-1 matrix (int8 on the CPU is fine: it is placed here once).
        neighbors: the retrieval function (raw tokens [B, T, E] -> support vectors [B, T, K, E]).
        config: FUNGI settings, ``num_negative_neighbors`` already capped at the support k.
        num_prefix_tokens: CLS/register tokens to drop.
        grid: G, patches per side of the input (T = prefix + G*G tokens).
        device, autocast_dtype: where and in which precision the work runs.
    """

    def __init__(
        self,
        model: FungiModel,
        projection: torch.Tensor,
        neighbors: NeighborFn,
        config: FungiConfig,
        num_prefix_tokens: int,
        grid: int,
        device: torch.device,
        autocast_dtype: torch.dtype | None,
    ) -> None:
        self.model = model
        self.layer = resolve_linear(model, config.gradients_layer)
        self.projection = projection.to(device=device, dtype=autocast_dtype or torch.float32)  # (E, W)
        self.neighbors = neighbors
        self.config = config
        self.num_prefix_tokens = num_prefix_tokens
        self.num_tokens = num_prefix_tokens + grid * grid  # T
        self.device = device
        self.autocast_dtype = autocast_dtype

    def negative_draws(self, seeds: torch.Tensor) -> torch.Tensor | None:
        """[B, T*n_neg] U(0, 1) draws from each image's own stream (None when every negative is kept)."""
        if self.config.negative_batch_percent >= 1.0:
            return None
        return uniform_draws(seeds, "negatives", self.num_tokens * self.config.num_negative_neighbors)

    def __call__(self, images: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
        return fungi_features(
            self.model,
            self.layer,
            images.to(self.device, non_blocking=True),
            self.projection,
            self.neighbors,
            self.config,
            self.num_prefix_tokens,
            self.autocast_dtype,
            self.negative_draws(seeds),
        )  # (B, P, 2E)
