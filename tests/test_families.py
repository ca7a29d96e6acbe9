"""Backbone families from their official files: DINOv2 (with and without registers), DINOv3 and timm ViTs
load through timm and give the tokens that the family's own rules give (tests/official_vits.py), each at
an input size other than the one it was trained at."""

import pytest
import torch
from official_vits import dinov2_file, dinov3_file, official_forward, timm_style_file
from torch import nn

from fungi_hb.errors import UserError
from fungi_hb.features.backbones import BackboneConfig, build_backbone
from fungi_hb.features.checkpoints import hub_checkpoint_path
from fungi_hb.features.embeddings import EmbeddingExtractor, keys_unavailable
from fungi_hb.features.families import hub_backbones, patch_size_of, positions_rule
from fungi_hb.features.models.base import Backbone, forward_features
from fungi_hb.features.pos_embed import interpolate_pos_embed, prefix_positions
from fungi_hb.fungi.token_gradients import concrete_path, resolve_linear
from fungi_hb.precision import Placement


def images(size: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("registers", [False, True])
@pytest.mark.parametrize("size", [98, 224])  # 7x7 and 16x16 patches from a 37x37 grid
def test_dinov2_official_file_gives_the_official_tokens(tmp_path, registers, size):
    state = dinov2_file(tmp_path / "dinov2.pth", registers)
    name = "dinov2_vits14_reg" if registers else "dinov2_vits14"
    backbone, info = build_backbone(BackboneConfig(name, str(tmp_path / "dinov2.pth"), size, 14))
    assert info.num_prefix_tokens == (5 if registers else 1) and info.depth == 12
    x = images(size)
    expected = official_forward(state, x, "dinov2-reg" if registers else "dinov2")
    torch.testing.assert_close(backbone.forward_features(x), expected, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("biases", [False, True])
@pytest.mark.parametrize("size", [64, 160])
def test_dinov3_official_file_gives_the_official_tokens(tmp_path, biases, size):
    state = dinov3_file(tmp_path / "dinov3.pth", biases)
    backbone, info = build_backbone(BackboneConfig("dinov3_vits16", str(tmp_path / "dinov3.pth"), size, 16))
    assert info.num_prefix_tokens == 5
    assert hasattr(backbone.blocks[0].attn, "q_bias") and backbone.blocks[0].attn.q_bias is not None or not biases
    x = images(size)
    torch.testing.assert_close(backbone.forward_features(x), official_forward(state, x, "dinov3"), atol=2e-5, rtol=1e-4)


def test_dinov3_uses_the_periods_of_its_file(tmp_path):
    """The file's periods are rounded to bfloat16; recomputed float32 ones would rotate differently."""
    state = dinov3_file(tmp_path / "dinov3.pth", biases=False)
    backbone, _ = build_backbone(BackboneConfig("dinov3_vits16", str(tmp_path / "dinov3.pth"), 64, 16))
    assert torch.equal(backbone.rope.periods, state["rope_embed.periods"])
    fresh, _ = build_backbone(BackboneConfig("dinov3_vits16", "random", 64, 16))
    assert not torch.equal(fresh.rope.periods, state["rope_embed.periods"])


def test_a_timm_checkpoint_of_a_family_follows_the_family_rule(tmp_path):
    """timm's own copy of DINOv2 with registers (no CLS position, 37x37 grid) resamples like DINOv2's hub."""
    timm_style_file(tmp_path / "timm.pth", "vit_small_patch14_reg4_dinov2")
    saved = torch.load(tmp_path / "timm.pth")
    backbone, _ = build_backbone(BackboneConfig("vit_small_patch14_reg4_dinov2", str(tmp_path / "timm.pth"), 98, 14))
    expected = interpolate_pos_embed(saved["pos_embed"], 7, 0, "dinov2-reg")
    torch.testing.assert_close(backbone.pos_embed, expected, atol=0, rtol=0)


def test_mae_style_file_and_safetensors_load(tmp_path):
    from safetensors.torch import save_file

    state = timm_style_file(tmp_path / "mae.pth", "vit_small_patch16_224", wrapper="model")
    backbone, _ = build_backbone(
        BackboneConfig("vit_small_patch16_224.augreg_in21k", str(tmp_path / "mae.pth"), 64, 16)
    )
    expected = interpolate_pos_embed(state["pos_embed"], 4, 1, "timm")
    torch.testing.assert_close(backbone.pos_embed, expected, atol=0, rtol=0)
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "model.safetensors"))
    again, _ = build_backbone(BackboneConfig("vit_small_patch16_224", str(tmp_path / "model.safetensors"), 64, 16))
    torch.testing.assert_close(again.blocks[3].mlp.fc1.weight, state["blocks.3.mlp.fc1.weight"])


def test_each_rule_matches_its_formula():
    pos = torch.randn(1, 1 + 37 * 37, 8)
    square = pos[:, 1:].reshape(1, 37, 37, 8).permute(0, 3, 1, 2)
    dino = torch.nn.functional.interpolate(square, scale_factor=(36.1 / 37, 36.1 / 37), mode="bicubic")
    reg = torch.nn.functional.interpolate(square, size=(36, 36), mode="bicubic", antialias=True)
    for rule, grid in (("dino", dino), ("dinov2-reg", reg)):
        out = interpolate_pos_embed(pos, 36, 1, rule)
        torch.testing.assert_close(out[:, 1:], grid.permute(0, 2, 3, 1).reshape(1, 36 * 36, 8), atol=0, rtol=0)
        assert torch.equal(out[:, :1], pos[:, :1])
    assert not torch.equal(interpolate_pos_embed(pos, 36, 1, "dino"), interpolate_pos_embed(pos, 36, 1, "dinov2-reg"))
    assert prefix_positions(1 + 37 * 37, (5, 1, 0)) == 1 and prefix_positions(37 * 37, (0, 1)) == 0
    with pytest.raises(ValueError):
        interpolate_pos_embed(pos, 20, 1, "rope")


def test_hub_names_say_their_family():
    assert positions_rule("dino_vits16") == "dino" and positions_rule("dinov2_vitb14") == "dino"
    assert positions_rule("dinov2_vitl14_reg") == "dinov2-reg" and positions_rule("dinov3_vitl16") == "rope"
    assert positions_rule("vit_small_patch14_dinov2.lvd142m") == "dino"
    assert positions_rule("vit_base_patch16_clip_224.openai") == "timm"
    assert patch_size_of("dinov2_vits14_reg") == 14 and patch_size_of("vit_base_patch32_clip_224") == 32
    assert patch_size_of("resnet50") is None
    import timm

    assert all(timm.is_model(entry.architecture) for entry in hub_backbones().values())


def test_dinov3_files_in_the_hub_cache_are_found_by_their_hashed_name(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    assert hub_checkpoint_path("dinov3_vits16").name == "dinov3_vits16_pretrain_lvd1689m*.pth"  # where it would go
    dinov3_file(tmp_path / "checkpoints" / "dinov3_vits16_pretrain_lvd1689m-08c60483.pth", biases=False)
    assert hub_checkpoint_path("dinov3_vits16").name.endswith("-08c60483.pth")
    backbone, info = build_backbone(BackboneConfig("dinov3_vits16", None, 64, 16))
    assert info.weights_source.endswith("-08c60483.pth")
    (tmp_path / "checkpoints" / "dinov3_vits16_pretrain_lvd1689m-00000000.pth").write_bytes(b"")
    with pytest.raises(UserError, match="pass the one to use"):
        build_backbone(BackboneConfig("dinov3_vits16", None, 64, 16))


def test_no_dinov3_weights_offline_says_where_they_come_from(tmp_path, monkeypatch):
    from fungi_hb.features import checkpoints

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(checkpoints, "_reachable", lambda host: False)
    monkeypatch.setattr(checkpoints, "hf_cached_file", lambda name: None)
    with pytest.raises(UserError, match="licence") as caught:
        build_backbone(BackboneConfig("dinov3_vits16", None, 64, 16))
    assert "vit_small_patch16_dinov3.lvd1689m is not in the Hugging Face cache" in str(caught.value)
    assert "dinov3_vits16_pretrain_lvd1689m-<hash>.pth" in str(caught.value)


def test_timm_copy_in_the_hugging_face_cache_is_used_offline(tmp_path, monkeypatch):
    """The Hugging Face cache's layout: models--<org>--<name>/refs/main and snapshots/<commit>/<file>."""
    import huggingface_hub.constants
    from safetensors.torch import save_file

    from fungi_hb.features import checkpoints

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(checkpoints, "_reachable", lambda host: pytest.fail("went online"))
    repo = tmp_path / "hf" / "models--timm--vit_small_patch14_reg4_dinov2.lvd142m"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    (repo / "snapshots" / "0123abcd").mkdir(parents=True)
    state = timm_style_file(tmp_path / "timm.pth", "vit_small_patch14_reg4_dinov2")
    save_file({k: v.contiguous() for k, v in state.items()}, str(repo / "snapshots" / "0123abcd" / "model.safetensors"))
    backbone, info = build_backbone(BackboneConfig("dinov2_vits14_reg", None, 98, 14))
    assert info.weights_source.endswith("snapshots/0123abcd/model.safetensors")
    torch.testing.assert_close(backbone.reg_token, state["reg_token"], atol=0, rtol=0)


def test_layers_counted_from_the_end():
    model = nn.Module()
    model.backbone = nn.Module()
    model.backbone.blocks = nn.ModuleList([nn.Sequential() for _ in range(24)])
    for block in model.backbone.blocks:
        block.attn = nn.Module()
        block.attn.proj = nn.Linear(2, 2)
    assert concrete_path(model, "backbone.blocks.-1.attn.proj") == "backbone.blocks.23.attn.proj"
    assert concrete_path(model, "backbone.blocks.-24.attn.proj") == "backbone.blocks.0.attn.proj"
    assert concrete_path(model, "backbone.blocks.11.attn.proj") == "backbone.blocks.11.attn.proj"
    assert resolve_linear(model, "backbone.blocks.-2.attn.proj") is model.backbone.blocks[22].attn.proj
    for wrong in ("-25", "-0"):
        with pytest.raises(LookupError, match="numbered 0 to 23 or -1 to -24"):
            resolve_linear(model, f"backbone.blocks.{wrong}.attn.proj")


@pytest.mark.parametrize(
    ("model", "patch", "why"),
    [
        ("dinov2_vits14_reg", 14, None),
        ("vit_small_patch16_dinov3", 16, "rotates its keys"),
        ("vit_base_patch16_clip_224", 16, None),
    ],
)
def test_keys_work_for_every_family_or_say_why_not(model, patch, why):
    backbone, info = build_backbone(BackboneConfig(model, "random", 4 * patch, patch))
    reason = keys_unavailable(backbone)
    if why is None:
        assert reason is None
        keys = EmbeddingExtractor(Backbone(backbone, forward_features, info), Placement(torch.device("cpu")), "keys")(
            images(4 * patch)
        )
        assert keys.shape == (2, 16, info.embed_dim)
    else:
        assert why in reason


def test_a_file_of_another_family_layout_or_patch_size_is_named_as_such(tmp_path):
    dinov2_file(tmp_path / "reg.pth", registers=True)
    with pytest.raises(UserError, match=r"are a DINOv2\+registers file, and `backbone.model` dinov2_vits14 is DINOv2"):
        build_backbone(BackboneConfig("dinov2_vits14", str(tmp_path / "reg.pth"), 56, 14))
    dinov3_file(tmp_path / "v3.pth", biases=True)
    with pytest.raises(UserError, match="are a DINOv3 file.*dinov3_vits16"):
        build_backbone(BackboneConfig("dinov2_vits14_reg", str(tmp_path / "v3.pth"), 56, 14))
    timm_style_file(tmp_path / "p16.pth", "vit_small_patch16_224")
    with pytest.raises(UserError, match="have 16 px patches and `backbone.model` dino_vits8 8 px"):
        build_backbone(BackboneConfig("dino_vits8", str(tmp_path / "p16.pth"), 64, 8))
    torch.save({"embeddings.cls_token": torch.zeros(1, 1, 4), "encoder.layer.0.x": torch.zeros(1)}, tmp_path / "hf.pth")
    with pytest.raises(UserError, match="layout of Hugging Face transformers"):
        build_backbone(BackboneConfig("dinov3_vits16", str(tmp_path / "hf.pth"), 64, 16))


def test_dinov3_from_timms_copy_rotates_like_the_official_file(tmp_path):
    """timm's copy holds no periods: the recomputed ones are rounded as the official file stores them."""
    state = dinov3_file(tmp_path / "official.pth", biases=True)
    official, _ = build_backbone(BackboneConfig("dinov3_vits16", str(tmp_path / "official.pth"), 64, 16))
    torch.save(official.state_dict(), tmp_path / "timm_copy.pth")  # timm's layout: q_bias, gamma_1, no periods
    copy, _ = build_backbone(BackboneConfig("dinov3_vits16", str(tmp_path / "timm_copy.pth"), 64, 16))
    assert torch.equal(copy.rope.periods, state["rope_embed.periods"])
    x = images(64)
    assert torch.equal(copy.forward_features(x), official.forward_features(x))
