"""Exact top-k by dot product: brute force, deterministic, on any torch device.

The result is defined without ambiguity: the k rows of highest score, ties broken by the lower row id,
in that order. Scores are computed in a fixed geometry: the memory in chunks of ``chunk_rows`` rows from
row 0, the queries in zero-padded blocks of ``query_chunk`` rows, so that a score is the same bits however
the queries are batched and however the chunks are shared out (``index.sharded`` splits them over
processes; BLAS gives other bits for other matrix shapes).
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from fungi_hb.errors import UserError
from fungi_hb.index.base import IndexConfig, NeighborIndex, register
from fungi_hb.index.source import FeatureSource

logger = logging.getLogger(__name__)
SCORE_BYTES = 256 * 2**20  # most bytes of scores computed at once
NO_ROW = torch.iinfo(torch.int64).max  # the id of a missing candidate: after every real row
MERGE_EVERY = 16  # chunks whose candidates are kept before they are merged down to k
QUERY_ALIGN = 64  # query blocks are a multiple of this: MKL gave other bits at some small block sizes


def device_holds(rows: int, dim: int, device: torch.device) -> bool:
    """Whether [rows, dim] float32 fits comfortably (half the free memory) on a CUDA device."""
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return rows * dim * 4 < free // 2


@dataclass(frozen=True)
class Geometry:
    """How an exact search of a memory of ``rows`` rows cuts its work (the same in every process)."""

    rows: int  # M
    chunk_rows: int  # rows per memory chunk
    query_chunk: int  # queries per (zero-padded) block

    @classmethod
    def of(cls, rows: int, config: IndexConfig) -> "Geometry":
        chunk_rows = max(1, min(config.chunk_rows, rows))
        query_chunk = min(config.query_chunk, SCORE_BYTES // (4 * chunk_rows)) // QUERY_ALIGN * QUERY_ALIGN
        return cls(rows, chunk_rows, max(QUERY_ALIGN, query_chunk))

    @property
    def num_chunks(self) -> int:
        return -(-self.rows // self.chunk_rows)

    def chunk(self, index: int) -> tuple[int, int]:
        """[start, end) rows of chunk ``index``."""
        return index * self.chunk_rows, min((index + 1) * self.chunk_rows, self.rows)

    def share(self, rank: int, size: int) -> tuple[int, int]:
        """[first, last) chunks of process ``rank`` of ``size``: contiguous, sizes differing by at most one."""
        return self.num_chunks * rank // size, self.num_chunks * (rank + 1) // size


def config_of(meta: dict) -> IndexConfig:
    """The settings an index folder's metadata records (fields of other versions left out)."""
    return IndexConfig(**{k: v for k, v in meta.get("config", {}).items() if k in IndexConfig.__dataclass_fields__})


def ordered(scores: torch.Tensor, ids: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The best ``k`` of candidate (score, id) pairs [n, c]: score descending, then id ascending."""
    ids, by_id = ids.sort(dim=1)  # (n, c)
    scores = scores.gather(1, by_id)
    scores, by_score = scores.sort(dim=1, descending=True, stable=True)  # equal scores keep id order
    return scores[:, :k], ids.gather(1, by_score)[:, :k]


def top_k(scores: torch.Tensor, first_row: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The best ``k`` columns of ``scores`` [n, m] (rows ``first_row``.. of the memory) in the order of
    ``ordered``: ``torch.topk``, whose choice among equal scores at the k-th place is unspecified, with
    those places given to the lowest ids where it matters."""
    k = min(k, scores.shape[1])
    if torch.isnan(scores).any():
        raise UserError(
            "Searching the memory gave NaN scores: the memory or the queries hold NaN values (float16 overflow, or "
            "a damaged features file). Rebuild the memory, or run without `runtime.use_fp16`."
        )
    values, columns = torch.topk(scores, min(k + 1, scores.shape[1]), dim=1)  # (n, k+1): one more, to see ties
    last = values[:, k - 1 : k]  # (n, 1) the k-th score
    tied = values[:, k] == last[:, 0] if values.shape[1] > k else torch.zeros(len(values), dtype=torch.bool)
    values, columns = values[:, :k], columns[:, :k]  # (n, k); ``tied`` rows may have left out an equal score
    if tied.any():
        sub = scores[tied]  # (t, m)
        above = sub > last[tied]
        at = sub == last[tied]
        room = k - above.sum(1, keepdim=True)  # (t, 1) places left for the equal scores
        keep = above | (at & (at.cumsum(1) <= room))  # (t, m): exactly k per row, equal ones by lowest id
        kept = keep.nonzero()[:, 1].view(-1, k)  # (t, k) ascending columns
        columns = columns.clone()
        values = values.clone()
        columns[tied], values[tied] = kept, sub.gather(1, kept)
    return ordered(values, columns + first_row, k)


def search_chunks(
    queries: torch.Tensor, data: torch.Tensor, chunks: range, geometry: Geometry, k: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores and ids [N, k] of the best ``k`` rows among memory chunks ``chunks`` for ``queries`` [N, D],
    in the order of ``ordered``. ``data`` holds exactly the rows of those chunks, from the first one's start.
    Where the chunks hold fewer than k rows, the rest is (-inf, NO_ROW)."""
    count = queries.shape[0]
    best_scores = torch.full((count, k), -torch.inf, device=device)
    best_ids = torch.full((count, k), NO_ROW, dtype=torch.int64, device=device)
    if count == 0 or len(chunks) == 0:
        return best_scores, best_ids
    offset = geometry.chunk(chunks.start)[0]
    block_rows = geometry.query_chunk
    padded = torch.zeros(-(-count // block_rows) * block_rows, queries.shape[1], device=device)  # (N', D)
    padded[:count] = queries.to(device, torch.float32)
    found: list[tuple[torch.Tensor, torch.Tensor]] = []  # each chunk's best, merged in groups (bounded memory)
    for index in chunks:
        start, end = geometry.chunk(index)
        rows = data[start - offset : end - offset].to(device, torch.float32)  # (m, D)
        parts = []
        for q_start in range(0, count, block_rows):
            scores = padded[q_start : q_start + block_rows] @ rows.T  # (block, m): always the same shape
            parts.append(top_k(scores[: min(block_rows, count - q_start)], start, k))
        found.append((torch.cat([s for s, _ in parts]), torch.cat([i for _, i in parts])))  # (N, k') each
        if len(found) == MERGE_EVERY:
            found = [ordered(torch.cat([s for s, _ in found], 1), torch.cat([i for _, i in found], 1), k)]
    scores = torch.cat([best_scores, *(s for s, _ in found)], 1)  # (N, k + ...)
    ids = torch.cat([best_ids, *(i for _, i in found)], 1)
    return ordered(scores, ids, k)


@register
class ExactIndex(NeighborIndex):
    """Searches the memory rows themselves, which stay where they are: on the GPU when they fit there,
    else mapped from their file and read chunk by chunk (the index folder holds only metadata)."""

    name = "exact"
    auto_rank = 1  # `index.backend` auto where ScaNN is not installed, and for memories too small for it

    def __init__(self, data: torch.Tensor, k: int, config: IndexConfig) -> None:
        super().__init__(k, data.shape[0], data.shape[1])
        self.data = data  # [M, D], on the search device or mapped in host memory
        self.config = config

    @classmethod
    def _place(cls, data: torch.Tensor, config: IndexConfig, device: torch.device) -> torch.Tensor:
        if device_holds(*data.shape, device):  # else a memory larger than the GPU would not fit there
            return data.to(device=device, dtype=torch.float32)
        return data  # host RAM (or a file mapping): chunks are moved to the device as they are searched

    @classmethod
    def build(cls, source: FeatureSource, config: IndexConfig, device: torch.device) -> "ExactIndex":
        return cls(cls._place(source.tensor, config, device), config.num_neighbors, config)

    @classmethod
    def load(cls, folder: Path, meta: dict, features: torch.Tensor | None, device: torch.device) -> "ExactIndex":
        if features is None:
            raise ValueError("an exact index searches its memory: pass the memory's features")
        config = config_of(meta)
        return cls(cls._place(features, config, device), meta["k"], config)

    @classmethod
    def host_bytes(cls, rows: int, dim: int, config: IndexConfig) -> int:
        return 2 * config.chunk_rows * dim * 4 if config.build == "streamed" else 0  # rows stay in their file

    def search(self, queries: torch.Tensor, k: int | None = None) -> torch.Tensor:
        k = min(k or self.k, self.size)
        device = self.data.device if self.data.device.type == "cuda" else queries.device
        geometry = Geometry.of(self.size, self.config)
        _, ids = search_chunks(queries, self.data, range(geometry.num_chunks), geometry, k, device)
        return ids.to(queries.device)  # (N, k)

    def save(self, folder: Path) -> None:
        pass  # nothing beyond the metadata: the memory's own file holds the rows

    def settings(self) -> dict:
        return {"build": self.config.build, "rows_on": str(self.data.device)}

    def place(self, features: torch.Tensor) -> torch.Tensor:
        return self.data if self.data.device.type == "cuda" else features  # on the GPU: no second copy
