"""Faiss (optional: ``pip install faiss-cpu``, or faiss-gpu): k-means inverted lists searched by inner product.

Three kinds of index, chosen from the memory's rows and the (planned) settings:

- ``flat`` (``IndexFlatIP``): every row, searched exactly. For memories of fewer than 39 rows per list
  (``39 * index.num_leaves``), too few for faiss to train its lists well; no training.
- ``ivf-flat`` (``IndexIVFFlat``): the rows as float32 in ``index.num_leaves`` lists; exact scores within
  the ``index.num_leaves_to_search`` lists searched. ``index.reorder_precision`` float32.
- ``ivf-sq8`` (``IndexIVFScalarQuantizer``, 8 bits per value of the residual to the list centre): a quarter
  of the RAM. Its best ``index.num_reordering_candidates`` (at least k) are re-scored exactly against the
  memory rows themselves (``features[ids]``, mapped from their file). ``index.reorder_precision`` int8.

The settings map as: ``num_leaves`` = nlist, ``num_leaves_to_search`` = nprobe (clamped to nlist),
``num_reordering_candidates`` = candidates re-ranked (``ivf-sq8``), ``reorder_precision`` float32 / int8 =
the codes above (bfloat16 is ScaNN's; the plan turns it into int8), ``build`` in-memory = trained on every
row (faiss's k-means samples 256 rows per list itself) and added at once, ``build`` streamed = trained on
``training_sample`` rows (at least 39 per list) and filled chunk by chunk from the source, with no float32
copy of the whole memory. The ScaNN quantiser settings (threshold, dimensions per block) do not apply.
Training is seeded (``SEED``): the same rows give the same index. Rows are added in order, so an index
point is its memory row. Search on a CUDA device moves the index to the GPU where faiss has GPUs
(faiss-gpu); the folder holds the CPU form (``faiss.index``).
"""

import importlib.util
import logging
from pathlib import Path

import numpy as np
import torch

from fungi_hb.errors import UserError
from fungi_hb.index.backends.scann import clamped_leaves, warn_if_sparse
from fungi_hb.index.base import IndexConfig, NeighborIndex, register
from fungi_hb.index.source import FeatureSource

logger = logging.getLogger(__name__)

INDEX_FILE = "faiss.index"
FLAT, IVF_FLAT, IVF_SQ8 = "flat", "ivf-flat", "ivf-sq8"
CODE_BYTES = {FLAT: 4, IVF_FLAT: 4, IVF_SQ8: 1}  # per value
MIN_POINTS_PER_LIST = 39  # below this faiss warns that its k-means is trained on too few points
MAX_POINTS_PER_LIST = 256  # faiss's k-means samples at most this many training rows per list
SEED = 1234  # faiss's k-means seed (its default, set explicitly)
SCORE_BYTES = 256 * 2**20  # most bytes of candidate rows gathered at once for re-ranking


def _faiss():
    # faiss logs at INFO which of its builds loaded, with a harmless "Could not load ..." for the others
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        import faiss
    except ImportError as exc:
        raise UserError(
            f"faiss is not importable here ({exc}). Install it (pip install faiss-cpu, or faiss-gpu for GPUs) "
            "or pass `index.backend` exact or scann."
        ) from exc
    return faiss


def index_kind(rows: int, config: IndexConfig) -> str:
    """flat, ivf-flat or ivf-sq8 for a memory of ``rows`` (int8 codes only where ``config`` asks for them)."""
    if rows < MIN_POINTS_PER_LIST * config.num_leaves:
        return FLAT
    return IVF_SQ8 if config.reorder_precision == "int8" else IVF_FLAT


def training_rows(rows: int, config: IndexConfig) -> int:
    """Rows the lists (and the int8 quantiser) are trained on."""
    if config.build == "in-memory":
        return rows
    return min(rows, max(config.training_sample, MIN_POINTS_PER_LIST * config.num_leaves))


def _empty_index(faiss, kind: str, dim: int, lists: int):
    if kind == FLAT:
        return faiss.IndexFlatIP(dim)
    quantizer = faiss.IndexFlatIP(dim)
    if kind == IVF_FLAT:
        index = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
    index.cp.seed = SEED
    return index


def _on_device(faiss, index, device: torch.device):
    """(the index to search with, its GPU resources or None): on the GPU for a CUDA device when faiss has
    GPUs (faiss-gpu), else the CPU index itself."""
    if device.type != "cuda":
        return index, None
    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() == 0:
        logger.info("This faiss has no GPU support (faiss-cpu): the faiss index searches on the CPU.")
        return index, None
    resources = faiss.StandardGpuResources()
    try:
        return faiss.index_cpu_to_gpu(resources, device.index or 0, index), resources
    except RuntimeError as exc:  # e.g. a kind or a setting faiss's GPU code does not take
        logger.warning("The faiss index stays on the CPU: moving it to %s failed (%s).", device, exc)
        return index, None


def _as_array(rows: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(rows.detach().float().cpu().numpy())  # (n, D) float32


@register
class FaissIndex(NeighborIndex):
    """A faiss index (flat, IVF-Flat or IVF-SQ8, see the module docstring); never chosen by auto."""

    name = "faiss"
    precisions = ("float32", "int8")  # IVF-Flat, IVF-SQ8 re-ranked exactly
    precision_of = "codes"

    def __init__(
        self, index, k: int | None, features: torch.Tensor | None, settings: dict, device: torch.device
    ) -> None:
        super().__init__(k, int(index.ntotal), int(index.d))
        self.index = index  # the CPU form, saved
        self.searcher, self._resources = _on_device(_faiss(), index, device)
        self.features = features  # [M, D] the memory rows, for exact re-ranking (ivf-sq8), else None
        self._settings = settings

    @classmethod
    def unusable(cls, rows: int | None) -> str | None:
        return "faiss is not installed here" if importlib.util.find_spec("faiss") is None else None

    @classmethod
    def check_available(cls) -> None:
        _faiss()

    @classmethod
    def library_version(cls) -> str | None:
        return getattr(_faiss(), "__version__", None)

    @classmethod
    def warn_about(cls, rows: int, config: IndexConfig) -> None:
        if index_kind(rows, config) != FLAT:
            warn_if_sparse(config, rows)
            return
        logger.warning(
            "A memory of %d rows is too small to train %d faiss lists (%d rows each): the faiss index will be an "
            "exact flat one. Lower `index.num_leaves` for inverted lists.",
            rows,
            config.num_leaves,
            MIN_POINTS_PER_LIST,
        )

    @classmethod
    def build(cls, source: FeatureSource, config: IndexConfig, device: torch.device) -> "FaissIndex":
        faiss = _faiss()
        if config.reorder_precision not in ("float32", "int8"):
            raise UserError(
                f"`index.reorder_precision` {config.reorder_precision} is not one the faiss index keeps: "
                "pass float32 or int8."
            )
        rows, kind = source.rows, index_kind(source.rows, config)
        lists, to_search = (0, 0) if kind == FLAT else clamped_leaves(config, rows)
        index = _empty_index(faiss, kind, source.dim, lists)
        trained = training_rows(rows, config) if kind != FLAT else 0
        if config.build == "in-memory":
            data = _as_array(source.tensor)  # (M, D): every row at once
            if kind != FLAT:
                index.train(data)
            index.add(data)
            del data
        else:
            if kind != FLAT:
                generator = torch.Generator().manual_seed(rows)
                sample = torch.randperm(rows, generator=generator)[:trained].sort().values  # (S,)
                logger.info("Training the faiss lists on %d of %d rows, then adding every row.", trained, rows)
                index.train(_as_array(source.take(sample)))
            for chunk in source.chunks(config.chunk_rows):
                index.add(_as_array(chunk))  # (n, D): row ids follow the order of the chunks
        if kind != FLAT:
            index.nprobe = to_search
        settings = {
            "kind": kind,
            "build": config.build,
            "reorder_precision": config.reorder_precision,
            "nlist": lists,
            "nprobe": to_search,
            "reranked": max(config.num_reordering_candidates, config.num_neighbors) if kind == IVF_SQ8 else 0,
            "training_sample": trained,
            "seed": SEED if kind != FLAT else None,
        }
        features = source.tensor if kind == IVF_SQ8 else None
        return cls(index, config.num_neighbors, features, settings, device)

    @classmethod
    def load(cls, folder: Path, meta: dict, features: torch.Tensor | None, device: torch.device) -> "FaissIndex":
        faiss = _faiss()
        index = faiss.read_index(str(folder / INDEX_FILE))
        if (index.ntotal, index.d) != (meta.get("size"), meta.get("dim")):
            raise ValueError(
                f"its faiss index holds {index.ntotal} rows x {index.d}, the metadata says "
                f"{meta.get('size')} x {meta.get('dim')}"
            )
        settings = meta.get("settings", {})
        if settings.get("kind") == IVF_SQ8 and features is None:
            raise ValueError("a faiss int8 index re-ranks against its memory: pass the memory's features")
        if settings.get("nprobe"):
            faiss.extract_index_ivf(index).nprobe = settings["nprobe"]
        return cls(index, meta.get("k"), features if settings.get("kind") == IVF_SQ8 else None, settings, device)

    @classmethod
    def host_bytes(cls, rows: int, dim: int, config: IndexConfig) -> int:
        kind = index_kind(rows, config)
        stored = rows * dim * CODE_BYTES[kind]
        if kind != FLAT:
            stored += rows * 8 + config.num_leaves * dim * 4  # the ids in the lists, the centres
        read = rows * dim * 4 if config.build == "in-memory" else 2 * config.chunk_rows * dim * 4
        if kind == FLAT:
            return read + stored
        trained = training_rows(rows, config)
        training = min(trained, MAX_POINTS_PER_LIST * config.num_leaves) * dim * 4  # k-means' sample
        if kind == IVF_SQ8:
            training += trained * (dim * 4 + 8)  # the residuals the quantiser is trained on, their lists
        if config.build == "in-memory":  # the rows stay while the lists fill
            return read + max(training, stored)
        return read + max(trained * dim * 4 + training, stored)  # the sample is freed before the rows go in

    def search(self, queries: torch.Tensor, k: int | None = None) -> torch.Tensor:
        k = min(k or self.k, self.size)
        array = _as_array(queries)  # (N, D)
        candidates = max(k, self._settings.get("reranked", 0))
        scores, ids = self.searcher.search(array, candidates)  # (N, c) each; id -1 where fewer were found
        if self.features is not None:
            scores = self._rescore(array, ids)
        scores = np.where(ids >= 0, scores, -np.inf)
        order = np.lexsort((ids, -scores))  # (N, c): score descending, then row ascending
        ids = np.take_along_axis(ids, order, axis=1)[:, :k]  # (N, k)
        short = (ids < 0).any(axis=1)
        if short.any():
            raise UserError(
                f"faiss found fewer than {k} neighbours for {int(short.sum())} of {len(ids)} queries: the lists "
                "searched hold too few rows. Raise `index.num_leaves_to_search` or lower `index.num_leaves`."
            )
        return torch.from_numpy(ids.astype(np.int64)).to(queries.device)  # (N, k)

    def _rescore(self, queries: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact dot products of ``queries`` [N, D] with the memory rows ``ids`` [N, c] (-1: none) -> [N, c]."""
        out = np.full(ids.shape, -np.inf, dtype=np.float32)
        step = max(1, SCORE_BYTES // (4 * max(ids.shape[1], 1) * self.dim))
        for start in range(0, len(ids), step):
            block = torch.from_numpy(ids[start : start + step])  # (n, c)
            rows = self.features[block.clamp(min=0).flatten().to(self.features.device)]  # (n * c, D)
            rows = rows.float().view(*block.shape, self.dim)  # (n, c, D)
            q = torch.from_numpy(queries[start : start + step]).to(rows.device)  # (n, D)
            out[start : start + step] = torch.bmm(rows, q.unsqueeze(2)).squeeze(2).cpu().numpy()  # (n, c)
        return out

    def save(self, folder: Path) -> None:
        _faiss().write_index(self.index, str(folder / INDEX_FILE))

    def settings(self) -> dict:
        return self._settings
