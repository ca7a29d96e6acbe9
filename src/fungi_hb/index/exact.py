"""Exact top-k by dot product: brute force, deterministic, on any torch device."""

from pathlib import Path

import torch

from .base import IndexConfig, NeighborIndex


class ExactIndex(NeighborIndex):
    """Searches the memory rows themselves (no copy of them is saved: the index folder holds only its
    metadata, and loading it takes the memory it was built over)."""

    name = "exact"

    def __init__(self, data: torch.Tensor, k: int, query_chunk: int = 8192) -> None:
        super().__init__(k, data.shape[0], data.shape[1])
        self.data = data  # [M, D] float32, on the search device
        self.query_chunk = query_chunk

    @classmethod
    def build(cls, features: torch.Tensor, config: IndexConfig, device: torch.device) -> "ExactIndex":
        return cls(features.to(device=device, dtype=torch.float32), config.num_neighbors, config.query_chunk)

    @classmethod
    def load(cls, folder: Path, meta: dict, features: torch.Tensor | None, device: torch.device) -> "ExactIndex":
        if features is None:
            raise ValueError("an exact index searches its memory: pass the memory's features")
        return cls(features.to(device=device, dtype=torch.float32), meta["k"], meta.get("query_chunk", 8192))

    def search(self, queries: torch.Tensor, k: int | None = None) -> torch.Tensor:
        k = min(k or self.k, self.size)
        out_device = queries.device
        queries = queries.to(self.data.device, torch.float32)  # (N, D)
        out = [
            torch.topk(queries[start : start + self.query_chunk] @ self.data.T, k, dim=1).indices  # (n, k)
            for start in range(0, queries.shape[0], self.query_chunk)
        ]
        ids = torch.cat(out) if out else torch.empty(0, k, dtype=torch.int64, device=self.data.device)
        return ids.to(out_device)  # (N, k)

    def save(self, folder: Path) -> None:
        pass  # nothing beyond the metadata: the memory's own file holds the rows

    def place(self, features: torch.Tensor) -> torch.Tensor:
        return self.data  # the same rows, already on the search device: no second copy
