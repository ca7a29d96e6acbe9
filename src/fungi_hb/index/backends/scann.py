"""ScaNN (method section 5): a partition tree, anisotropic quantisation and exact re-ranking.

Built either as published, from every row at once (``in-memory``: the tree and quantiser are trained on
all rows), or ``streamed``: trained on a seeded sample of rows, then filled chunk by chunk with ScaNN's
``upsert``, so no float32 copy of the whole memory is ever made; the re-ranking data can then be kept as
bfloat16 or int8. A streamed index stores the memory row of each of its points (``row_ids.npy``). Every
build runs in a child process with a fixed memory layout, so that it repeats (``index.scann_build``).
"""

import importlib.util
import logging
import tempfile
from pathlib import Path

import numpy as np
import torch

from fungi_hb.errors import UserError
from fungi_hb.index.base import IndexConfig, NeighborIndex, register
from fungi_hb.index.scann_build import ROW_IDS, ScannRecipe, build_in_clean_process
from fungi_hb.index.source import FeatureSource
from fungi_hb.log import native_stderr_to
from fungi_hb.system import package_version

logger = logging.getLogger(__name__)

PICKLED_DOCIDS = "scann_docids.pkl"  # ScaNN would unpickle it on load: never written, never read here
PUBLISHED_MARKER = "scann_assets.pbtxt"  # what every ScaNN folder holds (those of the published code too)
REORDER_BYTES = {"float32": 4, "bfloat16": 2, "int8": 1}
# A tree trained on fewer points per leaf than this loses recall (seen here: 31 per leaf cost 0.15 of
# recall@10 against training on every row; 78 per leaf, none), so streamed builds train on at least it.
MIN_TRAINING_PER_LEAF = 100
# Below this many rows per leaf a small memory's search loses neighbours against the exact one.
FEW_PER_LEAF = 40
# Leaves are uneven: below this many times k points in the searched leaves on average, some queries of a
# 64-row memory were seen to come back short (16 leaves, 8 searched, k = 10: 32 points, 7 of 64 short).
SPARSE_MARGIN = 4


def _scann():
    try:
        from scann.scann_ops.py import scann_ops_pybind
    except ImportError as exc:
        raise UserError(
            f"ScaNN is not importable here ({exc}). Install it (pip install 'scann>=1.4,<1.5'; Linux "
            "x86-64 only) or pass `index.backend` exact."
        ) from exc
    return scann_ops_pybind


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


def training_sample(rows: int, config: IndexConfig) -> int:
    """Rows a streamed build trains on."""
    return min(rows, max(config.training_sample, MIN_TRAINING_PER_LEAF * config.num_leaves))


@register
class ScannIndex(NeighborIndex):
    """ScaNN's searcher, loaded from its folder (every build is saved there first, by the child)."""

    name = "scann"
    precisions = ("float32", "bfloat16", "int8")  # the re-ranking data
    precision_of = "re-ranking"
    min_rows = 16  # anisotropic hashing trains 16 centres per block: fewer points and ScaNN refuses to build
    auto_rank = 2  # the paper's search: what `index.backend` auto picks where it is installed

    def __init__(
        self, searcher, k: int | None, size: int | None, dim: int | None, row_ids: np.ndarray | None, settings: dict
    ) -> None:
        super().__init__(k, size, dim)
        self.searcher = searcher
        self.row_ids = row_ids  # [M] memory row of each index point (streamed builds), else None
        self._settings = settings

    @classmethod
    def unusable(cls, rows: int | None) -> str | None:
        if importlib.util.find_spec("scann") is None:
            return "ScaNN is not installed here (its wheels are for Linux x86-64)"
        if rows is not None and rows < cls.min_rows:
            return f"a memory of {rows} rows is too small for ScaNN (its quantiser needs at least {cls.min_rows})"
        return None

    @classmethod
    def check_available(cls) -> None:
        _scann()

    @classmethod
    def recognises(cls, folder: Path) -> bool:
        return (Path(folder) / PUBLISHED_MARKER).is_file()

    @classmethod
    def library_version(cls) -> str | None:
        return package_version("scann")

    @classmethod
    def check_config(cls, config: IndexConfig) -> None:
        if config.num_reordering_candidates < config.num_neighbors:
            raise UserError(
                f"`index.num_reordering_candidates` {config.num_reordering_candidates} is below "
                f"`index.num_neighbors` {config.num_neighbors}: ScaNN would return fewer neighbours than asked. "
                f"Raise it to at least {config.num_neighbors}."
            )

    @classmethod
    def warn_about(cls, rows: int, config: IndexConfig) -> None:
        warn_if_sparse(config, rows)
        per_leaf = rows / max(min(config.num_leaves, rows), 1)
        if per_leaf < FEW_PER_LEAF:
            logger.warning(
                "ScaNN's %d leaves hold about %.0f of the memory's %d rows each (fewer than %d): its tree is trained "
                "on too few points per leaf and its search misses neighbours (measured here: 35.92%% mIoU against "
                "36.95%% for the exact search, 512 leaves over 4,312 rows). For a memory this small pass "
                "`index.backend` exact (the true neighbours, quick at this size), or `index.num_leaves` %d.",
                min(config.num_leaves, rows),
                per_leaf,
                rows,
                FEW_PER_LEAF,
                max(1, rows // MIN_TRAINING_PER_LEAF),
            )

    @classmethod
    def build(cls, source: FeatureSource, config: IndexConfig, device: torch.device) -> "ScannIndex":
        streamed = config.build != "in-memory"
        sample = training_sample(source.rows, config) if streamed else None
        leaves, to_search = clamped_leaves(config, sample or source.rows)
        recipe = ScannRecipe(
            num_neighbors=config.num_neighbors,
            num_leaves=leaves,
            num_leaves_to_search=to_search,
            dimensions_per_block=config.dimensions_per_block,
            anisotropic_quantization_threshold=config.anisotropic_quantization_threshold,
            num_reordering_candidates=config.num_reordering_candidates,
            reorder_precision=config.reorder_precision,
            rows=source.rows,
            dim=source.dim,
            sample=sample,
        )
        settings = {"build": config.build, "reorder_precision": config.reorder_precision}
        if streamed:
            settings["training_sample"] = sample
        with tempfile.TemporaryDirectory(prefix="fungi-hb-scann-") as folder:
            build_in_clean_process(source, recipe, Path(folder), config.chunk_rows)
            meta = {"k": config.num_neighbors, "size": source.rows, "dim": source.dim, "settings": settings}
            return cls.load(Path(folder), meta, None, device)

    @classmethod
    def load(cls, folder: Path, meta: dict, features: torch.Tensor | None, device: torch.device) -> "ScannIndex":
        if (folder / PICKLED_DOCIDS).exists():
            raise UserError(f"{folder} holds {PICKLED_DOCIDS}, a pickle this tool does not load. Rebuild the index.")
        scann = _scann()
        with native_stderr_to(logger):
            searcher = scann.load_searcher(str(folder))
        row_ids = np.load(folder / ROW_IDS, allow_pickle=False) if (folder / ROW_IDS).is_file() else None
        size, dim = meta.get("size"), meta.get("dim")
        if features is not None:  # an index of the published code records neither
            size, dim = size or features.shape[0], dim or features.shape[1]
        return cls(searcher, meta.get("k"), size, dim, row_ids, meta.get("settings", {}))

    @classmethod
    def host_bytes(cls, rows: int, dim: int, config: IndexConfig) -> int:
        # Calibrated on this project's measurements (benchmarks/bench_scale.py, docs/large-memories.md):
        # the streamed 10.24M x 768 int8 build peaked at 11.7 GiB, 1M x 768 in memory at 9.8 GiB, and a
        # streamed 2M x 1536 (training-bound) at 7.8 GiB.
        codes = rows * (-(-dim // config.dimensions_per_block)) // 2  # 4-bit codes, 16 centres per block
        reorder = rows * dim * REORDER_BYTES[config.reorder_precision]
        bookkeeping = rows * 280  # leaf lists, datapoint ids, upsert tables: ~264 B/row measured
        if config.build == "in-memory":
            return reorder + codes + bookkeeping + 2 * rows * dim * 4  # the rows read in, and ScaNN's copy
        training = (
            5 * training_sample(rows, config) * dim * 4
        )  # the sample and ScaNN's working copies, freed before the rows go in
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
