"""Each backbone family, from a random checkpoint written in its official file layout, runs both scripts:
the support memory and its index, then a FUNGI evaluation with the default (last block's) gradients layer."""

import argparse
import json

import pytest
import timm
import torch
from official_vits import dinov2_file, dinov3_file, timm_style_file

from conftest import make_data
from fungi_hb.cli import create_memory_bank, eval_gradients


def dino_file(path):
    """DINO's full checkpoint layout: teacher weights under 'backbone.', and the run's arguments."""
    torch.manual_seed(0)
    state = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=0).state_dict()
    torch.save({"teacher": {f"backbone.{k}": v for k, v in state.items()}, "args": argparse.Namespace()}, path)


FAMILIES = {  # model, how its file is written, patch size
    "DINO": ("dino_vits16", dino_file, 16),
    "DINOv2": ("dinov2_vits14", lambda p: dinov2_file(p, registers=False), 14),
    "DINOv2+registers": ("dinov2_vits14_reg", lambda p: dinov2_file(p, registers=True), 14),
    "DINOv3": ("dinov3_vits16", lambda p: dinov3_file(p, biases=True), 16),
    "timm ViT with a weights tag": (
        "vit_small_patch16_224.augreg_in21k",
        lambda p: timm_style_file(p, "vit_small_patch16_224", "model"),
        16,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_runs_both_scripts(family, tmp_path):
    model, write, patch = FAMILIES[family]
    write(tmp_path / "weights.pth")
    data = make_data(tmp_path / "data", num_train=4, num_val=2)
    backbone = ["--model", model, "--weights", str(tmp_path / "weights.pth"), "--input-size", str(4 * patch)]
    common = [*backbone, "--data-dir", data, "--batch-size", "4", "--num-workers", "0", "--index-backend", "exact"]
    support = ["--memory-bank", str(tmp_path / "features.pth"), "--scann-index", str(tmp_path / "index")]
    labels = ["--memory-bank-labels", str(tmp_path / "labels.pth")]
    assert create_memory_bank.main([*common, *support, *labels]) == 0
    out = tmp_path / "fungi.json"
    assert eval_gradients.main([*common, *support, "--num-neighbors", "5", "--output", str(out)]) == 0
    results = json.loads(out.read_text())
    identity = results["feature_identity"]
    assert identity["model"] == model and identity["patch_size"] == patch
    assert identity["fungi"]["gradients_layer"] == "backbone.blocks.11.attn.proj"  # -1 of 12 blocks
    assert 0 <= results["miou"] <= 1
    meta = json.loads((tmp_path / "features.meta.json").read_text())
    assert results["memory_dim"] == 2 * meta["dim"] and meta["rows"] == 4 * 16  # 4 images, 4x4 patches each
    assert meta["identity"]["features"]["weights"] == str(tmp_path / "weights.pth")
