"""Which backbone a run uses, on its own (no torch) so that the flags can name it without loading it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class BackboneConfig:
    """Which backbone, with which weights, at which input size."""

    model: str  # a DINO hub name (dino_vits16, ...) or a timm ViT name
    weights: str | None  # checkpoint path, "random", or None for the hub cache / download
    input_size: int  # S, square input side in pixels
    patch_size: int  # p, must equal the model's patch size

    @property
    def grid(self) -> int:
        """G = S / p patches per side (the one place it is computed)."""
        return self.input_size // self.patch_size
