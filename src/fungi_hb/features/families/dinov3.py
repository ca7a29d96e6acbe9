"""DINOv3 (Simeoni et al. 2025): 16 px patches, CLS and four storage tokens, rotary position embeddings at
patch centres in [-1, 1] with the periods stored in the file (rounded to bfloat16 there), licence-gated
weights. Some releases hold attention biases (timm's ``_qkvb`` variant), others all-zero ones."""

from typing import Any

from fungi_hb.features.families.base import Family, HubEntry, register

DINOV3_DOWNLOADS = "https://ai.meta.com/resources/models-and-libraries/dinov3-downloads/"
ROPE_PERIODS = "rope_embed.periods"  # the rotary periods, stored in the official files
SIZES = {  # hub name -> timm's size name
    "dinov3_vits16": "small",
    "dinov3_vits16plus": "small_plus",
    "dinov3_vitb16": "base",
    "dinov3_vitl16": "large",
    "dinov3_vith16plus": "huge_plus",
    "dinov3_vit7b16": "7b",
}


def _used_bias(state: dict[str, Any], key: str) -> Any:
    """The q|k|v bias as the official model applies it (its k part is masked out where ``bias_mask`` says)."""
    mask = state.get(key.replace("qkv.bias", "qkv.bias_mask"))
    return state[key] * mask if mask is not None else state[key]


def needs_qkv_bias(state: dict[str, Any]) -> bool:
    """Whether a file's attention biases are used (some releases hold zeros there); timm's copies of the
    variant with biases hold them as ``attn.q_bias`` / ``attn.v_bias``."""
    if any(key.endswith("attn.q_bias") for key in state):
        return True
    return any(_used_bias(state, key).any() for key in state if key.endswith("attn.qkv.bias"))


@register
class Dinov3(Family):
    name = "DINOv3"
    order = 20
    licence_note = f"DINOv3 weights are given out after accepting Meta's licence at {DINOV3_DOWNLOADS}"

    def hub(self) -> dict[str, HubEntry]:
        return {
            name: HubEntry(
                "DINOv3",
                f"vit_{size}_patch16_dinov3",
                16,
                "rope",
                f"{name}_pretrain_lvd1689m*.pth",
                None,
                f"vit_{size}_patch16_dinov3.lvd1689m",
            )
            for name, size in SIZES.items()
        }

    def recognises_file(self, state: dict[str, Any]) -> bool:
        return "storage_tokens" in state or ROPE_PERIODS in state

    def architecture(self, architecture: str, state: dict[str, Any] | None) -> str:
        if state is not None and needs_qkv_bias(state) and not architecture.endswith("_qkvb"):
            return architecture + "_qkvb"  # timm's DINOv3 variant with attention biases, which this file uses
        return architecture

    def before_filter(self, backbone: Any, state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The periods kept aside (timm's filter does not know them); all-zero attention biases dropped for
        a model built without them."""
        from fungi_hb.errors import UserError

        state = dict(state)
        periods = state.pop(ROPE_PERIODS, None)
        keys = [key for key in state if key.endswith("attn.qkv.bias")]
        has_bias = any(name.endswith("q_bias") for name, _ in backbone.named_parameters())
        if keys and "storage_tokens" in state and not has_bias:
            for key in keys:
                if _used_bias(state, key).any():
                    raise UserError(
                        f"The checkpoint's attention biases ({key}) are not zero: build the model with them."
                    )
                del state[key]
                state.pop(key.replace("qkv.bias", "qkv.bias_mask"), None)
        return state, {ROPE_PERIODS: periods}

    def extras_mismatch(self, backbone: Any, extras: dict[str, Any]) -> tuple[list[str], list[str]]:
        periods = extras.get(ROPE_PERIODS)
        own = getattr(getattr(backbone, "rope", None), "periods", None)
        if periods is None:
            return [], []
        if own is None:
            return [ROPE_PERIODS], []
        return [], [ROPE_PERIODS] if own.shape != periods.shape else []

    def after_load(self, backbone: Any, extras: dict[str, Any]) -> None:
        """The official model rotates by the periods of its file, stored rounded to bfloat16; timm's copies of
        the weights do not keep them, so recomputed ones are rounded the same way."""
        import torch

        rope = getattr(backbone, "rope", None)
        if rope is None or getattr(rope, "periods", None) is None:
            return
        periods = extras.get(ROPE_PERIODS)
        with torch.no_grad():
            rope.periods.copy_(periods.float() if periods is not None else rope.periods.to(torch.bfloat16).float())
