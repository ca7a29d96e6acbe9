"""Index backends by name (every module of ``index/backends/``), and the index folder: the backend's files
plus ``fungi_index.json`` (backend, k, size, dim, the memory it indexes, the settings and how it was built)."""

import importlib
import json
import logging
import uuid
from dataclasses import replace
from pathlib import Path

import torch

from fungi_hb.errors import UserError
from fungi_hb.index.base import IndexConfig, NeighborIndex, registered, unknown_backend
from fungi_hb.index.config import backend_names
from fungi_hb.index.source import FeatureSource, FileSource
from fungi_hb.jsonable import to_jsonable

logger = logging.getLogger(__name__)

INDEX_META = "fungi_index.json"
FALLBACK = "exact"  # takes any memory, needs no library: where the chosen backend cannot


def backend_classes() -> dict[str, type[NeighborIndex]]:
    """Every backend by name, each module of ``index/backends/`` imported once."""
    for name in backend_names():
        importlib.import_module(f"fungi_hb.index.backends.{name}")
    return registered()


def backend(name: str) -> type[NeighborIndex]:
    found = backend_classes().get(name)
    if found is None:
        raise unknown_backend(name, list(backend_classes()))
    return found


def resolve_backend(name: str, rows: int | None = None) -> str:
    """The backend to use for a memory of ``rows`` rows (None: not known yet). ``auto`` takes the usable
    backend of highest ``auto_rank`` (ScaNN where installed, else the exact index), saying why when it
    passes one over. A named backend must be importable (``check_available``); one that cannot take so few
    rows gives way to the exact index, with a warning."""
    if name == "auto":
        ranked = sorted((b for b in backend_classes().values() if b.auto_rank), key=lambda b: -b.auto_rank)
        passed = [(b, b.unusable(rows)) for b in ranked]
        usable = [b for b, reason in passed if reason is None]
        chosen = usable[0].name if usable else FALLBACK
        for kind, reason in passed[: ranked.index(usable[0]) if usable else len(ranked)]:
            logger.warning("%s: using the %s index instead of %s.", reason[0].upper() + reason[1:], chosen, kind.name)
        return chosen
    chosen = backend(name)
    chosen.check_available()  # an optional library: say how to install it before the long part
    if rows is not None and rows < chosen.min_rows:
        reason = chosen.unusable(rows) or f"a memory of {rows} rows is too small for the {name} index"
        logger.warning("%s: using the exact index, whose neighbours are exact.", reason[0].upper() + reason[1:])
        return FALLBACK
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
    chosen = backend(config.backend)
    chosen.check_config(config)
    return chosen.build(source, config, torch.device(device))


def build_index_folder(features: Path, folder: Path, config: IndexConfig, memory_id: str, device: torch.device) -> None:
    """Index the rows of the tensor file ``features`` into ``folder`` (what ``save_index`` writes)."""
    source = FileSource(Path(features))
    resolved = replace(config, backend=resolve_backend(config.backend, source.rows))
    save_index(build_index(source, resolved, device), folder, resolved, memory_id)


def save_index(index: NeighborIndex, folder: Path, config: IndexConfig, memory_id: str) -> None:
    """Write ``folder`` (new, or empty) with the backend's files and ``fungi_index.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "backend": index.name,
        "library_version": type(index).library_version(),
        "k": index.k,
        "size": index.size,
        "dim": index.dim,
        "memory_id": memory_id,
        "index_id": uuid.uuid4().hex,  # tells this build from any rebuild
        "config": to_jsonable(config),
        "settings": index.settings(),
    }
    index.save(folder)
    (folder / INDEX_META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def read_index_meta(folder: Path) -> dict:
    """The index folder's metadata; an index of the published code (no metadata, recognised by its
    backend) gets ``{"backend": <name>, "published": True}`` and sizes unknown."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"No index at {folder}. Build it first with create_memory_bank.py (`index_dir`).")
    if not any(folder.iterdir()):
        raise UserError(
            f"The index folder {folder} is empty: its build was stopped, or it was emptied. Rebuild it with "
            "create_memory_bank.py."
        )
    meta_path = folder / INDEX_META
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            if not isinstance(meta, dict) or not isinstance(meta.get("backend"), str):
                raise ValueError("it names no backend")
            return meta
        except ValueError as exc:
            raise UserError(
                f"The index in {folder} is damaged: its metadata file {INDEX_META} cannot be read ({exc}). Rebuild "
                "it with create_memory_bank.py."
            ) from exc
    for name, kind in backend_classes().items():
        if kind.recognises(folder):
            return {"backend": name, "k": None, "size": None, "dim": None, "memory_id": None, "published": True}
    raise UserError(
        f"The index in {folder} is incomplete or damaged: it lacks its metadata file {INDEX_META} and is no index "
        "of the published code either. Rebuild it with create_memory_bank.py."
    )


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
    the published code, whose index is a backend's own folder. The one check that an index fits its memory."""
    folder = Path(folder)
    if memory_id is None:
        return not (folder / INDEX_META).exists() and any(
            kind.recognises(folder) for kind in backend_classes().values()
        )
    return index_memory_id(folder) == memory_id


def load_index(
    folder: Path, device: torch.device | str = "cpu", features: torch.Tensor | None = None
) -> tuple[NeighborIndex, dict]:
    """Load an index folder; ``features`` [M, D] is the memory it indexes (the exact backend needs it)."""
    meta = read_index_meta(folder)
    kind = backend_classes().get(meta["backend"])
    if kind is None:
        raise UserError(f"{folder} holds an index of unknown backend {meta['backend']!r}. Rebuild it.")
    try:
        return kind.load(Path(folder), meta, features, torch.device(device)), meta
    except (RuntimeError, OSError, ValueError) as exc:  # a truncated or deleted file inside the folder
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"The index in {folder} cannot be loaded ({reason}). Rebuild it with create_memory_bank.py."
        ) from exc
