"""Semantic segmentation (method sections 2, 4 and 7): a memory row carries its patch's class distribution;
neighbours' distributions are averaged with softmax weights; the upsampled class scores' argmax is the
prediction; the Hungarian-matched mIoU is computed from a confusion matrix summed over every pixel."""

from pathlib import Path

import torch

from fungi_hb.data.datasets.base import ClassSpec
from fungi_hb.evaluation.label_transfer import transfer_labels, upsample_predictions
from fungi_hb.evaluation.miou import confusion_matrix, matched_miou
from fungi_hb.evaluation.pictures import Picture, save_pictures
from fungi_hb.memory.patch_labels import patch_label_distributions
from fungi_hb.memory.sampling import select_patches
from fungi_hb.tasks.base import Task, register


@register
class Segmentation(Task):
    name = "segmentation"
    headline = "miou"
    sums = ("confusion",)
    higher_is_better = True

    def __init__(self, classes: ClassSpec) -> None:
        self.classes = classes

    @property
    def value_width(self) -> int:
        return self.classes.num_classes

    @property
    def value_dtype(self) -> torch.dtype:
        return torch.float16  # class shares are multiples of 1/p^2: exact in float16

    def patch_values(self, targets: torch.Tensor, patch_size: int) -> torch.Tensor:
        return patch_label_distributions(targets, patch_size, self.classes.num_classes, self.classes.ignore_as_class)

    def select(self, values: torch.Tensor, keep: int, noise: torch.Tensor) -> torch.Tensor:
        return select_patches(values, keep, noise)  # rare classes first

    def transfer(
        self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, temperature: float
    ) -> torch.Tensor:
        return transfer_labels(queries, keys, values, temperature)

    def to_pixels(self, patch_predictions: torch.Tensor, size: int) -> torch.Tensor:
        return upsample_predictions(patch_predictions, size)  # (B, S, S) class ids

    def score(self, targets: torch.Tensor, predicted: torch.Tensor) -> dict[str, torch.Tensor]:
        confusion = confusion_matrix(targets[:, 0].to(predicted.device), predicted, self.classes.num_classes)
        return {"confusion": confusion.cpu()}  # (C, C)

    def metrics(self, sums: dict[str, torch.Tensor]) -> dict:
        confusion = sums["confusion"]
        result = matched_miou(confusion.numpy())
        names = self.classes.class_names
        present = [name for name, here in zip(names, result.present) if here]
        return {
            "miou": result.miou,
            "miou_percent": round(100 * result.miou, 2),
            "num_classes": self.classes.num_classes,
            "class_names": list(names),
            "per_class_iou": {name: float(v) for name, v in zip(names, result.iou)},
            "present_classes": present,
            "miou_present": result.miou_present if present else None,
            "miou_present_percent": round(100 * result.miou_present, 2) if present else None,
            "tp": result.tp.tolist(),
            "fp": result.fp.tolist(),
            "fn": result.fn.tolist(),
            "matching": result.matching.tolist(),
            "pixels": int(confusion.sum()),
        }

    def log_details(self, metrics: dict) -> str:
        shown = [(name, metrics["per_class_iou"][name]) for name in metrics["present_classes"]]
        absent = metrics["num_classes"] - len(shown)
        note = f" ({absent} absent classes count as 0 in the mIoU)" if absent else ""
        return f"Per-class IoU of the {len(shown)} classes present in the validation truth{note}: " + ", ".join(
            f"{name} {100 * value:.1f}" for name, value in shown
        )

    @classmethod
    def headline_text(cls, metrics: dict) -> str:
        return f"mIoU: {metrics['miou_percent']:.2f}%"

    @classmethod
    def summary(cls, metrics: dict) -> list[str]:
        present, total = len(metrics["present_classes"]), metrics["num_classes"]
        lines = [f"mIoU {metrics['miou_percent']:.2f}%"]
        if 0 < present < total:
            lines.append(
                f"mIoU over the {present} classes present in the validation truth: "
                f"{metrics['miou_present_percent']:.2f}% (the figure above counts the {total - present} absent "
                "classes as 0, as published)"
            )
        return lines

    def picture_tensors(self, targets: torch.Tensor, predicted: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return targets[:, 0], predicted.to(torch.uint8)

    def save_pictures(self, folder: Path, pictures: list[Picture], metrics: dict) -> None:
        save_pictures(folder, pictures, self.classes, metrics)
