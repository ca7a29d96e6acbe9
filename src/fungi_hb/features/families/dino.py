"""DINO (Caron et al. 2021): ViT-S/B with 16 or 8 px patches, one CLS token, learned positions resampled
with DINO's own rule. Its architectures are timm's plain ViTs, so a timm name of them is a plain timm ViT."""

from fungi_hb.features.families.base import Family, HubEntry, register

DINO_URL = "https://dl.fbaipublicfiles.com/dino/{stem}/{stem}.pth"


def _entry(architecture: str, patch: int, stem: str) -> HubEntry:
    return HubEntry("DINO", architecture, patch, "dino", f"{stem}.pth", DINO_URL.format(stem=stem))


@register
class Dino(Family):
    name = "DINO"
    order = 40
    claims_timm_names = False

    def hub(self) -> dict[str, HubEntry]:
        return {
            "dino_vits16": _entry("vit_small_patch16_224", 16, "dino_deitsmall16_pretrain"),
            "dino_vits8": _entry("vit_small_patch8_224", 8, "dino_deitsmall8_pretrain"),
            "dino_vitb16": _entry("vit_base_patch16_224", 16, "dino_vitbase16_pretrain"),
            "dino_vitb8": _entry("vit_base_patch8_224", 8, "dino_vitbase8_pretrain"),
        }
