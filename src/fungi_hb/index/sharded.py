"""Exact search sharded over the processes of a torchrun job, for memories larger than one device (or one
host) holds: each process keeps 1/N of the memory's chunks (mapped from the memory's file, on its GPU
where the share fits) and searches every process's queries against them; the candidates of all shares
are merged in the exact index's order (score, then row id). Every score is computed in the exact index's
fixed geometry, so the neighbours are the same bits as one process's exact search.

``search`` is collective: every process calls it in rounds, each with its own queries (any number, none
included), and calls ``finish`` when it has no more; the rounds go on until every process has finished.
Between its first ``search`` and ``finish`` a process may make no other collective call.
"""

import logging
from pathlib import Path

import torch
import torch.distributed as dist

from fungi_hb.index.backends.exact import ExactIndex, Geometry, config_of, device_holds, ordered, search_chunks
from fungi_hb.index.base import IndexConfig
from fungi_hb.index.registry import read_index_meta

logger = logging.getLogger(__name__)


class ShardedExactIndex(ExactIndex):
    """The share of process ``rank`` of ``size`` of an exact index over ``features`` [M, D]."""

    def __init__(
        self, features: torch.Tensor, k: int, config: IndexConfig, device: torch.device, rank: int, size: int
    ) -> None:
        geometry = Geometry.of(features.shape[0], config)
        self.chunks = range(*geometry.share(rank, size))
        start = geometry.chunk(self.chunks.start)[0] if len(self.chunks) else 0
        end = geometry.chunk(self.chunks.stop - 1)[1] if len(self.chunks) else 0
        share = features[start:end]  # (m, D): still the mapping of the memory's file
        if device_holds(*share.shape, device):  # else searched from the mapping, chunk by chunk
            share = share.to(device=device, dtype=torch.float32)
        super().__init__(share, k, config)
        self.size, self.dim = features.shape  # the whole memory's, not the share's
        self.features = features
        self.geometry, self.rank, self.world = geometry, rank, size
        self.search_device = share.device if share.device.type == "cuda" else device
        self.comm_device = device if dist.get_backend() == "nccl" else torch.device("cpu")
        if end > start:
            logger.info(
                "Exact search sharded over %d processes: this one holds rows %d to %d of %d (%s).",
                size, start, end, features.shape[0], share.device,
            )  # fmt: skip
        else:
            logger.info("Exact search sharded over %d processes: the memory's chunks are all elsewhere.", size)

    def search(self, queries: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """[N, D] -> [N, k] row ids; every process must call it (see the module docstring)."""
        ids, _ = self._round(queries, min(k or self.k, self.size), active=True)
        return ids.to(queries.device)

    def finish(self) -> None:
        """Serve the other processes' searches until every process has finished."""
        nothing = torch.empty(0, self.dim)
        while self._round(nothing, min(self.k, self.size), active=False)[1]:
            pass

    def _gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        parts = [torch.empty_like(tensor) for _ in range(self.world)]
        dist.all_gather(parts, tensor.contiguous())
        return parts

    def _round(self, queries: torch.Tensor, k: int, active: bool) -> tuple[torch.Tensor, bool]:
        """This process's neighbour ids [N, k], and whether any process is still searching."""
        # each process's queries padded to whole query blocks, so that every query sits in its block where it
        # would in its own process's search: only "same shapes, same bits" is asked of BLAS
        block = self.geometry.query_chunk
        count = queries.shape[0]
        header = torch.tensor([count, int(active), k], dtype=torch.int64, device=self.comm_device)
        headers = torch.stack(self._gather(header)).cpu()  # (P, 3)
        counts = headers[:, 0].tolist()
        if len(set(headers[:, 2].tolist())) > 1:
            raise RuntimeError(f"the processes asked for different k in one round: {headers[:, 2].tolist()}")
        anyone = bool(headers[:, 1].any())
        if sum(counts) == 0:
            return torch.empty(0, k, dtype=torch.int64), anyone
        blocks = [-(-c // block) * block for c in counts]  # rows each process's queries take, padded
        padded = torch.zeros(max(blocks), self.dim, device=self.comm_device)  # (W, D)
        padded[:count] = queries.to(self.comm_device, torch.float32)
        everyone = torch.cat([part[:rows] for part, rows in zip(self._gather(padded), blocks)])  # (sum W, D)
        scores, ids = search_chunks(everyone, self.data, self.chunks, self.geometry, k, self.search_device)
        scores = torch.cat(self._gather(scores.to(self.comm_device)), dim=1)  # (sum W, P*k)
        ids = torch.cat(self._gather(ids.to(self.comm_device)), dim=1)
        _, ids = ordered(scores, ids, k)  # (sum W, k)
        first = sum(blocks[: self.rank])
        return ids[first : first + count].cpu(), anyone

    def settings(self) -> dict:
        share = self.geometry.chunk(self.chunks.start)[0] if len(self.chunks) else 0
        return {**super().settings(), "sharded_over": self.world, "first_row_here": share}

    def place(self, features: torch.Tensor) -> torch.Tensor:
        return features  # label transfer reads any row: the whole memory, as mapped


def load_sharded(
    folder: Path, features: torch.Tensor, device: torch.device, rank: int, size: int
) -> tuple[ShardedExactIndex, dict]:
    """This process's share of the exact index in ``folder`` over ``features`` [M, D] (mapped from its file)."""
    meta = read_index_meta(folder)
    if meta.get("backend") != ExactIndex.name:
        raise ValueError(f"a sharded search needs an exact index, {folder} holds a {meta.get('backend')} one")
    return ShardedExactIndex(features, meta["k"], config_of(meta), device, rank, size), meta
