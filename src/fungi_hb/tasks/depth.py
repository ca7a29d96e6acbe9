"""Monocular depth estimation in context (HummingBird's second task): a memory row carries its patch's mean
measured depth and the measured share; neighbours' depths are averaged with the softmax weights of the
segmentation task, renormalised over the neighbours that carry a depth; the patch grid is upsampled
bilinearly to pixels; RMSE, AbsRel, log10 and delta1..3 are computed from sums over the scored pixels
(``evaluation.depth``; NYUv2 with its evaluation crop and a 10 m cap)."""

from pathlib import Path

import torch

from fungi_hb.data.datasets.base import DepthSpec
from fungi_hb.evaluation.depth import (
    SUMS,
    depth_metrics,
    depth_sums,
    patch_depths,
    scored_pixels,
    transfer_depth,
    upsample_depth,
)
from fungi_hb.evaluation.depth_pictures import save_depth_pictures
from fungi_hb.evaluation.pictures import Picture
from fungi_hb.tasks.base import Task, register

UNMEASURED_RANK = 2.0  # added to a patch's noise when nothing in it was measured: such patches come last


@register
class Depth(Task):
    name = "depth"
    headline = "rmse"
    higher_is_better = False
    sums = SUMS

    def __init__(self, spec: DepthSpec) -> None:
        self.spec = spec
        self.bounds = (spec.min_depth, spec.max_depth)

    @property
    def value_width(self) -> int:
        return 2  # mean measured depth, measured share

    def patch_values(self, targets: torch.Tensor, patch_size: int) -> torch.Tensor:
        return patch_depths(targets, patch_size)  # (B, G, G, 2)

    def select(self, values: torch.Tensor, keep: int, noise: torch.Tensor) -> torch.Tensor:
        """A bounded memory keeps a uniform random choice of the patches with a measured depth (those without
        come last): depth has no classes to favour the rare ones of."""
        unmeasured = (values[..., 1] <= 0).to(noise.dtype) * UNMEASURED_RANK  # (B, P)
        return torch.topk(noise + unmeasured, k=keep, dim=1, largest=False).indices  # (B, s)

    def transfer(
        self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, temperature: float
    ) -> torch.Tensor:
        return transfer_depth(queries, keys, values, temperature)  # (N, 2)

    def to_pixels(self, patch_predictions: torch.Tensor, size: int) -> torch.Tensor:
        return upsample_depth(patch_predictions, size)  # (B, S, S) metres

    def score(self, targets: torch.Tensor, predicted: torch.Tensor) -> dict[str, torch.Tensor]:
        truth = targets[:, 0].to(predicted.device)  # (B, S, S)
        valid = scored_pixels(truth, self.spec.crop, self.bounds)  # (B, S, S)
        return depth_sums(truth, predicted, valid, self.bounds)

    def metrics(self, sums: dict[str, torch.Tensor]) -> dict:
        spec = self.spec
        scoring = {"max_depth": spec.max_depth, "min_depth": spec.min_depth, "crop": spec.crop}
        return {**depth_metrics(sums), "depth_scoring": scoring}

    def log_details(self, metrics: dict) -> str:
        return f"Depth over {metrics['pixels']} scored pixels (lower errors are better): {self.figures(metrics)}"

    @staticmethod
    def figures(metrics: dict) -> str:
        if metrics.get("rmse") is None:
            return "no pixel was scored"
        return (
            f"RMSE {metrics['rmse']:.3f} m, AbsRel {metrics['abs_rel']:.3f}, log10 {metrics['log10']:.3f}, "
            f"delta1 {metrics['delta1']:.3f}, delta2 {metrics['delta2']:.3f}, delta3 {metrics['delta3']:.3f}"
        )

    @classmethod
    def headline_text(cls, metrics: dict) -> str:
        return f"RMSE: {metrics['rmse']:.3f} m" if metrics.get("rmse") is not None else "RMSE: no pixel was scored"

    @classmethod
    def summary(cls, metrics: dict) -> list[str]:
        return [cls.figures(metrics)]

    def picture_tensors(self, targets: torch.Tensor, predicted: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return targets[:, 0].float(), predicted.float()

    def save_pictures(self, folder: Path, pictures: list[Picture], metrics: dict) -> None:
        save_depth_pictures(folder, pictures, metrics)
