"""ScaNN (method section 5): a partition tree, anisotropic quantisation and exact re-ranking.

Built either as published, from every row at once (``in-memory``: the tree and quantiser are trained on
all rows), or ``streamed``: trained on a random sample of rows, then filled chunk by chunk with ScaNN's
``upsert``, so no float32 copy of the whole memory is ever made; the re-ranking data can then be kept as
bfloat16 or int8. A streamed index stores the memory row of each of its points (``row_ids.npy``).
"""

import logging
from pathlib import Path

import numpy as np
import torch

from fungi_hb.errors import UserError
from fungi_hb.index.base import IndexConfig, NeighborIndex
from fungi_hb.index.source import FeatureSource
from fungi_hb.log import native_stderr_to

logger = logging.getLogger(__name__)

ROW_IDS = "row_ids.npy"
PICKLED_DOCIDS = "scann_docids.pkl"  # ScaNN would unpickle it on load: never written, never read here
REORDER_BYTES = {"float32": 4, "bfloat16": 2, "int8": 1}
# A tree trained on fewer points per leaf than this loses recall (seen here: 31 per leaf cost 0.15 of
# recall@10 against training on every row; 78 per leaf, none), so streamed builds train on at least it.
MIN_TRAINING_PER_LEAF = 100
# Leaves are uneven: below this many times k points in the searched leaves on average, some queries of a
# 64-row memory were seen to come back short (16 leaves, 8 searched, k = 10: 32 points, 7 of 64 short).
SPARSE_MARGIN = 4


def _scann():
    try:
        from scann.scann_ops.py import scann_builder, scann_ops_pybind
    except ImportError as exc:
        raise UserError(
            f"ScaNN is not importable here ({exc}). Install it (pip install 'scann>=1.4,<1.5'; Linux "
            "x86-64 only) or pass `index.backend` exact."
        ) from exc
    return scann_ops_pybind, scann_builder


def clamped_leaves(config: IndexConfig, size: int) -> tuple[int, int]:
    """(leaves, leaves to search), clamped to the training rows with a warning (ScaNN refuses more
    leaves than points)."""
    leaves = config.num_leaves
    if leaves > size:
        logger.warning(
            "`index.num_leaves` %d exceeds the %d points of the memory: using %d leaves.", leaves, size, size
        )
        leaves = size
    to_search = min(config.num_leaves_to_search, leaves)
    if to_search < config.num_leaves_to_search:
        logger.warning("`index.num_leaves_to_search` %d clamped to %d leaves.", config.num_leaves_to_search, to_search)
    return leaves, to_search


def warn_if_sparse(config: IndexConfig, rows: int) -> None:
    """Warn when the leaves searched hold few points next to k: a query whose leaves hold fewer than k
    comes back short, which ``search`` refuses (tiny memories with the published 512/32 leaves)."""
    leaves = min(config.num_leaves, rows)
    expected = rows * min(config.num_leaves_to_search, leaves) / leaves  # points in the searched leaves, on average
    if expected < SPARSE_MARGIN * config.num_neighbors:
        logger.warning(
            "The %d leaves searched per query hold about %.0f of the %d points, for k = %d: a query near sparse "
            "leaves can find fewer than k and the run would stop. For a memory this small, search more leaves "
            "(`index.num_leaves_to_search`), use fewer (`index.num_leaves`) or pass `index.backend` exact.",
            min(config.num_leaves_to_search, leaves),
            expected,
            rows,
            config.num_neighbors,
        )


def _searcher(data: np.ndarray, config: IndexConfig):
    """A ScaNN searcher over ``data`` [n, D] float32 with the published builder chain."""
    scann, builder_module = _scann()
    leaves, to_search = clamped_leaves(config, data.shape[0])
    quantize = getattr(builder_module.ReorderType, config.reorder_precision.upper())
    builder = (
        scann.builder(data, config.num_neighbors, "dot_product")
        .tree(num_leaves=leaves, num_leaves_to_search=to_search, training_sample_size=data.shape[0])
        .score_ah(
            config.dimensions_per_block, anisotropic_quantization_threshold=config.anisotropic_quantization_threshold
        )
        .reorder(config.num_reordering_candidates, quantize=quantize)
    )
    with native_stderr_to(logger):
        return builder.build()


class ScannIndex(NeighborIndex):
    name = "scann"
    precisions = ("float32", "bfloat16", "int8")  # the re-ranking data
    precision_of = "re-ranking"
    min_rows = 16  # anisotropic hashing trains 16 centres per block: fewer points and ScaNN refuses to build

    def __init__(
        self, searcher, k: int | None, size: int | None, dim: int | None, row_ids: np.ndarray | None, settings: dict
    ) -> None:
        super().__init__(k, size, dim)
        self.searcher = searcher
        self.row_ids = row_ids  # [M] memory row of each index point (streamed builds), else None
        self._settings = settings

    repeatable_in_process = False  # a build over tied rows depends on the address layout

    @classmethod
    def warn_about(cls, rows: int, config: IndexConfig) -> None:
        warn_if_sparse(config, rows)

    @classmethod
    def build(cls, source: FeatureSource, config: IndexConfig, device: torch.device) -> "ScannIndex":
        settings = {"build": config.build, "reorder_precision": config.reorder_precision}
        if config.build == "in-memory":
            data = np.ascontiguousarray(source.tensor.numpy(), dtype=np.float32)  # (M, D)
            return cls(_searcher(data, config), config.num_neighbors, source.rows, source.dim, None, settings)
        return cls._build_streamed(source, config, settings)

    @classmethod
    def _build_streamed(cls, source: FeatureSource, config: IndexConfig, settings: dict) -> "ScannIndex":
        rows = source.rows
        sample_size = min(rows, max(config.training_sample, MIN_TRAINING_PER_LEAF * config.num_leaves))
        generator = torch.Generator().manual_seed(rows)
        sample = torch.randperm(rows, generator=generator)[:sample_size].sort().values  # (S,)
        logger.info("Training the ScaNN tree and quantiser on %d of %d rows, then adding the rest.", sample_size, rows)
        searcher = _searcher(np.ascontiguousarray(source.take(sample).numpy()), config)
        in_sample = torch.zeros(rows, dtype=torch.bool)
        in_sample[sample] = True
        added, start = [sample], 0
        searcher.searcher.reserve(rows)
        for chunk in source.chunks(config.chunk_rows):
            keep = ~in_sample[start : start + chunk.shape[0]]  # (n,)
            ids = torch.arange(start, start + chunk.shape[0])[keep]
            if len(ids):
                with native_stderr_to(logger):
                    searcher.searcher.upsert([None] * len(ids), np.ascontiguousarray(chunk[keep].numpy()), 4096)
                added.append(ids)
            start += chunk.shape[0]
        row_ids = torch.cat(added).numpy()  # (M,) index point -> memory row
        settings = dict(settings, training_sample=sample_size)
        return cls(searcher, config.num_neighbors, rows, source.dim, row_ids, settings)

    @classmethod
    def load(cls, folder: Path, meta: dict, features: torch.Tensor | None, device: torch.device) -> "ScannIndex":
        if (folder / PICKLED_DOCIDS).exists():
            raise UserError(f"{folder} holds {PICKLED_DOCIDS}, a pickle this tool does not load. Rebuild the index.")
        scann, _ = _scann()
        with native_stderr_to(logger):
            searcher = scann.load_searcher(str(folder))
        row_ids = np.load(folder / ROW_IDS, allow_pickle=False) if (folder / ROW_IDS).is_file() else None
        size, dim = meta.get("size"), meta.get("dim")
        if features is not None:  # an index of the published code records neither
            size, dim = size or features.shape[0], dim or features.shape[1]
        return cls(searcher, meta.get("k"), size, dim, row_ids, meta.get("settings", {}))

    @classmethod
    def host_bytes(cls, rows: int, dim: int, config: IndexConfig) -> int:
        # Calibrated on this project's measurements (benchmarks/bench_scale.py, README "Large memories"):
        # the streamed 10.24M x 768 int8 build peaked at 11.7 GiB, 1M x 768 in memory at 9.8 GiB, and a
        # streamed 2M x 1536 (training-bound) at 7.8 GiB.
        codes = rows * (-(-dim // config.dimensions_per_block)) // 2  # 4-bit codes, 16 centres per block
        reorder = rows * dim * REORDER_BYTES[config.reorder_precision]
        bookkeeping = rows * 280  # leaf lists, datapoint ids, upsert tables: ~264 B/row measured
        if config.build == "in-memory":
            return reorder + codes + bookkeeping + 2 * rows * dim * 4  # the rows read in, and ScaNN's copy
        sample = min(rows, max(config.training_sample, MIN_TRAINING_PER_LEAF * config.num_leaves))
        training = 5 * sample * dim * 4  # the sample and ScaNN's working copies, freed before the rows go in
        return max(training, reorder + codes + bookkeeping) + 2 * config.chunk_rows * dim * 4

    def search(self, queries: torch.Tensor, k: int | None = None) -> torch.Tensor:
        k = k or self.k  # None only while probing an index of the published code for its k
        array = np.ascontiguousarray(queries.detach().float().cpu().numpy())  # (N, D)
        ids, distances = self.searcher.search_batched_parallel(array, final_num_neighbors=k)
        ids, missing = np.asarray(ids), ~np.isfinite(np.asarray(distances))  # (N, k): ScaNN pads with row 0
        if (k is not None and ids.shape[1] < k) or missing.any():
            short = int(missing.any(axis=1).sum()) if missing.any() else len(ids)
            raise UserError(
                f"ScaNN found fewer than {k} neighbours for {short} of {len(ids)} queries: the leaves searched "
                "hold too few points, or `index.num_reordering_candidates` is below k. Raise "
                "`index.num_leaves_to_search` "
                "or `index.num_reordering_candidates`, or lower `index.num_leaves`."
            )
        if self.row_ids is not None:
            ids = self.row_ids[ids]
        return torch.from_numpy(ids.astype(np.int64)).to(queries.device)  # (N, k)

    def save(self, folder: Path) -> None:
        with native_stderr_to(logger):
            self.searcher.serialize(str(folder), relative_path=True)
        if self.row_ids is not None:
            np.save(folder / ROW_IDS, self.row_ids)

    def settings(self) -> dict:
        return self._settings
