"""Backbones by explicit name: the DINO hub names and any timm ViT, with their weights.

Weights are found in this order: ``backbone.weights`` = PATH (an official DINO checkpoint, a plain state dict
or a timm checkpoint); the torch hub cache; a download when online. ``backbone.weights`` = random builds a
randomly initialised backbone for tests and demos.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from torch import nn

from fungi_hb.errors import UserError
from fungi_hb.features.config import BackboneConfig
from fungi_hb.features.pos_embed import interpolate_pos_embed
from fungi_hb.storage.torch_files import read_torch_file

logger = logging.getLogger(__name__)

DINO_URL = "https://dl.fbaipublicfiles.com/dino/{stem}/{stem}.pth"


@dataclass(frozen=True)
class DinoEntry:
    """How a DINO hub name is built with timm and where its official weights live."""

    architecture: str  # timm architecture with DINO's geometry
    checkpoint_stem: str  # official file name without .pth


DINO_BACKBONES: dict[str, DinoEntry] = {
    "dino_vits16": DinoEntry("vit_small_patch16_224", "dino_deitsmall16_pretrain"),
    "dino_vits8": DinoEntry("vit_small_patch8_224", "dino_deitsmall8_pretrain"),
    "dino_vitb16": DinoEntry("vit_base_patch16_224", "dino_vitbase16_pretrain"),
    "dino_vitb8": DinoEntry("vit_base_patch8_224", "dino_vitbase8_pretrain"),
}


@dataclass(frozen=True)
class BackboneInfo:
    """Facts about a built backbone that outputs record and later stages check."""

    model: str
    weights_source: str  # "random (seed N)", a file path, or "hub: <url or id>"
    embed_dim: int  # E
    patch_size: int  # p
    input_size: int  # S
    num_prefix_tokens: int  # 1 (CLS) for DINO

    @property
    def config(self) -> BackboneConfig:
        return BackboneConfig(self.model, self.weights_source, self.input_size, self.patch_size)

    @property
    def grid(self) -> int:
        return self.config.grid


def known_models() -> list[str]:
    return sorted(DINO_BACKBONES)


def _architecture(model: str) -> str:
    if model in DINO_BACKBONES:
        return DINO_BACKBONES[model].architecture
    if timm.is_model(model.split(".")[0]):
        return model
    raise UserError(
        f"Unknown `backbone.model` {model!r}. Use one of {', '.join(known_models())} or a timm ViT name "
        "(see timm.list_models('vit_*'))."
    )


def hub_checkpoint_path(model: str) -> Path | None:
    """Where the torch hub cache keeps the official checkpoint of a DINO name."""
    if model not in DINO_BACKBONES:
        return None
    return Path(torch.hub.get_dir()) / "checkpoints" / f"{DINO_BACKBONES[model].checkpoint_stem}.pth"


def extract_state_dict(checkpoint: object) -> dict[str, torch.Tensor]:
    """The backbone's state dict from the checkpoint layouts in use.

    Accepts a plain state dict, DINO's full checkpoints (``teacher``/``student`` with ``backbone.``
    prefixes) and wrappers under ``state_dict`` or ``model``; drops DDP ``module.`` prefixes and
    the DINO projection head.
    """
    if not isinstance(checkpoint, dict):
        raise UserError(f"The checkpoint holds a {type(checkpoint).__name__}, not a state dict.")
    for key in ("teacher", "state_dict", "model"):
        if key in checkpoint and isinstance(checkpoint[key], dict):
            checkpoint = checkpoint[key]
            break
    state: dict[str, torch.Tensor] = {}
    for key, value in checkpoint.items():
        for prefix in ("module.", "backbone."):
            if key.startswith(prefix):
                key = key[len(prefix) :]
        if key.startswith("head.") or not torch.is_tensor(value):
            continue
        state[key] = value
    return state


def load_weights(backbone: nn.Module, state: dict[str, torch.Tensor], grid: int, source: str) -> None:
    """Load ``state`` into ``backbone`` with every key used, resampling position embeddings."""
    if "pos_embed" in state and state["pos_embed"].shape != backbone.pos_embed.shape:
        state = dict(state)
        try:
            state["pos_embed"] = interpolate_pos_embed(state["pos_embed"], grid, backbone.num_prefix_tokens)
        except ValueError as exc:
            raise UserError(f"The position embeddings in {source} cannot be resampled: {exc}.") from exc
    own = backbone.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong_shape = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong_shape:
        raise UserError(
            f"The weights in {source} do not fit this architecture: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, wrong shape {wrong_shape[:5]}. Check that `backbone.model` names "
            "the architecture the checkpoint was trained with."
        )
    backbone.load_state_dict(state, strict=True)


def _read_checkpoint(path: Path) -> object:
    """Tensors only (no arbitrary pickled code); DINO's full checkpoints also hold an argparse Namespace."""
    return read_torch_file(
        path, "checkpoint", "Download it again, or pass another `backbone.weights`.", allow_namespace=True
    )


def _official_weights(config: BackboneConfig) -> tuple[dict[str, torch.Tensor], str]:
    """Hub cache, then a download; a clear error if neither works."""
    if config.model not in DINO_BACKBONES:
        try:
            model = timm.create_model(config.model, pretrained=True, num_classes=0)
        except Exception as exc:
            raise UserError(
                f"Could not get pretrained weights for {config.model} from the timm hub ({exc}). "
                "Offline, pass `backbone.weights` PATH to a checkpoint file, or `backbone.weights` random."
            ) from exc
        return model.state_dict(), f"timm hub: {config.model}"
    stem = DINO_BACKBONES[config.model].checkpoint_stem
    url = DINO_URL.format(stem=stem)
    cached = hub_checkpoint_path(config.model)
    if cached is not None and cached.is_file():
        return extract_state_dict(_read_checkpoint(cached)), str(cached)
    try:  # into the hub cache (torch writes a temporary file and renames it), then read as tensors only
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(cached), progress=True)
    except Exception as exc:
        raise UserError(
            f"No weights for {config.model}: not in the hub cache and the download failed ({exc}). "
            f"Download {url} and either put it at {cached} or pass `backbone.weights` PATH "
            "(or `backbone.weights` random for a randomly initialised backbone)."
        ) from exc
    return extract_state_dict(_read_checkpoint(cached)), url


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
    grid = config.grid
    if config.weights == "random":
        source = f"random (seed {seed})"
        logger.warning("Using a RANDOMLY INITIALISED %s: results say nothing about DINO.", config.model)
    elif config.weights is not None:
        path = Path(config.weights)
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise UserError(f"`backbone.weights` {path} {what}. Give the checkpoint file's path.")
        source = str(path.resolve())
        load_weights(backbone, extract_state_dict(_read_checkpoint(path)), grid, source)
    else:
        state, source = _official_weights(config)
        load_weights(backbone, state, grid, source)
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
