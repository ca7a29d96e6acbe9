"""FUNGI features as a callable over batches: the layer resolved and the projection placed once."""

import torch

from .config import FungiConfig
from .features import NeighborFn, fungi_features
from .model import FungiModel
from .token_gradients import resolve_linear


class FungiExtractor:
    """images [B, 3, S, S] (any device) -> FUNGI features [B, P, 2E] on ``device``.

    Args:
        model: backbone + head, already on ``device``.
        projection: [E, out*(in+1)] +1/-1 matrix (int8 on the CPU is fine: it is placed here once).
        neighbors: the retrieval function (raw tokens [B, T, E] -> support vectors [B, T, K, E]).
        config: FUNGI settings, ``num_negative_neighbors`` already capped at the support k.
        num_prefix_tokens: CLS/register tokens to drop.
        grid: G, patches per side of the input (T = prefix + G*G tokens).
        device, autocast_dtype: where and in which precision the work runs.
        seed: seeds the draws that pick the kept negatives.
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
        seed: int,
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
        self.generator = torch.Generator().manual_seed(seed)

    def negative_draws(self, batch: int) -> torch.Tensor | None:
        """[B, T*n_neg] U(0, 1) draws for the kept negatives (None when every negative is kept)."""
        if self.config.negative_batch_percent >= 1.0:
            return None
        return torch.rand((batch, self.num_tokens * self.config.num_negative_neighbors), generator=self.generator)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        return fungi_features(
            self.model,
            self.layer,
            images,
            self.projection,
            self.neighbors,
            self.config,
            self.num_prefix_tokens,
            self.autocast_dtype,
            self.negative_draws(images.shape[0]),
        )  # (B, P, 2E)
