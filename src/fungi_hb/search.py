"""Nearest-neighbour indexes over a memory bank: ScaNN (METHOD section 5) and exact brute force.

Both answer ``search(queries, k) -> [N, k] int64 ids`` by dot product. An index is saved as a folder
holding the backend's files and ``fungi_index.json`` (backend, k, size, dim, the memory it indexes).
"""

import importlib.util
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from .atomic import atomic_dir
from .errors import UserError

logger = logging.getLogger(__name__)

INDEX_META = "fungi_index.json"


@dataclass(frozen=True)
class IndexConfig:
    """How to index a memory; the ScaNN fields are the published flags."""

    backend: str = "auto"  # "scann" (the paper), "exact" (brute force) or "auto" (scann where installed)
    num_neighbors: int = 30  # k returned per query (fixed at build time for ScaNN)
    num_leaves: int = 512  # ScaNN tree leaves; clamped to the memory size with a warning
    num_leaves_to_search: int = 32
    num_reordering_candidates: int = 120
    anisotropic_quantization_threshold: float = 0.2
    dimensions_per_block: int = 4
    query_chunk: int = 8192  # exact backend: queries per matmul


class NeighborIndex(Protocol):
    k: int  # neighbours returned by default
    size: int  # number of indexed rows
    dim: int  # feature dimension

    def search(self, queries: np.ndarray, k: int | None = None) -> np.ndarray:
        """[N, D] float32 -> [N, k] int64 ids, best first."""
        ...


def _import_scann():
    try:
        from scann.scann_ops.py import scann_ops_pybind
    except ImportError as exc:
        raise UserError(
            f"ScaNN is not importable here ({exc}). Install it (pip install 'scann>=1.4,<1.5'; Linux "
            "x86-64 only) or pass --index-backend exact."
        ) from exc
    return scann_ops_pybind


class ScannIndex:
    def __init__(self, searcher, k: int, size: int, dim: int) -> None:
        self.searcher, self.k, self.size, self.dim = searcher, k, size, dim

    @classmethod
    def build(cls, data: np.ndarray, config: IndexConfig) -> "ScannIndex":
        scann = _import_scann()
        size, dim = data.shape
        leaves = config.num_leaves
        if leaves > size:
            logger.warning("--num-leaves %d exceeds the %d points of the memory: using %d leaves.", leaves, size, size)
            leaves = size
        to_search = min(config.num_leaves_to_search, leaves)
        if to_search < config.num_leaves_to_search:
            logger.warning("--num-leaves-to-search %d clamped to %d leaves.", config.num_leaves_to_search, to_search)
        searcher = (
            scann.builder(data, config.num_neighbors, "dot_product")
            .tree(num_leaves=leaves, num_leaves_to_search=to_search, training_sample_size=size)
            .score_ah(
                config.dimensions_per_block,
                anisotropic_quantization_threshold=config.anisotropic_quantization_threshold,
            )
            .reorder(config.num_reordering_candidates)
            .build()
        )
        return cls(searcher, config.num_neighbors, size, dim)

    def search(self, queries: np.ndarray, k: int | None = None) -> np.ndarray:
        k = k or self.k  # None only for a published index before its k is known
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        ids, _ = self.searcher.search_batched_parallel(queries, final_num_neighbors=k)
        ids = np.asarray(ids)
        if k is not None and ids.shape[1] < k:
            raise UserError(
                f"The ScaNN index returned {ids.shape[1]} neighbours instead of {k}: the searched leaves "
                "hold too few points. Raise --num-leaves-to-search or lower --num-leaves."
            )
        return ids.astype(np.int64)

    def save(self, folder: Path) -> None:
        self.searcher.serialize(str(folder), relative_path=True)

    @classmethod
    def load(cls, folder: Path, meta: dict) -> "ScannIndex":
        scann = _import_scann()
        return cls(scann.load_searcher(str(folder)), meta["k"], meta["size"], meta["dim"])


class ExactIndex:
    """Brute-force top-k by dot product, chunked over queries; runs on any torch device."""

    def __init__(self, data: torch.Tensor, k: int, query_chunk: int = 8192) -> None:
        self.data = data  # [M, D] float32
        self.k, self.size, self.dim = k, data.shape[0], data.shape[1]
        self.query_chunk = query_chunk

    @classmethod
    def build(
        cls, data: np.ndarray | torch.Tensor, config: IndexConfig, device: torch.device | str = "cpu"
    ) -> "ExactIndex":
        tensor = torch.as_tensor(data, dtype=torch.float32).to(device)
        return cls(tensor, config.num_neighbors, config.query_chunk)

    def search_tensor(self, queries: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """[N, D] -> [N, k] int64 ids on the index's device."""
        k = min(k or self.k, self.size)
        queries = queries.to(self.data.device, torch.float32)
        out = []
        for start in range(0, queries.shape[0], self.query_chunk):
            scores = queries[start : start + self.query_chunk] @ self.data.T  # (n, M)
            out.append(torch.topk(scores, k, dim=1).indices)  # (n, k)
        return torch.cat(out) if out else torch.empty(0, k, dtype=torch.int64, device=self.data.device)

    def search(self, queries: np.ndarray, k: int | None = None) -> np.ndarray:
        return self.search_tensor(torch.as_tensor(queries), k).cpu().numpy()

    def save(self, folder: Path) -> None:
        np.save(folder / "dataset.npy", self.data.cpu().numpy())

    @classmethod
    def load(cls, folder: Path, meta: dict, device: torch.device | str = "cpu") -> "ExactIndex":
        return cls(torch.from_numpy(np.load(folder / "dataset.npy")).to(device), meta["k"])


BACKENDS = {"scann": ScannIndex, "exact": ExactIndex}


def resolve_backend(name: str) -> str:
    """``auto`` is ScaNN where it is installed (Linux x86-64), else the exact index, with a warning."""
    if name == "auto":
        if importlib.util.find_spec("scann") is not None:
            return "scann"
        logger.warning(
            "ScaNN is not installed here: using the exact index (same neighbours, slower on large "
            "memories). Install scann (Linux x86-64) for the paper's approximate search."
        )
        return "exact"
    if name not in BACKENDS:
        raise UserError(f"Unknown --index-backend {name!r}: use auto, {', or '.join(BACKENDS)}.")
    return name


def build_index(data: np.ndarray, config: IndexConfig, device: torch.device | str = "cpu") -> NeighborIndex:
    """Index ``data`` [M, D] float32 with the configured backend (``auto`` resolved here)."""
    config = replace(config, backend=resolve_backend(config.backend))
    if config.num_neighbors > data.shape[0]:
        raise UserError(
            f"--num-neighbors {config.num_neighbors} exceeds the {data.shape[0]} rows of the memory. "
            "Lower it or build a larger memory."
        )
    if config.backend == "exact":
        return ExactIndex.build(data, config, device)
    return ScannIndex.build(np.ascontiguousarray(data, dtype=np.float32), config)


def save_index(index: NeighborIndex, folder: Path, config: IndexConfig, memory_id: str) -> None:
    """Write the index folder atomically, with ``fungi_index.json`` naming the memory it indexes."""
    meta = {
        "backend": "exact" if isinstance(index, ExactIndex) else "scann",
        "k": index.k,
        "size": index.size,
        "dim": index.dim,
        "memory_id": memory_id,
        "config": asdict(config),
    }
    with atomic_dir(Path(folder)) as tmp:
        index.save(tmp)
        (tmp / INDEX_META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def load_index(folder: Path, device: torch.device | str = "cpu") -> tuple[NeighborIndex, dict]:
    """Load an index folder. A folder written by the published code (ScaNN, no metadata) also loads."""
    folder = Path(folder)
    if not folder.is_dir() or not any(folder.iterdir()):
        raise UserError(f"No index at {folder}. Build it first with create_memory_bank.py (--scann-index).")
    meta_path = folder / INDEX_META
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
    elif (folder / "scann_assets.pbtxt").is_file():
        logger.warning(
            "%s has no %s (made by the published code?): sizes will be checked against the memory only.",
            folder,
            INDEX_META,
        )
        meta = {"backend": "scann", "k": None, "size": None, "dim": None, "memory_id": None}
    else:
        raise UserError(f"{folder} holds neither a ScaNN index nor {INDEX_META}. Rebuild it.")
    if meta["backend"] == "exact":
        return ExactIndex.load(folder, meta, device), meta
    index = ScannIndex.load(folder, meta)
    return index, meta


def neighbours_returned(index: NeighborIndex, dim: int) -> int:
    """k of an index, asked with one probe query when its metadata does not say (published index)."""
    if index.k is None:
        index.k = int(index.search(np.ones((1, dim), np.float32)).shape[1])
    return index.k


def search_tensor(index: NeighborIndex, queries: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """[N, D] queries -> [N, k] int64 ids on the queries' device (the exact index never leaves it)."""
    if isinstance(index, ExactIndex):
        return index.search_tensor(queries, k).to(queries.device)
    ids = index.search(queries.detach().float().cpu().numpy(), k)
    return torch.from_numpy(ids).to(queries.device)
