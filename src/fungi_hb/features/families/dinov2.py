"""DINOv2 (Oquab et al. 2023), 14 px patches, without registers: learned positions from a 37 x 37 grid,
resampled with DINO's rule; files hold a mask token beside the positions."""

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


@register
class Dinov2(Family):
    name = "DINOv2"
    order = 30

    def hub(self) -> dict[str, HubEntry]:
        return {f"dinov2_vit{size}14": dinov2_entry(size, timm_size, False) for size, timm_size in SIZES}

    def recognises_file(self, state: dict[str, Any]) -> bool:
        return "mask_token" in state and "pos_embed" in state
