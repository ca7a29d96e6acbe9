"""Test helpers: random checkpoints in each family's official file layout, and the forward pass those
families' own code computes from such a file, written out step by step from its rules (not timm's), so
that loading through timm can be checked against it."""

import math

import timm
import torch
import torch.nn.functional as F

SMALL = {"embed": 384, "heads": 6, "depth": 12, "hidden": 1536}


def _random(shape, generator, scale=0.05, offset=0.0):
    return torch.randn(shape, generator=generator) * scale + offset


def _blocks(generator, qkv_bias: torch.Tensor | None, mask: bool) -> dict[str, torch.Tensor]:
    """Transformer blocks with visible layer scales (the families start them at 1e-5)."""
    e, h = SMALL["embed"], SMALL["hidden"]
    state = {}
    for i in range(SMALL["depth"]):
        p = f"blocks.{i}."
        state |= {
            p + "norm1.weight": _random(e, generator, 0.1, 1.0),
            p + "norm1.bias": _random(e, generator),
            p + "attn.qkv.weight": _random((3 * e, e), generator, 0.06),
            p + "attn.proj.weight": _random((e, e), generator, 0.06),
            p + "attn.proj.bias": _random(e, generator),
            p + "ls1.gamma": _random(e, generator, 0.2, 0.3),
            p + "norm2.weight": _random(e, generator, 0.1, 1.0),
            p + "norm2.bias": _random(e, generator),
            p + "mlp.fc1.weight": _random((h, e), generator, 0.05),
            p + "mlp.fc1.bias": _random(h, generator),
            p + "mlp.fc2.weight": _random((e, h), generator, 0.03),
            p + "mlp.fc2.bias": _random(e, generator),
            p + "ls2.gamma": _random(e, generator, 0.2, 0.3),
        }
        if qkv_bias is not None:
            state[p + "attn.qkv.bias"] = qkv_bias * _random(3 * e, generator, 0.1)
            if mask:  # DINOv3 masks the k bias out (and trains it to whatever)
                state[p + "attn.qkv.bias_mask"] = torch.cat([torch.ones(e), torch.zeros(e), torch.ones(e)])
    return state


def dinov2_file(path, registers: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """A ViT-S/14 file as DINOv2's hub loads it: a 37 x 37 grid plus a CLS position, a mask token, and with
    registers, ``register_tokens`` (which take no position)."""
    g = torch.Generator().manual_seed(seed)
    e = SMALL["embed"]
    state = {
        "cls_token": _random((1, 1, e), g, 0.5),
        "pos_embed": _random((1, 1 + 37 * 37, e), g, 0.5),
        "mask_token": torch.zeros(1, e),
        "patch_embed.proj.weight": _random((e, 3, 14, 14), g, 0.05),
        "patch_embed.proj.bias": _random(e, g),
        "norm.weight": _random(e, g, 0.1, 1.0),
        "norm.bias": _random(e, g),
    } | _blocks(g, torch.ones(3 * e), mask=False)
    if registers:
        state["register_tokens"] = _random((1, 4, e), g, 0.5)
    torch.save(state, path)
    return state


def dinov3_file(path, biases: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """A ViT-S/16 file as DINOv3's code saves it: CLS and 4 ``storage_tokens``, rotary periods stored
    rounded to bfloat16, q|k|v biases with a mask over k (all zero in some releases)."""
    g = torch.Generator().manual_seed(seed)
    e, head = SMALL["embed"], SMALL["embed"] // SMALL["heads"]
    periods = 100.0 ** (2 * torch.arange(head // 4, dtype=torch.float32) / (head // 2))
    state = {
        "cls_token": _random((1, 1, e), g, 0.5),
        "storage_tokens": _random((1, 4, e), g, 0.5),
        "mask_token": torch.zeros(1, e),
        "rope_embed.periods": periods.to(torch.bfloat16).float(),
        "patch_embed.proj.weight": _random((e, 3, 16, 16), g, 0.05),
        "patch_embed.proj.bias": _random(e, g),
        "norm.weight": _random(e, g, 0.1, 1.0),
        "norm.bias": _random(e, g),
    } | _blocks(g, torch.ones(3 * e) if biases else torch.zeros(3 * e), mask=True)
    torch.save(state, path)
    return state


def timm_style_file(path, architecture: str, wrapper: str | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random timm model's weights saved as its own code saves them (MAE: under ``model``)."""
    torch.manual_seed(seed)
    state = timm.create_model(architecture, pretrained=False, num_classes=0).state_dict()
    torch.save({wrapper: state} if wrapper else state, path)
    return state


def _dinov3_rope(periods: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """DINOv3's rotary tables: patch centres normalised per side to [-1, 1]; angles 2 pi c / period for the
    row coordinate then the column one, tiled twice. Returns (sin, cos), each [h*w, head_dim]."""
    rows = torch.arange(0.5, h) / h
    cols = torch.arange(0.5, w) / w
    coords = torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1).flatten(0, 1)  # (hw, 2)
    coords = 2.0 * coords - 1.0
    angles = 2 * math.pi * coords[:, :, None] / periods[None, None, :]  # (hw, 2, head/4)
    angles = angles.flatten(1, 2).tile(2)  # (hw, head)
    return torch.sin(angles), torch.cos(angles)


def _rotate(x: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-second, first], dim=-1) * sin


@torch.no_grad()
def official_forward(state: dict[str, torch.Tensor], images: torch.Tensor, family: str) -> torch.Tensor:
    """The final normalised tokens [B, T, E] (CLS, registers, patches) that the family's own model gives.

    family: "dinov2" (DINOv2's hub rule without registers: bicubic, scale (G + 0.1) / 37, no antialias),
    "dinov2-reg" (bicubic to G x G, antialiased) or "dinov3" (rotary embeddings, LayerNorm eps 1e-5).
    """
    patch = state["patch_embed.proj.weight"].shape[-1]
    x = F.conv2d(images, state["patch_embed.proj.weight"], state["patch_embed.proj.bias"], stride=patch)
    batch, embed, h, w = x.shape
    x = x.flatten(2).transpose(1, 2)  # (B, hw, E)
    cls = state["cls_token"].expand(batch, -1, -1)
    rope = None
    if family.startswith("dinov2"):
        pos = state["pos_embed"]
        old = math.isqrt(pos.shape[1] - 1)
        grid = pos[:, 1:].reshape(1, old, old, embed).permute(0, 3, 1, 2)
        if family == "dinov2":
            grid = F.interpolate(grid, scale_factor=((h + 0.1) / old, (w + 0.1) / old), mode="bicubic")
        else:
            grid = F.interpolate(grid, size=(h, w), mode="bicubic", antialias=True)
        pos = torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, h * w, embed)], dim=1)
        x = torch.cat([cls, x], dim=1) + pos
        if "register_tokens" in state:
            x = torch.cat([x[:, :1], state["register_tokens"].expand(batch, -1, -1), x[:, 1:]], dim=1)
        eps = 1e-6
    else:
        x = torch.cat([cls, state["storage_tokens"].expand(batch, -1, -1), x], dim=1)
        rope = _dinov3_rope(state["rope_embed.periods"], h, w)
        eps = 1e-5
    prefix = x.shape[1] - h * w
    heads = SMALL["heads"]
    for i in range(SMALL["depth"]):
        p = f"blocks.{i}."
        y = F.layer_norm(x, (embed,), state[p + "norm1.weight"], state[p + "norm1.bias"], eps)
        bias = state.get(p + "attn.qkv.bias")
        if bias is not None and p + "attn.qkv.bias_mask" in state:
            bias = bias * state[p + "attn.qkv.bias_mask"]
        qkv = F.linear(y, state[p + "attn.qkv.weight"], bias)
        q, k, v = qkv.reshape(batch, x.shape[1], 3, heads, embed // heads).permute(2, 0, 3, 1, 4)
        if rope is not None:
            q = torch.cat([q[:, :, :prefix], _rotate(q[:, :, prefix:], *rope)], dim=2)
            k = torch.cat([k[:, :, :prefix], _rotate(k[:, :, prefix:], *rope)], dim=2)
        attention = (q @ k.transpose(-2, -1) / math.sqrt(embed // heads)).softmax(dim=-1)
        y = (attention @ v).transpose(1, 2).reshape(batch, x.shape[1], embed)
        x = x + state[p + "ls1.gamma"] * F.linear(y, state[p + "attn.proj.weight"], state[p + "attn.proj.bias"])
        y = F.layer_norm(x, (embed,), state[p + "norm2.weight"], state[p + "norm2.bias"], eps)
        y = F.linear(F.gelu(F.linear(y, state[p + "mlp.fc1.weight"], state[p + "mlp.fc1.bias"])),
                     state[p + "mlp.fc2.weight"], state[p + "mlp.fc2.bias"])  # fmt: skip
        x = x + state[p + "ls2.gamma"] * y
    return F.layer_norm(x, (embed,), state["norm.weight"], state["norm.bias"], eps)
