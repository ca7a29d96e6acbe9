"""The interface every index backend implements, and the settings they share."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from fungi_hb.index.source import FeatureSource

BUILDS = ("auto", "in-memory", "streamed")
PRECISIONS = ("auto", "float32", "bfloat16", "int8")


@dataclass(frozen=True)
class IndexConfig:
    """How to index a memory; the ScaNN fields are the published flags."""

    backend: str = "auto"  # "scann" (the paper), "exact" (brute force) or "auto" (scann where installed)
    num_neighbors: int = 30  # k returned per query (fixed at build time for ScaNN)
    num_leaves: int = 512  # ScaNN tree leaves; clamped to the memory size with a warning
    num_leaves_to_search: int = 32  # ScaNN leaves searched per query
    num_reordering_candidates: int = 120  # ScaNN candidates re-ranked exactly
    anisotropic_quantization_threshold: float = 0.2  # ScaNN AH threshold
    dimensions_per_block: int = 4  # ScaNN AH dimensions per block
    build: str = "auto"  # "in-memory" (every row at once, as published), "streamed" (from disk in chunks), "auto"
    reorder_precision: str = "auto"  # ScaNN re-ranking data: float32 (as published), bfloat16 or int8
    training_sample: int = 250_000  # streamed ScaNN: rows the tree and quantiser are trained on
    chunk_rows: int = 131_072  # rows per chunk when streaming (build and exact search)
    query_chunk: int = 8192  # exact search: most queries per matrix product


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

    def place(self, features: torch.Tensor) -> torch.Tensor:
        """The memory rows where look-ups next to this index are cheapest (as given by default)."""
        return features

    def returned_k(self) -> int:
        """k, asked with one probe query when the metadata does not say (an index of the published code)."""
        if self.k is None:
            self.k = int(self.search(torch.ones(1, self.dim or 1)).shape[1])
        return self.k
