"""The backbone families by hub name: which timm architecture builds each, where its official weights live,
and how its position embeddings follow the input size. Torch-free, so that the flags can use it.

A family's ``positions`` rule is what the family's own code does at an input size other than the one it
was trained at (``features.pos_embed`` implements each):

- ``dino``: bicubic resampling of the learned grid with scale factor (G + 0.1) / N0, no antialiasing
  (DINO's ``interpolate_pos_encoding``; DINOv2's hub models without registers do the same);
- ``dinov2-reg``: bicubic resampling straight to G x G with antialiasing (DINOv2's hub models with
  registers: ``interpolate_antialias=True``, ``interpolate_offset=0``);
- ``rope``: nothing learned to resample; rotary embeddings at patch centres normalised to [-1, 1] per
  side, with the periods of the checkpoint (DINOv3);
- ``timm``: timm's ``resample_abs_pos_embed`` (bicubic to G x G, antialiased), for any other timm ViT.
"""

import re
from dataclasses import dataclass

DINO_URL = "https://dl.fbaipublicfiles.com/dino/{stem}/{stem}.pth"
DINOV2_URL = "https://dl.fbaipublicfiles.com/dinov2/{arch}/{stem}.pth"
DINOV3_DOWNLOADS = "https://ai.meta.com/resources/models-and-libraries/dinov3-downloads/"
POSITION_RULES = ("dino", "dinov2-reg", "rope", "timm")


@dataclass(frozen=True)
class HubEntry:
    """How a hub name is built with timm and where its official weights are found."""

    family: str  # "DINO", "DINOv2", "DINOv2+registers", "DINOv3"
    architecture: str  # timm architecture with the family's geometry
    patch_size: int  # p
    positions: str  # one of POSITION_RULES
    file_glob: str  # the official file's name in the torch hub cache (a glob: DINOv3 names end in a hash)
    url: str | None  # the official download; None where it is licence-gated (DINOv3)
    timm_weights: str | None = None  # timm's tag for the same weights (Hugging Face hub or its cache)


def _dino(arch: str, patch: int, stem: str) -> HubEntry:
    return HubEntry("DINO", arch, patch, "dino", f"{stem}.pth", DINO_URL.format(stem=stem))


def _dinov2(size: str, timm_size: str, registers: bool) -> HubEntry:
    arch, stem = f"dinov2_vit{size}14", f"dinov2_vit{size}14{'_reg4' if registers else ''}_pretrain"
    timm_arch = f"vit_{timm_size}_patch14_{'reg4_' if registers else ''}dinov2"
    family, rule = ("DINOv2+registers", "dinov2-reg") if registers else ("DINOv2", "dino")
    url = DINOV2_URL.format(arch=arch, stem=stem)
    return HubEntry(family, timm_arch, 14, rule, f"{stem}.pth", url, f"{timm_arch}.lvd142m")


def _dinov3(name: str, timm_size: str) -> HubEntry:
    timm_arch = f"vit_{timm_size}_patch16_dinov3"
    return HubEntry("DINOv3", timm_arch, 16, "rope", f"{name}_pretrain_lvd1689m*.pth", None, f"{timm_arch}.lvd1689m")


DINOV3_SIZES = {  # hub name -> timm's size name
    "dinov3_vits16": "small",
    "dinov3_vits16plus": "small_plus",
    "dinov3_vitb16": "base",
    "dinov3_vitl16": "large",
    "dinov3_vith16plus": "huge_plus",
    "dinov3_vit7b16": "7b",
}
HUB_BACKBONES: dict[str, HubEntry] = {
    "dino_vits16": _dino("vit_small_patch16_224", 16, "dino_deitsmall16_pretrain"),
    "dino_vits8": _dino("vit_small_patch8_224", 8, "dino_deitsmall8_pretrain"),
    "dino_vitb16": _dino("vit_base_patch16_224", 16, "dino_vitbase16_pretrain"),
    "dino_vitb8": _dino("vit_base_patch8_224", 8, "dino_vitbase8_pretrain"),
    **{
        f"dinov2_vit{size}14{'_reg' if registers else ''}": _dinov2(size, timm_size, registers)
        for registers in (False, True)
        for size, timm_size in (("s", "small"), ("b", "base"), ("l", "large"), ("g", "giant"))
    },
    **{name: _dinov3(name, timm_size) for name, timm_size in DINOV3_SIZES.items()},
}


def known_models() -> list[str]:
    return sorted(HUB_BACKBONES)


def patch_size_of(model: str) -> int | None:
    """The patch size of a hub name, or of a timm ViT named ``..._patch<p>...``; None when the name says nothing."""
    if model in HUB_BACKBONES:
        return HUB_BACKBONES[model].patch_size
    found = re.search(r"patch(\d+)", model)
    return int(found.group(1)) if found else None


def entry_of(model: str) -> HubEntry | None:
    """The entry of a hub name, or of a timm name of a DINOv2 or DINOv3 architecture (DINO's architectures
    are timm's plain ViTs, whose weights under timm names are timm's); None for any other model."""
    if model in HUB_BACKBONES:
        return HUB_BACKBONES[model]
    architecture = model.split(".")[0].removesuffix("_qkvb")
    for entry in HUB_BACKBONES.values():
        if entry.architecture == architecture and entry.family != "DINO":
            return entry
    return None


def family_of(model: str) -> str | None:
    """The family of ``model`` (see ``entry_of``); None for other models."""
    entry = entry_of(model)
    return entry.family if entry is not None else None


def positions_rule(model: str) -> str:
    """How ``model`` resamples its position embeddings: its family's own rule, else timm's (see the module
    docstring)."""
    entry = entry_of(model)
    return entry.positions if entry is not None else "timm"
