"""Streaming confusion matrix and Hungarian-matched mIoU (METHOD section 7).

The metric is computed from a C x C confusion matrix, so no pixel needs to be kept after its batch.
"""

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from fungi_hb.memory.patch_labels import IGNORE_INDEX


def confusion_matrix(gt: torch.Tensor, pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts of (ground-truth class, predicted id) over the pixels whose ground truth is not 255.

    Args:
        gt: [...] integer ground truth (255 = ignore).
        pred: [...] integer predicted ids in 0..C-1, same shape.
    Returns:
        [C, C] int64, rows = ground truth, columns = predicted id.
    """
    gt = gt.reshape(-1).long()  # (N,)
    pred = pred.reshape(-1).long()  # (N,)
    valid = gt != IGNORE_INDEX
    flat = gt[valid] * num_classes + pred[valid]  # (N_valid,)
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass(frozen=True)
class MiouResult:
    """Matched mIoU and the per-class counts behind it."""

    miou: float  # mean IoU over all C classes (absent classes count as 0)
    iou: np.ndarray  # [C] float64 per-class IoU
    tp: np.ndarray  # [C] int64
    fp: np.ndarray  # [C] int64
    fn: np.ndarray  # [C] int64
    matching: np.ndarray  # [C_pred] class assigned to each predicted id

    @property
    def present(self) -> np.ndarray:
        """[C] bool: classes with at least one scored ground-truth pixel."""
        return (self.tp + self.fn) > 0

    @property
    def miou_present(self) -> float:
        """Mean IoU over the present classes only (nan when none is): a second figure for datasets whose
        validation images show few of the classes; the published figure is ``miou``."""
        return float(self.iou[self.present].mean()) if self.present.any() else float("nan")


def pairwise_iou(confusion: np.ndarray) -> np.ndarray:
    """IoU between every ground-truth class (rows) and predicted id (columns): [C, C] float64."""
    conf = confusion.astype(np.float64)
    union = conf.sum(1, keepdims=True) + conf.sum(0, keepdims=True) - conf
    return conf / np.maximum(union, 1e-8)


def matched_miou(confusion: np.ndarray | torch.Tensor) -> MiouResult:
    """Hungarian matching of predicted ids to classes on IoU, then per-class IoU and their mean.

    Args:
        confusion: [C, C_pred] counts, rows = ground truth, columns = predicted id.
    """
    conf = np.asarray(confusion, dtype=np.int64)
    num_classes, num_pred = conf.shape
    gt_idx, pred_idx = linear_sum_assignment(1.0 - pairwise_iou(conf))
    matching = np.zeros(num_pred, dtype=np.int64)  # predicted ids left unmatched become class 0
    matching[pred_idx] = gt_idx
    remapped = np.zeros((num_classes, num_classes), dtype=np.int64)  # (gt, matched class)
    for pred_id in range(num_pred):
        remapped[:, matching[pred_id]] += conf[:, pred_id]
    tp = np.diag(remapped).copy()
    fp = remapped.sum(0) - tp
    fn = remapped.sum(1) - tp
    iou = tp / np.maximum(tp + fp + fn, 1e-8)
    return MiouResult(miou=float(iou.mean()), iou=iou, tp=tp, fp=fp, fn=fn, matching=matching)
