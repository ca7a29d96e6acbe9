"""The interface every index backend implements, and the registry the backends put themselves in.

A backend is one module in ``index/backends/`` whose ``NeighborIndex`` subclass is decorated with
``@register`` and whose ``name`` is the module's name; nothing else lists it.
"""

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import torch

from fungi_hb.errors import UserError
from fungi_hb.index.config import BUILDS, PRECISIONS, IndexConfig
from fungi_hb.index.source import FeatureSource

__all__ = ["BUILDS", "PRECISIONS", "IndexConfig", "NeighborIndex", "register"]

_REGISTERED: dict[str, type["NeighborIndex"]] = {}


def register(cls: type["NeighborIndex"]) -> type["NeighborIndex"]:
    """Class decorator: make ``cls`` the backend of its ``name``."""
    module = cls.__module__.rsplit(".", 1)[-1]
    if cls.name != module:
        raise TypeError(f"the backend in index/backends/{module}.py must be named {module!r}, not {cls.name!r}")
    _REGISTERED[cls.name] = cls
    return cls


def registered() -> dict[str, type["NeighborIndex"]]:
    """The backends registered so far (``index.registry.backends`` imports them all first)."""
    return dict(_REGISTERED)


class NeighborIndex(ABC):
    """Top-k search by dot product over the rows of a memory.

    Attributes:
        name: the backend's name (``index.backend``), also written to the index folder.
        k: neighbours returned when ``search`` is not told otherwise (None only for an index of the
            published code before it has been asked).
        size, dim: rows and width of the indexed memory.
    """

    name: ClassVar[str]
    # what ``index.reorder_precision`` may keep, most faithful first (the RAM plan tries them in order), and
    # what that precision is of, for messages ("rows": the backend searches the float32 rows themselves)
    precisions: ClassVar[tuple[str, ...]] = ("float32",)
    precision_of: ClassVar[str] = "rows"
    auto_rank: ClassVar[int] = 0  # `index.backend` auto takes the usable backend of highest rank (0: never)
    min_rows: ClassVar[int] = 1  # smaller memories get the exact index instead

    def __init__(self, k: int | None, size: int | None, dim: int | None) -> None:
        self.k, self.size, self.dim = k, size, dim

    @classmethod
    @abstractmethod
    def build(cls, source: FeatureSource, config: IndexConfig, device: torch.device) -> "NeighborIndex":
        """Index the rows of ``source`` with a resolved ``config`` (no "auto" left), for search on ``device``.
        The same rows and settings must give the same index in every run."""

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
    def unusable(cls, rows: int | None) -> str | None:
        """Why this backend cannot index a memory of ``rows`` rows here (its library missing, too few rows),
        for ``index.backend`` auto; None when it can."""
        if rows is not None and rows < cls.min_rows:
            return f"a memory of {rows} rows is too small for it (at least {cls.min_rows})"
        return None

    @classmethod
    def check_available(cls) -> None:
        """Raise a UserError saying how to install the backend's library when it is missing (nothing by
        default); called when the backend is chosen, before the long part."""

    @classmethod
    def check_config(cls, config: IndexConfig) -> None:
        """Raise a UserError, before the long part, for settings this backend cannot honour."""

    @classmethod
    def warn_about(cls, rows: int, config: IndexConfig) -> None:
        """Log, before the long part, what would go wrong with ``config`` on a memory of ``rows`` (nothing by
        default)."""

    @classmethod
    def library_version(cls) -> str | None:
        """The version of the library behind the backend, for results files (None: torch's own code)."""
        return None

    @classmethod
    def recognises(cls, folder: Path) -> bool:
        """Whether ``folder``, which holds no metadata of ours, is an index of this backend written by the
        published code (nothing by default)."""
        return False

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


def unknown_backend(name: str, known: list[str]) -> UserError:
    return UserError(f"Unknown `index.backend` {name!r}: use auto, {', '.join(known)}.")
