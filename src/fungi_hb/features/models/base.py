"""A backbone as the pipeline uses it, and the registry of the kinds of names ``backbone.model`` takes.

A kind of name is one module in ``features/models/`` whose ``ModelKind`` subclass is decorated with
``@register``: it says which names it claims and builds the ``Backbone`` of one. Nothing else lists it.
"""

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

import torch
from torch import nn

from fungi_hb.errors import UserError
from fungi_hb.features.config import BackboneConfig

# (the backbone module, images [B, 3, S, S] normalised) -> tokens [B, T, E], the prefix tokens (CLS,
# registers) first, then the P = (S/p)^2 patch tokens in row-major order
TokenFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]


def forward_features(module: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """timm's ViTs: the last block's tokens after the final norm, [B, T, E]."""
    return module.forward_features(images)


@dataclass(frozen=True)
class BackboneInfo:
    """Facts about a built backbone that outputs record and later stages check."""

    model: str  # the name it was built from (a hub name, a timm name, file.py:FUNCTION)
    weights_source: str  # "random (seed N)", a file path, "hub: <url or id>", or what your function loaded
    embed_dim: int  # E
    patch_size: int  # p
    input_size: int  # S
    num_prefix_tokens: int  # 1 (CLS) for DINO, 5 (CLS and 4 registers) for DINOv2+registers and DINOv3, 0: none
    depth: int = 12  # transformer blocks (0 where the model does not say)

    @property
    def config(self) -> BackboneConfig:
        return BackboneConfig(self.model, self.weights_source, self.input_size, self.patch_size)

    @property
    def grid(self) -> int:
        return self.config.grid

    @property
    def num_tokens(self) -> int:
        """T: prefix and patch tokens."""
        return self.num_prefix_tokens + self.grid**2


@dataclass(frozen=True)
class Backbone:
    """A frozen, eval-mode backbone: its module (``fungi.gradients_layer`` paths start at ``backbone.``
    inside it), how images become tokens, and its facts."""

    module: nn.Module
    tokens: TokenFn
    info: BackboneInfo

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] -> [B, T, E]."""
        return self.tokens(self.module, images)


class ModelKind:
    """One kind of name ``backbone.model`` takes."""

    order: ClassVar[int] = 50  # asked in this order; the first that claims a name builds it

    def claims(self, model: str) -> bool:
        raise NotImplementedError

    def patch_size(self, model: str) -> int | None:
        """The patch size the name implies (None: known once built)."""
        return None

    def build(self, config: BackboneConfig, seed: int, device: torch.device) -> Backbone:
        """The backbone named by ``config.model``, frozen, on ``device``."""
        raise NotImplementedError


_REGISTERED: list[ModelKind] = []


def register(cls: type[ModelKind]) -> type[ModelKind]:
    """Class decorator: make ``cls`` a kind of model name."""
    _REGISTERED.append(cls())
    return cls


def model_kinds() -> list[ModelKind]:
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name != "base":
            importlib.import_module(f"{__package__}.{module.name}")
    return sorted(_REGISTERED, key=lambda kind: kind.order)


def kind_of(model: str) -> ModelKind:
    for kind in model_kinds():
        if kind.claims(model):
            return kind
    raise UserError(f"Unknown `backbone.model` {model!r}.")  # the timm kind claims every name: not reached


def load_backbone(config: BackboneConfig, seed: int, device: torch.device) -> Backbone:
    """The backbone ``config`` names, built by the kind of name it is, on ``device``."""
    return kind_of(config.model).build(config, seed, device)
