"""Exact top-k by dot product: brute force, deterministic, on any torch device."""

import logging
from pathlib import Path

import torch

from fungi_hb.index.base import IndexConfig, NeighborIndex
from fungi_hb.index.source import FeatureSource

logger = logging.getLogger(__name__)
SCORE_BYTES = 256 * 2**20  # most bytes of scores computed at once


def device_holds(rows: int, dim: int, device: torch.device) -> bool:
    """Whether [rows, dim] float32 fits comfortably (half the free memory) on a CUDA device."""
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return rows * dim * 4 < free // 2


class ExactIndex(NeighborIndex):
    """Searches the memory rows themselves, which stay where they are: on the GPU when they fit there,
    else mapped from their file and read chunk by chunk (the index folder holds only metadata)."""

    name = "exact"

    def __init__(self, data: torch.Tensor, k: int, config: IndexConfig) -> None:
        super().__init__(k, data.shape[0], data.shape[1])
        self.data = data  # [M, D], on the search device or mapped in host memory
        self.chunk_rows = config.chunk_rows if config.build == "streamed" else data.shape[0]
        self.query_chunk = config.query_chunk
        self.config = config

    @classmethod
    def _place(cls, data: torch.Tensor, config: IndexConfig, device: torch.device) -> torch.Tensor:
        if device.type == "cuda" and (config.build == "in-memory" or device_holds(*data.shape, device)):
            return data.to(device=device, dtype=torch.float32)
        return data  # host RAM (or a file mapping): chunks are moved to the device as they are searched

    @classmethod
    def build(cls, source: FeatureSource, config: IndexConfig, device: torch.device) -> "ExactIndex":
        return cls(cls._place(source.tensor, config, device), config.num_neighbors, config)

    @classmethod
    def load(cls, folder: Path, meta: dict, features: torch.Tensor | None, device: torch.device) -> "ExactIndex":
        if features is None:
            raise ValueError("an exact index searches its memory: pass the memory's features")
        config = IndexConfig(
            **{k: v for k, v in meta.get("config", {}).items() if k in IndexConfig.__dataclass_fields__}
        )
        return cls(cls._place(features, config, device), meta["k"], config)

    @classmethod
    def host_bytes(cls, rows: int, dim: int, config: IndexConfig) -> int:
        return 2 * config.chunk_rows * dim * 4 if config.build == "streamed" else 0  # rows stay in their file

    def search(self, queries: torch.Tensor, k: int | None = None) -> torch.Tensor:
        k = min(k or self.k, self.size)
        device = self.data.device if self.data.device.type == "cuda" else queries.device
        chunk_rows = min(self.chunk_rows, self.size)
        query_chunk = max(1, min(self.query_chunk, SCORE_BYTES // (4 * chunk_rows)))
        out = []
        for q_start in range(0, queries.shape[0], query_chunk):
            q = queries[q_start : q_start + query_chunk].to(device, torch.float32)  # (n, D)
            best_scores, best_ids = None, None
            for start in range(0, self.size, chunk_rows):
                block = self.data[start : start + chunk_rows].to(device, torch.float32)  # (m, D)
                scores, ids = torch.topk(q @ block.T, min(k, block.shape[0]), dim=1)  # (n, k')
                ids = ids + start
                if best_scores is not None:  # merge with the best of the earlier chunks
                    scores, order = torch.topk(torch.cat([best_scores, scores], 1), k, dim=1)
                    ids = torch.gather(torch.cat([best_ids, ids], 1), 1, order)
                best_scores, best_ids = scores, ids
            out.append(best_ids)
        ids = torch.cat(out) if out else torch.empty(0, k, dtype=torch.int64)
        return ids.to(queries.device)  # (N, k)

    def save(self, folder: Path) -> None:
        pass  # nothing beyond the metadata: the memory's own file holds the rows

    def settings(self) -> dict:
        return {"build": self.config.build, "rows_on": str(self.data.device)}

    def place(self, features: torch.Tensor) -> torch.Tensor:
        return self.data if self.data.device.type == "cuda" else features  # on the GPU: no second copy
