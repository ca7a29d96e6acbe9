"""Memory banks on disk: ``features.pth`` and ``labels.pth`` as plain tensors (the published format,
so banks of the published code load too) and a metadata sidecar ``<features stem>.meta.json``."""

import json
import logging
import uuid
from datetime import datetime, timezone
from pathlib import Path

import torch

from . import __version__
from .atomic import save_json, save_tensor
from .errors import UserError
from .memory_bank import Memory

logger = logging.getLogger(__name__)


def meta_path(features_path: Path) -> Path:
    features_path = Path(features_path)
    return features_path.with_name(features_path.stem + ".meta.json")


def new_memory_id() -> str:
    return uuid.uuid4().hex


def save_memory(memory: Memory, features_path: Path, labels_path: Path) -> None:
    """Write features and labels. Any older sidecar is removed first: ``write_meta`` writes the new one
    last, once everything that belongs to the bank (its index too) is complete."""
    meta_path(features_path).unlink(missing_ok=True)
    save_tensor(memory.features.contiguous(), Path(features_path))
    save_tensor(memory.labels.contiguous(), Path(labels_path))


def write_meta(memory: Memory, features_path: Path, meta: dict) -> dict:
    """Write the metadata sidecar (with sizes, version and time added) and return it."""
    meta = dict(
        meta,
        rows=int(memory.features.shape[0]),
        dim=int(memory.features.shape[1]),
        num_classes=int(memory.labels.shape[1]),
        package_version=__version__,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    save_json(meta, meta_path(features_path))
    return meta


def _load_tensor(path: Path, what: str) -> torch.Tensor:
    if not Path(path).is_file():
        raise UserError(f"The {what} {path} does not exist. Create it with create_memory_bank.py first.")
    tensor = torch.load(path, map_location="cpu")
    if not torch.is_tensor(tensor) or tensor.ndim != 2:
        raise UserError(f"{path} is not a 2-D tensor, so not a {what}.")
    return tensor.float()


def load_meta(features_path: Path) -> dict:
    sidecar = meta_path(features_path)
    if not sidecar.is_file():
        logger.warning(
            "%s has no metadata sidecar (%s; made by the published code?): only sizes are checked.",
            features_path,
            sidecar.name,
        )
        return {}
    return json.loads(sidecar.read_text())


def load_features(features_path: Path) -> tuple[torch.Tensor, dict]:
    """[M, D] float32 features and their metadata ({} when the sidecar is absent)."""
    return _load_tensor(features_path, "memory bank"), load_meta(features_path)


def load_memory(features_path: Path, labels_path: Path) -> tuple[Memory, dict]:
    features, meta = load_features(features_path)
    labels = _load_tensor(labels_path, "memory bank labels")
    if labels.shape[0] != features.shape[0]:
        raise UserError(f"{features_path} has {features.shape[0]} rows but {labels_path} has {labels.shape[0]}.")
    return Memory(features, labels), meta


def check_meta(meta: dict, expected: dict, what: str, fix: str) -> None:
    """Refuse ``meta`` if any key of ``expected`` present in it differs."""
    diffs = [f"{k}: {meta[k]!r} there, {v!r} now" for k, v in expected.items() if k in meta and meta[k] != v]
    if diffs:
        raise UserError(f"The {what} was made with other settings ({'; '.join(diffs)}). {fix}")
