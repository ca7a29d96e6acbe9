import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from conftest import golden
from fungi_hb.evaluation.miou import confusion_matrix, matched_miou


@pytest.mark.parametrize("pred_key, miou_key", [("pred", "expected_miou"), ("pred_permuted", "expected_miou_permuted")])
def test_golden(pred_key, miou_key):
    g = golden("miou.npz")
    result = matched_miou(confusion_matrix(torch.from_numpy(g["gt"]), torch.from_numpy(g[pred_key]), 21).numpy())
    assert abs(result.miou - float(g[miou_key])) < 1e-12
    np.testing.assert_array_equal(result.tp, g["expected_tp"])
    np.testing.assert_array_equal(result.fp, g["expected_fp"])
    np.testing.assert_array_equal(result.fn, g["expected_fn"])


def slow_matched_miou(gt: np.ndarray, pred: np.ndarray, num_classes: int) -> float:
    """Pixel by pixel, as the published code does it: IoU per (class, id) pair, Hungarian, remap."""
    keep = gt != 255
    gt, pred = gt[keep], pred[keep]
    iou = np.zeros((num_classes, num_classes))
    for c in range(num_classes):
        for p in range(num_classes):
            inter = np.sum((gt == c) & (pred == p))
            union = np.sum((gt == c) | (pred == p))
            iou[c, p] = inter / max(union, 1e-8)
    rows, cols = linear_sum_assignment(1 - iou)
    remapped = np.zeros_like(pred)
    for c, p in zip(rows, cols):
        remapped[pred == p] = c
    ious = []
    for c in range(num_classes):
        tp = np.sum((gt == c) & (remapped == c))
        fp = np.sum((gt != c) & (remapped == c))
        fn = np.sum((gt == c) & (remapped != c))
        ious.append(tp / max(tp + fp + fn, 1e-8))
    return float(np.mean(ious))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("num_classes", [3, 7, 21])
def test_confusion_matrix_route_equals_pixelwise(seed, num_classes):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, num_classes, size=3000).astype(np.uint8)
    gt[rng.random(3000) < 0.1] = 255  # ignore pixels
    pred = np.where(
        rng.random(3000) < 0.6, (gt.astype(int) + seed) % num_classes, rng.integers(0, num_classes, 3000)
    ).astype(np.uint8)
    conf = confusion_matrix(torch.from_numpy(gt), torch.from_numpy(pred), num_classes).numpy()
    assert conf.sum() == np.sum(gt != 255)
    assert matched_miou(conf).miou == pytest.approx(slow_matched_miou(gt, pred, num_classes), abs=1e-12)


def test_confusion_matrix_accumulates_over_batches():
    rng = np.random.default_rng(0)
    gt = torch.from_numpy(rng.integers(0, 21, size=(4, 8, 8)).astype(np.uint8))
    pred = torch.from_numpy(rng.integers(0, 21, size=(4, 8, 8)))
    whole = confusion_matrix(gt, pred, 21)
    parts = sum(confusion_matrix(gt[i : i + 1], pred[i : i + 1], 21) for i in range(4))
    assert torch.equal(whole, parts)


def test_miou_over_present_classes_against_a_hand_count():
    """Classes 0-2 of 4 appear in the truth; class 3 never does. Identity predictions except 2 pixels of
    class 1 predicted as 2: IoU 1, 8/10, 5/7 for the present classes, 0 for the absent one."""
    confusion = np.array([[5, 0, 0, 0], [0, 8, 2, 0], [0, 0, 5, 0], [0, 0, 0, 0]])
    result = matched_miou(confusion)
    assert result.present.tolist() == [True, True, True, False]
    np.testing.assert_allclose(result.iou, [1.0, 0.8, 5 / 7, 0.0])
    assert result.miou == pytest.approx((1 + 0.8 + 5 / 7) / 4)
    assert result.miou_present == pytest.approx((1 + 0.8 + 5 / 7) / 3)
