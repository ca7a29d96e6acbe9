"""In-context depth: the metrics against a pixel loop, patch depths and the renormalised transfer against slow
references, a memory of the validation images themselves, the bad depth maps, and both scripts end to end."""

import json
import math
import re

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import TINY_MODEL
from fungi_hb.cli import create_memory_bank, eval_gradients
from fungi_hb.data.checks import check_samples
from fungi_hb.data.config import DataConfig
from fungi_hb.data.datasets.registry import open_dataset
from fungi_hb.data.loading import ResizedImages
from fungi_hb.data.samples import train_samples, val_samples
from fungi_hb.data.synthetic import make_synthetic_dataset
from fungi_hb.data.targets import DepthReader
from fungi_hb.data.transform_config import TransformConfig
from fungi_hb.errors import UserError
from fungi_hb.evaluation.depth import depth_metrics, depth_sums, patch_depths, scored_pixels, transfer_depth
from fungi_hb.tasks.depth import Depth


def slow_metrics(truth: np.ndarray, predicted: np.ndarray, crop, bounds) -> dict:
    """The standard depth figures, one pixel at a time."""
    height, width = truth.shape[-2:]
    errors, rows = [], []
    for index in np.ndindex(truth.shape):
        y, x = index[-2:]
        gt = float(truth[index])
        if gt <= bounds[0] or (bounds[1] is not None and gt > bounds[1]):
            continue
        if crop and not (
            int(crop[0] * height) <= y < int(crop[1] * height) and int(crop[2] * width) <= x < int(crop[3] * width)
        ):
            continue
        pred = min(max(float(predicted[index]), bounds[0]), bounds[1] if bounds[1] is not None else math.inf)
        rows.append((gt, pred))
    for gt, pred in rows:
        errors.append(
            ((pred - gt) ** 2, abs(pred - gt) / gt, abs(math.log10(pred) - math.log10(gt)), max(pred / gt, gt / pred))
        )
    n = len(errors)
    return {
        "rmse": math.sqrt(sum(e[0] for e in errors) / n),
        "abs_rel": sum(e[1] for e in errors) / n,
        "log10": sum(e[2] for e in errors) / n,
        **{f"delta{i}": sum(e[3] < 1.25**i for e in errors) / n for i in (1, 2, 3)},
        "pixels": n,
    }


@pytest.mark.parametrize("crop, bounds", [(None, (1e-3, None)), ((0.1, 0.9, 0.2, 0.8), (1e-3, 10.0))])
def test_metrics_equal_a_pixel_loop_and_add_up_over_batches(crop, bounds):
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(3, 20, 24, generator=g) * 14  # some beyond the 10 m cap
    truth[truth < 1.5] = 0  # not measured
    predicted = truth + torch.randn(3, 20, 24, generator=g) * 0.8
    predicted[0, :2] = -1.0  # clamped up to the minimum
    expected = slow_metrics(truth.numpy(), predicted.numpy(), crop, bounds)
    parts = [depth_sums(truth[i : i + 1], predicted[i : i + 1], scored_pixels(truth[i : i + 1], crop, bounds), bounds)
             for i in range(3)]  # fmt: skip
    summed = {key: sum(part[key] for part in parts) for key in parts[0]}
    got = depth_metrics(summed)
    assert got["pixels"] == expected["pixels"] > 100
    for key in ("rmse", "abs_rel", "log10", "delta1", "delta2", "delta3"):
        assert got[key] == pytest.approx(expected[key], rel=1e-9), key


def test_patch_depths_equal_a_slow_reference():
    g = torch.Generator().manual_seed(1)
    depth = torch.rand(2, 1, 8, 12, generator=g) * 5
    depth[depth < 1] = 0
    depth[0, 0, :4, :4] = 0  # a patch with nothing measured
    got = patch_depths(depth, 4)  # (2, 2, 3, 2)
    for b, i, j in np.ndindex(2, 2, 3):
        block = depth[b, 0, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4].flatten().tolist()
        measured = [v for v in block if v > 0]
        mean = sum(measured) / len(measured) if measured else 0.0
        assert got[b, i, j, 0].item() == pytest.approx(mean, rel=1e-6, abs=1e-7)
        assert got[b, i, j, 1].item() == pytest.approx(len(measured) / 16)
    assert got[0, 0, 0].tolist() == [0.0, 0.0]


def test_the_transfer_renormalises_over_neighbours_with_a_depth():
    g = torch.Generator().manual_seed(2)
    queries, keys = torch.randn(5, 8, generator=g), torch.randn(5, 4, 8, generator=g)
    values = torch.stack([torch.rand(5, 4, generator=g) * 5, torch.tensor([[1.0, 0.0, 0.5, 0.25]] * 5)], dim=-1)
    got = transfer_depth(queries, keys, values, 0.1)  # (5, 2)
    for n in range(5):
        cos = torch.nn.functional.cosine_similarity(queries[n][None], keys[n], dim=-1)  # (4,)
        w = torch.softmax(cos / 0.1, dim=0)
        kept = [j for j in range(4) if values[n, j, 1] > 0]  # neighbour 1 measured nothing
        expected = sum(w[j] * values[n, j, 0] for j in kept) / sum(w[j] for j in kept)
        assert got[n, 0].item() == pytest.approx(expected.item(), rel=1e-5)


def test_a_memory_of_the_validation_images_themselves_predicts_them(tmp_path):
    """No augmentation, k = 1, an exact search: every patch finds itself, so the prediction is its own
    patch means upsampled, far closer than one constant depth."""
    import timm

    from fungi_hb.evaluation.depth import upsample_depth

    root = make_synthetic_dataset(tmp_path / "d", num_train=2, num_val=4, layout="depth", size=(48, 64))
    dataset = open_dataset(root)
    images = ResizedImages(val_samples(dataset, DataConfig(root)), 64, TransformConfig(), 0, DepthReader())
    batch = [images[i] for i in range(4)]
    pixels, depth = (
        torch.stack([b.images for b in batch]),
        torch.stack([b.targets for b in batch]),
    )  # (4,3,S,S), (4,1,S,S)
    torch.manual_seed(0)
    vit = timm.create_model("vit_tiny_patch16_224", num_classes=0, img_size=64).eval()
    with torch.no_grad():
        features = torch.nn.functional.normalize(vit.forward_features(pixels)[:, 1:], dim=-1)  # (4, 16, 192)
    task = Depth(dataset.targets)
    memory_values = task.patch_values(depth, 16).flatten(0, 2)  # (64, 2)
    flat = features.flatten(0, 1)  # (64, 192)
    nearest = (flat @ flat.T).argmax(dim=1)  # (64,): itself
    assert torch.equal(nearest, torch.arange(64))
    patches = task.transfer(flat, flat[nearest][:, None], memory_values[nearest][:, None], 0.02)  # (64, 2)
    predicted = task.to_pixels(patches.reshape(4, 4, 4, 2), 64)  # (4, 64, 64)
    own = upsample_depth(memory_values.reshape(4, 4, 4, 2), 64)
    torch.testing.assert_close(predicted, own)
    ours = depth_metrics(task.score(depth, predicted))
    measured = depth[depth > 1e-3]
    constant = depth_metrics(task.score(depth, torch.full_like(predicted, float(measured.mean()))))
    assert ours["rmse"] < 0.5 * constant["rmse"] and ours["delta1"] > constant["delta1"]


@pytest.mark.parametrize(
    "damage, message",
    [
        ("8-bit", "the depth map is an 8-bit image, not a 16-bit single-channel PNG of millimetres"),
        ("rgb", "the depth map is a RGB image"),
        ("size", "the depth map is 32x24 but its image is 64x48"),
        ("zero", "the depth map is all zero (no measurement anywhere), almost always a conversion error"),
    ],
)
def test_bad_depth_maps_are_refused_up_front(tmp_path, damage, message):
    root = make_synthetic_dataset(tmp_path / "d", num_train=3, num_val=1, layout="depth", size=(48, 64))
    dataset = open_dataset(root)
    samples = train_samples(dataset, DataConfig(root), 0)
    path = str(samples[1].mask)
    depth = np.asarray(Image.open(path))
    made = {
        "8-bit": lambda: Image.fromarray((depth // 100).astype(np.uint8)),
        "rgb": lambda: Image.fromarray(np.stack([(depth // 100).astype(np.uint8)] * 3, axis=-1)),
        "size": lambda: Image.fromarray(depth[:24, :32]),
        "zero": lambda: Image.fromarray(np.zeros_like(depth)),
    }
    made[damage]().save(path)
    with pytest.raises(UserError, match=re.escape(message)) as refused:
        check_samples(samples, dataset.targets, "training", workers=1)
    assert "1 of 3 training samples" in str(refused.value)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["depth", "nyuv2"])
def test_both_scripts_estimate_depth_better_than_a_constant(tmp_path, layout):
    data = make_synthetic_dataset(tmp_path / "data", num_train=10, num_val=4, layout=layout, size=(48, 64))
    common = ["--data-dir", str(data), *TINY_MODEL, "--input-size", "64", "--num-workers", "0", "--index-backend",
              "exact", "--output-dir", str(tmp_path / "out")]  # fmt: skip
    assert create_memory_bank.main(common) == 0
    for features in ("embeddings", "fungi"):
        assert eval_gradients.main([*common, "--features", features, "--num-neighbors", "10"]) == 0
        results = json.loads((tmp_path / "out" / f"results_{features}.json").read_text())
        assert results["task"] == "depth" and results["dataset"] == layout
        assert all(math.isfinite(results[key]) for key in ("rmse", "abs_rel", "log10", "delta1", "delta2", "delta3"))
        truth = np.concatenate([np.asarray(Image.open(p), dtype=np.float64).ravel() / 1000
                                for p in sorted((data / "depth").glob("val_*.png"))])  # fmt: skip
        constant = float(truth[truth > 0].std())  # the RMSE of the best constant, at the native size
        assert results["rmse"] < constant
        assert len(list((tmp_path / "out" / f"pictures_{features}").glob("*.png"))) == 4
    scoring = results["depth_scoring"]
    assert (scoring["max_depth"], scoring["crop"] is not None) == ((10.0, True) if layout == "nyuv2" else (None, False))
