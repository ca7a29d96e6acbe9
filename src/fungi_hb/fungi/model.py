"""The model whose gradients FUNGI takes: a frozen backbone and a random projection head."""

import math

import torch
from torch import nn


class FungiModel(nn.Module):
    """``backbone`` (features [B, T, E] from ``forward_features``) and ``fc = Linear(E, latent_dim)``.

    Layer paths (``fungi.gradients_layer``) are relative to this module, so the published
    ``backbone.blocks.11.attn.proj`` names block 11's attention output projection. Every parameter is
    frozen: gradients are taken with respect to one layer's output only.
    """

    def __init__(self, backbone: nn.Module, embed_dim: int, latent_dim: int, seed: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(embed_dim, latent_dim)
        generator = torch.Generator().manual_seed(seed)
        bound = 1.0 / math.sqrt(embed_dim)  # nn.Linear's default initialisation, seeded explicitly
        with torch.no_grad():
            self.fc.weight.uniform_(-bound, bound, generator=generator)
            self.fc.bias.uniform_(-bound, bound, generator=generator)
        self.requires_grad_(False)
        self.eval()

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] -> [B, T, E] last-block features after the final norm (CLS first)."""
        return self.backbone.forward_features(images)
