"""Backbone families by hub name, one module each (``base.register``): which timm architecture builds each
name, where its official weights live, how its position embeddings follow the input size, how its files
are recognised, and whatever else the family does its own way. Torch-free at import, so that names and
patch sizes can be looked up without loading the libraries.

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

from fungi_hb.features.families.base import (
    POSITION_RULES,
    Family,
    HubEntry,
    entry_of,
    families,
    family_of,
    file_family,
    hub_backbones,
    known_models,
    patch_size_of,
    positions_rule,
)

__all__ = [
    "POSITION_RULES",
    "Family",
    "HubEntry",
    "entry_of",
    "families",
    "family_of",
    "file_family",
    "hub_backbones",
    "known_models",
    "patch_size_of",
    "positions_rule",
]
