"""DINOv2 (Oquab et al. 2023), 14 px patches, without registers: learned positions from a 37 x 37 grid,
resampled with DINO's rule; files hold a mask token beside the positions."""

import math
from typing import Any

from fungi_hb.features.families.base import Family, HubEntry, register

DINOV2_URL = "https://dl.fbaipublicfiles.com/dinov2/{arch}/{stem}.pth"
SIZES = (("s", "small"), ("b", "base"), ("l", "large"), ("g", "giant"))


def dinov2_entry(size: str, timm_size: str, registers: bool) -> HubEntry:
    """The hub entry of a DINOv2 size, with or without registers."""
    arch, stem = f"dinov2_vit{size}14", f"dinov2_vit{size}14{'_reg4' if registers else ''}_pretrain"
    timm_arch = f"vit_{timm_size}_patch14_{'reg4_' if registers else ''}dinov2"
    family, rule = ("DINOv2+registers", "dinov2-reg") if registers else ("DINOv2", "dino")
    url = DINOV2_URL.format(arch=arch, stem=stem)
    return HubEntry(family, timm_arch, 14, rule, f"{stem}.pth", url, f"{timm_arch}.lvd142m")


def check_dinov2_file(state: dict[str, Any], source: str, model: str, registers: bool) -> None:
    """A clear refusal of the DINOv2 files laid out for the other variant, or with timm's position table under
    the official names (the official files keep the class token's position first: 1 + 37 x 37 = 1370)."""
    from fungi_hb.errors import UserError

    timm_registers, official_registers = "reg_token" in state, "register_tokens" in state
    if (timm_registers or official_registers) != registers:
        found = "with registers" if timm_registers or official_registers else "without registers"
        other = f"{model}_reg" if not registers else model.removesuffix("_reg")
        raise UserError(
            f"The weights in {source} are a DINOv2 model {found} ({'timm' if timm_registers else 'official'} layout), "
            f"and `backbone.model` {model} is one {'with' if registers else 'without'}: name {other}."
        )
    positions = state.get("pos_embed")
    official = "mask_token" in state or official_registers
    if positions is not None and official and math.isqrt(positions.shape[1]) ** 2 == positions.shape[1]:
        side = math.isqrt(positions.shape[1])
        raise UserError(
            f"The weights in {source} use the official DINOv2 names but hold {positions.shape[1]} position embeddings "
            f"(a {side} x {side} grid without the class token's, as timm's copies keep them); the official files hold "
            f"{positions.shape[1] + 1}, the class token's first. Use the official file, or timm's copy with timm's "
            "names and its timm model name."
        )


@register
class Dinov2(Family):
    name = "DINOv2"
    order = 30

    def hub(self) -> dict[str, HubEntry]:
        return {f"dinov2_vit{size}14": dinov2_entry(size, timm_size, False) for size, timm_size in SIZES}

    def recognises_file(self, state: dict[str, Any]) -> bool:
        return "mask_token" in state and "pos_embed" in state

    def check_file(self, state: dict[str, Any], source: str, model: str) -> None:
        check_dinov2_file(state, source, model, registers=False)
