"""The interface every index backend implements, and the settings they share."""

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import torch

from fungi_hb.index.config import BUILDS, PRECISIONS, IndexConfig
from fungi_hb.index.source import FeatureSource

__all__ = ["BUILDS", "PRECISIONS", "IndexConfig", "NeighborIndex"]


class NeighborIndex(ABC):
    """Top-k search by dot product over the rows of a memory.

    Attributes:
        name: the backend's name (``index.backend``), also written to the index folder.
        k: neighbours returned when ``search`` is not told otherwise (None only for an index of the
            published code before it has been asked).
        size, dim: rows and width of the indexed memory.
    """

    name: ClassVar[str]
    repeatable_in_process: ClassVar[bool] = True  # False: builds go through index.repeatable (see there)
    # what ``index.reorder_precision`` may keep, most faithful first (the RAM plan tries them in order), and
    # what that precision is of, for messages ("rows": the backend searches the float32 rows themselves)
    precisions: ClassVar[tuple[str, ...]] = ("float32",)
    precision_of: ClassVar[str] = "rows"

    def __init__(self, k: int | None, size: int | None, dim: int | None) -> None:
        self.k, self.size, self.dim = k, size, dim

    @classmethod
    @abstractmethod
    def build(cls, source: FeatureSource, config: IndexConfig, device: torch.device) -> "NeighborIndex":
        """Index the rows of ``source`` with a resolved ``config`` (no "auto" left), for search on ``device``."""

    @classmethod
    @abstractmethod
    def load(cls, folder: Path, meta: dict, features: torch.Tensor | None, device: torch.device) -> "NeighborIndex":
        """An index saved in ``folder`` (``meta`` from its ``fungi_index.json``); ``features`` [M, D] (mapped
        from its file) is the memory it indexes, for backends that search the rows themselves."""

    @classmethod
    @abstractmethod
    def host_bytes(cls, rows: int, dim: int, config: IndexConfig) -> int:
        """Host RAM the index takes while it is built and used, for a resolved ``config``."""

    @classmethod
    def check_available(cls) -> None:
        """Raise a UserError saying how to install the backend's library when it is missing (nothing by
        default); called when the backend is chosen, before the long part."""

    @classmethod
    def warn_about(cls, rows: int, config: IndexConfig) -> None:
        """Log, before the long part, what would go wrong with ``config`` on a memory of ``rows`` (nothing by
        default)."""

    @abstractmethod
    def search(self, queries: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """[N, D] queries -> [N, k] int64 row ids, best first, on the queries' device."""

    @abstractmethod
    def save(self, folder: Path) -> None:
        """Write the backend's files into the (empty) ``folder``."""

    def settings(self) -> dict:
        """How this index was built (recorded in its folder and in results files)."""
        return {}

    def finish(self) -> None:
        """Called by each process when it has no more queries (an index whose search is collective serves
        the other processes' searches until all have finished; nothing by default)."""

    def place(self, features: torch.Tensor) -> torch.Tensor:
        """The memory rows where look-ups next to this index are cheapest (as given by default)."""
        return features

    def returned_k(self) -> int:
        """k, asked with one probe query when the metadata does not say (an index of the published code)."""
        if self.k is None:
            self.k = int(self.search(torch.ones(1, self.dim or 1)).shape[1])
        return self.k
