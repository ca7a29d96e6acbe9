"""Hub names (DINO, DINOv2, DINOv3: ``features.families``) and any timm ViT name, built with timm."""

import torch

from fungi_hb.features.backbones import build_backbone
from fungi_hb.features.config import BackboneConfig
from fungi_hb.features.families import patch_size_of
from fungi_hb.features.models.base import Backbone, ModelKind, forward_features, register


@register
class TimmNames(ModelKind):
    order = 90  # every name the other kinds leave: timm says whether it knows it

    def claims(self, model: str) -> bool:
        return True

    def patch_size(self, model: str) -> int | None:
        return patch_size_of(model)

    def build(self, config: BackboneConfig, seed: int, device: torch.device) -> Backbone:
        module, info = build_backbone(config, seed)
        return Backbone(module.to(device), forward_features, info)
