"""ADE20K and a user's own dataset, end to end through both scripts, as Pascal VOC is."""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import bank_args, eval_args
from fungi_hb.cli import create_memory_bank, eval_gradients
from fungi_hb.data.datasets.ade20k import ADE20K_CLASSES
from fungi_hb.data.synthetic import make_synthetic_dataset

pytestmark = pytest.mark.slow

EXACT = ["--index-backend", "exact"]


def _scored_classes(data, masks: str, num_classes: int, shift: int) -> set[int]:
    """Class ids present in the validation masks ``masks`` (a glob; mask value - ``shift``), ignoring 255."""
    present = set()
    for path in data.glob(masks):
        values = np.unique(np.asarray(Image.open(path))).astype(int) - shift
        present |= {int(v) for v in values if 0 <= v < num_classes}
    return present


def _check_scores(results: dict, names: tuple[str, ...], present: set[int]) -> None:
    """The mIoU is the mean over every class of the dataset; classes absent from the data score 0."""
    assert results["num_classes"] == len(names) and results["class_names"] == list(names)
    iou = results["per_class_iou"]
    assert set(iou) == set(names)
    assert results["miou"] == pytest.approx(sum(iou.values()) / len(names))
    assert len(results["tp"]) == len(names)
    for class_id, name in enumerate(names):
        if class_id not in present:
            assert iou[name] == 0.0, name
    assert sum(iou[names[c]] > 0 for c in present) >= len(present) // 2  # a random backbone still finds some


@pytest.fixture(scope="module")
def ade20k(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("ade"), num_train=16, num_val=6, layout="ade20k")


@pytest.fixture(scope="module")
def generic(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("own"), num_train=16, num_val=6, layout="generic")


@pytest.mark.parametrize("features", ["embeddings", "fungi"])
def test_ade20k_150_classes(ade20k, tmp_path, features):
    assert create_memory_bank.main(bank_args(ade20k, tmp_path)) == 0
    meta = json.loads((tmp_path / "features.meta.json").read_text())
    assert meta["identity"]["dataset"] == "ade20k-150"
    out = tmp_path / "r.json"
    assert (
        eval_gradients.main([*eval_args(ade20k, tmp_path, "--features", features, "--output", str(out)), *EXACT]) == 0
    )
    results = json.loads(out.read_text())
    assert results["dataset"] == "ade20k-150" and results["features"] == features
    present = _scored_classes(ade20k, "annotations/validation/*.png", 150, shift=1)  # 0 (other) is ignored
    _check_scores(results, ADE20K_CLASSES, present)


def test_ade20k_keep_other_with_a_150_class_support_bank(ade20k, tmp_path, caplog):
    """--keep-other scores 151 classes; the support bank (built without it) only gives negatives, so its
    label columns do not matter and it is accepted."""
    assert create_memory_bank.main(bank_args(ade20k, tmp_path)) == 0  # 150 classes
    out = tmp_path / "r.json"
    args = [*eval_args(ade20k, tmp_path, "--output", str(out)), *EXACT, "--keep-other"]
    assert eval_gradients.main(args) == 0
    results = json.loads(out.read_text())
    assert results["dataset"] == "ade20k-151" and "other training images" not in caplog.text
    present = _scored_classes(ade20k, "annotations/validation/*.png", 151, shift=0)
    assert 0 in present  # the boundary bands are "other"
    _check_scores(results, ("other", *ADE20K_CLASSES), present)


def test_a_support_bank_of_other_images_is_warned_about(ade20k, generic, tmp_path, caplog):
    assert create_memory_bank.main(bank_args(generic, tmp_path)) == 0
    args = [*eval_args(ade20k, tmp_path, "--output", str(tmp_path / "r.json")), *EXACT]
    assert eval_gradients.main(args) == 0
    assert "other training images (dataset generic-7-" in caplog.text


@pytest.mark.parametrize("features", ["embeddings", "fungi"])
def test_own_dataset_with_seven_classes(generic, tmp_path, features):
    names = tuple((generic / "classes.txt").read_text().split("\n")[:7])
    assert create_memory_bank.main(bank_args(generic, tmp_path)) == 0
    out = tmp_path / "r.json"
    assert (
        eval_gradients.main([*eval_args(generic, tmp_path, "--features", features, "--output", str(out)), *EXACT]) == 0
    )
    results = json.loads(out.read_text())
    assert results["dataset"].startswith("generic-7-") and len(results["per_class_iou"]) == 7
    _check_scores(results, names, _scored_classes(generic, "masks/val_*.png", 7, shift=0))


def test_keep_other_is_refused_outside_ade20k(generic, tmp_path, caplog):
    assert create_memory_bank.main([*bank_args(generic, tmp_path), "--keep-other"]) == 2
    assert "--keep-other applies to ADE20K only" in caplog.text


def test_dataset_flag_forces_a_layout(generic, tmp_path, caplog):
    assert create_memory_bank.main([*bank_args(generic, tmp_path), "--dataset", "ade20k"]) == 2
    assert "does not hold ade20k" in caplog.text
