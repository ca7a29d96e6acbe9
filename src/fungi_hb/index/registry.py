"""Index backends by name, and the index folder: the backend's files plus ``fungi_index.json``
(backend, k, size, dim, the memory it indexes, the settings and how it was built)."""

import importlib.util
import json
import logging
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import torch

from fungi_hb.errors import UserError
from fungi_hb.index.base import IndexConfig, NeighborIndex
from fungi_hb.index.config import BACKEND_NAMES
from fungi_hb.index.exact import ExactIndex
from fungi_hb.index.faiss import FaissIndex
from fungi_hb.index.repeatable import build_folder
from fungi_hb.index.scann import ScannIndex
from fungi_hb.index.source import FeatureSource, FileSource
from fungi_hb.jsonable import to_jsonable

logger = logging.getLogger(__name__)

BACKENDS: dict[str, type[NeighborIndex]] = {
    ScannIndex.name: ScannIndex,
    ExactIndex.name: ExactIndex,
    FaissIndex.name: FaissIndex,
}
assert tuple(BACKENDS) == BACKEND_NAMES, "list a new backend in index.config.BACKEND_NAMES too (the flags read it)"
INDEX_META = "fungi_index.json"
PUBLISHED_MARKER = "scann_assets.pbtxt"  # what a ScaNN folder of the published code holds


def resolve_backend(name: str, rows: int | None = None) -> str:
    """``auto`` is ScaNN where it is installed (Linux x86-64), else the exact index, with a warning. A
    memory of fewer ``rows`` than ScaNN can train its quantiser on gets the exact index, with a warning. A
    named backend must be importable (``check_available``)."""
    if name in ("auto", ScannIndex.name) and rows is not None and rows < ScannIndex.min_rows:
        logger.warning(
            "A memory of %d rows is too small for ScaNN (its quantiser needs at least %d): using the exact "
            "index, whose neighbours are exact.",
            rows,
            ScannIndex.min_rows,
        )
        return ExactIndex.name
    if name == "auto":
        if importlib.util.find_spec("scann") is not None:
            return ScannIndex.name
        logger.warning(
            "ScaNN is not installed here: using the exact index (the true neighbours, where ScaNN's are "
            "approximate; slower on large memories). Install scann (Linux x86-64) for the paper's search."
        )
        return ExactIndex.name
    if name not in BACKENDS:
        raise UserError(f"Unknown `index.backend` {name!r}: use auto, {', '.join(BACKENDS)}.")
    BACKENDS[name].check_available()  # an optional library: say how to install it before the long part
    return name


def build_index(source: FeatureSource, config: IndexConfig, device: torch.device | str = "cpu") -> NeighborIndex:
    """Index the rows of ``source`` (``auto`` settings not resolved by the caller get the published ones)."""
    config = replace(
        config,
        backend=resolve_backend(config.backend, source.rows),
        build="in-memory" if config.build == "auto" else config.build,
        reorder_precision="float32" if config.reorder_precision == "auto" else config.reorder_precision,
    )
    if config.num_neighbors > source.rows:
        raise UserError(
            f"`index.num_neighbors` {config.num_neighbors} exceeds the {source.rows} rows of the memory. "
            "Lower it or build a larger memory."
        )
    return BACKENDS[config.backend].build(source, config, torch.device(device))


def build_index_folder(features: Path, folder: Path, config: IndexConfig, memory_id: str, device: torch.device) -> None:
    """Index the rows of the tensor file ``features`` into ``folder`` (what ``save_index`` writes), the same
    way in every run: a backend whose build depends on the process's address layout is built in a child
    process with address-space randomisation off (``index.repeatable``)."""
    resolved = replace(config, backend=resolve_backend(config.backend, None))
    if not BACKENDS[resolved.backend].repeatable_in_process and sys.platform.startswith("linux"):
        build_folder(Path(features), Path(folder), resolved, memory_id)
        return
    save_index(build_index(FileSource(Path(features)), resolved, device), folder, resolved, memory_id)


def save_index(index: NeighborIndex, folder: Path, config: IndexConfig, memory_id: str) -> None:
    """Write ``folder`` (new, or empty) with the backend's files and ``fungi_index.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "backend": index.name,
        "k": index.k,
        "size": index.size,
        "dim": index.dim,
        "memory_id": memory_id,
        "index_id": uuid.uuid4().hex,  # tells this build from any rebuild (ScaNN training is not deterministic)
        "config": to_jsonable(config),
        "settings": index.settings(),
    }
    index.save(folder)
    (folder / INDEX_META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def read_index_meta(folder: Path) -> dict:
    """The index folder's metadata; an index of the published code (ScaNN, no metadata) gets
    ``{"backend": "scann", "published": True}`` and sizes unknown."""
    folder = Path(folder)
    if not folder.is_dir() or not any(folder.iterdir()):
        raise UserError(f"No index at {folder}. Build it first with create_memory_bank.py (`index_dir`).")
    meta_path = folder / INDEX_META
    if meta_path.is_file():
        try:
            return json.loads(meta_path.read_text())
        except ValueError as exc:
            raise UserError(f"{meta_path} is damaged ({exc}). Rebuild the index with create_memory_bank.py.") from exc
    if (folder / PUBLISHED_MARKER).is_file():
        return {"backend": ScannIndex.name, "k": None, "size": None, "dim": None, "memory_id": None, "published": True}
    raise UserError(f"{folder} holds neither a ScaNN index nor {INDEX_META}. Rebuild it with create_memory_bank.py.")


def index_memory_id(folder: Path) -> str | None:
    """The id of the memory an index folder was built from; None when the folder holds no readable
    metadata of ours."""
    try:
        memory_id = json.loads((Path(folder) / INDEX_META).read_text()).get("memory_id")
    except (OSError, ValueError, AttributeError):
        return None
    return memory_id if isinstance(memory_id, str) else None


def index_belongs(folder: Path, memory_id: str | None) -> bool:
    """Whether the index in ``folder`` was built from the memory ``memory_id``; None stands for a bank of
    the published code, whose index is a plain ScaNN folder. The one check that an index fits its memory."""
    folder = Path(folder)
    if memory_id is None:
        return (folder / PUBLISHED_MARKER).is_file() and not (folder / INDEX_META).exists()
    return index_memory_id(folder) == memory_id


def load_index(
    folder: Path, device: torch.device | str = "cpu", features: torch.Tensor | None = None
) -> tuple[NeighborIndex, dict]:
    """Load an index folder; ``features`` [M, D] is the memory it indexes (the exact backend needs it)."""
    meta = read_index_meta(folder)
    backend = BACKENDS.get(meta.get("backend", ""))
    if backend is None:
        raise UserError(f"{folder} holds an index of unknown backend {meta.get('backend')!r}. Rebuild it.")
    try:
        return backend.load(Path(folder), meta, features, torch.device(device)), meta
    except (RuntimeError, OSError, ValueError) as exc:  # a truncated or deleted file inside the folder
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"The index in {folder} cannot be loaded ({reason}). Rebuild it with create_memory_bank.py."
        ) from exc
