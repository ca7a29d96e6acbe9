"""The results file of an evaluation: the score, what it was computed from, and how."""

from dataclasses import asdict

import torch

from fungi_hb.data.datasets.base import ClassSpec
from fungi_hb.evaluation.miou import MiouResult
from fungi_hb.features.backbones import BackboneInfo
from fungi_hb.identity import MemoryIdentity
from fungi_hb.jobs.configs import EvalJob
from fungi_hb.jsonable import to_jsonable
from fungi_hb.system import environment, provenance


def eval_results(
    job: EvalJob,
    result: MiouResult,
    *,
    confusion: torch.Tensor,
    classes: ClassSpec,
    dataset_label: str,
    identity: MemoryIdentity,
    info: BackboneInfo,
    counts: dict[str, int],
    index: dict,
    support_bank: str | None,
    device: torch.device,
    seconds: dict[str, float],
    started: str,
) -> dict:
    """The results dict (``output``): mIoU, per-class IoU and counts, the identity of the features and
    memory, every setting, versions and timings. ``counts``: train/val images, memory rows and width;
    ``index``: backend, settings and how it was built; ``support_bank``: who made the support bank."""
    fungi = identity.features.fungi
    return {
        "miou": result.miou,
        "miou_percent": round(100 * result.miou, 2),
        "dataset": classes.name,
        "dataset_label": dataset_label,
        "num_classes": classes.num_classes,
        "class_names": list(classes.class_names),
        "per_class_iou": {name: float(v) for name, v in zip(classes.class_names, result.iou)},
        "present_classes": [name for name, here in zip(classes.class_names, result.present) if here],
        "miou_present_percent": round(100 * result.miou_present, 2) if result.present.any() else None,
        "tp": result.tp.tolist(),
        "fp": result.fp.tolist(),
        "fn": result.fn.tolist(),
        "matching": result.matching.tolist(),
        "pixels": int(confusion.sum()),
        **counts,
        "index_backend": index["backend"],
        "index": index,
        "features": job.features,
        "negatives_layout": fungi.negatives_layout if fungi else None,
        "num_negatives": fungi.num_negatives if fungi else None,
        "support_bank": support_bank,
        "feature_identity": to_jsonable(identity.features),
        "memory_identity": to_jsonable(identity),
        "backbone": asdict(info),
        "settings": to_jsonable(job),
        "environment": environment(device),
        "seconds": seconds,
        "provenance": provenance(started),
    }
