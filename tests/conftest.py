"""Shared fixtures: the goldens folder, small synthetic datasets, a tiny random backbone."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

GOLDENS = ROOT.parent / "shared" / "goldens"  # read-only reference outputs of the published code

# A small random timm ViT that runs in well under a second per batch on a CPU at 32-64 px.
TINY_MODEL = ["--model", "vit_tiny_patch16_224", "--weights", "random", "--patch-size", "16"]


def golden(name: str) -> dict:
    path = GOLDENS / name
    if not path.exists():
        pytest.fail(f"golden {path} missing: tests expect ../shared/goldens beside the project")
    return dict(np.load(path))


@pytest.fixture(scope="session")
def synthetic_voc(tmp_path_factory) -> Path:
    """24 training and 8 validation images in the seed layout."""
    from fungi_hb.data.synthetic import make_synthetic_voc

    return make_synthetic_voc(tmp_path_factory.mktemp("voc"), num_train=24, num_val=8, seed=0)


@pytest.fixture(scope="session")
def support_index(synthetic_voc, tmp_path_factory) -> Path:
    """A support memory + ScaNN index of the tiny backbone at 64 px (5 neighbours, as published)."""
    from fungi_hb.cli.create_memory_bank import main

    out = tmp_path_factory.mktemp("support")
    code = main(
        [
            "--data-dir",
            str(synthetic_voc),
            *TINY_MODEL,
            "--input-size",
            "64",
            "--batch-size",
            "8",
            "--num-workers",
            "0",
            "--memory-bank",
            str(out / "features.pth"),
            "--memory-bank-labels",
            str(out / "labels.pth"),
            "--scann-index",
            str(out / "index"),
            "--num-leaves",
            "16",
            "--num-leaves-to-search",
            "8",
        ]
    )
    assert code == 0
    return out
