"""ScaNN (METHOD section 5): a partition tree, anisotropic quantisation and exact re-ranking."""

import logging
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..log import native_stderr_to
from .base import IndexConfig, NeighborIndex

logger = logging.getLogger(__name__)


def _scann():
    try:
        from scann.scann_ops.py import scann_ops_pybind
    except ImportError as exc:
        raise UserError(
            f"ScaNN is not importable here ({exc}). Install it (pip install 'scann>=1.4,<1.5'; Linux "
            "x86-64 only) or pass --index-backend exact."
        ) from exc
    return scann_ops_pybind


def clamped_leaves(config: IndexConfig, size: int) -> tuple[int, int]:
    """(leaves, leaves to search), clamped to the memory size with a warning (ScaNN refuses more
    leaves than points)."""
    leaves = config.num_leaves
    if leaves > size:
        logger.warning("--num-leaves %d exceeds the %d points of the memory: using %d leaves.", leaves, size, size)
        leaves = size
    to_search = min(config.num_leaves_to_search, leaves)
    if to_search < config.num_leaves_to_search:
        logger.warning("--num-leaves-to-search %d clamped to %d leaves.", config.num_leaves_to_search, to_search)
    return leaves, to_search


class ScannIndex(NeighborIndex):
    name = "scann"

    def __init__(self, searcher, k: int | None, size: int | None, dim: int | None) -> None:
        super().__init__(k, size, dim)
        self.searcher = searcher

    @classmethod
    def build(cls, features: torch.Tensor, config: IndexConfig, device: torch.device) -> "ScannIndex":
        data = np.ascontiguousarray(features.numpy(), dtype=np.float32)  # (M, D)
        size, dim = data.shape
        leaves, to_search = clamped_leaves(config, size)
        builder = (
            _scann()
            .builder(data, config.num_neighbors, "dot_product")
            .tree(num_leaves=leaves, num_leaves_to_search=to_search, training_sample_size=size)
            .score_ah(
                config.dimensions_per_block,
                anisotropic_quantization_threshold=config.anisotropic_quantization_threshold,
            )
            .reorder(config.num_reordering_candidates)
        )
        with native_stderr_to(logger):
            searcher = builder.build()
        return cls(searcher, config.num_neighbors, size, dim)

    @classmethod
    def load(cls, folder: Path, meta: dict, features: torch.Tensor | None, device: torch.device) -> "ScannIndex":
        scann = _scann()
        with native_stderr_to(logger):
            searcher = scann.load_searcher(str(folder))
        size, dim = meta.get("size"), meta.get("dim")
        if features is not None:  # an index of the published code records neither
            size, dim = size or features.shape[0], dim or features.shape[1]
        return cls(searcher, meta.get("k"), size, dim)

    def search(self, queries: torch.Tensor, k: int | None = None) -> torch.Tensor:
        k = k or self.k  # None only while probing an index of the published code for its k
        array = np.ascontiguousarray(queries.detach().float().cpu().numpy())  # (N, D)
        ids, _ = self.searcher.search_batched_parallel(array, final_num_neighbors=k)
        ids = np.asarray(ids)
        if k is not None and ids.shape[1] < k:
            raise UserError(
                f"The ScaNN index returned {ids.shape[1]} neighbours instead of {k}: the searched leaves "
                "hold too few points. Raise --num-leaves-to-search or lower --num-leaves."
            )
        return torch.from_numpy(ids.astype(np.int64)).to(queries.device)  # (N, k)

    def save(self, folder: Path) -> None:
        with native_stderr_to(logger):
            self.searcher.serialize(str(folder), relative_path=True)
