import argparse

import pytest
import timm
import torch
import torch.nn.functional as F

from fungi_hb.errors import UserError
from fungi_hb.features.backbones import BackboneConfig, build_backbone
from fungi_hb.features.checkpoints import hub_checkpoint_path
from fungi_hb.features.pos_embed import interpolate_pos_embed


def dino_style_checkpoint(path, full: bool = False):
    """A checkpoint in the official DINO layout, from a random ViT-S/16 at 224 px."""
    torch.manual_seed(0)
    vit = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=0)
    state = vit.state_dict()
    if full:  # dino_deitsmall16_full_checkpoint-style: teacher weights under 'backbone.', and the run's args
        teacher = {f"backbone.{k}": v for k, v in state.items()} | {"head.mlp.0.weight": torch.zeros(2, 2)}
        state = {"teacher": teacher, "args": argparse.Namespace(arch="vit_small", patch_size=16), "epoch": 100}
    torch.save(state, path)
    return vit


@pytest.mark.parametrize("full", [False, True])
def test_dino_checkpoint_loads_every_key_and_resamples_pos_embed(tmp_path, full):
    reference = dino_style_checkpoint(tmp_path / "dino.pth", full)
    backbone, info = build_backbone(BackboneConfig("dino_vits16", str(tmp_path / "dino.pth"), 64, 16))
    assert info.embed_dim == 384 and info.grid == 4 and info.num_prefix_tokens == 1
    assert backbone.pos_embed.shape == (1, 17, 384)
    torch.testing.assert_close(backbone.blocks[5].attn.proj.weight, reference.blocks[5].attn.proj.weight)
    tokens = backbone.forward_features(torch.randn(2, 3, 64, 64))
    assert tokens.shape == (2, 17, 384)


def test_same_size_checkpoint_gives_identical_features(tmp_path):
    reference = dino_style_checkpoint(tmp_path / "dino.pth").eval()
    backbone, _ = build_backbone(BackboneConfig("dino_vits16", str(tmp_path / "dino.pth"), 224, 16))
    x = torch.randn(1, 3, 224, 224)
    torch.testing.assert_close(backbone.forward_features(x), reference.forward_features(x))


def test_pos_embed_interpolation_follows_dino():
    pos = torch.randn(1, 1 + 14 * 14, 8)
    out = interpolate_pos_embed(pos, 32, 1)
    grid = pos[:, 1:].reshape(1, 14, 14, 8).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, scale_factor=(32.1 / 14, 32.1 / 14), mode="bicubic")  # DINO's formula
    torch.testing.assert_close(out[:, 1:], expected.permute(0, 2, 3, 1).reshape(1, 1024, 8))
    torch.testing.assert_close(out[:, :1], pos[:, :1])
    assert interpolate_pos_embed(pos, 14, 1) is pos


def test_wrong_checkpoint_is_refused_clearly(tmp_path):
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0)
    torch.save(vit.state_dict(), tmp_path / "tiny.pth")
    with pytest.raises(UserError, match="do not fit this architecture"):
        build_backbone(BackboneConfig("dino_vits16", str(tmp_path / "tiny.pth"), 64, 16))
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(UserError, match="Cannot read the checkpoint"):
        build_backbone(BackboneConfig("dino_vits16", str(tmp_path / "junk.pth"), 64, 16))
    with pytest.raises(UserError, match="does not exist"):
        build_backbone(BackboneConfig("dino_vits16", str(tmp_path / "nope.pth"), 64, 16))


def test_no_weights_offline_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.hub.set_dir(str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    try:
        with pytest.raises(UserError) as err:
            build_backbone(BackboneConfig("dino_vitb16", None, 64, 16))
        assert "dino_vitbase16_pretrain.pth" in str(err.value) and str(tmp_path / "hub" / "checkpoints") in str(
            err.value
        )
    finally:
        torch.hub.set_dir(str(tmp_path / "unused"))


def test_hub_cache_is_used_offline(tmp_path, monkeypatch):
    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("tried to download"))
    cached = hub_checkpoint_path("dino_vits16")
    cached.parent.mkdir(parents=True)
    dino_style_checkpoint(cached)
    _, info = build_backbone(BackboneConfig("dino_vits16", None, 32, 16))
    assert info.weights_source == str(cached)


def test_a_download_lands_in_the_hub_cache_and_is_read_as_tensors_only(tmp_path, monkeypatch):
    torch.hub.set_dir(str(tmp_path / "hub"))

    def download(url, destination, progress=True):  # what the DINO release would send
        assert url.endswith("dino_deitsmall16_pretrain.pth")
        dino_style_checkpoint(destination)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    try:
        _, info = build_backbone(BackboneConfig("dino_vits16", None, 32, 16))
        assert info.weights_source.startswith("https://") and hub_checkpoint_path("dino_vits16").is_file()
    finally:
        torch.hub.set_dir(str(tmp_path / "unused"))


@pytest.mark.parametrize(
    "config, message",
    [
        (BackboneConfig("dino_vitz99", "random", 64, 16), "Unknown `backbone.model`"),
        (BackboneConfig("dino_vits16", "random", 60, 16), "not a multiple"),
        (BackboneConfig("dino_vits8", "random", 64, 16), "`backbone.patch_size` 8"),
    ],
)
def test_bad_backbone_settings(config, message):
    with pytest.raises(UserError, match=message):
        build_backbone(config)


def test_random_weights_are_seeded_and_said_so():
    a, info = build_backbone(BackboneConfig("vit_tiny_patch16_224", "random", 32, 16), seed=1)
    b, _ = build_backbone(BackboneConfig("vit_tiny_patch16_224", "random", 32, 16), seed=1)
    assert "random" in info.weights_source
    torch.testing.assert_close(a.blocks[0].attn.qkv.weight, b.blocks[0].attn.qkv.weight)


def test_checkpoint_with_arbitrary_objects_is_not_unpickled(tmp_path):
    import datetime

    torch.save({"model": {}, "when": datetime.datetime(2024, 1, 1)}, tmp_path / "odd.pth")
    with pytest.raises(UserError, match="Cannot read the checkpoint"):
        build_backbone(BackboneConfig("dino_vits16", str(tmp_path / "odd.pth"), 64, 16))
