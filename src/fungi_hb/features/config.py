"""Which backbone a run uses, on its own (no torch) so that the flags can name it without loading it."""

from dataclasses import dataclass

from fungi_hb.settings import Flag, positive_int, setting

GROUP = "backbone"


@dataclass(frozen=True)
class BackboneConfig:
    """Which backbone, with which weights, at which input size."""

    model: str = setting(
        "dino_vits16",
        Flag(
            "--model",
            GROUP,
            "A hub name (dino_vits16 ... dino_vitb8, dinov2_vits14[_reg] ... dinov2_vitg14[_reg], dinov3_vits16 ... "
            "dinov3_vit7b16), a timm ViT name, or your own model: path/to/file.py:FUNCTION or package.module:FUNCTION "
            "(FUNCTION() returns a module mapping images to patch tokens; see docs/your-own-model.md).",
        ),
    )
    weights: str | None = setting(
        None,
        Flag(
            "--weights",
            GROUP,
            "Checkpoint file (the family's official .pth, a state dict, a timm .pth/.safetensors), or 'random'. Not "
            "for your own model, which loads its own.",
            shown_default="the torch hub cache, timm's cached copy, then the official download or timm's hub",
        ),
    )
    input_size: int = setting(
        512, Flag("--input-size", GROUP, "Square input side in pixels (512 in the paper).", parse=positive_int)
    )
    patch_size: int | None = setting(
        None,
        Flag(
            "--patch-size", GROUP, "Must equal the model's patch size.", parse=positive_int, shown_default="the model's"
        ),
    )

    @property
    def grid(self) -> int:
        """G = S / p patches per side (the one place it is computed; the patch size must be known)."""
        if self.patch_size is None:
            raise ValueError("the patch size is not known yet (features.backbones.resolve_patch_size)")
        return self.input_size // self.patch_size
