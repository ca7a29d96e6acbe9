"""DINOv2 with registers (Darcet et al. 2024): four register tokens after CLS, positions resampled straight
to the grid with antialiasing (the hub models' ``interpolate_antialias=True``, no offset)."""

from typing import Any

from fungi_hb.features.families.base import Family, HubEntry, register
from fungi_hb.features.families.dinov2 import SIZES, check_dinov2_file, dinov2_entry


@register
class Dinov2Registers(Family):
    name = "DINOv2+registers"
    order = 10  # its files hold DINOv2's keys too

    def hub(self) -> dict[str, HubEntry]:
        return {f"dinov2_vit{size}14_reg": dinov2_entry(size, timm_size, True) for size, timm_size in SIZES}

    def recognises_file(self, state: dict[str, Any]) -> bool:
        return "register_tokens" in state

    def check_file(self, state: dict[str, Any], source: str, model: str) -> None:
        check_dinov2_file(state, source, model, registers=True)
