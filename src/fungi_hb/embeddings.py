"""Raw patch features of a frozen backbone (METHOD section 3): the support memory's features and the
"embeddings" baseline of Table 3."""

import torch
from torch import nn


class EmbeddingExtractor:
    """images [B, 3, S, S] (any device) -> raw patch features [B, P, E] (float32, on ``device``)."""

    def __init__(
        self, backbone: nn.Module, num_prefix_tokens: int, device: torch.device, autocast_dtype: torch.dtype | None
    ) -> None:
        self.backbone = backbone
        self.num_prefix_tokens = num_prefix_tokens
        self.device = device
        self.autocast_dtype = autocast_dtype

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        dtype = self.autocast_dtype or torch.float32
        with torch.autocast(self.device.type, dtype=dtype, enabled=self.autocast_dtype is not None):
            tokens = self.backbone.forward_features(images)  # (B, T, E)
        return tokens[:, self.num_prefix_tokens :].float()  # (B, P, E)
