"""The model whose gradients FUNGI takes: a frozen backbone and a random projection head."""

import math
from typing import Callable

import torch
from torch import nn

from fungi_hb.fungi.token_gradients import resolve_linear


def _forward_features(module: nn.Module, images: torch.Tensor) -> torch.Tensor:
    return module.forward_features(images)


class FungiModel(nn.Module):
    """``backbone`` and ``fc = Linear(E, latent_dim)``.

    Layer paths (``fungi.gradients_layer``) are relative to this module, so the published
    ``backbone.blocks.11.attn.proj`` names block 11's attention output projection, and
    ``backbone.<path>`` a layer inside your own model. Every parameter is frozen: gradients are taken with
    respect to one layer's output only.

    Args:
        backbone: the backbone module.
        embed_dim: E, the width of its tokens.
        latent_dim: L.
        seed: initialises fc.
        tokens: (backbone, images [B, 3, S, S]) -> tokens [B, T, E], prefix tokens first (timm's
            ``forward_features`` by default).
        num_prefix_tokens: the tokens before the patches (1 for a CLS token; 0 for a model of patch tokens).
    """

    def __init__(
        self,
        backbone: nn.Module,
        embed_dim: int,
        latent_dim: int,
        seed: int,
        tokens: Callable[[nn.Module, torch.Tensor], torch.Tensor] = _forward_features,
        num_prefix_tokens: int = 1,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.read_tokens = tokens
        self.num_prefix_tokens = num_prefix_tokens
        self.fc = nn.Linear(embed_dim, latent_dim)
        generator = torch.Generator().manual_seed(seed)
        bound = 1.0 / math.sqrt(embed_dim)  # nn.Linear's default initialisation, seeded explicitly
        with torch.no_grad():
            self.fc.weight.uniform_(-bound, bound, generator=generator)
            self.fc.bias.uniform_(-bound, bound, generator=generator)
        self.requires_grad_(False)
        self.eval()
        self._layers: dict[str, nn.Linear] = {}

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] -> [B, T, E] backbone tokens (prefix tokens first)."""
        return self.read_tokens(self.backbone, images)

    def layer(self, path: str) -> nn.Linear:
        """The Linear layer at ``path`` (``resolve_linear``), looked up once."""
        if path not in self._layers:
            self._layers[path] = resolve_linear(self, path)
        return self._layers[path]
