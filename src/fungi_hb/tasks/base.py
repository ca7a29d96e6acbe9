"""What a task declares, and the registry tasks put themselves in.

A task is one module in ``tasks/`` whose ``Task`` subclass is decorated with ``@register``; a dataset names
its task (``DatasetKind.task``). The four rules (``patch_values``, ``transfer``, ``to_pixels``, ``score``)
are pure tensor functions; scores are sums, so that pieces and processes add up exactly.
"""

import importlib
import pkgutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import torch

from fungi_hb.evaluation.pictures import Picture

_REGISTERED: dict[str, type["Task"]] = {}


class Task(ABC):
    """One in-context task over one dataset's targets."""

    name: ClassVar[str]
    headline: ClassVar[str]  # the results file's main figure ("miou", "rmse")
    sums: ClassVar[tuple[str, ...]]  # the keys of ``score``: summed over batches, pieces and processes
    higher_is_better: ClassVar[bool]

    @property
    @abstractmethod
    def value_width(self) -> int:
        """W: what one memory row carries besides its feature (C class shares; depth and its share)."""

    @property
    def value_dtype(self) -> torch.dtype:
        """How pieces keep the values (float32 unless something leaner is exact)."""
        return torch.float32

    @abstractmethod
    def patch_values(self, targets: torch.Tensor, patch_size: int) -> torch.Tensor:
        """Targets [B, 1, S, S] -> the values of each patch [B, G, G, W]."""

    @abstractmethod
    def select(self, values: torch.Tensor, keep: int, noise: torch.Tensor) -> torch.Tensor:
        """The ``keep`` patches of each image a bounded memory keeps: values [B, P, W], U(0, 1) noise [B, P]
        -> patch indices [B, keep]."""

    @abstractmethod
    def transfer(
        self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, temperature: float
    ) -> torch.Tensor:
        """Queries [N, D], their neighbours' keys [N, k, D] and values [N, k, W] -> predicted values [N, W]."""

    @abstractmethod
    def to_pixels(self, patch_predictions: torch.Tensor, size: int) -> torch.Tensor:
        """[B, G, G, W] -> the prediction of every pixel [B, S, S]."""

    @abstractmethod
    def score(self, targets: torch.Tensor, predicted: torch.Tensor) -> dict[str, torch.Tensor]:
        """Sums over the pixels of a batch (targets [B, 1, S, S], predictions [B, S, S]); summed over
        batches, pieces and processes, they give the metrics (``metrics``)."""

    @abstractmethod
    def metrics(self, sums: dict[str, torch.Tensor]) -> dict:
        """The results file's figures from the summed scores (the headline among them)."""

    @abstractmethod
    def log_details(self, metrics: dict) -> str:
        """One line for the log: the figures behind the headline."""

    @classmethod
    @abstractmethod
    def summary(cls, metrics: dict) -> list[str]:
        """The closing lines on stdout: the headline first (from a results file's figures alone)."""

    @classmethod
    @abstractmethod
    def headline_text(cls, metrics: dict) -> str:
        """The headline figure for the log's last line: ``mIoU: 46.80%``, ``RMSE: 0.512 m``."""

    @abstractmethod
    def save_pictures(self, folder: Path, pictures: list[Picture], metrics: dict) -> None:
        """Pictures of predictions, and an index.html showing them."""

    def picture_tensors(self, targets: torch.Tensor, predicted: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """How a piece keeps what is pictured of some images (compact dtypes): (targets [b, S, S], predicted)."""
        return targets[:, 0], predicted


def register(cls: type[Task]) -> type[Task]:
    """Class decorator: make ``cls`` the task of its ``name``."""
    _REGISTERED[cls.name] = cls
    return cls


def tasks() -> dict[str, type[Task]]:
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name != "base":
            importlib.import_module(f"{__package__}.{module.name}")
    return dict(_REGISTERED)
