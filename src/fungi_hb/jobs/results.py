"""The results file of an evaluation: the task's figures at its top level, what they were computed from, and
how."""

from dataclasses import asdict, dataclass

import torch

from fungi_hb.features.models.base import BackboneInfo
from fungi_hb.identity import MemoryIdentity
from fungi_hb.jobs.configs import EvalJob
from fungi_hb.jsonable import to_jsonable
from fungi_hb.system import environment, provenance


@dataclass(frozen=True)
class EvalReport:
    """What a run learns besides its settings: the figures and the facts behind them."""

    task: str  # "segmentation" or "depth"
    metrics: dict  # the task's figures (``Task.metrics``)
    dataset: str  # as identities record it ("voc", "ade20k-150", "nyuv2", ...)
    dataset_label: str  # for people (your own data: the folder's name)
    identity: MemoryIdentity  # of the evaluation memory
    info: BackboneInfo
    counts: dict[str, int]  # train/val images, memory rows and width, processes
    index: dict  # backend, its library's version, settings and how it was built
    support_bank: str | None  # who made the support bank (FUNGI)
    device: torch.device
    seconds: dict[str, float]  # of each stage
    started: str  # UTC


def eval_results(job: EvalJob, report: EvalReport) -> dict:
    """The results dict (``output``): the figures, the identity of the features and memory, every setting,
    versions and timings."""
    fungi = report.identity.features.fungi
    return {
        "task": report.task,
        **report.metrics,
        "dataset": report.dataset,
        "dataset_label": report.dataset_label,
        **report.counts,
        "index_backend": report.index["backend"],
        "index": report.index,
        "features": job.features,
        "negatives_layout": fungi.negatives_layout if fungi else None,
        "num_negatives": fungi.num_negatives if fungi else None,
        "support_bank": report.support_bank,
        "feature_identity": to_jsonable(report.identity.features),
        "memory_identity": to_jsonable(report.identity),
        "backbone": asdict(report.info),
        "settings": to_jsonable(job),
        "environment": environment(report.device),
        "seconds": report.seconds,
        "provenance": provenance(report.started),
    }
