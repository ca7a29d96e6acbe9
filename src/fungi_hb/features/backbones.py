"""Backbones by explicit name: the hub names of DINO, DINOv2 (with and without registers) and DINOv3, and
any timm ViT, with their weights.

Weights come from ``backbone.weights`` = PATH (an official file of the family, a timm or Hugging Face
checkpoint, ``.pth`` or ``.safetensors``), else the torch hub cache, the official download or timm's copy
(``features.checkpoints``). ``backbone.weights`` = random builds a randomly initialised backbone for tests
and demos.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from torch import nn

from fungi_hb.errors import UserError
from fungi_hb.features.checkpoints import (
    check_family,
    extract_state_dict,
    load_weights,
    needs_qkv_bias,
    official_weights,
    read_checkpoint,
)
from fungi_hb.features.config import BackboneConfig
from fungi_hb.features.families import HUB_BACKBONES, known_models, positions_rule

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackboneInfo:
    """Facts about a built backbone that outputs record and later stages check."""

    model: str
    weights_source: str  # "random (seed N)", a file path, or "hub: <url or id>"
    embed_dim: int  # E
    patch_size: int  # p
    input_size: int  # S
    num_prefix_tokens: int  # 1 (CLS) for DINO, 5 (CLS and 4 registers) for DINOv2+registers and DINOv3
    depth: int = 12  # transformer blocks

    @property
    def config(self) -> BackboneConfig:
        return BackboneConfig(self.model, self.weights_source, self.input_size, self.patch_size)

    @property
    def grid(self) -> int:
        return self.config.grid


def _architecture(model: str) -> str:
    if model in HUB_BACKBONES:
        return HUB_BACKBONES[model].architecture
    if timm.is_model(model.split(".")[0]):
        return model
    raise UserError(
        f"Unknown `backbone.model` {model!r}. Use one of {', '.join(known_models())} or a timm ViT name "
        "(see timm.list_models('vit_*'))."
    )


def _weights(config: BackboneConfig, seed: int) -> tuple[dict[str, torch.Tensor] | None, str]:
    """(the checkpoint's state dict, where it came from); None for random weights."""
    if config.weights == "random":
        return None, f"random (seed {seed})"
    if config.weights is not None:
        path = Path(config.weights)
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise UserError(f"`backbone.weights` {path} {what}. Give the checkpoint file's path.")
        return extract_state_dict(read_checkpoint(path)), str(path.resolve())
    return official_weights(config)


MAX_INPUT_SIZE = 4096  # 65536 tokens at 16 px patches: far beyond what attention fits in memory


def build_backbone(config: BackboneConfig, seed: int = 0) -> tuple[nn.Module, BackboneInfo]:
    """A frozen, eval-mode ViT whose ``forward_features`` gives [B, T, E] at ``config.input_size``;
    ``seed`` initialises random weights."""
    if config.input_size > MAX_INPUT_SIZE:
        raise UserError(
            f"`backbone.input_size` {config.input_size} is beyond {MAX_INPUT_SIZE} px (the paper uses 512): the token "
            "count, and the memory of attention, grow with its square. Use a smaller size."
        )
    architecture = _architecture(config.model)
    if config.input_size % config.patch_size != 0:
        raise UserError(
            f"`backbone.input_size` {config.input_size} is not a multiple of `backbone.patch_size` {config.patch_size}."
            f" Use e.g. {config.input_size // config.patch_size * config.patch_size}."
        )
    state, source = _weights(config, seed)
    if state is not None and architecture.endswith("_dinov3") and needs_qkv_bias(state):
        architecture += "_qkvb"  # timm's DINOv3 variant with attention biases, which this file uses
    torch.manual_seed(seed)  # timm initialises from the global generator
    try:
        backbone = timm.create_model(architecture, pretrained=False, num_classes=0, img_size=config.input_size)
    except TypeError as exc:
        raise UserError(f"`backbone.model` {config.model} is not a ViT that takes img_size: {exc}") from exc
    model_patch = backbone.patch_embed.patch_size[0]
    if model_patch != config.patch_size:
        raise UserError(
            f"`backbone.patch_size` {config.patch_size} does not match {config.model}, whose patches are "
            f"{model_patch} px. Use `backbone.patch_size` {model_patch}."
        )
    if state is None:
        logger.warning("Using a RANDOMLY INITIALISED %s: results say nothing about the pretrained model.", config.model)
    else:
        check_family(state, backbone, config.model, source)
        load_weights(backbone, state, config.grid, positions_rule(config.model), source)
    broken = [name for name, tensor in backbone.state_dict().items() if not torch.isfinite(tensor).all()]
    if broken:
        raise UserError(
            f"The weights from {source} hold NaN or infinite values in {len(broken)} tensors (first: {broken[0]}). "
            "The file is damaged or the training diverged: use another checkpoint."
        )
    backbone.requires_grad_(False)
    backbone.eval()
    info = BackboneInfo(
        model=config.model,
        weights_source=source,
        embed_dim=backbone.embed_dim,
        patch_size=config.patch_size,
        input_size=config.input_size,
        num_prefix_tokens=backbone.num_prefix_tokens,
        depth=len(backbone.blocks),
    )
    logger.info(
        "Backbone %s (E=%d, %d px, %dx%d patches), weights: %s",
        config.model,
        info.embed_dim,
        config.input_size,
        config.grid,
        config.grid,
        source,
    )
    return backbone, info
