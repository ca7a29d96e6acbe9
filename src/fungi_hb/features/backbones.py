"""timm backbones by explicit name: the hub names of DINO, DINOv2 (with and without registers) and DINOv3,
and any timm ViT, with their weights.

Weights come from ``backbone.weights`` = PATH (an official file of the family, a timm or Hugging Face
checkpoint, ``.pth`` or ``.safetensors``), else the torch hub cache, the official download or timm's copy
(``features.checkpoints``). ``backbone.weights`` = random builds a randomly initialised backbone for tests
and demos.
"""

import difflib
import logging
from dataclasses import replace
from pathlib import Path

import timm
import torch
from torch import nn

from fungi_hb.errors import UserError
from fungi_hb.features.checkpoints import (
    check_family,
    extract_state_dict,
    load_weights,
    official_weights,
    read_checkpoint,
)
from fungi_hb.features.config import BackboneConfig
from fungi_hb.features.families import family_of, hub_backbones, known_models, patch_size_of
from fungi_hb.features.models.base import BackboneInfo

logger = logging.getLogger(__name__)


def _architecture(model: str) -> str:
    hub = hub_backbones()
    if model in hub:
        return hub[model].architecture
    if timm.is_model(model.split(".")[0]):
        return model
    close = difflib.get_close_matches(model, known_models(), n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    raise UserError(
        f"Unknown `backbone.model` {model!r}: not a hub name nor a timm model.{hint} Use a hub name "
        f"({', '.join(known_models())}), a timm ViT name (timm.list_models('vit_*')), or your own model as "
        "path/to/file.py:FUNCTION."
    )


def resolve_patch_size(config: BackboneConfig) -> BackboneConfig:
    """``config`` with the patch size of the model's name where none was given (a ``UserError`` for a name
    that does not say it)."""
    if config.patch_size is not None:
        return config
    patch = patch_size_of(config.model)
    if patch is None:
        raise UserError(
            f"`backbone.model` {config.model} does not say its patch size as timm's ViT names do (vit_..._patch16_"
            "...): give `backbone.patch_size`."
        )
    return replace(config, patch_size=patch)


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


def _checked_size(config: BackboneConfig) -> BackboneConfig:
    """``config`` with its patch size, refused where the input size does not fit it."""
    if config.input_size > MAX_INPUT_SIZE:
        raise UserError(
            f"`backbone.input_size` {config.input_size} is beyond {MAX_INPUT_SIZE} px (the paper uses 512): the token "
            "count, and the memory of attention, grow with its square. Use a smaller size."
        )
    config = resolve_patch_size(config)
    if config.input_size % config.patch_size != 0:
        raise UserError(
            f"`backbone.input_size` {config.input_size} is not a multiple of `backbone.patch_size` {config.patch_size}."
            f" Use e.g. {config.input_size // config.patch_size * config.patch_size}."
        )
    return config


def _create(architecture: str, config: BackboneConfig, seed: int) -> nn.Module:
    """The timm model of ``architecture`` at the input size, with ``seed``'s random weights."""
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
    return backbone


def build_backbone(config: BackboneConfig, seed: int = 0) -> tuple[nn.Module, BackboneInfo]:
    """A frozen, eval-mode ViT whose ``forward_features`` gives [B, T, E] at ``config.input_size``;
    ``seed`` initialises random weights."""
    architecture = _architecture(config.model)
    config = _checked_size(config)
    state, source = _weights(config, seed)
    family = family_of(config.model)
    if family is not None:
        architecture = family.architecture(architecture, state)
    backbone = _create(architecture, config, seed)
    if state is None:
        logger.warning("Using a RANDOMLY INITIALISED %s: results say nothing about the pretrained model.", config.model)
    else:
        check_family(state, backbone, config.model, source)
        load_weights(backbone, state, config.grid, config.model, source)
    broken = [name for name, tensor in backbone.state_dict().items() if not torch.isfinite(tensor).all()]
    if broken:
        raise UserError(
            f"The weights from {source} hold NaN or infinite values in {len(broken)} tensors (first: {broken[0]}). "
            "The file is damaged or the training diverged: use another checkpoint."
        )
    backbone.requires_grad_(False)
    backbone.eval()
    info = BackboneInfo(config.model, source, backbone.embed_dim, config.patch_size, config.input_size,
                        backbone.num_prefix_tokens, len(backbone.blocks))  # fmt: skip
    grid = config.grid
    logger.info("Backbone %s (E=%d, %d px, %dx%d patches), weights: %s", config.model, info.embed_dim,
                config.input_size, grid, grid, source)  # fmt: skip
    return backbone, info
