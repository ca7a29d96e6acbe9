"""Shared fixtures: the goldens folder, small synthetic datasets, a tiny random backbone."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

GOLDENS = ROOT / "tests" / "goldens"

# A small random timm ViT that runs in well under a second per batch on a CPU at 32-64 px.
TINY_MODEL = ["--model", "vit_tiny_patch16_224", "--weights", "random", "--patch-size", "16"]


def golden(name: str) -> dict:
    path = GOLDENS / name
    if not path.exists():
        pytest.fail(f"golden {path} missing: tests/goldens is part of the repository (see its README)")
    return dict(np.load(path))


@pytest.fixture(scope="session")
def synthetic_voc(tmp_path_factory) -> Path:
    """24 training and 8 validation images in the seed layout."""
    from fungi_hb.data.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("voc"), num_train=24, num_val=8, seed=0)


def bank_args(data: Path, out: Path, *extra: str) -> list[str]:
    """create_memory_bank.py flags for the tiny backbone at 64 px, outputs under ``out``."""
    # Every leaf is searched: in memories this small a few leaves can hold fewer than k points, and ScaNN
    # then comes back short (refused as an error). Partial searches are tested in test_index.py.
    fixed = "--input-size 64 --batch-size 8 --num-workers 0 --num-leaves 16 --num-leaves-to-search 16".split()
    outputs = [
        "--memory-bank",
        str(out / "features.pth"),
        "--memory-bank-labels",
        str(out / "labels.pth"),
        "--scann-index",
        str(out / "index"),
    ]
    return ["--data-dir", str(data), *TINY_MODEL, *fixed, *outputs, *extra]


def eval_args(data: Path, support: Path, *extra: str) -> list[str]:
    """eval_gradients.py flags for the tiny backbone at 64 px with the support index in ``support``."""
    fixed = (
        "--input-size 64 --batch-size 4 --num-workers 0 --num-leaves 16 --num-leaves-to-search 16 "
        "--num-neighbors 10 --gradients-layer backbone.blocks.11.attn.proj"
    ).split()
    support_flags = ["--memory-bank", str(support / "features.pth"), "--scann-index", str(support / "index")]
    return ["--data-dir", str(data), *TINY_MODEL, *fixed, *support_flags, *extra]


def make_data(folder: Path, num_train: int, num_val: int = 4) -> str:
    """A small 48 x 64 dataset in the published VOC layout; returns its --data-dir."""
    from fungi_hb.data.synthetic import make_synthetic_dataset

    return str(make_synthetic_dataset(folder, num_train, num_val, size=(48, 64)))


@pytest.fixture(scope="session")
def support_index(synthetic_voc, tmp_path_factory) -> Path:
    """A support memory + ScaNN index of the tiny backbone at 64 px (5 neighbours, as published)."""
    from fungi_hb.cli.create_memory_bank import main

    out = tmp_path_factory.mktemp("support")
    assert main(bank_args(synthetic_voc, out)) == 0
    return out


def timm_backbone(vit, model: str = "vit_tiny_patch16_224"):
    """A timm ViT module as the pipeline's Backbone (its facts read off the module)."""
    from fungi_hb.features.models.base import Backbone, BackboneInfo, forward_features

    patch, size = vit.patch_embed.patch_size[0], vit.patch_embed.img_size[0]
    info = BackboneInfo(model, "random", vit.embed_dim, patch, size, vit.num_prefix_tokens, len(vit.blocks))
    return Backbone(vit, forward_features, info)
