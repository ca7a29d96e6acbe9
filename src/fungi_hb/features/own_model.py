"""Any ``torch.nn.Module`` as a backbone: checked once, before the long part, on a probe batch.

The module maps normalised images [B, 3, S, S] to patch tokens [B, P, D] (P = (S/p)^2, row-major), or a
``patch_tokens(module, images)`` function does. The probe says, in one line each: output that is not a
[B, P, D] tensor, tokens that are not a whole square grid (or not the grid of ``backbone.patch_size``),
NaN or infinite tokens, and a module whose weights are on another device than the run's.
"""

import hashlib
import math

import torch
from torch import nn

from fungi_hb.errors import UserError
from fungi_hb.features.config import BackboneConfig
from fungi_hb.features.models.base import Backbone, BackboneInfo, TokenFn

PROBE_IMAGES = 2


def call_module(module: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The module's own forward: images -> patch tokens."""
    return module(images)


def weights_fingerprint(module: nn.Module) -> str:
    """sha1 (first 12 hex digits) of the module's parameters and buffers: names, shapes, values."""
    digest = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:12]


def _devices(module: nn.Module) -> set[torch.device]:
    return {tensor.device for tensor in (*module.parameters(), *module.buffers())}


def _grid(count: int, config: BackboneConfig, name: str) -> int:
    """The patch size the token count implies at ``config.input_size`` (checked against a given one)."""
    side = math.isqrt(count)
    if side * side != count:
        prefix = next((k for k in (1, 5, 2, 4) if math.isqrt(count - k) ** 2 == count - k and count > k), None)
        hint = (
            f" It looks like {prefix} extra (CLS or register) tokens before a {math.isqrt(count - prefix)}^2 grid: "
            "return the patch tokens only (e.g. tokens[:, 1:])."
            if prefix
            else ""
        )
        raise UserError(f"{name} gives {count} tokens per image at {config.input_size} px: not a square grid.{hint}")
    if config.patch_size is not None:
        if config.input_size % config.patch_size or config.input_size // config.patch_size != side:
            raise UserError(
                f"{name} gives a {side} x {side} grid of tokens at {config.input_size} px, but `backbone.patch_size` "
                f"{config.patch_size} means a {config.input_size // config.patch_size} x "
                f"{config.input_size // config.patch_size} grid. Give the model's patch size, or leave it out."
            )
        return config.patch_size
    if config.input_size % side:
        raise UserError(
            f"{name} gives a {side} x {side} grid of tokens at {config.input_size} px, which is no whole patch size. "
            "Use an input size that is a multiple of the model's patch size."
        )
    return config.input_size // side


def probe_tokens(module: nn.Module, tokens: TokenFn, config: BackboneConfig, device: torch.device) -> torch.Tensor:
    """The tokens of a probe batch [2, P, D], checked (see the module docstring)."""
    name = f"`backbone.model` {config.model}"
    images = torch.randn(
        PROBE_IMAGES, 3, config.input_size, config.input_size, generator=torch.Generator().manual_seed(0)
    )
    try:
        with torch.no_grad():
            out = tokens(module, images.to(device))
    except Exception as exc:  # the user's code: its message, no traceback from us
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        size = config.input_size
        probe = f"a probe batch [2, 3, {size}, {size}]"
        raise UserError(f"{name} failed on {probe}: {type(exc).__name__}: {first}") from exc
    if not torch.is_tensor(out) or out.ndim != 3 or out.shape[0] != PROBE_IMAGES:
        what = f"a tensor of shape {tuple(out.shape)}" if torch.is_tensor(out) else f"a {type(out).__name__}"
        raise UserError(
            f"{name} returns {what} for images [2, 3, S, S]; patch tokens [B, P, D] are needed (give a patch_tokens "
            "function that picks them)."
        )
    if not out.is_floating_point() or not torch.isfinite(out).all():
        raise UserError(f"{name} gives NaN or infinite tokens on a probe batch: check its weights and normalisation.")
    return out


def own_backbone(
    module: nn.Module, patch_tokens: TokenFn | None, config: BackboneConfig, device: torch.device
) -> Backbone:
    """``module`` as a backbone (frozen, eval mode), checked on a probe batch; its weights must be on ``device``."""
    if config.weights is not None:  # a file or "random" the user expects to be used: say it is not
        raise UserError(
            f"`backbone.weights` {config.weights} is not used with your own model, which brings its own weights "
            "(load them where the model is built): leave `backbone.weights` out."
        )
    elsewhere = {d for d in _devices(module) if d.type != device.type or (d.index or 0) != (device.index or 0)}
    if elsewhere:
        raise UserError(
            f"`backbone.model` {config.model}: the model's weights are on {', '.join(sorted(map(str, elsewhere)))} but "
            f"the run is on {device}. Move the model there, or run on its device (`runtime.device`)."
        )
    module.requires_grad_(False)
    module.eval()
    tokens = patch_tokens or call_module
    out = probe_tokens(module, tokens, config, device)
    patch = _grid(out.shape[1], config, f"`backbone.model` {config.model}")
    info = BackboneInfo(
        model=config.model,
        weights_source=f"{config.model}'s own (weights sha1 {weights_fingerprint(module)})",
        embed_dim=out.shape[2],
        patch_size=patch,
        input_size=config.input_size,
        num_prefix_tokens=0,
        depth=0,
    )
    return Backbone(module, tokens, info)
